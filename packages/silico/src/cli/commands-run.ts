import { priceOf } from "../engine/cost.js";
import type { CacheMode } from "../engine/executor.js";
import type { Limits } from "../engine/limiter.js";
import { exitCodeFor, type RunResult, resumeRun, startRun } from "../engine/run-study.js";
import { compileStudyFile } from "../designs/index.js";
import type { RunStore } from "../store/run-store.js";
import { ConfigError } from "../errors.js";
import { createHumanModel } from "../models/human-model.js";
import { exitForSignal, SIGNAL_EXIT_CODES, SignalWatch } from "./interrupt.js";
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
}

function int(flag: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigError("bad_flag", `--${flag} must be a whole number ≥ ${min}, got "${v}"`);
  return n;
}

function positive(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0)
    throw new ConfigError("bad_flag", `--${flag} must be a number ≥ 0, got "${v}"`);
  return n;
}

export function runOptionsFrom(flags: RunFlags) {
  if (flags.cache === false && flags.refresh)
    throw new ConfigError("bad_flag", "--no-cache and --refresh cannot be combined");
  const cache: CacheMode | undefined = flags.cache === false ? "off" : flags.refresh ? "refresh" : undefined;
  const limits: Partial<Limits> = {};
  const mif = int("max-in-flight", flags.maxInFlight, 1);
  if (mif !== undefined) limits.maxInFlight = mif;
  const rpm = positive("rpm", flags.rpm);
  if (rpm !== undefined) limits.rpm = rpm;
  const tpm = positive("tpm", flags.tpm);
  if (tpm !== undefined) limits.tpm = tpm;
  const seed = int("seed", flags.seed);
  const concurrency = int("concurrency", flags.concurrency, 1);
  const maxCostUsd = positive("max-cost", flags.maxCost);
  const maxAttempts = int("max-attempts", flags.maxAttempts, 1);
  return {
    ...(cache ? { cache } : {}),
    ...(Object.keys(limits).length ? { limits } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(maxCostUsd !== undefined ? { maxCostUsd } : {}),
    ...(maxAttempts !== undefined ? { maxAttempts } : {}),
  };
}

function hasHuman(models: string[]): boolean {
  return models.some((m) => m === "human" || m.startsWith("human:"));
}

function modelOptions(progress: Progress) {
  return {
    human: (id: string) => createHumanModel(id),
    local: { onPullProgress: (m: string) => progress.print(m) },
  };
}

/** The command that finishes a run, with --db when the store is not the default one. */
export function resumeCommand(runId: string, db?: string): string {
  const defaultDb = process.env.SILICO_DB ?? "silico.db";
  if (db === undefined || db === defaultDb) return `silico resume ${runId}`;
  return `silico resume ${runId} --db ${/^[\w./:@%+=,-]+$/.test(db) ? db : JSON.stringify(db)}`;
}

export function printSummary(
  result: RunResult,
  elapsedMs: number,
  resume = resumeCommand(result.runId),
): void {
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
  if (result.status !== "done" && !t.fatalError && !t.leaseLost)
    lines.push(`  finish with: ${resume}${t.failed + t.invalid > 0 ? " --retry-failed" : ""}`);
  process.stderr.write(`${lines.join("\n")}\n`);
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
  store: RunStore,
  progress: Progress,
  flags: RunFlags,
  go: (hooks: { signal: AbortSignal; onRunCreated: (id: string) => void }) => Promise<RunResult>,
): Promise<number> {
  let runId: string | undefined;
  const watch = new SignalWatch({
    onFirst: (sig) =>
      progress.print(
        `${sig}: stopping: no new calls; waiting up to 10 s for the calls in flight to be recorded (${sig === "SIGINT" ? "press Ctrl-C again" : `send ${sig} again`} to quit at once)`,
      ),
    onExitNow: (sig, second) => {
      if (runId !== undefined) {
        try {
          store.flush();
        } catch {
          // Exiting anyway: what was committed before stays.
        }
        process.stderr.write(
          `\n${sig}${second ? " again" : ""}: stopped at once; answers committed so far are kept\n  finish with: ${resumeCommand(runId, flags.db)}\n`,
        );
      } else process.stderr.write(`\n${sig}: stopped before the run started\n`);
      exitForSignal(sig);
    },
  });
  const started = Date.now();
  let result: RunResult;
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
    progress.stop();
  }
  const t = result.totals;
  const resume = resumeCommand(result.runId, flags.db);
  if (!flags.quiet) printSummary(result, Date.now() - started, resume);
  else if (t.storeError)
    process.stderr.write(
      `${[...storeErrorLines(t), ...(t.leaseLost ? [] : [`  finish with: ${resume}`])].join("\n")}\n`,
    );
  else if (t.interrupted) process.stderr.write(`interrupted by ${t.interrupted}; finish with: ${resume}\n`);
  process.stdout.write(`${result.runId}\n`);
  const sig = watch.received;
  const code = t.storeError
    ? 1
    : sig && result.status === "interrupted"
      ? SIGNAL_EXIT_CODES[sig]
      : exitCodeFor(result.status);
  watch.finish(code);
  return code;
}

