import { type RunOutcome, resume, run, type StoreRef } from "../api/verbs.js";
import type { CompileOptions } from "../designs/design.js";
import { compileStudyFile, compileStudyText } from "../designs/index.js";
import type { CacheMode } from "../engine/executor.js";
import type { Limits } from "../engine/limiter.js";
import type { Plan } from "../engine/plan.js";
import { checkPlanSize, planSize } from "../engine/plan-size.js";
import { exitCodeFor, type RunResult } from "../engine/run-study.js";
import { ConfigError } from "../errors.js";
import { createHumanModel } from "../models/human-model.js";
import type { RunRecord, RunStore } from "../store/run-store.js";
import { estimatePlan, formatDryRun } from "../tokens/dry-run.js";
import { failureReportLines } from "./failure-report.js";
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
  const maxCalls = int("max-calls", flags.maxCalls, 1);
  return {
    ...(maxCalls !== undefined ? { maxCalls } : {}),
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

function modelOptions(progress: () => Progress | undefined) {
  return {
    human: (id: string) => createHumanModel(id),
    local: { onPullProgress: (m: string) => progress()?.print(m) },
  };
}

export function summaryLines(
  result: Pick<RunResult, "runId" | "status" | "totals">,
  elapsedMs: number,
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
  lines.push(...failureReportLines(result));
  return lines;
}

export function printSummary(
  result: RunResult | RunOutcome,
  elapsedMs: number,
  io: CliIo = processIo(),
): void {
  io.stderr.write(`${summaryLines(result, elapsedMs).join("\n")}\n`);
}

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
    await printDryRun(study.plan(seed), seed, io);
    return 0;
  }
  let progress: Progress | undefined;
  const started = Date.now();
  let result: RunOutcome;
  try {
    result = await run(study, {
      db,
      ...options,
      ...(times !== undefined ? { replications: times } : {}),
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
    });
  } finally {
    progress?.stop();
  }
  if (!flags.quiet) printSummary(result, Date.now() - started, io);
  io.stdout.write(`${result.runId}\n`);
  return exitCodeFor(result.status);
}

export async function commandResume(
  ref: string,
  flags: RunFlags,
  openStore: () => RunStore,
  io: CliIo = processIo(),
): Promise<number> {
  const store = openStore();
  try {
    const record = store.getRun(ref);
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
    const started = Date.now();
    let result: RunOutcome;
    try {
      result = await resume(record.id, {
        db: store,
        ...runOptionsFrom(flags),
        retryFailed: flags.retryFailed === true,
        onEvent: progress.onEvent,
        models: modelOptions(() => progress),
      });
    } finally {
      progress.stop();
    }
    if (!flags.quiet) printSummary(result, Date.now() - started, io);
    io.stdout.write(`${result.runId}\n`);
    return exitCodeFor(result.status);
  } finally {
    store.close();
  }
}

/** Expected calls of `sessions` sessions of a stored run, for the progress line (undefined if unknown). */
function expectedCalls(run: RunRecord, sessions: number): number | undefined {
  try {
    const compile = (run.settings.compile ?? {}) as CompileOptions;
    const study = compileStudyText(
      run.study_text,
      run.study_path ?? `study.${run.kind === "factorial" ? "yaml" : "json"}`,
      compile,
    );
    const size = planSize(study);
    return Math.round((size.calls / Math.max(1, size.sessions)) * sessions);
  } catch {
    return undefined; // resumeRun reports what is wrong with the stored study
  }
}

async function printDryRun(plan: Plan, seed: number, io: CliIo) {
  const estimate = await estimatePlan(plan, { seed });
  io.stdout.write(`${formatDryRun(estimate).join("\n")}\n`);
}
