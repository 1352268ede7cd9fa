import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root (the parent of bench/). */
export const repoRoot = resolve(here, "..");

/** The compiled package the benchmark measures; SILICO_DIST points elsewhere (e.g. a scratch build). */
export const distDir = process.env.SILICO_DIST
  ? resolve(process.env.SILICO_DIST)
  : join(repoRoot, "packages", "silico", "dist");

/** The compiled OpenAI test server (packages/test-server), which the bench runs in its own process. */
export const testServerDist = join(repoRoot, "packages", "test-server", "dist");
