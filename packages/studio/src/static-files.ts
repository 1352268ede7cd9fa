/** The built web app (web-dist/, made by `vite build` at package build time), served as files. */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Context } from "hono";

export const WEB_DIST = resolve(dirname(fileURLToPath(import.meta.url)), "..", "web-dist");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
  ".woff2": "font/woff2",
};

/** A file of the app, or index.html for the app's own routes; 404 for anything outside web-dist. */
export function serveWeb(c: Context, dir: string = WEB_DIST): Response {
  const path = decodeURIComponent(new URL(c.req.url).pathname);
  const asked = resolve(dir, `.${path}`);
  const rel = relative(dir, asked);
  if (rel.startsWith(`..${sep}`) || rel === "..") return c.text("not found\n", 404);
  let file = asked;
  if (!existsSync(file) || !statSync(file).isFile()) {
    if (path.startsWith("/assets/")) return c.text("not found\n", 404);
    file = join(dir, "index.html");
  }
  if (!existsSync(file))
    return c.text("the studio web app is not built: run `npm run build` in the repository\n", 500);
  const immutable = path.startsWith("/assets/");
  return c.body(readFileSync(file), 200, {
    "content-type": TYPES[extname(file)] ?? "application/octet-stream",
    "cache-control": immutable ? "max-age=31536000, immutable" : "no-store",
  });
}
