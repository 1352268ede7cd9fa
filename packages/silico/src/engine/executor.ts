import { setMaxListeners } from "node:events";
import { SilicoError } from "../errors.js";
import type { ModelPool } from "../models/registry.js";
import { redact } from "../models/secrets.js";
import type { ContentPart, Message, Model, ModelParams, ModelResponse } from "../models/types.js";
import { ProviderError } from "../models/types.js";
import {
  type MessageRecord,
  type RunStore,
  type SessionStatus,
  StoreWriteError,
} from "../store/run-store.js";
import type { BatchEvent, Batcher } from "./batching/batcher.js";
import { type BatchCallContext, batchCallContext } from "./batching/call-context.js";
import { batchPriceOf, costOf, estimateTokens, priceOf } from "./cost.js";
import {
  classifyFailure,
  classifyStoredFailure,
  type FailureKind,
  type FailureReason,
  FailureTally,
  isUnreachable,
} from "./failures.js";
import { canonicalJson, sha256 } from "./hash.js";
import { type Limits, limiterPolicyFor, ModelLimiter, maxConcurrencyOf, ProviderGate } from "./limiter.js";
import type { Answer, Coordinates, Plan, Question, SessionContext, SessionPlan } from "./plan.js";
import { Rng } from "./rng.js";
import { capabilitiesOf, splitModelId } from "../models/providers.js";

export type CacheMode = "use" | "off" | "refresh";

export interface ExecutorOptions {
  store: RunStore;
  runId: string;
  seed: number;
  models: ModelPool;
  /** Sessions in flight at once (default: the largest maxInFlight of the models used). */
  concurrency?: number;
  /** Per-model limit overrides (the study's `settings:` merged with CLI flags). */
  limits?: Partial<Limits>;
  cache?: CacheMode;
  /** Per-attempt timeout when the study's params give none (settings.timeout_ms). */
  timeoutMs?: number;
  /** Attempts per call on transient failures (default 6). */
  maxAttempts?: number;
  /** Base of the exponential backoff in ms (default 500). */
  backoffMs?: number;
  maxCostUsd?: number;
  /** Re-ask policy used when a question gives none. */
  reask?: { max: number; message?: string };
  /** Sessions already finished in this run are skipped (resume). */
  resume?: boolean;
  /** On resume: re-run failed/invalid sessions, keeping the originals in the record. */
  retryFailed?: boolean;
  onEvent?: (event: ExecutorEvent) => void;
  /**
   * Aborting it interrupts the run: no new calls start, calls in flight get `graceMs` to finish
   * and be recorded, then are cancelled. The abort reason (e.g. "SIGINT") names the cause.
   */
  signal?: AbortSignal;
  /** How long an interrupt waits for calls in flight (default 10 s). */
  graceMs?: number;
  /**
   * `--batch`: the batching fetch the run's models were built with. Calls then go into provider
   * batches (no rate limiter, no per-attempt timeout), every session runs at once unless
   * `concurrency` says otherwise, and answered calls cost the batch price.
   */
  batcher?: Batcher;
}

export type ExecutorEvent =
  | { type: "session-start"; key: string }
  | { type: "session-end"; key: string; status: SessionStatus; error?: string }
  | {
      type: "call";
      cached: boolean;
      valid: boolean;
      costUsd: number | null;
      attempts: number;
      latencyMs: number;
      /** The call failed (its error is recorded); no answer. */
      failed?: boolean;
    }
  | { type: "retry"; model: string; error: string; waitMs: number }
  | { type: "warning"; message: string }
  | BatchEvent
  /** A line for the person running the study (a design's links, "waiting for humans" …). */
  | { type: "notice"; message: string };

export interface RunTotals {
  sessions: number;
  done: number;
  invalid: number;
  failed: number;
  skipped: number;
  pending: number;
  calls: number;
  cacheHits: number;
  retries: number;
  invalidAnswers: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  costKnown: boolean;
  stoppedReason?: string;
  fatalError?: string;
  /** Why sessions failed, most frequent first (absent when none failed). */
  failureReasons?: FailureReason[];
  /** Why the run was interrupted (a signal name, or the caller's reason). Resumable. */
  interrupted?: string;
  /** The store could not be written; the run stopped. Resumable once the cause is fixed. */
  storeError?: string;
  /** Answers received that the failed store could not keep (asked again on resume). */
  unsavedAnswers?: number;
  /** The store failure was the loss of the run's lease: another process now owns the run. */
  leaseLost?: boolean;
}

export const DEFAULT_REASK_MESSAGE =
  "Your answer could not be used: {reason}. {expected} Please answer again.";

