/**
 * The batching call sink of `--batch`. It is a `fetch` given to the provider adapters: a model
 * request made inside a call's context (see call-context.ts) is not sent but queued; when every
 * running session waits on the queue (or after a short window), the queue is submitted as one
 * provider batch per model, polled, and each result handed back to its adapter as the HTTP answer
 * it waits for. So parsing, re-asks, retries and recording stay the executor's, unchanged, and a
 * re-ask or a retry simply joins the next wave.
 *
 * A batch and its requests' keys are committed before the batch is submitted and its provider id
 * right after; a resumed run finds a call's request in a submitted batch and waits for that
 * batch's results instead of paying for the call again.
 */
import { redact } from "../../models/secrets.js";
import type { BatchRequestStatus, RunStore } from "../../store/run-store.js";
import { sha256 } from "../hash.js";
import { type BatchCallContext, batchCallContext } from "./call-context.js";
import {
  type BatchEndpoint,
  BatchHttpError,
  type BatchProtocol,
  type BatchResult,
  type BatchState,
  protocolFor,
} from "./protocols.js";

/** What the progress line shows of a batch. */
export interface BatchEvent {
  type: "batch";
  /** The provider's batch id. */
  id: string;
  model: string;
  provider: string;
  status: string;
  requests: number;
  /** Requests with a result (succeeded or failed). */
  done: number;
  failed: number;
}

export interface BatcherOptions {
  /** Sends the batch API's own requests (and any request made outside a call). */
  fetch: typeof globalThis.fetch;
  /** Time between polls of a batch (default 30 s; SILICO_BATCH_POLL_MS). */
  pollMs?: number;
  /** Longest a queued request waits for the sessions still running to join its batch (default 2 s). */
  windowMs?: number;
}

