#!/usr/bin/env node
// The README's test command (`npm test`): build, make sure the Python tools the differential and
// conformance tests compare against are installed, run vitest, and end with one plain line
// "N passed, N failed" taken from vitest's JSON report.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PY_REQUIREMENTS = ["-r", "scripts/alter-ego-diff/requirements.txt"];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", ...opts });
  return r.status ?? 1;
}

if (run("npm", ["run", "build", "--silent"]) !== 0) {
  console.error("build failed");
  process.exit(1);
}

const probe = spawnSync("python3", ["-c", "import jinja2, alter_ego"], { stdio: "ignore" });
if (probe.status !== 0) {
  console.error(`installing Python test dependencies: ${PY_REQUIREMENTS.join(" ")}`);
  if (
    run("python3", ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", ...PY_REQUIREMENTS]) !==
    0
  ) {
    console.error("pip install failed: the alter_ego differential test needs alter_ego_llm and jinja2");
    process.exit(1);
  }
}

const report = join(mkdtempSync(join(tmpdir(), "silico-test-")), "vitest.json");
const args = [
  "vitest",
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
];
const status = run("npx", args);
if (!existsSync(report)) {
  console.error("vitest wrote no report");
  process.exit(status || 1);
}
const r = JSON.parse(readFileSync(report, "utf8"));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(status !== 0 ? status : r.numFailedTests > 0 || r.numPassedTests === 0 ? 1 : 0);