class StopRun extends Error {
  constructor(
    message: string,
    readonly kind: "budget" | "fatal" | "interrupt" | "storage",
  ) {
    super(message);
  }
}

/** Waiting for calls in flight after an interrupt, before they are cancelled. */
const DEFAULT_GRACE_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The only place that talks to models. Runs a plan's sessions with bounded concurrency; every
 * call goes through cache → rate limiter → retries → parse → re-ask → store.
 */
/**
 * Every call in flight listens to this one controller's signal (fetch adds a listener per
 * request), so Node's default of 10 listeners would print a leak warning at 11 calls in flight.
 */
function unlimitedController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

interface OpenEnd {
  status: SessionStatus;
  /** Finished before this process (counted as skipped). */
  earlier: boolean;
  failure?: { reason: string; kind: FailureKind };
}

export class Executor {
  private readonly limiters = new Map<string, ModelLimiter>();
  private readonly gates = new Map<string, ProviderGate>();
  readonly totals: RunTotals = {
    sessions: 0,
    done: 0,
    invalid: 0,
    failed: 0,
    skipped: 0,
    pending: 0,
    calls: 0,
    cacheHits: 0,
    retries: 0,
    invalidAnswers: 0,
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    costKnown: true,
  };
  private stopReason?: StopRun;
  /** Aborted when the run stops, so an open plan's waiting workers are released. */
  private readonly stopped = unlimitedController();
  private get stop(): StopRun | undefined {
    return this.stopReason;
  }
  private set stop(value: StopRun | undefined) {
    this.stopReason = value;
    if (value && !this.stopped.signal.aborted) this.stopped.abort(value);
  }
  private readonly failures = new FailureTally();
  /**
   * An open plan's sessions by key and how each ended: a turn asked again after its session
   * failed (an app retrying a turn whose model call failed) replaces that failed session.
   */
  private openEnds: Map<string, OpenEnd> | undefined;
  /** Models that answered at least once in this run. */
  private readonly reached = new Set<string>();
  /**
   * Models whose server refused every attempt of a call before ever answering (not started, wrong
   * port): further calls try once instead of backing off through every attempt, so a run against
   * a server that is down fails in seconds, not minutes, and says why.
   */
  private readonly unreachable = new Set<string>();
  /** Estimated cost of the calls in flight, so concurrent calls cannot together overshoot --max-cost. */
  private reservedUsd = 0;
  /** Cancels the calls still in flight once an interrupt's grace period is over. */
  private readonly cancelInFlight = unlimitedController();
  private graceTimer: NodeJS.Timeout | undefined;
  private interruptReason: string | undefined;
  /** Sessions running now (the batcher submits once all of them wait on it). */
  private activeSessions = 0;
  /** Aborted at an interrupt (before the grace period): procedures stop waiting on the outside. */
  private readonly interruptSignal = unlimitedController();

  constructor(private readonly opts: ExecutorOptions) {}

  /** The model's limiter, made at its first call, when the provider's type is known. */
  private limiter(modelId: string, providerType?: string): ModelLimiter {
    let l = this.limiters.get(modelId);
    if (!l) {
      const provider = splitModelId(modelId)?.provider ?? modelId;
      let gate = this.gates.get(provider);
      if (!gate) {
        gate = new ProviderGate();
        this.gates.set(provider, gate);
      }
      l = new ModelLimiter(limiterPolicyFor(modelId, this.opts.limits, providerType), gate);
      this.limiters.set(modelId, l);
    }
    return l;
  }

  /**
   * Stop starting calls; calls in flight get the grace period to finish and be recorded. The
   * sessions not finished stay pending, so `resume` completes them.
   */
  interrupt(reason: string): void {
    if (this.interruptReason !== undefined) return;
    this.interruptReason = reason;
    this.stop ??= new StopRun(`interrupted (${reason})`, "interrupt");
    this.opts.batcher?.interrupt(reason);
    this.interruptSignal.abort(new Error(`interrupted (${reason})`));
    this.graceTimer = setTimeout(
      () => this.cancelInFlight.abort(new Error(`interrupted (${reason})`)),
      this.opts.graceMs ?? DEFAULT_GRACE_MS,
    );
    this.graceTimer.unref();
  }

  async run(plan: Plan): Promise<RunTotals> {
    const { store } = this.opts;
    const signal = this.opts.signal;
    const onAbort = () => this.interrupt(String(signal?.reason ?? "aborted"));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    // A failed write stops new calls at once: answers that cannot be kept are not paid for.
    const unsubscribe = store.onFailure((e) => {
      this.stop = new StopRun(e.message, "storage");
    });
    if (store.failure) this.stop = new StopRun(store.failure.message, "storage");
    this.opts.batcher?.start({
      store,
      runId: this.opts.runId,
      activeSessions: () => this.activeSessions,
      ...(this.opts.onEvent ? { onEvent: this.opts.onEvent } : {}),
    });
    try {
      return await this.runPlan(plan);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      unsubscribe();
      if (this.graceTimer) clearTimeout(this.graceTimer);
    }
  }