interface Item {
  customId: string;
  callKey: string;
  session: string;
  model: string;
  body: string;
  bodyHash: string;
  headers: Record<string, string>;
  /** Where the adapter meant to send it (a lost batch's requests are queued there again). */
  target: Target;
  resolve(r: Response): void;
  reject(e: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

interface Group {
  protocol: BatchProtocol;
  baseUrl: string;
  endpoint: string;
  model: string;
  items: Item[];
}

interface Remote {
  localId: number;
  remoteId: string;
  protocol: BatchProtocol;
  ep: BatchEndpoint;
  model: string;
  requests: number;
  waiters: Map<string, Item>;
  results?: Map<string, BatchResult>;
  polling: boolean;
  lastShown?: string;
}

/** Batch states whose requests are never waited for again ("lost": the provider no longer knows it). */
const TERMINAL_FAILURES = new Set(["failed", "cancelled", "submit_failed", "abandoned", "lost"]);

type Target = NonNullable<ReturnType<typeof protocolFor>>;

function headerRecord(h: RequestInit["headers"]): Record<string, string> {
  if (!h) return {};
  if (h instanceof Headers) return Object.fromEntries(h.entries());
  if (Array.isArray(h))
    return Object.fromEntries(h.map((pair) => [String(pair[0]).toLowerCase(), String(pair[1])]));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = String(v);
  return out;
}

function modelOf(body: string): string {
  try {
    const m = (JSON.parse(body) as { model?: unknown }).model;
    return typeof m === "string" ? m : "?";
  } catch {
    return "?";
  }
}

/** Consecutive runs of items within a batch's request and byte limits. */
export function chunks<T extends { body: string }>(items: T[], maxRequests: number, maxBytes: number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(item.body) + 200; // the line's custom_id, method and url
    if (current.length > 0 && (current.length >= maxRequests || bytes + size > maxBytes)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

const jsonResponse = (status: number, body: string) =>
  new Response(body, { status, headers: { "content-type": "application/json" } });

export class Batcher {
  private store?: RunStore;
  private runId = "";
  private activeSessions: () => number = () => 0;
  private onEvent: (e: BatchEvent) => void = () => {};
  private readonly groups = new Map<string, Group>();
  private readonly remotes = new Map<string, Remote>();
  /** Sessions with a request queued or in a batch, and how many. */
  private readonly waiting = new Map<string, number>();
  private firstQueuedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly closed = new AbortController();
  /** Per protocol and base URL: the search for batches an earlier process submitted but never recorded. */
  private readonly recoveries = new Map<string, Promise<void> | undefined>();
  private readonly pollMs: number;
  private readonly windowMs: number;

  constructor(private readonly opts: BatcherOptions) {
    const envPoll = Number(process.env.SILICO_BATCH_POLL_MS);
    this.pollMs = opts.pollMs ?? (Number.isFinite(envPoll) && envPoll > 0 ? envPoll : 30_000);
    this.windowMs = opts.windowMs ?? 2000;
  }

  /** The fetch to give the provider adapters. */
  readonly fetch = (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const ctx = batchCallContext.getStore();
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const target = protocolFor(url);
    if (!ctx || !target || (init?.method ?? "GET").toUpperCase() !== "POST" || typeof init?.body !== "string")
      return this.opts.fetch(input, init);
    return this.enqueue(ctx, target, init.body, headerRecord(init.headers), init.signal ?? undefined);
  };

  /** Bind to the run (once its id exists) and to the executor's count of running sessions. */
  start(o: {
    store: RunStore;
    runId: string;
    activeSessions: () => number;
    onEvent?: (e: BatchEvent) => void;
  }) {
    this.store = o.store;
    this.runId = o.runId;
    this.activeSessions = o.activeSessions;
    if (o.onEvent) this.onEvent = o.onEvent;
    // Answers that cannot be kept are not waited for: a failed store ends every wait at once.
    const unsubscribe = o.store.onFailure((e) => this.failAll(e));
    this.closed.signal.addEventListener("abort", unsubscribe, { once: true });
  }

  /**
   * An interrupt: waiting the grace period for a batch that takes hours helps nobody. Every wait
   * ends now as aborted (the sessions stay pending); submitted batches stay at the provider and
   * `resume` collects them.
   */
  interrupt(reason: string): void {
    this.failAll(new DOMException(`interrupted (${reason}); the batches stay submitted`, "AbortError"));
  }

  /** Every request queued or waiting on a batch fails with `e`; nothing more is submitted. */
  private failAll(e: unknown): void {
    for (const g of this.groups.values()) for (const item of g.items) this.fail(item, e);
    this.groups.clear();
    for (const r of this.remotes.values()) {
      for (const item of r.waiters.values()) this.fail(item, e);
      r.waiters.clear();
    }
    this.close();
  }

  /** Stop polling (the end of the run's process); batches stay at the provider for `resume`. */
  close(): void {
    this.closed.abort();
    if (this.timer) clearTimeout(this.timer);
  }

  /** Something may have changed the number of running sessions: check whether to submit. */
  nudge(): void {
    if (this.queued() > 0) this.schedule(0);
  }

  private queued(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.items.length;
    return n;
  }

  private enqueue(
    ctx: BatchCallContext,
    target: NonNullable<ReturnType<typeof protocolFor>>,
    body: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    const index = ctx.requests++;
    ctx.viaBatch = true;
    return new Promise<Response>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason ?? new DOMException("This operation was aborted", "AbortError"));
        return;
      }
      delete headers["content-length"];
      delete headers["content-type"];
      const item: Item = {
        customId: target.protocol.customId(ctx.callKey, index),
        callKey: ctx.callKey,
        session: ctx.session,
        model: modelOf(body),
        body,
        bodyHash: sha256(body),
        headers,
        target,
        resolve,
        reject,
        ...(signal ? { signal } : {}),
      };
      this.markWaiting(item.session, 1);
      if (signal) {
        item.onAbort = () => this.abandon(item);
        signal.addEventListener("abort", item.onAbort, { once: true });
      }
      const place = () => {
        if (signal?.aborted) return; // abandon() has settled it
        if (this.closed.signal.aborted) {
          this.fail(item, new DOMException("the batch run was stopped", "AbortError"));
          return;
        }
        if (!this.reattach(item, target)) this.queue(item, target);
      };
      const recovery = this.recover(target, headers);
      if (recovery) void recovery.then(place, place);
      else place();
    });
  }

