/**
 * Runs started from the studio: each one through silico's `run`/`resume` (the same checks, the
 * same executor, the same store as the CLI), with an AbortController to stop it cleanly and a
 * progress state kept from the executor's events for the live view.
 */
import { type CompiledStudy, type ExecutorEvent, type RunOutcome, resume, run } from "silico";

export interface Progress {
  runId: string;
  /** "running" until the run returns, then its final status. */
  status: string;
  sessions: number;
  done: number;
  invalid: number;
  failed: number;
  calls: number;
  cacheHits: number;
  retries: number;
  invalidAnswers: number;
  failedCalls: number;
  costUsd: number;
  startedAt: number;
  /** Seconds left, from the session rate so far; null before the first session ends. */
  etaSeconds: number | null;
  error: string | null;
  /** Started here (events) or followed in the store (another process). */
  source: "studio" | "store";
}

interface Active {
  progress: Progress;
  controller: AbortController;
  listeners: Set<(p: Progress) => void>;
  finished: Promise<void>;
}

export interface RunManagerOptions {
  db: string;
  /** Keys for the model registry (from the studio's environment; never sent to the browser). */
  apiKeys?: Readonly<Record<string, string>>;
  /** Extra engine options (tests shorten retries). */
  engine?: { backoffMs?: number; maxAttempts?: number; graceMs?: number };
}

function emptyProgress(runId: string, sessions: number, source: Progress["source"]): Progress {
  return {
    runId,
    status: "running",
    sessions,
    done: 0,
    invalid: 0,
    failed: 0,
    calls: 0,
    cacheHits: 0,
    retries: 0,
    invalidAnswers: 0,
    failedCalls: 0,
    costUsd: 0,
    startedAt: Date.now(),
    etaSeconds: null,
    error: null,
    source,
  };
}

export function withEta(p: Progress): Progress {
  const finished = p.done + p.invalid + p.failed;
  if (p.status !== "running" || finished === 0)
    return { ...p, etaSeconds: p.status === "running" ? null : 0 };
  const perSession = (Date.now() - p.startedAt) / 1000 / finished;
  return { ...p, etaSeconds: Math.max(0, Math.round(perSession * (p.sessions - finished))) };
}

export class RunManager {
  private readonly active = new Map<string, Active>();

  constructor(private readonly opts: RunManagerOptions) {}

  get(runId: string): Active | undefined {
    return this.active.get(runId);
  }

  /** Starts a run; resolves with its id once it is recorded (a refused study rejects, nothing written). */
  start(study: CompiledStudy, options: { seed?: number; concurrency?: number } = {}): Promise<string> {
    let sessions = 0;
    return this.launch(
      (hooks) =>
        run(study, {
          db: this.opts.db,
          ...this.common(),
          ...(options.seed !== undefined ? { seed: options.seed } : {}),
          ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
          onReady: ({ plan }) => {
            sessions = plan.total;
          },
          ...hooks,
        }),
      () => sessions,
    );
  }

  /** Resumes an interrupted, stopped or partial run. */
  resume(runId: string, sessions: number, retryFailed: boolean): Promise<string> {
    if (this.active.get(runId)?.progress.status === "running")
      return Promise.reject(new Error(`run ${runId} is already running here`));
    return this.launch(
      (hooks) => resume(runId, { db: this.opts.db, ...this.common(), retryFailed, ...hooks }),
      () => sessions,
    );
  }

  /** Stops a run cleanly: no new calls, calls in flight recorded, status interrupted (resumable). */
  cancel(runId: string): boolean {
    const a = this.active.get(runId);
    if (a?.progress.status !== "running") return false;
    a.controller.abort("cancelled in silico studio");
    return true;
  }

  /** Stops every run and waits for them (the server is closing). */
  async closeAll(): Promise<void> {
    for (const a of this.active.values()) a.controller.abort("silico studio stopped");
    await Promise.all([...this.active.values()].map((a) => a.finished));
  }

  private common() {
    return {
      ...(this.opts.apiKeys ? { apiKeys: this.opts.apiKeys } : {}),
      ...(this.opts.engine?.backoffMs !== undefined ? { backoffMs: this.opts.engine.backoffMs } : {}),
      ...(this.opts.engine?.maxAttempts !== undefined ? { maxAttempts: this.opts.engine.maxAttempts } : {}),
      ...(this.opts.engine?.graceMs !== undefined ? { graceMs: this.opts.engine.graceMs } : {}),
    };
  }

  private launch(
    go: (hooks: {
      signal: AbortSignal;
      onEvent: (e: ExecutorEvent) => void;
      onRunCreated: (id: string) => void;
    }) => Promise<RunOutcome>,
    sessions: () => number,
  ): Promise<string> {
    const controller = new AbortController();
    let entry: Active | undefined;
    const pending: ExecutorEvent[] = [];
    const apply = (e: ExecutorEvent) => {
      if (!entry) {
        pending.push(e);
        return;
      }
      const p = entry.progress;
      if (e.type === "session-end") {
        if (e.status === "done") p.done++;
        else if (e.status === "invalid") p.invalid++;
        else if (e.status === "failed") p.failed++;
      } else if (e.type === "call") {
        p.calls++;
        if (e.cached) p.cacheHits++;
        if (!e.valid && !e.failed) p.invalidAnswers++;
        if (e.failed) p.failedCalls++;
        if (e.costUsd) p.costUsd += e.costUsd;
      } else if (e.type === "retry") p.retries++;
      this.notify(entry);
    };
    return new Promise<string>((resolveId, rejectId) => {
      let created = false;
      let finished: Promise<void> | undefined;
      finished = go({
        signal: controller.signal,
        onEvent: apply,
        onRunCreated: (id) => {
          created = true;
          entry = {
            progress: emptyProgress(id, sessions(), "studio"),
            controller,
            listeners: new Set(),
            finished: finished ?? Promise.resolve(),
          };
          this.active.set(id, entry);
          for (const e of pending.splice(0)) apply(e);
          resolveId(id);
        },
      }).then(
        (outcome) => {
          if (!entry) return;
          const p = entry.progress;
          // The outcome's totals are the run's own (a resume counts sessions finished before it too).
          const t = outcome.totals;
          Object.assign(p, {
            status: outcome.status,
            sessions: t.sessions,
            done: t.done,
            invalid: t.invalid,
            failed: t.failed,
            costUsd: t.costUsd,
            error: t.fatalError ?? t.storeError ?? null,
          });
          this.notify(entry);
        },
        (err: unknown) => {
          if (!created) {
            rejectId(err);
            return;
          }
          if (entry) {
            entry.progress.status = "failed";
            entry.progress.error = err instanceof Error ? err.message : String(err);
            this.notify(entry);
          }
        },
      );
      // Kept so closeAll can wait for the run to record its last answers.
      if (entry) entry.finished = finished;
    });
  }

  /** Follows a run's progress; returns the unsubscribe function. */
  subscribe(runId: string, listener: (p: Progress) => void): () => void {
    const a = this.active.get(runId);
    if (!a) return () => {};
    a.listeners.add(listener);
    listener(withEta(a.progress));
    return () => a.listeners.delete(listener);
  }

  private notify(a: Active): void {
    const snapshot = withEta(a.progress);
    for (const l of a.listeners) l(snapshot);
  }
}
