import type { CacheMode } from "../engine/executor.js";
import type { Limits } from "../engine/limiter.js";
import { exitCodeFor, type RunResult, resumeRun, startRun } from "../engine/run-study.js";
import type { CompileOptions } from "../designs/design.js";
import { compileStudyFile, compileStudyText } from "../designs/index.js";
import type { RunRecord, RunStore } from "../store/run-store.js";
import { ConfigError } from "../errors.js";
import { checkPlanSize, planSize } from "../engine/plan-size.js";
import { createHumanModel } from "../models/human-model.js";
import { estimatePlan, formatDryRun } from "../tokens/dry-run.js";
import { checkListedModels } from "../models/model-listing.js";
import { capabilitiesOf, ModelPool } from "../models/registry.js";
import { failureReportLines } from "./failure-report.js";
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
  return models.some((m) => capabilitiesOf(m)?.interactive === true);
}

function modelOptions(progress: Progress) {
  return {
    human: (id: string) => createHumanModel(id),
    local: { onPullProgress: (m: string) => progress.print(m) },
  };
}

export function printSummary(result: RunResult, elapsedMs: number): void {
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
  process.stderr.write(`${lines.join("\n")}\n`);
}

export async function commandRun(file: string, flags: RunFlags, openStore: () => RunStore): Promise<number> {
  const times = int("times", flags.times, 1);
  const study = compileStudyFile(file, times !== undefined ? { replications: times } : {});
  const options = runOptionsFrom(flags);
  // A huge plan is refused before it is built, and every check that can stop a run happens
  // before the store file is opened: a refused run writes nothing.
  const size = checkPlanSize(study, options.maxCalls ?? study.settings.maxCalls);
  if (flags.dryRun) {
    const seed = options.seed ?? study.seed ?? 0;
    await printDryRun(study.plan(seed), seed);
    return 0;
  }
  const pool = new ModelPool({ providers: study.providers });
  pool.checkCredentials(study.models);
  if (flags.modelCheck !== false)
    await checkListedModels(study.models, pool, (id) => locateInStudy(study.source, id));
  // Opened only when the run is recorded: a study refused before that leaves no store file behind.
  let store: RunStore | undefined;
  try {
    const plan = study.plan(0);
    for (const w of plan.warnings) process.stderr.write(`warning: ${w}\n`);
    // A person answering at the terminal needs a quiet screen.
    const progress = new Progress(plan.total, flags.quiet === true || hasHuman(plan.models), 0, size.calls);
    const started = Date.now();
    let result: RunResult;
    try {
      result = await startRun(
        study,
        {
          store: () => {
            store = openStore();
            return store;
          },
          ...options,
          onEvent: progress.onEvent,
          models: modelOptions(progress),
        },
        times !== undefined ? { replications: times } : {},
      );
    } finally {
      progress.stop();
    }
    if (!flags.quiet) printSummary(result, Date.now() - started);
    process.stdout.write(`${result.runId}\n`);
    return exitCodeFor(result.status);
  } finally {
    store?.close();
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
    // Sessions that stay as they are count as finished from the start; the rest are run now.
    const statuses = [...store.sessionStatuses(run.id).values()];
    const kept = statuses.filter(
      (s) => s === "done" || (!flags.retryFailed && (s === "failed" || s === "invalid")),
    ).length;
    const models = Object.keys((run.manifest.models ?? {}) as Record<string, unknown>);
    const progress = new Progress(
      run.total_sessions,
      flags.quiet === true || hasHuman(models),
      kept,
      expectedCalls(run, run.total_sessions - kept),
    );
    const started = Date.now();
    let result: RunResult;
    try {
      result = await resumeRun(run.id, {
        store,
        ...runOptionsFrom(flags),
        retryFailed: flags.retryFailed === true,
        onEvent: progress.onEvent,
        models: modelOptions(progress),
      });
    } finally {
      progress.stop();
    }
    if (!flags.quiet) printSummary(result, Date.now() - started);
    process.stdout.write(`${result.runId}\n`);
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

/** "study.yaml:8" for the first line that names the model id, for errors about it. */
function locateInStudy(source: { file: string; text: string }, id: string): string {
  const lines = source.text.split("\n");
  const name = id.slice(id.indexOf(":") + 1);
  let i = lines.findIndex((l) => l.includes(id));
  if (i < 0 && name.length >= 3) i = lines.findIndex((l) => l.includes(name));
  return i < 0 ? source.file : `${source.file}:${i + 1}`;
}

async function printDryRun(plan: ReturnType<ReturnType<typeof compileStudyFile>["plan"]>, seed: number) {
  const estimate = await estimatePlan(plan, { seed });
  process.stdout.write(`${formatDryRun(estimate).join("\n")}\n`);
}
