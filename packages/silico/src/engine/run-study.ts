import { SILICO_VERSION } from "../data-files.js";
import type { CompiledStudy, CompileOptions } from "../designs/design.js";
import { compileStudyText } from "../designs/index.js";
import { SilicoError } from "../errors.js";
import { ModelPool, type ModelResolverOptions } from "../models/registry.js";
import type { RunStatus, RunStore } from "../store/run-store.js";
import { priceTableDate } from "./cost.js";
import { type CacheMode, Executor, type ExecutorEvent, type RunTotals } from "./executor.js";
import type { Limits } from "./limiter.js";
import { canonicalJson } from "./hash.js";
import type { Plan } from "./plan.js";
import { checkPlanSize } from "./plan-size.js";
import { newSeed } from "./rng.js";

export interface RunOptions {
  /**
   * The store, or a function that opens it: then it is opened only once the run is about to be
   * recorded, so a study refused before that (missing key, unknown model) leaves no store file.
   */
  store: RunStore | (() => RunStore);
  /** Overrides the study's seed. */
  seed?: number;
  cache?: CacheMode;
  concurrency?: number;
  limits?: Partial<Limits>;
  maxCostUsd?: number;
  maxAttempts?: number;
  /** Largest plan accepted (sessions or expected calls); default the study's max_calls, else 1,000,000. */
  maxCalls?: number;
  backoffMs?: number;
  models?: ModelResolverOptions;
  onEvent?: (e: ExecutorEvent) => void;
  /** Called once the run row exists (so a caller can print or remember the id early). */
  onRunCreated?: (runId: string) => void;
  signal?: AbortSignal;
}

export interface RunResult {
  runId: string;
  status: RunStatus;
  totals: RunTotals;
  warnings: string[];
}

/** Exit codes: 0 everything valid, 3 partial, 4 stopped by budget (resumable), 1 nothing succeeded or fatal. */
export function exitCodeFor(status: RunStatus): number {
  return status === "done" ? 0 : status === "partial" ? 3 : status === "stopped" ? 4 : 1;
}

export function statusFor(t: RunTotals): RunStatus {
  if (t.fatalError) return "failed";
  if (t.stoppedReason) return "stopped";
  if (t.sessions > 0 && t.done === 0) return "failed";
  if (t.done === t.sessions) return "done";
  return "partial";
}

/** Start a new run of a compiled study. */
export async function startRun(
  study: CompiledStudy,
  opts: RunOptions,
  compile: CompileOptions = {},
): Promise<RunResult> {
  // Before the plan is built: a mistyped `times: 1000000000` is refused in milliseconds.
  checkPlanSize(study, opts.maxCalls ?? study.settings.maxCalls);
  const seed = opts.seed ?? study.seed ?? newSeed();
  const plan = study.plan(seed);
  const settings = resolvedSettings(study, opts, seed, compile);
  const pool = new ModelPool({ ...opts.models, providers: study.providers });
  pool.checkCredentials(plan.models);
  // Load every model before the run row exists: a model that cannot load writes nothing.
  const modelInfo: Record<string, unknown> = {};
  try {
    for (const id of plan.models) modelInfo[id] = (await pool.get(id)).info;
  } catch (e) {
    await pool.closeAll();
    throw e;
  }
  const store = typeof opts.store === "function" ? opts.store() : opts.store;
  const runId = store.createRun({
    kind: study.kind,
    ...(study.name ? { name: study.name } : {}),
    ...(study.source.path ? { studyPath: study.source.path } : {}),
    studyHash: study.source.hash,
    studyText: study.source.text,
    silicoVersion: SILICO_VERSION,
    seed,
    settings,
    manifest: {
      kind: study.kind,
      study_hash: study.source.hash,
      silico_version: SILICO_VERSION,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      seed,
      models: modelInfo,
      price_table: priceTableDate(),
      coordinate_columns: plan.coordinateColumns,
      warnings: plan.warnings,
      ...(study.manifest ?? {}),
      ...(study.exportHints ? { export_hints: study.exportHints } : {}),
    },
    totalSessions: plan.total,
  });
  opts.onRunCreated?.(runId);
  return execute(study, plan, runId, seed, pool, { ...opts, store }, false, false);
}