  private async runPlan(plan: Plan): Promise<RunTotals> {
    const { store, runId } = this.opts;
    this.totals.sessions = plan.total;
    const statuses = this.opts.resume ? store.sessionStatuses(runId) : new Map<string, SessionStatus>();
    const earlierErrors =
      this.opts.resume && !this.opts.retryFailed
        ? store.failedSessionErrors(runId)
        : new Map<string, string | null>();
    // A batch run starts every session (up to a provider's batch size) so that one wave holds
    // every call that is ready.
    const configured =
      this.opts.concurrency ??
      (this.opts.batcher
        ? Math.min(plan.total, 50_000)
        : Math.max(1, ...plan.models.map((m) => maxConcurrencyOf(limiterPolicyFor(m, this.opts.limits)))));
    const concurrency = plan.allAtOnce ? Math.max(configured, plan.total) : configured;
    const iterator = plan.sessions()[Symbol.iterator]();
    const next = (): SessionPlan | undefined => {
      for (;;) {
        if (this.stop) return undefined;
        const r = iterator.next();
        if (r.done) return undefined;
        const s = r.value;
        const previous = statuses.get(s.key);
        if (previous === "done" || previous === "invalid" || previous === "failed") {
          if (this.opts.retryFailed && previous !== "done") {
            // A session that continues in place (its progress lives outside, e.g. in oTree) is
            // retried in place too: its earlier rows stay.
            if (!plan.resumeInPlace) store.supersedeSession(runId, s.key);
            return s;
          }
          this.totals.skipped++;
          if (previous === "done") this.totals.done++;
          else if (previous === "invalid") this.totals.invalid++;
          else {
            this.totals.failed++;
            this.failures.add(classifyStoredFailure(earlierErrors.get(s.key) ?? "unknown error"));
          }
          continue;
        }
        return s;
      }
    };
    const { arrivals } = plan;
    // An open plan's sessions are made on request and are never already finished: none is skipped.
    if (arrivals) this.openEnds = this.countEarlierSessions(statuses, earlierErrors);
    const nextSession = arrivals
      ? async () => {
          if (this.stop) return undefined;
          const s = await arrivals.next(this.stopped.signal);
          if (s) this.arrived(s);
          return s;
        }
      : async () => next();
    const worker = async () => {
      try {
        for (let s = await nextSession(); s; s = await nextSession()) await this.runSession(s, plan);
      } catch (e) {
        // supersedeSession in next() met a failed store; the failure listener has stopped the run.
        if (!(e instanceof StoreWriteError)) throw e;
      }
    };
    const workers = Promise.all(
      Array.from({ length: arrivals ? concurrency : Math.min(concurrency, Math.max(1, plan.total)) }, worker),
    );
    // After an interrupt's grace period calls in flight are cancelled; a worker still waiting
    // (a rate-limit pause, a person at the terminal) gets one more second, then is left behind.
    const abandoned = new Promise<void>((resolve) => {
      this.cancelInFlight.signal.addEventListener("abort", () => setTimeout(resolve, 1000).unref(), {
        once: true,
      });
    });
    await Promise.race([workers, abandoned]);
    if (store.failure) this.countCommittedSessions();
    this.totals.pending = this.totals.sessions - this.totals.done - this.totals.invalid - this.totals.failed;
    if (store.failure) {
      this.totals.storeError = store.failure.message;
      this.totals.unsavedAnswers = store.unsavedAnswers;
      if (store.failure.leaseLost) this.totals.leaseLost = true;
    } else if (this.stop) {
      if (this.stop.kind === "budget") this.totals.stoppedReason = this.stop.message;
      else if (this.stop.kind === "interrupt") {
        // An interrupt that came after the last session finished leaves a finished run.
        if (this.totals.pending > 0) this.totals.interrupted = this.interruptReason;
      } else this.totals.fatalError = this.stop.message;
    }
    if (this.failures.size > 0) this.totals.failureReasons = this.failures.list();
    return this.totals;
  }

