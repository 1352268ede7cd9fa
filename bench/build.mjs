import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { distDir, repoRoot } from "./dist-path.mjs";

const pkg = join(repoRoot, "packages", "silico");

function* sources(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    // The same files tsconfig.build.json leaves out are never compiled, so never stale.
    if (entry.isDirectory()) {
      if (entry.name !== "test-support") yield* sources(p);
    } else if (
      entry.name.endsWith(".ts") &&
      !entry.name.endsWith(".test.ts") &&
      !entry.name.endsWith(".d.ts") &&
      entry.name !== "test-helpers.ts"
    )
      yield p;
  }
}

/** Source files whose compiled .js is missing or older than the source. */
export function staleSources() {
  const src = join(pkg, "src");
  const stale = [];
  for (const file of sources(src)) {
    const out = join(pkg, "dist", relative(src, file)).replace(/\.ts$/, ".js");
    if (!existsSync(out) || statSync(out).mtimeMs < statSync(file).mtimeMs) stale.push(relative(pkg, file));
  }
  return stale;
}

/**
 * Compile the package when dist/ is missing or stale. tsc emits even when files others are
 * still writing have type errors; what matters is that the modules the bench imports exist.
 */
export function ensureBuilt(log = (m) => process.stderr.write(`${m}\n`)) {
  if (process.env.SILICO_DIST) return;
  const stale = staleSources();
  if (stale.length === 0) return;
  log(`building packages/silico (${stale.length} stale file(s), e.g. ${stale[0]}) …`);
  const r = spawnSync("npx", ["tsc", "-p", join(pkg, "tsconfig.build.json")], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  if (r.status !== 0)
    log(
      `tsc reported type errors (output still emitted):\n${(r.stdout ?? "").split("\n").slice(0, 10).join("\n")}`,
    );
  const main = join(distDir, "cli", "main.js");
  if (existsSync(main)) chmodSync(main, 0o755);
  for (const needed of [
    "designs/index.js",
    "engine/run-study.js",
    "store/run-store.js",
    "testing/openai-test-server.js",
  ]) {
    if (!existsSync(join(distDir, needed)))
      throw new Error(`build failed: ${join(distDir, needed)} is missing`);
  }
}
