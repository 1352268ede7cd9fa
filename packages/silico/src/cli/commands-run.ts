import { openStore, type RunOutcome, resume, run, type StoreRef } from "../api/verbs.js";
import { compileStudyFile } from "../designs/index.js";
import type { CacheMode } from "../engine/executor.js";
import type { Limits } from "../engine/limiter.js";
import type { Plan } from "../engine/plan.js";
import { checkBatchModels } from "../engine/batching/support.js";
import { checkPlanSize, planSize } from "../engine/plan-size.js";
import { checkResumeSeed, compileStoredStudy, exitCodeFor, type RunResult } from "../engine/run-study.js";
import { ConfigError } from "../errors.js";
import { createHumanModel } from "../models/human-model.js";
import { capabilitiesOf } from "../models/registry.js";
import type { RunStore, RunRecord } from "../store/run-store.js";
import { estimatePlan, formatDryRun } from "../tokens/dry-run.js";
import { failureReportLines } from "./failure-report.js";
import { exitForSignal, SIGNAL_EXIT_CODES, SignalWatch } from "./interrupt.js";
import { type CliIo, processIo } from "./io.js";
import { Progress } from "./progress.js";

export interface RunFlags {
  db: string;
  seed?: string;
  cache?: boolean;
  refresh?: boolean;
  concurrency?: string;
  maxInFlight?: string;
  rpm?: string;
  tpm?: string;
  maxCost?: string;
  maxAttempts?: string;
  quiet?: boolean;
  dryRun?: boolean;
  times?: string;
  retryFailed?: boolean;
  maxCalls?: string;
  /** False with --no-model-check. */
  modelCheck?: boolean;
  batch?: boolean;
}

function int(flag: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) return undefined;
  // Number("") is 0: an empty value must not pass for a zero.
  const n = v.trim() === "" ? Number.NaN : Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigError("bad_flag", `--${flag} must be a whole number ≥ ${min}, got "${v}"`);
  return n;
}

/** A number ≥ 0 (`--max-cost 0` stops before anything is spent), or > 0 with `above`. */
function positive(flag: string, v: string | undefined, above = false): number | undefined {
  if (v === undefined) return undefined;
  const n = v.trim() === "" ? Number.NaN : Number(v);
  if (!Number.isFinite(n) || n < 0 || (above && n === 0))
    throw new ConfigError("bad_flag", `--${flag} must be a number ${above ? ">" : "≥"} 0, got "${v}"`);
  return n;
}