  /**
   * A continued open plan (silico serve restarted) starts from the sessions its run already has,
   * so the run's totals cover all of them, not only those of this process.
   */
  private countEarlierSessions(
    statuses: Map<string, SessionStatus>,
    earlierErrors: Map<string, string | null>,
  ): Map<string, OpenEnd> {
    const ends = new Map<string, OpenEnd>();
    for (const [key, status] of statuses) {
      if (status === "superseded") continue;
      this.totals.sessions++;
      const end: OpenEnd = { status, earlier: true };
      if (status === "done" || status === "invalid" || status === "failed") {
        this.totals.skipped++;
        this.totals[status]++;
      }
      if (status === "failed") {
        end.failure = classifyStoredFailure(earlierErrors.get(key) ?? "unknown error");
        this.failures.add(end.failure);
      }
      ends.set(key, end);
    }
    return ends;
  }

  /** An open plan's session arrived: new, or a session of the run asked again. */
  private arrived(s: SessionPlan): void {
    const before = this.openEnds?.get(s.key);
    if (!before) {
      this.totals.sessions++;
      return;
    }
    if (before.status !== "failed") return; // unfinished (pending): it runs now, counted once
    // The failed attempt stays in the record (superseded); the new one takes its place.
    this.opts.store.supersedeSession(this.opts.runId, s.key);
    this.totals.failed--;
    if (before.earlier) this.totals.skipped--;
    if (before.failure) this.failures.remove(before.failure);
    this.openEnds?.delete(s.key);
  }

  /**
   * After a failed write the sessions finished in memory include some whose end was never
   * committed; the summary counts what the store holds (it can still be read).
   */
  private countCommittedSessions(): void {
    try {
      const counts = { done: 0, invalid: 0, failed: 0 };
      for (const status of this.opts.store.sessionStatuses(this.opts.runId).values()) {
        if (status === "done" || status === "invalid" || status === "failed") counts[status]++;
      }
      Object.assign(this.totals, counts);
    } catch {
      // Unreadable too: keep the counts made in memory.
    }
  }

  /** Run-level stops (budget, fatal provider error, interrupt, failed store) keep sessions resumable. */
  private runLevelStop(e: unknown): StopRun | undefined {
    if (e instanceof StopRun) return e;
    if (e instanceof StoreWriteError) {
      this.stop ??= new StopRun(e.message, "storage");
      return this.stop;
    }
    return this.halted();
  }

  /** An interrupt or a failed store: not even calls already retrying go on. */
  private halted(): StopRun | undefined {
    return this.stop?.kind === "interrupt" || this.stop?.kind === "storage" ? this.stop : undefined;
  }

  private async runSession(s: SessionPlan, plan: Plan): Promise<void> {
    this.activeSessions++;
    try {
      await this.runSessionBody(s, plan);
    } finally {
      this.activeSessions--;
      this.opts.batcher?.nudge();
    }
  }