export async function commandRun(file: string, flags: RunFlags, openStore: () => RunStore): Promise<number> {
  const times = int("times", flags.times, 1);
  const study = compileStudyFile(file, times !== undefined ? { replications: times } : {});
  const options = runOptionsFrom(flags);
  if (flags.dryRun) {
    printDryRun(study.plan(options.seed ?? study.seed ?? 0), study.models);
    return 0;
  }
  const store = openStore();
  try {
    const plan = study.plan(0);
    for (const w of plan.warnings) process.stderr.write(`warning: ${w}\n`);
    // A person answering at the terminal needs a quiet screen.
    const progress = new Progress(plan.total, flags.quiet === true || hasHuman(plan.models));
    return await runInterruptibly(store, progress, flags, (hooks) =>
      startRun(
        study,
        { store, ...options, ...hooks, onEvent: progress.onEvent, models: modelOptions(progress) },
        times !== undefined ? { replications: times } : {},
      ),
    );
  } finally {
    store.close();
  }
}

export async function commandResume(
  ref: string,
  flags: RunFlags,
  openStore: () => RunStore,
): Promise<number> {
  const store = openStore();
  try {
    const run = store.getRun(ref);
    const done = [...store.sessionStatuses(run.id).values()].filter((s) => s === "done").length;
    const models = Object.keys((run.manifest.models ?? {}) as Record<string, unknown>);
    const progress = new Progress(run.total_sessions, flags.quiet === true || hasHuman(models), done);
    const options = runOptionsFrom(flags);
    return await runInterruptibly(store, progress, flags, (hooks) =>
      resumeRun(run.id, {
        store,
        ...options,
        ...hooks,
        retryFailed: flags.retryFailed === true,
        onEvent: progress.onEvent,
        models: modelOptions(progress),
      }),
    );
  } finally {
    store.close();
  }
}

function printDryRun(plan: ReturnType<ReturnType<typeof compileStudyFile>["plan"]>, models: string[]): void {
  const est = plan.estimate;
  let sessions = 0;
  let calls = 0;
  const perModel = new Map<string, number>();
  for (const s of plan.sessions()) {
    sessions++;
    calls += s.expectedCalls;
    for (const p of s.participants)
      perModel.set(p.model, (perModel.get(p.model) ?? 0) + s.expectedCalls / s.participants.length);
  }
  const inTok = est ? Math.ceil(est.promptChars / 4) : 0;
  const outTok = est?.maxTokens ?? 0;
  const lines = [`plan: ${plan.kind}, ${sessions} sessions, about ${Math.round(calls)} calls`];
  let total = 0;
  let unknown = false;
  for (const m of models.length ? models : [...perModel.keys()]) {
    const c = perModel.get(m) ?? 0;
    const price = priceOf(m);
    const tokensIn = Math.round(c * inTok);
    const tokensOut = Math.round(c * outTok);
    let costText = "cost unknown (no price for this model)";
    if (price) {
      const cost = (tokensIn * price.input + tokensOut * price.output) / 1e6;
      total += cost;
      costText = `≤ $${cost.toFixed(4)}`;
    } else unknown = true;
    lines.push(
      `  ${m}: ${Math.round(c)} calls, ~${tokensIn} input tokens, ≤ ${tokensOut} output tokens, ${costText}`,
    );
  }
  lines.push(
    `estimated cost: ${unknown ? "unknown for some models; known part " : ""}≤ $${total.toFixed(4)} (output counted at max_tokens)`,
  );
  for (const w of plan.warnings) lines.push(`warning: ${w}`);
  lines.push("dry run: nothing was called or written");
  process.stdout.write(`${lines.join("\n")}\n`);
}