  private queue(item: Item, target: NonNullable<ReturnType<typeof protocolFor>>): void {
    const key = `${target.protocol.name}\u0000${target.baseUrl}\u0000${target.endpoint}\u0000${item.model}`;
    let g = this.groups.get(key);
    if (!g) {
      g = {
        protocol: target.protocol,
        baseUrl: target.baseUrl,
        endpoint: target.endpoint,
        model: item.model,
        items: [],
      };
      this.groups.set(key, g);
    }
    if (this.queued() === 0) this.firstQueuedAt = Date.now();
    g.items.push(item);
    if (g.items.length >= g.protocol.maxRequests) this.schedule(0);
    else this.schedule(10);
  }

  /**
   * Once per protocol and base URL, before anything is submitted there: batches an earlier
   * process wrote to the store but whose provider id it never recorded (killed while the provider
   * created them) are looked up by their tag; found ones are recorded and waited for like any
   * other, the rest marked abandoned (their requests are submitted again).
   */
  private recover(
    target: NonNullable<ReturnType<typeof protocolFor>>,
    headers: Record<string, string>,
  ): Promise<void> | undefined {
    const key = `${target.protocol.name}\u0000${target.baseUrl}`;
    if (this.recoveries.has(key)) return this.recoveries.get(key);
    const store = this.store;
    const find = target.protocol.find;
    const orphans = (store?.orphanBatches(this.runId) ?? []).filter(
      (b) => b.provider === target.protocol.name && b.baseUrl === redact(target.baseUrl),
    );
    if (!store || orphans.length === 0) {
      this.recoveries.set(key, undefined);
      return undefined;
    }
    const ep: BatchEndpoint = { baseUrl: target.baseUrl, headers, fetch: this.opts.fetch };
    const run = async () => {
      for (const b of orphans) {
        let found: Awaited<ReturnType<NonNullable<BatchProtocol["find"]>>>;
        try {
          found = find ? await find(ep, `${this.runId}/${b.id}`) : undefined;
        } catch {
          continue; // unknown: left as it is for a later resume
        }
        if (found) store.batchSubmitted(b.id, found.remoteId, found.inputFileId, found.status);
        else store.updateBatch(b.id, { status: "abandoned" });
      }
    };
    const p = run();
    this.recoveries.set(key, p);
    return p;
  }

  /** A request already submitted by this run (an earlier process): wait for that batch. */
  private reattach(item: Item, target: NonNullable<ReturnType<typeof protocolFor>>): boolean {
    const found = this.store?.batchRequestFor(this.runId, item.customId);
    if (!found?.batch.remoteId) return false;
    if (found.bodyHash !== item.bodyHash) return false;
    if (found.status !== "pending" && found.status !== "succeeded") return false;
    if (TERMINAL_FAILURES.has(found.batch.status)) return false;
    let remote = this.remotes.get(found.batch.remoteId);
    if (!remote) {
      remote = {
        localId: found.batch.id,
        remoteId: found.batch.remoteId,
        protocol: target.protocol,
        // The endpoint configured now (the store keeps the base URL redacted when it is a secret).
        ep: { baseUrl: target.baseUrl, headers: item.headers, fetch: this.opts.fetch },
        model: found.batch.model,
        requests: found.batch.requestCount,
        waiters: new Map(),
        polling: false,
      };
      this.remotes.set(remote.remoteId, remote);
    }
    this.wait(remote, item);
    return true;
  }

  private wait(remote: Remote, item: Item): void {
    if (remote.results) {
      this.deliver(remote, item, remote.results.get(item.customId));
      return;
    }
    remote.waiters.set(item.customId, item);
    if (!remote.polling) this.startPolling(remote);
  }

  private startPolling(remote: Remote): void {
    this.poll(remote).catch((e: unknown) => {
      // e.g. the store failed while recording the batch's state
      for (const item of remote.waiters.values()) this.fail(item, e);
      remote.waiters.clear();
    });
  }

  private markWaiting(session: string, delta: number): void {
    const n = (this.waiting.get(session) ?? 0) + delta;
    if (n <= 0) this.waiting.delete(session);
    else this.waiting.set(session, n);
  }