  private async runSessionBody(s: SessionPlan, plan: Plan): Promise<void> {
    const { store, runId } = this.opts;
    this.opts.onEvent?.({ type: "session-start", key: s.key });
    let continued = false;
    const startSession = () =>
      store.startSession(
        runId,
        // A first run's sessions have nothing of an earlier attempt to clear.
        { ...s, fresh: this.opts.resume !== true },
        s.participants.map((p) => ({
          id: p.id,
          ...(p.role ? { role: p.role } : {}),
          model: p.model,
          params: p.params,
        })),
        { keep: plan.resumeInPlace === true },
      );
    // An open plan's session (a served turn) is written with its first record, like the messages
    // told before it: nothing is written before its model call is sent. A crash before that record
    // leaves no trace of it (its turn is asked again), as an unsent call would.
    let started = plan.arrivals === undefined || plan.resumeInPlace === true;
    const ensureStarted = () => {
      if (started) return;
      started = true;
      startSession();
    };
    try {
      if (started) continued = startSession();
    } catch (e) {
      if (e instanceof StoreWriteError) return; // the failure listener has stopped the run
      throw e;
    }
    const conversations = new Map<string, Message[]>();
    // Messages told (system prompts, a procedure's tell) are written together with the session's
    // next write (the next call's record, an observation, its end): a history of many messages
    // costs no write of its own, and none before the call is sent.
    const initial: { pid: string; role: string; content: string }[] = [];
    // A session continued in place picks up its participants' conversations from the record.
    const earlier = continued ? store.sessionMessages(runId, s.key) : [];
    const writeTold = () => {
      ensureStarted();
      if (initial.length > 0) store.addMessages(runId, s.key, initial.splice(0));
    };
    for (const p of s.participants) {
      const conv: Message[] = earlier
        .filter((m) => m.pid === p.id)
        .map((m) => ({ role: m.role as Message["role"], content: m.content }));
      if (conv.length === 0 && p.system !== undefined && p.system !== "") {
        conv.push({ role: "system", content: p.system });
        initial.push({ pid: p.id, role: "system", content: p.system });
      }
      conversations.set(p.id, conv);
    }

    let tainted: string | undefined;
    let anyInvalid = false;
    const refresh = this.opts.retryFailed === true;
    // A turn label a procedure repeats for one participant gets an occurrence suffix, so every
    // turn of the session has its own call key (and so its own cache entry and provider seed).
    const turnsSeen = new Map<string, number>();
    const turnOf = (pid: string, turn: string): string => {
      const k = `${pid}\u0000${turn}`;
      const n = (turnsSeen.get(k) ?? 0) + 1;
      turnsSeen.set(k, n);
      return n === 1 ? turn : `${turn}#${n}`;
    };
    const ctx: SessionContext = {
      key: s.key,
      index: s.index,
      coords: s.coords,
      rng: new Rng(this.opts.seed, s.key),
      ask: async (pid, q) => {
        const told = () => {
          ensureStarted();
          return initial.splice(0);
        };
        const a = await this.ask(s, pid, { ...q, turn: turnOf(pid, q.turn) }, conversations, refresh, told);
        if (!a.valid) anyInvalid = true;
        return a;
      },
      record: (pid, name, value, coords, extra) => {
        writeTold();
        store.addObservation(
          runId,
          s.key,
          {
            pid,
            name,
            coords: coords ?? {},
            value,
            valid: extra?.valid ?? true,
            ...(extra?.reason !== undefined ? { reason: extra.reason } : {}),
            ...(extra?.meta ? { meta: extra.meta } : {}),
            ...(extra?.raw !== undefined ? { raw: extra.raw } : {}),
            ...(extra?.attempts !== undefined ? { attempts: extra.attempts } : {}),
          },
          extra?.callId,
        );
      },
      taint: (reason) => {
        tainted = reason;
      },
      state: (() => {
        const state = store.designState(runId, s.key);
        return {
          get: () => state.get(),
          set: (value: unknown) => {
            ensureStarted();
            state.set(value);
          },
        };
      })(),
      signal: this.interruptSignal.signal,
      tell: (pid, role, text) => {
        const conv = conversations.get(pid);
        if (!conv)
          throw new SilicoError("unknown_participant", `no participant "${pid}" in session ${s.key}`);
        conv.push({ role, content: text });
        initial.push({ pid, role, content: text });
      },
      resetConversation: (pid, messages, options) => {
        const conv = conversations.get(pid);
        if (!conv)
          throw new SilicoError("unknown_participant", `no participant "${pid}" in session ${s.key}`);
        const system = conv[0]?.role === "system" ? [conv[0]] : [];
        conv.splice(0, conv.length, ...system, ...messages);
        writeTold();
        if (messages.length > 0 && options?.record !== false)
          store.addMessages(
            runId,
            s.key,
            messages.map((m) => ({ pid, ...m })),
          );
      },
    };
    try {
      await s.procedure(ctx);
      writeTold();
      const status: SessionStatus = tainted !== undefined || anyInvalid ? "invalid" : "done";
      store.finishSession(runId, s.key, status, tainted);
      this.openEnds?.set(s.key, { status, earlier: false });
      if (status === "done") this.totals.done++;
      else this.totals.invalid++;
      this.opts.onEvent?.({
        type: "session-end",
        key: s.key,
        status,
        ...(tainted ? { error: tainted } : {}),
      });
    } catch (e) {
      const stop = this.runLevelStop(e);
      if (stop) {
        // The session stays resumable, not failed.
        this.stop ??= stop;
        this.openEnds?.set(s.key, { status: "pending", earlier: false });
        if (!store.failure) {
          try {
            ensureStarted();
            store.finishSession(runId, s.key, "pending", stop.message);
          } catch (writeError) {
            if (!(writeError instanceof StoreWriteError)) throw writeError;
          }
        }
        return;
      }
      const message = redact(e instanceof Error ? e.message : String(e));
      writeTold();
      store.finishSession(runId, s.key, "failed", message);
      this.totals.failed++;
      const failure = classifyFailure(e);
      this.failures.add(failure);
      this.openEnds?.set(s.key, { status: "failed", earlier: false, failure });
      this.opts.onEvent?.({ type: "session-end", key: s.key, status: "failed", error: message });
    }
  }

