/** The studio's HTTP app: the guard in front of everything, the API under /api, the web app elsewhere. */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { HeavyReads } from "./heavy-reads.js";
import { errorResponse } from "./http-errors.js";
import type { ProjectFiles } from "./project-files.js";
import { controlRoutes } from "./routes-control.js";
import { runRoutes } from "./routes-runs.js";
import { studyRoutes } from "./routes-study.js";
import type { RunManager } from "./run-manager.js";
import { guard } from "./security.js";
import { serveWeb } from "./static-files.js";
import type { StoreAccess } from "./store-access.js";

export interface StudioParts {
  token: string;
  /** The port the server listens on (known once it is bound). */
  port: () => number;
  access: StoreAccess;
  files: ProjectFiles;
  manager: RunManager;
  /** Worker threads for whole-run aggregates and exports. */
  heavy: HeavyReads;
  webDir?: string;
}

export function createStudioApp(parts: StudioParts): Hono {
  const app = new Hono();
  app.use("*", guard(parts.token, parts.port));
  app.use("*", async (c, next) => {
    await next();
    c.header("x-content-type-options", "nosniff");
    c.header("referrer-policy", "no-referrer");
    c.header("x-frame-options", "DENY");
    c.header(
      "content-security-policy",
      "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
    );
  });
  app.use("/api/*", bodyLimit({ maxSize: 6 * 1024 * 1024 }));
  app.onError((err, c) => errorResponse(err, c));
  app.route("/api", studyRoutes(parts.files));
  app.route("/api", controlRoutes(parts.files, parts.access, parts.manager));
  app.route("/api/runs", runRoutes(parts.access, parts.heavy));
  app.all("/api/*", (c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));
  app.get("*", (c) => serveWeb(c, parts.webDir));
  return app;
}
