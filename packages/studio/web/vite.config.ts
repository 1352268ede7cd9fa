import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The web app is built into the package (web-dist/) at build time, so an install is ready to serve.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: fileURLToPath(new URL("../web-dist", import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    sourcemap: false,
  },
});