  private abandon(item: Item): void {
    for (const g of this.groups.values()) {
      const i = g.items.indexOf(item);
      if (i >= 0) g.items.splice(i, 1);
    }
    for (const r of this.remotes.values())
      if (r.waiters.get(item.customId) === item) r.waiters.delete(item.customId);
    this.markWaiting(item.session, -1);
    item.reject(item.signal?.reason ?? new DOMException("This operation was aborted", "AbortError"));
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), ms);
  }

  /** Submit when every running session waits on a batch, or the window has passed. */
  private check(): void {
    this.timer = undefined;
    if (this.closed.signal.aborted || this.queued() === 0) return;
    const allWaiting = this.waiting.size >= this.activeSessions();
    const full = [...this.groups.values()].some((g) => g.items.length >= g.protocol.maxRequests);
    const waited = Date.now() - this.firstQueuedAt;
    if (allWaiting || full || waited >= this.windowMs) {
      for (const [key, g] of this.groups) {
        this.groups.delete(key);
        for (const items of chunks(g.items, g.protocol.maxRequests, g.protocol.maxBytes)) {
          this.submit(g, items).catch((e: unknown) => {
            for (const item of items) this.fail(item, e);
          });
        }
      }
      return;
    }
    this.schedule(Math.max(10, this.windowMs - waited));
  }

  private async submit(g: Group, items: Item[]): Promise<void> {
    const store = this.store;
    let localId: number;
    try {
      if (!store) throw new Error("the batcher was not started");
      localId = store.createBatch(
        {
          runId: this.runId,
          provider: g.protocol.name,
          model: g.model,
          baseUrl: g.baseUrl,
          endpoint: g.endpoint,
        },
        items.map((i) => ({ customId: i.customId, callKey: i.callKey, bodyHash: i.bodyHash })),
      );
    } catch (e) {
      for (const item of items) this.fail(item, e);
      return;
    }
    const ep: BatchEndpoint = {
      baseUrl: g.baseUrl,
      headers: items[0]?.headers ?? {},
      fetch: this.opts.fetch,
    };
    let submitted: Awaited<ReturnType<BatchProtocol["submit"]>>;
    try {
      submitted = await this.withRetries(() =>
        g.protocol.submit(
          ep,
          g.endpoint,
          items.map((i) => ({ customId: i.customId, body: i.body })),
          `${this.runId}/${localId}`,
        ),
      );
    } catch (e) {
      try {
        store.updateBatch(localId, { status: "submit_failed" });
      } catch {
        // the store's own failure stops the run
      }
      for (const item of items) this.fail(item, e);
      return;
    }
    const remote: Remote = {
      localId,
      remoteId: submitted.remoteId,
      protocol: g.protocol,
      ep,
      model: g.model,
      requests: items.length,
      waiters: new Map(items.map((i) => [i.customId, i])),
      polling: false,
    };
    this.remotes.set(remote.remoteId, remote);
    try {
      store.batchSubmitted(localId, submitted.remoteId, submitted.inputFileId, submitted.status);
    } catch (e) {
      for (const item of items) this.fail(item, e);
      return;
    }
    this.show(remote, { status: submitted.status, ended: false, counts: {} });
    this.startPolling(remote);
  }

  /** Network errors, 429 and 5xx of the batch API itself are tried again a few times. */
  private async withRetries<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        const status = e instanceof BatchHttpError ? e.status : undefined;
        const transient = status === undefined || status === 408 || status === 429 || status >= 500;
        if (!transient || attempt >= 5 || this.closed.signal.aborted) throw e;
        await this.sleep(Math.min(30_000, 500 * 2 ** (attempt - 1)));
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.closed.signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.closed.signal.addEventListener("abort", done, { once: true });
    });
  }

  private async poll(remote: Remote): Promise<void> {
    remote.polling = true;
    try {
      for (;;) {
        await this.sleep(this.pollMs);
        if (this.closed.signal.aborted || remote.waiters.size === 0) return;
        let state: BatchState;
        try {
          state = await this.withRetries(() => remote.protocol.poll(remote.ep, remote.remoteId));
        } catch (e) {
          const waiting = [...remote.waiters.values()];
          remote.waiters.clear();
          if (e instanceof BatchHttpError && e.status === 404) {
            // The provider no longer knows the batch (another account or endpoint on resume, or
            // purged): nothing of it can be collected, so its requests go into a new batch.
            this.store?.updateBatch(remote.localId, { status: "lost" });
            for (const item of waiting) this.queue(item, item.target);
            return;
          }
          for (const item of waiting) this.fail(item, e);
          return;
        }
        this.store?.updateBatch(remote.localId, {
          status: state.status,
          counts: state.counts,
          ...(state.outputFileId !== undefined ? { outputFileId: state.outputFileId } : {}),
          ...(state.errorFileId !== undefined ? { errorFileId: state.errorFileId } : {}),
        });
        this.show(remote, state);
        if (!state.ended) continue;
        if (state.failed) {
          const error = new BatchHttpError(
            `batch ${remote.remoteId} failed: ${state.failed}`,
            400,
            JSON.stringify({ error: { message: `batch ${remote.remoteId} failed: ${state.failed}` } }),
          );
          for (const item of [...remote.waiters.values()]) this.fail(item, error);
          remote.waiters.clear();
          return;
        }
        let results: Map<string, BatchResult>;
        try {
          results = await this.withRetries(() => remote.protocol.results(remote.ep, remote.remoteId, state));
        } catch (e) {
          for (const item of [...remote.waiters.values()]) this.fail(item, e);
          remote.waiters.clear();
          return;
        }
        const statuses = new Map<string, BatchRequestStatus>();
        for (const [id, r] of results) {
          statuses.set(
            id,
            r.kind === "expired"
              ? "expired"
              : r.kind === "cancelled"
                ? "cancelled"
                : r.status === 200
                  ? "succeeded"
                  : "errored",
          );
        }
        this.store?.setBatchRequestStatuses(remote.localId, statuses);
        remote.results = results;
        for (const item of [...remote.waiters.values()])
          this.deliver(remote, item, results.get(item.customId));
        remote.waiters.clear();
        return;
      }
    } finally {
      remote.polling = false;
    }
  }

  private show(remote: Remote, state: BatchState): void {
    const c = state.counts;
    const failed = (c.failed ?? 0) + (c.errored ?? 0) + (c.expired ?? 0) + (c.canceled ?? 0);
    const done = (c.completed ?? 0) + (c.succeeded ?? 0) + failed;
    const line = `${state.status}/${done}/${failed}`;
    if (line === remote.lastShown) return;
    remote.lastShown = line;
    this.onEvent({
      type: "batch",
      id: remote.remoteId,
      model: remote.model,
      provider: remote.protocol.name,
      status: state.status,
      requests: remote.requests,
      done,
      failed,
    });
  }

  /** Hand a result to its adapter as the HTTP answer of the ordinary endpoint. */
  private deliver(remote: Remote, item: Item, result: BatchResult | undefined): void {
    this.settle(item);
    if (result?.kind === "answer") {
      item.resolve(jsonResponse(result.status, result.body));
      return;
    }
    // Not run (expired, cancelled, missing): a retryable answer, so the call joins the next wave.
    const why =
      result?.kind === "cancelled"
        ? `batch ${remote.remoteId} was cancelled before this request ran`
        : result?.kind === "expired"
          ? `batch ${remote.remoteId} expired before this request ran (batch_expired)`
          : `batch ${remote.remoteId} returned no result for this request`;
    const body =
      remote.protocol.name === "anthropic"
        ? JSON.stringify({ type: "error", error: { type: "timeout_error", message: why } })
        : JSON.stringify({ error: { message: why, type: "batch_error", code: result?.kind ?? "missing" } });
    item.resolve(jsonResponse(408, body));
  }

  private fail(item: Item, e: unknown): void {
    this.settle(item);
    // An HTTP refusal of the batch API (a bad key, a refused file) reaches the adapter as that
    // answer, so it is classified like a direct call's; a network error as a failed fetch.
    if (e instanceof BatchHttpError && e.status !== undefined) {
      item.resolve(jsonResponse(e.status, e.body ?? JSON.stringify({ error: { message: e.message } })));
      return;
    }
    item.reject(e instanceof BatchHttpError ? new TypeError("fetch failed", { cause: e }) : e);
  }

  private settle(item: Item): void {
    if (item.signal && item.onAbort) item.signal.removeEventListener("abort", item.onAbort);
    this.markWaiting(item.session, -1);
  }
}