export function runOptionsFrom(flags: RunFlags) {
  if (flags.cache === false && flags.refresh)
    throw new ConfigError("bad_flag", "--no-cache and --refresh cannot be combined");
  const cache: CacheMode | undefined = flags.cache === false ? "off" : flags.refresh ? "refresh" : undefined;
  const limits: Partial<Limits> = {};
  const mif = int("max-in-flight", flags.maxInFlight, 1);
  if (mif !== undefined) limits.maxInFlight = mif;
  // A limit of 0 would silently mean no limit at all.
  const rpm = positive("rpm", flags.rpm, true);
  if (rpm !== undefined) limits.rpm = rpm;
  const tpm = positive("tpm", flags.tpm, true);
  if (tpm !== undefined) limits.tpm = tpm;
  const seed = int("seed", flags.seed);
  const concurrency = int("concurrency", flags.concurrency, 1);
  const maxCostUsd = positive("max-cost", flags.maxCost);
  const maxAttempts = int("max-attempts", flags.maxAttempts, 1);
  const maxCalls = int("max-calls", flags.maxCalls, 1);
  return {
    ...(maxCalls !== undefined ? { maxCalls } : {}),
    ...(cache ? { cache } : {}),
    ...(Object.keys(limits).length ? { limits } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(maxCostUsd !== undefined ? { maxCostUsd } : {}),
    ...(maxAttempts !== undefined ? { maxAttempts } : {}),
    ...(flags.batch ? { batch: true } : {}),
  };
}

function hasHuman(models: string[]): boolean {
  return models.some((m) => capabilitiesOf(m)?.interactive === true);
}

function modelOptions(progress: () => Progress | undefined) {
  return {
    human: (id: string) => createHumanModel(id),
    local: { onPullProgress: (m: string) => progress()?.print(m) },
  };
}

/** The command that finishes a run, with --db when the store is not the default one. */
export function resumeCommand(
  runId: string,
  db?: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const defaultDb = env.SILICO_DB ?? "silico.db";
  if (db === undefined || db === defaultDb) return `silico resume ${runId}`;
  return `silico resume ${runId} --db ${/^[\w./:@%+=,-]+$/.test(db) ? db : JSON.stringify(db)}`;
}

type Outcome = Pick<RunResult, "runId" | "status" | "totals">;

/** The summary printed after a run: counts, cost, why it stopped, the failure report. */
export function summaryLines(
  result: Outcome,
  elapsedMs: number,
  resume = resumeCommand(result.runId),
): string[] {
  const t = result.totals;
  const cost = t.costKnown ? `$${t.costUsd.toFixed(4)}` : `≥ $${t.costUsd.toFixed(4)} (some prices unknown)`;
  const lines = [
    `run ${result.runId}: ${result.status.toUpperCase()}`,
    `  sessions: ${t.done} done, ${t.invalid} invalid, ${t.failed} failed, ${t.pending} not run (of ${t.sessions}${t.skipped ? `; ${t.skipped} finished earlier` : ""})`,
    `  calls: ${t.calls} (${t.cacheHits} from cache), retries ${t.retries}, invalid answers ${t.invalidAnswers}`,
    `  tokens: ${t.inputTokens} in, ${t.outputTokens} out; cost ${cost}; ${(elapsedMs / 1000).toFixed(1)} s`,
  ];
  if (t.stoppedReason) lines.push(`  ${t.stoppedReason}`);
  if (t.fatalError) lines.push(`  stopped: ${t.fatalError}`);
  if (t.interrupted)
    lines.push(`  interrupted by ${t.interrupted}; calls in flight were waited for and recorded`);
  if (t.storeError) lines.push(...storeErrorLines(t));
  lines.push(...failureReportLines(result, t.leaseLost ? undefined : resume));
  return lines;
}

export function printSummary(
  result: Outcome,
  elapsedMs: number,
  resume = resumeCommand(result.runId),
  io: CliIo = processIo(),
): void {
  io.stderr.write(`${summaryLines(result, elapsedMs, resume).join("\n")}\n`);
}

function storeErrorLines(t: RunResult["totals"]): string[] {
  const n = t.unsavedAnswers ?? 0;
  if (t.leaseLost) return [`  stopped: ${t.storeError}`, "  the process that owns the run now finishes it"];
  return [
    `  stopped: ${t.storeError}`,
    `  no new calls were made after the failure; everything committed before it is kept${n > 0 ? `; ${n} answer${n === 1 ? "" : "s"} received after the last commit could not be saved (resume asks ${n === 1 ? "it" : "them"} again)` : ""}`,
    "  fix the cause (free disk space, check the file's permissions) before resuming",
  ];
}

/**
 * Runs `go` with Ctrl-C / SIGTERM / SIGHUP handled (see SignalWatch), prints the outcome and
 * returns the exit code: 130/143/129 for an interrupted run, 1 when the store failed.
 */
async function runInterruptibly(
  currentStore: () => RunStore | undefined,
  progress: () => Progress | undefined,
  flags: RunFlags,
  io: CliIo,
  go: (hooks: { signal: AbortSignal; onRunCreated: (id: string) => void }) => Promise<RunOutcome>,
): Promise<number> {
  let runId: string | undefined;
  const watch = new SignalWatch({
    onFirst: (sig) => {
      const again = sig === "SIGINT" ? "press Ctrl-C again" : `send ${sig} again`;
      const p = progress();
      p?.print(
        flags.batch
          ? `${sig}: stopping: no new calls; the batches already submitted stay with the provider, and resume collects them`
          : p?.sessionsFinished()
            ? // No call is in flight: only the design's tear-down is left (an oTree run waiting for humans).
              `${sig}: stopping: every session has ended; finishing up (${again} to quit at once)`
            : `${sig}: stopping: no new calls; waiting up to 10 s for the calls in flight to be recorded (${again} to quit at once)`,
      );
    },
    onExitNow: (sig, second) => {
      if (runId !== undefined) {
        try {
          currentStore()?.flush();
        } catch {
          // Exiting anyway: what was committed before stays.
        }
        io.stderr.write(
          `\n${sig}${second ? " again" : ""}: stopped at once; answers committed so far are kept\n  finish with: ${resumeCommand(runId, flags.db, io.env)}\n`,
        );
      } else io.stderr.write(`\n${sig}: stopped before the run started\n`);
      exitForSignal(sig);
    },
  });
  const started = Date.now();
  let result: RunOutcome;
  try {
    result = await go({
      signal: watch.signal,
      onRunCreated: (id) => {
        runId = id;
        watch.started();
      },
    });
  } catch (e) {
    watch.finish();
    throw e;
  } finally {
    progress()?.stop();
  }
  const t = result.totals;
  const resume = resumeCommand(result.runId, flags.db, io.env);
  if (!flags.quiet) printSummary(result, Date.now() - started, resume, io);
  else if (t.storeError)
    io.stderr.write(
      `${[...storeErrorLines(t), ...(t.leaseLost ? [] : [`  finish with: ${resume}`])].join("\n")}\n`,
    );
  else if (t.interrupted) io.stderr.write(`interrupted by ${t.interrupted}; finish with: ${resume}\n`);
  io.stdout.write(`${result.runId}\n`);
  const sig = watch.received;
  const code = t.storeError
    ? 1
    : sig && result.status === "interrupted"
      ? SIGNAL_EXIT_CODES[sig]
      : exitCodeFor(result.status);
  watch.finish(code);
  return code;
}

/**
 * `silico run FILE`: the library's `run` with flags parsed, progress and the summary printed.
 * `db` is the store's path (or an open store, left open).
 */
export async function commandRun(
  file: string,
  flags: RunFlags,
  db: StoreRef,
  io: CliIo = processIo(),
): Promise<number> {
  const times = int("times", flags.times, 1);
  const study = compileStudyFile(file, times !== undefined ? { replications: times } : {});
  const options = runOptionsFrom(flags);
  if (flags.dryRun) {
    // A huge plan is refused before it is built.
    checkPlanSize(study, options.maxCalls ?? study.settings.maxCalls);
    const seed = options.seed ?? study.seed ?? 0;
    const plan = study.plan(seed);
    const batch = options.batch ?? study.settings.batch === true;
    if (batch) checkBatchModels(plan.models, study.providers);
    await printDryRun(plan, seed, io, batch);
    return 0;
  }
  // Opened only when the run is recorded: a study refused before that leaves no store file behind.
  let opened: ReturnType<typeof openStore> | undefined;
  let progress: Progress | undefined;
  try {
    return await runInterruptibly(
      () => opened?.store,
      () => progress,
      flags,
      io,
      (hooks) =>
        run(study, {
          db: () => {
            opened = openStore(db, "create");
            return opened.store;
          },
          ...options,
          ...hooks,
          modelCheck: flags.modelCheck !== false,
          onReady: ({ plan, size, warnings }) => {
            for (const w of warnings) io.stderr.write(`warning: ${w.message}\n`);
            // A person answering at the terminal needs a quiet screen.
            progress = new Progress(
              plan.total,
              flags.quiet === true || hasHuman(plan.models),
              0,
              size.calls,
              io.stderr,
            );
          },
          onEvent: (e) => progress?.onEvent(e),
          models: modelOptions(() => progress),
        }),
    );
  } finally {
    opened?.close();
  }
}

/** `silico resume RUN`: the library's `resume` with flags parsed, progress and the summary printed. */
export async function commandResume(
  ref: string,
  flags: RunFlags,
  openStore: () => RunStore,
  io: CliIo = processIo(),
): Promise<number> {
  const store = openStore();
  try {
    const record = store.getRun(ref);
    const options = runOptionsFrom(flags);
    checkResumeSeed(record, options.seed); // before the progress line starts
    // Sessions that stay as they are count as finished from the start; the rest are run now.
    const statuses = [...store.sessionStatuses(record.id).values()];
    const kept = statuses.filter(
      (s) => s === "done" || (!flags.retryFailed && (s === "failed" || s === "invalid")),
    ).length;
    const models = Object.keys((record.manifest.models ?? {}) as Record<string, unknown>);
    const progress = new Progress(
      record.total_sessions,
      flags.quiet === true || hasHuman(models),
      kept,
      expectedCalls(record, record.total_sessions - kept),
      io.stderr,
    );
    return await runInterruptibly(
      () => store,
      () => progress,
      // A batch run resumes as one (its stored settings), and says so when interrupted.
      { ...flags, batch: flags.batch === true || record.settings.batch === true },
      io,
      (hooks) =>
        resume(record.id, {
          db: store,
          ...options,
          ...hooks,
          retryFailed: flags.retryFailed === true,
          onEvent: progress.onEvent,
          models: modelOptions(() => progress),
        }),
    );
  } finally {
    store.close();
  }
}

/** Expected calls of `sessions` sessions of a stored run, for the progress line (undefined if unknown). */
function expectedCalls(run: RunRecord, sessions: number): number | undefined {
  try {
    const size = planSize(compileStoredStudy(run));
    return Math.round((size.calls / Math.max(1, size.sessions)) * sessions);
  } catch {
    return undefined; // resumeRun reports what is wrong with the stored study
  }
}

async function printDryRun(plan: Plan, seed: number, io: CliIo, batch: boolean) {
  const estimate = await estimatePlan(plan, { seed });
  io.stdout.write(`${formatDryRun(estimate, { batch }).join("\n")}\n`);
}
