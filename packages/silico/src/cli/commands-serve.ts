import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { DATA_DIR, SILICO_VERSION } from "../data-files.js";
import { exitCodeFor } from "../engine/run-study.js";
import { ConfigError } from "../errors.js";
import { TOKEN_ENV } from "../serve/auth.js";
import { DEFAULT_SERVE_PORT, startServe } from "../serve/serve.js";
import { RunStore } from "../store/run-store.js";
import { runOptionsFrom } from "./commands-run.js";
import type { CliIo } from "./io.js";

interface ServeFlags {
  port?: string;
  host: string;
  newRun?: boolean;
  concurrency?: string;
  maxInFlight?: string;
  rpm?: string;
  tpm?: string;
  maxCost?: string;
  maxAttempts?: string;
}

/** The oTree-side helper, with this silico's version written in (so versions match). */
export function otreeHelperSource(): string {
  const text = readFileSync(resolve(DATA_DIR, "otree", "silico_agents.py"), "utf8");
  return text.replace('SILICO_VERSION = "dev"', `SILICO_VERSION = "${SILICO_VERSION}"`);
}

function port(v: string | undefined): number {
  if (v === undefined) return DEFAULT_SERVE_PORT;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new ConfigError("bad_flag", `--port must be a port number 0–65535, got "${v}"`);
  return n;
}

/** `silico serve` and `silico otree helper`. */
export function addServeCommands(
  program: Command,
  io: CliIo,
  db: () => string,
  setExit: (code: number) => void,
): void {
  program
    .command("serve")
    .description(
      "answer LLM agents' turns over HTTP for a running experiment (oTree): every call recorded as one run",
    )
    .argument("<agents-file>", "agents file (kind: agents)")
    .option("--port <n>", `port (default ${DEFAULT_SERVE_PORT}; 0 picks a free one)`)
    .option("--host <address>", `address to bind; other than loopback needs ${TOKEN_ENV}`, "127.0.0.1")
    .option("--new-run", "start a new run instead of continuing the newest run of this agents file")
    .option("--concurrency <n>", "turns answered at once (default 256)")
    .option("--max-in-flight <n>", "calls in flight per model")
    .option("--rpm <n>", "requests per minute per model")
    .option("--tpm <n>", "tokens per minute per model")
    .option("--max-cost <usd>", "stop before spending more than this")
    .option("--max-attempts <n>", "attempts per call on transient failures (default 6)")
    .action(async (file: string, flags: ServeFlags) => {
      const options = runOptionsFrom({ db: db(), ...flags });
      let store: RunStore | undefined;
      try {
        const handle = await startServe({
          file,
          store: () => {
            store = RunStore.open(db());
            return store;
          },
          host: flags.host,
          port: port(flags.port),
          env: process.env,
          ...(flags.newRun ? { newRun: true } : {}),
          ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
          ...(options.limits ? { limits: options.limits } : {}),
          ...(options.maxCostUsd !== undefined ? { maxCostUsd: options.maxCostUsd } : {}),
          ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
        });
        io.stderr.write(
          `silico serve: ${handle.continued ? "continuing" : "new"} run ${handle.runId}; POST ${handle.url}/v1/turn (Ctrl-C stops)\n`,
        );
        io.stdout.write(`${handle.url}\n`);
        const stop = () => {
          io.stderr.write("silico serve: stopping: no new turns; answering the turns in flight\n");
          void handle.close();
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
        const result = await handle.done;
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        const t = result.totals;
        io.stderr.write(
          `run ${result.runId}: ${result.status.toUpperCase()}: ${t.sessions} turns, ${t.calls} calls, ${t.failed} failed${t.fatalError ? `; ${t.fatalError}` : ""}\n`,
        );
        io.stdout.write(`${result.runId}\n`);
        // Stopping the service is its normal end: the run stays resumable by the next serve.
        setExit(result.status === "interrupted" ? 0 : exitCodeFor(result.status));
      } finally {
        store?.close();
      }
    });

  program
    .command("otree")
    .description("oTree integration")
    .command("helper")
    .description("print the Python helper for oTree apps (save it as silico_agents.py in the oTree project)")
    .action(() => {
      io.stdout.write(otreeHelperSource());
    });
}
