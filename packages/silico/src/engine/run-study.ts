import { SILICO_VERSION } from "../data-files.js";
import { ConfigError, SilicoError } from "../errors.js";
import { ModelPool, type ModelResolverOptions } from "../models/registry.js";
import { redact } from "../models/secrets.js";
import { newClaim, RunLease } from "../store/run-lease.js";
import { type RunRecord, type RunStatus, type RunStore, StoreWriteError } from "../store/run-store.js";
import { nodeHttpFetch } from "../models/node-http-fetch.js";
import { Batcher } from "./batching/batcher.js";
import { checkBatchModels } from "./batching/support.js";
import { priceTableDate } from "./cost.js";
import { type CacheMode, Executor, type ExecutorEvent, type RunTotals } from "./executor.js";
import type { Limits } from "./limiter.js";
import type { CompiledStudy, CompileOptions, Recompile } from "./compiled-study.js";
import { canonicalJson } from "./hash.js";
import type { Plan, RunContext, TearDownContext } from "./plan.js";
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
  /** Aborting it interrupts the run cleanly (see ExecutorOptions.signal); the reason names the cause. */
  signal?: AbortSignal;
  /** How long an interrupt waits for calls in flight before cancelling them (default 10 s). */
  graceMs?: number;
  /** Send calls through the providers' batch APIs (OpenAI, Anthropic); default the study's settings.batch. */
  batch?: boolean;
  /** Time between polls of a batch (default 30 s, or SILICO_BATCH_POLL_MS). */
  batchPollMs?: number;
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
  // A failed store or an interrupt leaves finished work in place and the rest pending.
  if (t.storeError || t.interrupted) return "interrupted";
  if (t.fatalError) return "failed";
  if (t.stoppedReason) return "stopped";
  if (t.sessions > 0 && t.done === 0) return "failed";
  if (t.done === t.sessions) return "done";
  return "partial";
}

/** Where the run's own design state is kept (sessions use their keys). */
const RUN_STATE_KEY = "";

/** The state a tear-down sees when its run was never recorded. */
const NO_STATE = {
  get: () => undefined,
  set: () => {
    throw new SilicoError("design_state", "the run was not recorded: no design state");
  },
};

let registeredRecompile: Recompile | undefined;

/**
 * How a stored study text is compiled again on resume when the caller passes no `recompile`.
 * src/designs registers its compiler here, so the engine never imports a design.
 */
export function setRecompile(recompile: Recompile): void {
  registeredRecompile = recompile;
}

/**
 * Start a new run of a compiled study. The study's own compile options are recorded with the
 * run; `compile` (older callers) overrides them.
 */
export async function startRun(
  study: CompiledStudy,
  opts: RunOptions,
  compileOverride?: CompileOptions,
): Promise<RunResult> {
  const compile = compileOverride ?? study.compileOptions ?? {};
  // Before the plan is built: a mistyped `times: 1000000000` is refused in milliseconds.
  checkPlanSize(study, opts.maxCalls ?? study.settings.maxCalls);
  const seed = opts.seed ?? study.seed ?? newSeed();
  const plan = study.plan(seed);
  const settings = resolvedSettings(study, opts, seed, compile);
  const batcher = batcherFor(study, plan, opts, opts.batch ?? study.settings.batch);
  const pool = new ModelPool({
    ...opts.models,
    ...(batcher ? { fetch: batcher.fetch } : {}),
    providers: study.providers,
  });
  pool.checkCredentials(plan.models);
  plan.checkCredentials?.();
  // Load every model before the run row exists: a model that cannot load writes nothing.
  const modelInfo: Record<string, unknown> = {};
  try {
    for (const id of plan.models) modelInfo[id] = (await pool.get(id)).info;
  } catch (e) {
    await pool.closeAll();
    throw e;
  }
  const notice = (message: string) => opts.onEvent?.({ type: "notice", message });
  // Checks against the outside world (an oTree server) that can refuse the run: before the run
  // exists, so a refused run leaves nothing in the store. A prepare that throws cleans up itself.
  if (plan.prepare) {
    try {
      await plan.prepare({ seed, notice });
    } catch (e) {
      await pool.closeAll();
      throw e;
    }
  }
  // The run and its lease are written in one commit: no moment where another process could
  // see the new run as abandoned and take it over.
  const claim = newClaim("run");
  let runId: string;
  let store: RunStore;
  try {
    store = typeof opts.store === "function" ? opts.store() : opts.store;
    runId = store.createRun(
      {
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
          compile_options: compile,
          ...(study.manifest ?? {}),
          ...(study.exportHints ? { export_hints: study.exportHints } : {}),
        },
        totalSessions: plan.total,
      },
      claim,
    );
  } catch (e) {
    await pool.closeAll(); // e.g. a full disk: the loaded models must not keep the process alive
    // What prepare made outside (a devserver) is closed although the run never existed.
    await plan
      .tearDown?.({ runId: "", seed, resumed: false, state: NO_STATE, notice, outcome: "error" })
      .catch(() => {});
    throw e;
  }
  const lease = new RunLease(store, runId, claim);
  opts.onRunCreated?.(runId);
  return execute(study, plan, lease, seed, pool, { ...opts, store }, false, false, batcher);
}

/** The batching fetch of a `--batch` run (undefined otherwise); refuses providers without a batch API. */
function batcherFor(study: CompiledStudy, plan: Plan, opts: RunOptions, batch: boolean | undefined) {
  if (!batch) return undefined;
  checkBatchModels(plan.models, study.providers);
  return new Batcher({
    fetch: opts.models?.fetch ?? nodeHttpFetch,
    ...(opts.batchPollMs !== undefined ? { pollMs: opts.batchPollMs } : {}),
  });
}