/** Finish an interrupted or partial run: finished sessions are kept, answered calls reused. */
export async function resumeRun(
  runRef: string,
  opts: RunOptions & { retryFailed?: boolean },
): Promise<RunResult> {
  const store = typeof opts.store === "function" ? opts.store() : opts.store;
  const run = store.getRun(runRef);
  const compile = (run.settings.compile ?? {}) as CompileOptions;
  const study = compileStudyText(
    run.study_text,
    run.study_path ?? `study.${run.kind === "factorial" ? "yaml" : "json"}`,
    compile,
  );
  if (study.source.hash !== run.study_hash) {
    throw new SilicoError("study_changed", `run ${run.id}: the stored study text does not match its hash`);
  }
  // Files the study reads (stimulus lists …) must be the ones the run started with.
  for (const [key, value] of Object.entries(study.manifest ?? {})) {
    if (canonicalJson(value) !== canonicalJson(run.manifest[key])) {
      throw new SilicoError(
        "study_changed",
        `run ${run.id}: ${key} changed since the run started (${JSON.stringify(run.manifest[key])} → ${JSON.stringify(value)}); restore it or start a new run`,
      );
    }
  }
  const stored = run.settings as {
    cache?: CacheMode;
    concurrency?: number;
    limits?: Partial<Limits>;
    maxCostUsd?: number;
    maxAttempts?: number;
  };
  const merged: RunOptions & { store: RunStore } = {
    ...opts,
    store,
    cache: opts.cache ?? stored.cache,
    concurrency: opts.concurrency ?? stored.concurrency,
    limits: { ...(stored.limits ?? {}), ...(opts.limits ?? {}) },
    maxCostUsd: opts.maxCostUsd ?? stored.maxCostUsd,
    maxAttempts: opts.maxAttempts ?? stored.maxAttempts,
  };
  const pool = new ModelPool({ ...opts.models, providers: study.providers });
  const plan = study.plan(run.seed);
  pool.checkCredentials(plan.models);
  store.updateRun(run.id, { status: "running" });
  opts.onRunCreated?.(run.id);
  return execute(study, plan, run.id, run.seed, pool, merged, true, opts.retryFailed === true);
}

async function execute(
  study: CompiledStudy,
  plan: Plan,
  runId: string,
  seed: number,
  pool: ModelPool,
  opts: RunOptions & { store: RunStore },
  resume: boolean,
  retryFailed: boolean,
): Promise<RunResult> {
  const executor = new Executor({
    store: opts.store,
    runId,
    seed,
    models: pool,
    ...effectiveSettings(study, opts),
    ...(opts.backoffMs !== undefined ? { backoffMs: opts.backoffMs } : {}),
    ...(study.reask ? { reask: study.reask } : {}),
    resume,
    retryFailed,
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
  });
  let totals: RunTotals;
  try {
    totals = await executor.run(plan);
  } finally {
    await pool.closeAll();
  }
  const status = statusFor(totals);
  opts.store.updateRun(runId, { status, summary: totals });
  return { runId, status, totals, warnings: plan.warnings };
}

/** Run-time settings: flags (or the stored run's) over the study's `settings:`, over defaults. */
function effectiveSettings(study: CompiledStudy, opts: RunOptions) {
  const concurrency = opts.concurrency ?? study.settings.concurrency;
  const maxCostUsd = opts.maxCostUsd ?? study.settings.maxCostUsd;
  return {
    cache: opts.cache ?? ("use" as const),
    ...(concurrency ? { concurrency } : {}),
    limits: { ...(study.settings.limits ?? {}), ...(opts.limits ?? {}) },
    ...(maxCostUsd !== undefined ? { maxCostUsd } : {}),
    maxAttempts: opts.maxAttempts ?? study.settings.maxAttempts ?? 6,
    ...(study.settings.timeoutMs !== undefined ? { timeoutMs: study.settings.timeoutMs } : {}),
  };
}

function resolvedSettings(study: CompiledStudy, opts: RunOptions, seed: number, compile: CompileOptions) {
  const { timeoutMs: _t, ...settings } = effectiveSettings(study, opts);
  return {
    seed,
    ...settings,
    compile,
    // Endpoints and the NAMES of key variables only; key values never reach the store.
    providers: study.providers,
  };
}
