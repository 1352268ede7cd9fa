import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { distDir, repoRoot, testServerDist } from "./dist-path.mjs";

/** The workspace packages the bench runs, with the compiled modules it imports from each. */
const PACKAGES = [
  { dir: join(repoRoot, "packages", "test-server"), dist: testServerDist, needed: ["index.js"] },
  {
    dir: join(repoRoot, "packages", "silico"),
    dist: distDir,
    needed: ["designs/index.js", "engine/run-study.js", "store/run-store.js"],
    skip: () => Boolean(process.env.SILICO_DIST),
  },
];

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

/** Source files of one package whose compiled .js is missing or older than the source. */
export function staleSources(pkg = join(repoRoot, "packages", "silico")) {
  const src = join(pkg, "src");
  const stale = [];
  for (const file of sources(src)) {
    const out = join(pkg, "dist", relative(src, file)).replace(/\.ts$/, ".js");
    if (!existsSync(out) || statSync(out).mtimeMs < statSync(file).mtimeMs) stale.push(relative(pkg, file));
  }
  return stale;
}

/**
 * Compile the packages whose dist/ is missing or stale. tsc emits even when files others are
 * still writing have type errors; what matters is that the modules the bench imports exist.
 */
export function ensureBuilt(log = (m) => process.stderr.write(`${m}\n`)) {
  for (const pkg of PACKAGES) {
    if (pkg.skip?.()) continue;
    const stale = staleSources(pkg.dir);
    if (stale.length === 0) continue;
    const name = relative(repoRoot, pkg.dir);
    log(`building ${name} (${stale.length} stale file(s), e.g. ${stale[0]}) …`);
    const r = spawnSync("npx", ["tsc", "-p", join(pkg.dir, "tsconfig.build.json")], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    if (r.status !== 0)
      log(
        `tsc reported type errors (output still emitted):\n${(r.stdout ?? "").split("\n").slice(0, 10).join("\n")}`,
      );
    for (const needed of pkg.needed) {
      if (!existsSync(join(pkg.dist, needed)))
        throw new Error(`build failed: ${join(pkg.dist, needed)} is missing`);
    }
  }
  const main = join(distDir, "cli", "main.js");
  if (existsSync(main)) chmodSync(main, 0o755);
}
