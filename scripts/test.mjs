#!/usr/bin/env node
// The README's test commands. `npm test`: build, make sure the Python tools the differential test
// compares against are installed in the repository's own venv (.venv-test/, never the system
// Python), run every vitest test, and end with one plain line "N passed, N failed" taken from
// vitest's JSON report. `npm run test:quick` (--quick): build and run the offline tier, without
// the slow tests (*.slow.test.ts and the embedded local model's tests); no Python needed.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const VENV = join(ROOT, ".venv-test");
const VENV_PYTHON =
  process.platform === "win32" ? join(VENV, "Scripts", "python.exe") : join(VENV, "bin", "python");
const PY_REQUIREMENTS = ["-r", join(ROOT, "scripts", "alter-ego-diff", "requirements.txt")];
// oTree gets a venv of its own: pip finds no set of versions that satisfies both otree 6.0 and
// alter_ego_llm 1.6.0, so they cannot share .venv-test/.
const OTREE_VENV = join(ROOT, ".venv-test-otree");
const OTREE_REQUIREMENTS = ["-r", join(ROOT, "integrations", "otree", "requirements.txt")];

/**
 * Left out of the quick tier: tests that need Python (the venv above) or the embedded local model.
 * New slow tests are named *.slow.test.ts; the others are the local model's tests that load the model, by name.
 */
const SLOW_TESTS = [
  "**/*.slow.test.ts",
  "**/local-model.test.ts",
  "**/model-store.test.ts",
  "packages/local-model/src/resume.test.ts",
  "packages/local-model/src/package-seam.test.ts",
];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: ROOT, ...opts });
  return r.status ?? 1;
}

/** Creates .venv-test/ and installs the requirements there when they are not importable yet. */
function ensureTestPython() {
  if (process.env.ALTER_EGO_PYTHON) return process.env.ALTER_EGO_PYTHON;
  if (!existsSync(VENV_PYTHON)) {
    console.error(`creating the test venv ${VENV}`);
    if (run("python3", ["-m", "venv", VENV]) !== 0) {
      console.error(
        `could not create ${VENV}: the differential test needs Python 3 with the venv module ` +
          "(Debian/Ubuntu: apt-get install python3-venv), or ALTER_EGO_PYTHON set to a Python with alter_ego",
      );
      process.exit(1);
    }
  }
  const probe = spawnSync(VENV_PYTHON, ["-c", "import jinja2, alter_ego, pyarrow"], { stdio: "ignore" });
  if (probe.status !== 0) {
    console.error(`installing Python test dependencies into ${VENV}: ${PY_REQUIREMENTS.join(" ")}`);
    const pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", ...PY_REQUIREMENTS];
    if (run(VENV_PYTHON, pip) !== 0) {
      console.error(
        "pip install failed: the alter_ego differential test needs alter_ego_llm and jinja2, the Parquet test pyarrow",
      );
      process.exit(1);
    }
  }
  return VENV_PYTHON;
}

/** Creates .venv-test-otree/ with oTree 6.0 for the oTree integration tests; returns its `otree` command. */
function ensureTestOtree() {
  if (process.env.SILICO_TEST_OTREE) return process.env.SILICO_TEST_OTREE;
  const bin = process.platform === "win32" ? join(OTREE_VENV, "Scripts") : join(OTREE_VENV, "bin");
  const python = join(bin, process.platform === "win32" ? "python.exe" : "python");
  if (!existsSync(python) && run("python3", ["-m", "venv", OTREE_VENV]) !== 0) {
    console.error(
      `could not create ${OTREE_VENV}, or set SILICO_TEST_OTREE to an oTree 6.0 \`otree\` command`,
    );
    process.exit(1);
  }
  if (spawnSync(python, ["-c", "import otree, requests"], { stdio: "ignore" }).status !== 0) {
    console.error(`installing oTree into ${OTREE_VENV}: ${OTREE_REQUIREMENTS.join(" ")}`);
    const pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", ...OTREE_REQUIREMENTS];
    if (run(python, pip) !== 0) {
      console.error("pip install failed: the oTree integration tests need otree 6.0 and requests");
      process.exit(1);
    }
  }
  return join(bin, process.platform === "win32" ? "otree.exe" : "otree");
}

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const passThrough = argv.filter((a) => a !== "--quick");

if (run("npm", ["run", "build", "--silent"]) !== 0) {
  console.error("build failed");
  process.exit(1);
}

const env = { ...process.env };
if (!quick) {
  env.ALTER_EGO_PYTHON = ensureTestPython();
  env.SILICO_TEST_OTREE = ensureTestOtree();
}

const report = join(mkdtempSync(join(tmpdir(), "silico-test-")), "vitest.json");
const args = [
  "vitest",
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${report}`,
  ...(quick ? SLOW_TESTS.map((glob) => `--exclude=${glob}`) : []),
  ...passThrough,
];
const status = run("npx", args, { env });
if (!existsSync(report)) {
  console.error("vitest wrote no report");
  process.exit(status || 1);
}
const r = JSON.parse(readFileSync(report, "utf8"));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(status !== 0 ? status : r.numFailedTests > 0 || r.numPassedTests === 0 ? 1 : 0);