  private async ask(
    s: SessionPlan,
    pid: string,
    q: Question,
    conversations: Map<string, Message[]>,
    refresh: boolean,
    /** Messages told since the session's last write, written with this call's record. */
    told: () => MessageRecord[] = () => [],
  ): Promise<Answer> {
    if (this.stop) throw this.stop;
    const participant = s.participants.find((p) => p.id === pid);
    const conv = conversations.get(pid);
    if (!participant || !conv)
      throw new SilicoError("unknown_participant", `no participant "${pid}" in session ${s.key}`);
    const { store, runId } = this.opts;
    const model = await this.opts.models.get(participant.model);
    const policy = q.reask ?? this.opts.reask ?? { max: 0 };
    let outgoing: { pid: string; role: string; content: string | ContentPart[] }[] = [
      { pid, role: "user", content: q.prompt },
    ];
    conv.push({ role: "user", content: q.prompt });
    for (let attempt = 1; ; attempt++) {
      const params: ModelParams = {
        ...(this.opts.timeoutMs !== undefined ? { timeoutMs: this.opts.timeoutMs } : {}),
        ...participant.params,
        ...q.params,
      };
      const constraint = q.constrain === false ? undefined : q.parser.constraint;
      const { timeoutMs: _t, ...keyParams } = params;
      const mode = participant.mode ?? "chat";
      const callKey = `${s.key}/${pid}/${q.turn}/${attempt}`;
      const cacheKey = this.cacheKeyOf(s, pid, q.turn, attempt, {
        model: participant.model,
        params: keyParams,
        mode,
        messages: conv,
        constraint,
        // What else changes a model's answers (a local model's file and decode blocks).
        ...(model.info.cacheScope ? { scope: model.info.cacheScope } : {}),
      });
      const startedAt = new Date().toISOString();
      const cacheMode = refresh ? "refresh" : (this.opts.cache ?? "use");
      let response: ModelResponse;
      const sent = this.seeded(params, participant.model, s, callKey);
      let cachedFrom: number | undefined;
      let latencyMs = 0;
      let costUsd: number | null = null;
      let viaBatch = false;
      const attemptsLog: unknown[] = [];
      const hit =
        cacheMode === "use" && model.info.capabilities?.cacheable !== false
          ? store.findCached(cacheKey)
          : undefined;
      if (hit) {
        response = JSON.parse(hit.response as string) as ModelResponse;
        cachedFrom = hit.id;
        this.totals.cacheHits++;
      } else {
        const reserved = this.checkBudget(participant.model, conv, params);
        const t0 = performance.now();
        try {
          ({ response, viaBatch } = await this.callWithRetry(
            model,
            {
              messages: conv.slice(),
              params: sent,
              mode,
              ...(constraint ? { constraint } : {}),
              participant: {
                session: s.key,
                id: pid,
                ...(participant.role ? { role: participant.role } : {}),
              },
            },
            attemptsLog,
            { callKey, session: s.key },
          ));
        } catch (e) {
          if (e instanceof StopRun) throw e; // stopped before the call was made: nothing to record
          const err = e as ProviderError;
          store.recordCall(
            {
              runId,
              sessionKey: s.key,
              pid,
              callKey,
              cacheKey,
              model: participant.model,
              status: "error",
              request: { messages: conv, params: sent, mode, constraint },
              attempts: attemptsLog,
              warnings: [],
              error: err.message,
              latencyMs: performance.now() - t0,
              startedAt,
              finishedAt: new Date().toISOString(),
            },
            outgoing,
            [],
            told(),
          );
          this.totals.calls++;
          this.opts.onEvent?.({
            type: "call",
            cached: false,
            valid: false,
            costUsd: 0,
            attempts: attemptsLog.length,
            latencyMs: performance.now() - t0,
            failed: true,
          });
          if (err instanceof ProviderError && err.fatal) {
            this.stop ??= new StopRun(err.message, "fatal");
            throw this.stop;
          }
          // A call cancelled by an interrupt is not the session's failure.
          const halted = this.halted();
          if (halted) throw halted;
          throw e;
        } finally {
          this.reservedUsd -= reserved;
        }
        latencyMs = performance.now() - t0;
        costUsd = costOf(participant.model, response.usage, viaBatch);
        if (costUsd === null) this.totals.costKnown = false;
        else this.totals.costUsd += costUsd;
        this.totals.inputTokens += response.usage?.inputTokens ?? 0;
        this.totals.outputTokens += response.usage?.outputTokens ?? 0;
      }
      this.totals.calls++;

      const parsed = response.choices.map((c) => ({
        raw: c.text,
        logprobs: c.logprobs,
        ...q.parser.parse(c.text),
      }));
      const first = parsed[0] ?? {
        raw: "",
        valid: false as const,
        value: null,
        reason: "the provider returned no answer",
      };
      const finalAttempt = first.valid || attempt > policy.max;
      if (!first.valid) this.totals.invalidAnswers++;
      const observations =
        finalAttempt && q.observe !== false
          ? parsed.map((p, i) => ({
              pid,
              name: q.name ?? "answer",
              coords: q.coords ?? {},
              value: p.valid ? p.value : null,
              raw: p.raw,
              valid: p.valid,
              reason: p.valid ? null : p.reason,
              attempts: attempt,
              choiceIndex: i,
              ...(q.meta || p.logprobs
                ? { meta: { ...(q.meta ?? {}), ...(p.logprobs ? { logprobs: p.logprobs } : {}) } }
                : {}),
            }))
          : [];
      conv.push({ role: "assistant", content: first.raw });
      const callId = store.recordCall(
        {
          runId,
          sessionKey: s.key,
          pid,
          callKey,
          cacheKey: cacheMode === "off" ? `nocache:${cacheKey}` : cacheKey,
          model: participant.model,
          status: first.valid ? "ok" : "invalid",
          request: { messages: conv.slice(0, -1), params: sent, mode, constraint },
          response,
          text: first.raw,
          ...(response.usage
            ? { inputTokens: response.usage.inputTokens, outputTokens: response.usage.outputTokens }
            : {}),
          latencyMs,
          costUsd,
          attempts: attemptsLog,
          warnings: response.warnings ?? [],
          ...(cachedFrom !== undefined ? { cachedFrom } : {}),
          constrained: response.constrained === true,
          startedAt,
          finishedAt: new Date().toISOString(),
        },
        [...outgoing, { pid, role: "assistant", content: first.raw }],
        observations,
        told(),
      );
      this.opts.onEvent?.({
        type: "call",
        cached: cachedFrom !== undefined,
        valid: first.valid,
        costUsd,
        attempts: attemptsLog.length,
        latencyMs,
      });
      if (finalAttempt) {
        return {
          valid: first.valid,
          value: first.valid ? first.value : null,
          raw: first.raw,
          ...(first.valid ? {} : { reason: first.reason }),
          attempts: attempt,
          choices: parsed.map((p) => ({
            raw: p.raw,
            valid: p.valid,
            value: p.valid ? p.value : null,
            ...(p.valid ? {} : { reason: p.reason }),
            ...(p.logprobs ? { logprobs: p.logprobs } : {}),
          })),
          callId,
          cached: cachedFrom !== undefined,
        };
      }
      const correction = (policy.message ?? DEFAULT_REASK_MESSAGE)
        .split("{reason}")
        .join(first.valid ? "" : first.reason)
        .split("{expected}")
        .join(q.parser.describe());
      conv.push({ role: "user", content: correction });
      outgoing = [{ pid, role: "user", content: correction }];
    }
  }

