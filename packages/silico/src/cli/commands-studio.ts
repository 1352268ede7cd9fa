/**
 * `silico studio`: the web app lives in its own package (`@silico/studio`, which depends on
 * silico), so it is imported on demand by name and reached only through this small interface —
 * silico never imports studio's modules or types, and installs without it.
 */
import type { Command } from "commander";
import { ConfigError } from "../errors.js";
import type { CliIo } from "./io.js";

export const STUDIO_PACKAGE = "@silico/studio";

/** What `@silico/studio` exports for the command. */
export interface StudioPackage {
  startStudio(options: {
    db: string;
    port?: number;
    projectDir?: string;
    env?: Readonly<Record<string, string | undefined>>;
  }): Promise<{ url: string; close(): Promise<void> }>;
}

export async function loadStudioPackage(specifier: string = STUDIO_PACKAGE): Promise<StudioPackage> {
  try {
    return (await import(specifier)) as StudioPackage;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const missing =
      (e?.code === "ERR_MODULE_NOT_FOUND" || e?.code === "MODULE_NOT_FOUND") &&
      String(e.message).includes(`'${specifier}'`);
    throw new ConfigError(
      "bad_flag",
      missing
        ? `silico studio needs the package ${specifier}, which is not installed. Install it next to silico: npm install ${specifier}`
        : `The package ${specifier} could not be loaded: ${e?.message ?? String(err)}. Reinstall it: npm install ${specifier}`,
    );
  }
}

function portFlag(v: string | undefined): number {
  if (v === undefined) return 0;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new ConfigError("bad_flag", `--port must be a port number 0–65535, got "${v}"`);
  return n;
}

/** `silico studio [--port N]` (with the program's `--db`): serves until Ctrl-C. */
export function addStudioCommand(program: Command, io: CliIo, db: () => string): void {
  program
    .command("studio")
    .description("build, run and read studies in the browser: a local web app on 127.0.0.1")
    .option("--port <n>", "port on 127.0.0.1 (default 0: a free one)")
    .action(async (flags: { port?: string }) => {
      const port = portFlag(flags.port);
      const studio = await loadStudioPackage();
      const handle = await studio.startStudio({ db: db(), port, projectDir: process.cwd(), env: io.env });
      io.stderr.write("silico studio: open this address (it carries the access token); Ctrl-C stops\n");
      io.stdout.write(`${handle.url}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          void handle.close().then(resolve);
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}
