#!/usr/bin/env node
// `npm run typecheck`: tsc --noEmit over every workspace package's tsconfig.json (its src/, tests
// included). Packages import each other's compiled declarations (dist/*.d.ts), so run
// `npm run build` first on a fresh clone (`npm install` does it).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
let failed = 0;
for (const name of readdirSync(join(ROOT, "packages")).sort()) {
  const config = join(ROOT, "packages", name, "tsconfig.json");
  if (!existsSync(config)) continue;
  const r = spawnSync("npx", ["tsc", "-p", config, "--noEmit"], { cwd: ROOT, stdio: "inherit" });
  console.log(`packages/${name}: ${r.status === 0 ? "types ok" : "type errors"}`);
  if (r.status !== 0) failed++;
}
if (failed > 0) {
  console.error("typecheck failed (a missing workspace module? run `npm run build` first)");
  process.exit(1);
}