  /**
   * The cache key is a pure function of the run seed, the call's place in the study (session
   * key, draw, participant, turn, attempt) and what is sent (model, parameters, mode, messages,
   * constraint). So the cache never passes an answer between two units of one run, whatever the
   * order or concurrency: it only serves a re-run with the same seed, or a resume.
   */
  private cacheKeyOf(
    s: SessionPlan,
    pid: string,
    turn: string,
    attempt: number,
    request: {
      model: string;
      params: ModelParams;
      mode: string;
      messages: Message[];
      constraint: unknown;
      scope?: unknown;
    },
  ): string {
    return sha256(
      canonicalJson({
        runSeed: this.opts.seed,
        session: s.key,
        draw: s.draw,
        participant: pid,
        turn,
        attempt,
        ...request,
      }),
    );
  }

  /**
   * The provider seed of one call. A study that sets `params.seed` sends a seed derived from it
   * and the call's place in the study (session key, draw, participant, turn, attempt), so every
   * unit, turn and draw is its own reproducible sample and no two calls of a run share a seed
   * (short of a hash collision). Local and mock models without a study seed get one derived from
   * the run seed and the call key, so their runs are reproducible from the recorded run seed.
   */
  private seeded(params: ModelParams, modelId: string, s: SessionPlan, callKey: string): ModelParams {
    if (params.seed !== undefined)
      return { ...params, seed: derivedSeed(`${params.seed}\u0000${s.draw}\u0000${callKey}`) };
    if (capabilitiesOf(modelId)?.seeding === "derived")
      return { ...params, seed: derivedSeed(`${this.opts.seed}\u0000${callKey}`) };
    return params;
  }

