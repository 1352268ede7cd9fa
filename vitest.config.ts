import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // Tests of silico run against the engine's source, so a change in packages/jinja needs no
    // build before `vitest`; the built CLI (spawned by CLI tests) uses the built package.
    alias: {
      "@silico/jinja": fileURLToPath(new URL("./packages/jinja/src/index.ts", import.meta.url)),
    },
  },
  test: {
    include: ["packages/*/src/**/*.test.ts", "bench/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