/** A stored run's study, compiled again with the options the run was compiled with. */
export function compileStoredStudy(run: RunRecord, recompile = registeredRecompile): CompiledStudy {
  if (!recompile) {
    throw new SilicoError(
      "no_compiler",
      "resumeRun needs a recompile function (or import silico's designs first)",
    );
  }
  // Runs before 0.2 kept the compile options in their settings only.
  const compile = (run.manifest.compile_options ?? run.settings.compile ?? {}) as CompileOptions;
  return recompile(
    run.study_text,
    run.study_path ?? `study.${run.kind === "factorial" ? "yaml" : "json"}`,
    compile,
  );
}

/** Finish an interrupted or partial run: finished sessions are kept, answered calls reused. */
/**
 * A run's seed is part of every cache key and every random choice, so it cannot change midway: a
 * resume given another seed is refused (the same seed is fine).
 */
export function checkResumeSeed(run: { id: string; seed: number }, seed: number | undefined): void {
  if (seed !== undefined && seed !== run.seed)
    throw new ConfigError(
      "bad_flag",
      `--seed ${seed}: run ${run.id} was started with seed ${run.seed} and resumes with it; another seed is a new run (silico run STUDY --seed ${seed})`,
    );
}

export async function resumeRun(
  runRef: string,
  opts: RunOptions & { retryFailed?: boolean; recompile?: Recompile },
): Promise<RunResult> {
  const store = typeof opts.store === "function" ? opts.store() : opts.store;
  const run = store.getRun(runRef);
  checkResumeSeed(run, opts.seed);
  const study = compileStoredStudy(run, opts.recompile);
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
    batch?: boolean;
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
  const plan = study.plan(run.seed);
  // A batch run resumes as one: its submitted batches are waited for, not paid for again.
  const batcher = batcherFor(study, plan, opts, opts.batch ?? stored.batch);
  const pool = new ModelPool({
    ...opts.models,
    ...(batcher ? { fetch: batcher.fetch } : {}),
    providers: study.providers,
    recorded: (run.manifest.models ?? {}) as Record<string, unknown>,
  });
  pool.checkCredentials(plan.models);
  plan.checkCredentials?.();
  // Refused (RunBusyError, nothing written) while another live process works on the run.
  const lease = RunLease.claim(store, run.id, "resume");
  opts.onRunCreated?.(run.id);
  return execute(study, plan, lease, run.seed, pool, merged, true, opts.retryFailed === true, batcher);
}

async function execute(
  study: CompiledStudy,
  plan: Plan,
  lease: RunLease,
  seed: number,
  pool: ModelPool,
  opts: RunOptions & { store: RunStore },
  resume: boolean,
  retryFailed: boolean,
  batcher: Batcher | undefined,
): Promise<RunResult> {
  const runId = lease.runId;
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
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.graceMs !== undefined ? { graceMs: opts.graceMs } : {}),
    ...(batcher ? { batcher } : {}),
  });
  const { store } = opts;
  const token = lease.claim.token;
  const runCtx: RunContext = {
    runId,
    seed,
    resumed: resume,
    state: store.designState(runId, RUN_STATE_KEY),
    notice: (message) => opts.onEvent?.({ type: "notice", message }),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const warnings = [...plan.warnings];
  let totals: RunTotals | undefined;
  let setUpDone = false;
  try {
    if (plan.setUp) await plan.setUp(runCtx);
    setUpDone = true;
    totals = await executor.run(plan);
  } catch (e) {
    // Whatever went wrong, the run must not stay "running" (with no sessions, if it failed early).
    lease.stop();
    const message = redact(e instanceof Error ? e.message : String(e));
    const fatalError = setUpDone ? message : `set-up failed: ${message}`;
    if (!store.failure) {
      try {
        store.finishRun(
          runId,
          { status: "failed", summary: { ...executor.totals, sessions: plan.total, fatalError } },
          token,
        );
      } catch {
        // The original error says more than a failure to record it.
      }
    }
    if (!setUpDone) throw new SilicoError("setup_failed", `run ${runId}: ${fatalError}`, { cause: e });
    throw e;
  } finally {
    try {
      // Always, also after a stop, a failure or a set-up that threw half-way: set-up may have
      // created something outside (an oTree session) that must be closed.
      if (plan.tearDown) {
        const outcome = totals ? (statusFor(totals) as TearDownContext["outcome"]) : "error";
        try {
          await plan.tearDown({ ...runCtx, outcome });
        } catch (e) {
          warnings.push(`tear-down failed: ${redact(e instanceof Error ? e.message : String(e))}`);
        }
      }
    } finally {
      batcher?.close();
      await pool.closeAll();
    }
  }
  lease.stop();
  let status = statusFor(totals);
  if (!store.failure) {
    try {
      store.finishRun(
        runId,
        { status, summary: totals, ...(plan.arrivals ? { totalSessions: totals.sessions } : {}) },
        token,
      );
    } catch (e) {
      if (!(e instanceof StoreWriteError)) throw e;
      totals.storeError = e.message;
      totals.unsavedAnswers = store.unsavedAnswers;
      status = statusFor(totals);
    }
  }
  return { runId, status, totals, warnings };
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
    ...((opts.batch ?? study.settings.batch) ? { batch: true } : {}),
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