  /** Stops the run when this call could push spending past the budget; returns the amount reserved for it. */
  private checkBudget(modelId: string, conv: Message[], params: ModelParams): number {
    const max = this.opts.maxCostUsd;
    if (max === undefined) return 0;
    const price = this.opts.batcher ? batchPriceOf(modelId) : priceOf(modelId);
    if (!price) return 0;
    const chars = conv.reduce((n, m) => n + (typeof m.content === "string" ? m.content.length : 1000), 0);
    const estimate =
      (estimateTokens(chars) * price.input + (params.maxTokens ?? 256) * price.output * (params.n ?? 1)) /
      1_000_000;
    if (this.totals.costUsd + this.reservedUsd + estimate > max) {
      this.stop ??= new StopRun(
        `stopped before exceeding --max-cost ${max} USD (spent ${this.totals.costUsd.toFixed(4)} USD); resume to continue`,
        "budget",
      );
      throw this.stop;
    }
    this.reservedUsd += estimate;
    return estimate;
  }

  private async callWithRetry(
    model: Model,
    request: Parameters<Model["generate"]>[0],
    log: unknown[],
    call: { callKey: string; session: string },
  ): Promise<{ response: ModelResponse; viaBatch: boolean }> {
    const batching = this.opts.batcher !== undefined;
    // A batch answers within hours: neither the rate limiter nor a per-attempt timeout applies.
    const limiter = batching ? undefined : this.limiter(model.info.id, model.info.provider);
    if (batching && request.params.timeoutMs !== undefined) {
      const { timeoutMs: _t, ...params } = request.params;
      request = { ...request, params };
    }
    const maxAttempts = this.opts.maxAttempts ?? 6;
    const base = this.opts.backoffMs ?? 500;
    const chars = request.messages.reduce(
      (n, m) => n + (typeof m.content === "string" ? m.content.length : 1000),
      0,
    );
    const estimated = estimateTokens(chars) + (request.params.maxTokens ?? 256);
    for (let attempt = 1; ; attempt++) {
      // Checked before every attempt: after an interrupt or a failed store no call starts.
      const halted = this.halted();
      if (halted) throw halted;
      const seq = await limiter?.acquire(estimated);
      const t0 = performance.now();
      let actual = estimated;
      try {
        const haltedNow = this.halted();
        if (haltedNow) throw haltedNow;
        const signal = request.signal
          ? AbortSignal.any([request.signal, this.cancelInFlight.signal])
          : this.cancelInFlight.signal;
        const ctx: BatchCallContext = { ...call, requests: 0, viaBatch: false };
        // The rate-limit reading is for the limiter only: it is never recorded or cached.
        const { rateLimit, ...response } = batching
          ? await batchCallContext.run(ctx, () => model.generate({ ...request, signal }))
          : await model.generate({ ...request, signal });
        actual = (response.usage?.inputTokens ?? 0) + (response.usage?.outputTokens ?? 0) || estimated;
        limiter?.onSuccess(performance.now() - t0, seq, rateLimit);
        this.reached.add(model.info.id);
        this.unreachable.delete(model.info.id);
        log.push({
          attempt,
          ok: true,
          ms: Math.round(performance.now() - t0),
          ...(ctx.viaBatch ? { batch: true } : {}),
        });
        return { response, viaBatch: ctx.viaBatch };
      } catch (e) {
        if (e instanceof StopRun) throw e;
        const err =
          e instanceof ProviderError
            ? e
            : new ProviderError(redact(`${model.info.id}: ${e instanceof Error ? e.message : String(e)}`), {
                retryable: e instanceof SilicoError ? e.isRetryable : false,
              });
        log.push({
          attempt,
          ok: false,
          ms: Math.round(performance.now() - t0),
          status: err.status,
          error: err.message,
        });
        if (err.status === 429) limiter?.onRateLimited(err.retryAfterMs, err.rateLimit, seq);
        const down = isUnreachable(err);
        if (
          !err.isRetryable ||
          attempt >= maxAttempts ||
          this.halted() ||
          (down && this.unreachable.has(model.info.id))
        ) {
          if (down && !this.reached.has(model.info.id)) this.unreachable.add(model.info.id);
          throw err;
        }
        const backoff = Math.min(60_000, base * 2 ** (attempt - 1)) * (0.5 + Math.random() * 0.5);
        const waitMs = Math.max(backoff, err.retryAfterMs ?? 0);
        this.totals.retries++;
        this.opts.onEvent?.({ type: "retry", model: model.info.id, error: err.message, waitMs });
        await sleep(waitMs);
      } finally {
        limiter?.release(estimated, actual);
      }
    }
  }
}

/**
 * A non-negative 31-bit seed from a label. It stays below 2^31 − 128 so that an adapter sending
 * the n choices of one call as n requests with seed + i (i < 128) still sends a 31-bit seed.
 */
export function derivedSeed(label: string): number {
  return Number.parseInt(sha256(label).slice(0, 8), 16) % (0x7fffffff - 127);
}

export type { Coordinates };
