/** `silico studio`: the app on 127.0.0.1 only, with a fresh access token in the printed address. */
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { serve } from "@hono/node-server";
import { createStudioApp } from "./app.js";
import { HeavyReads } from "./heavy-reads.js";
import { ProjectFiles } from "./project-files.js";
import { RunManager, type RunManagerOptions } from "./run-manager.js";
import { newToken } from "./security.js";
import { StoreAccess } from "./store-access.js";

export interface StudioOptions {
  /** The run store (SQLite file); created by the first run when missing. */
  db: string;
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Where study files are saved and opened (default: the current folder). */
  projectDir?: string;
  /** Where model keys come from (default process.env); they stay on the server. */
  env?: Readonly<Record<string, string | undefined>>;
  /** A fixed token (tests); default a fresh random one. */
  token?: string;
  /** Engine options for runs started here (tests shorten retries). */
  engine?: RunManagerOptions["engine"];
  /** The built web app folder (tests). */
  webDir?: string;
}

export interface StudioHandle {
  /** `http://127.0.0.1:PORT/?token=…`: the address to open. */
  url: string;
  origin: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

function keysFrom(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === "string") out[k] = v;
  return out;
}

export async function startStudio(options: StudioOptions): Promise<StudioHandle> {
  const projectDir = resolve(options.projectDir ?? process.cwd());
  const db = resolve(projectDir, options.db);
  const token = options.token ?? newToken();
  const access = new StoreAccess(db);
  const heavy = new HeavyReads(db);
  heavy.warm();
  const files = new ProjectFiles(projectDir);
  const manager = new RunManager({
    db,
    ...(options.env ? { apiKeys: keysFrom(options.env) } : {}),
    ...(options.engine ? { engine: options.engine } : {}),
  });
  let port = 0;
  const app = createStudioApp({
    token,
    port: () => port,
    access,
    files,
    manager,
    heavy,
    ...(options.webDir ? { webDir: options.webDir } : {}),
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolveServer, reject) => {
    const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: options.port ?? 0 }, () =>
      resolveServer(s),
    );
    s.once("error", reject);
  });
  port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    port,
    token,
    close: async () => {
      await manager.closeAll();
      await new Promise<void>((r) => {
        server.close(() => r());
        // Open event streams would keep the server from closing.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await heavy.close();
      access.close();
    },
  };
}
