/**
 * A small, fast, deterministic HTTP server speaking the OpenAI API (chat completions, legacy
 * completions, models) on 127.0.0.1, with knobs for latency, rate limits and injected failures.
 * Used by silico's tests and benchmarks, and to try silico without an API key.
 *
 * Only node built-ins. See README.md in this directory.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import {
  contentText,
  countWords,
  defaultResponder,
  type FinishReason,
  fakeLogprobs,
  Rng,
  type Responder,
  type ResponderRequest,
  type ResponderResult,
  truncateWords,
  type WireMessage,
} from "./default-responder.js";
import {
  anthropicError,
  MessagesBadRequest,
  messageObject,
  parseMessagesBody,
} from "./anthropic-messages.js";
import { BatchApi, type BatchKnobs, type BatchStats } from "./batch-api.js";

/**
 * silico's documented offline token estimate (⌈code points / 4⌉, plus 4 per chat message), kept
 * here as the server's own rule so it stays free of silico imports; `tokenCount: "estimate"`
 * counts prompts this way so a dry run's estimate can be checked against a real run.
 */
const ESTIMATE_PER_MESSAGE = 4;

function estimateTextTokens(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return Math.ceil(n / 4);
}

export type {
  FinishReason,
  Responder,
  ResponderRequest,
  ResponderResult,
  WireMessage,
} from "./default-responder.js";
export { defaultResponder } from "./default-responder.js";
export type { BatchKnobs, BatchStats } from "./batch-api.js";

/** Per-request probabilities of injected failures, drawn from a PRNG seeded with `faultSeed`. */
export interface FailureRates {
  /** Respond 500 (server_error). */
  rate500?: number;
  /** Destroy the socket without responding. */
  rateDrop?: number;
  /** Respond 429 (rate_limit_exceeded) with `Retry-After`. */
  rate429?: number;
  /** Seconds sent in `Retry-After` with injected 429s (default 1). */
  retryAfter?: number;
}

/** The next `count` completion requests get `status` (or have their connection dropped). */
export interface FailFirst {
  count: number;
  /** An HTTP status 400–599, or "drop" to destroy the socket without responding. */
  status: number | "drop";
  /** Sends `Retry-After: <seconds>` when set. */
  retryAfter?: number;
  message?: string;
}

export interface OpenAITestServerOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Produces each choice's text. Takes precedence over `script`. */
  responder?: Responder;
  /** Answers given in order, one per choice, cycling. */
  script?: readonly string[];
  /** Ids listed by GET /v1/models (any model id is accepted by the completion endpoints unless `strictModels`). */
  models?: readonly string[];
  /** Completion requests for an id not in `models` get OpenAI's 404 `model_not_found` (default false). */
  strictModels?: boolean;
  /** Set false for a server without a model listing: GET /v1/models answers 404 (default true). */
  listModels?: boolean;
  /** Fixed delay before answering a completion request. */
  latencyMs?: number;
  /** Extra uniform random delay in [0, latencyJitterMs]. */
  latencyJitterMs?: number;
  /** Requests per minute (sliding 60 s window). */
  rpm?: number;
  /** Tokens per minute (sliding 60 s window); a request costs prompt words + n × max_tokens. */
  tpm?: number;
  /**
   * The window `rpm` and `tpm` are enforced over, in ms (default 60,000). Shorter windows hold
   * the same rate in proportion (600 RPM over 1,000 ms: 10 requests a second), as providers that
   * quantize their per-minute limits do. Rate-limit headers still state per-minute limits.
   */
  rateWindowMs?: number;
  /**
   * Completion requests served at once; the rest wait in line (first come, first served) before
   * their latency starts, like a server with a fixed number of slots. Default: no limit.
   */
  maxInFlight?: number;
  failures?: FailureRates;
  failFirst?: FailFirst;
  /** When set, requests need `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Keep every request in `requests` (default true). Set false for long benchmarks. */
  record?: boolean;
  /** Seed of the failure and jitter PRNGs (default 0). */
  faultSeed?: number;
  /**
   * How `usage.prompt_tokens` is counted: `"words"` (default) or `"estimate"`, silico's offline
   * estimate (⌈characters / 4⌉ per message, + 4 per chat message; tokens/char-estimate.ts), so
   * a dry run's estimate can be compared with what a run is billed.
   */
  tokenCount?: "words" | "estimate";
  /** Knobs of the batch endpoints (OpenAI Batch API, Anthropic Message Batches): see batch-api.ts. */
  batch?: BatchKnobs;
}

export type MutableServerOptions = Omit<OpenAITestServerOptions, "port">;

export interface TestServerStats {
  /** HTTP requests received. */
  requests: number;
  /** Requests answered with a response (any status). */
  completed: number;
  /** Responses by HTTP status. */
  status: Record<number, number>;
  /** Connections destroyed on purpose (rateDrop, failFirst "drop"). */
  dropped: number;
  /** Requests whose client went away before the answer was sent. */
  aborted: number;
  /** Requests currently being handled. requests = completed + dropped + aborted + inFlight. */
  inFlight: number;
  /** Highest number of requests handled at the same time. */
  inFlightMax: number;
}

export interface RecordedRequest {
  /** 1, 2, … in arrival order (restarts after reset()). */
  seq: number;
  /** Date.now() at arrival. */
  receivedAt: number;
  method: string;
  /** Path without the query string, e.g. /v1/chat/completions. */
  path: string;
  /** Request headers, lowercased, without `authorization`. */
  headers: Record<string, string | string[] | undefined>;
  /** Whether an Authorization header was sent (its value is never kept). */
  hasAuthorization: boolean;
  /** Parsed JSON body; the raw text when it is not JSON; undefined without a body. */
  body: unknown;
  /** Status sent, once answered. */
  status?: number;
  /** True when the connection was dropped on purpose. */
  dropped?: boolean;
}

export interface TestServer {
  /** Base URL for OpenAI clients, e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  port: number;
  stats(): TestServerStats;
  /** What the batch endpoints did: uploads, batches, polls, and successes by custom_id (what is billed). */
  batchStats(): BatchStats;
  /** Requests received (when `record` is not false). Cleared in place by reset(). */
  requests: RecordedRequest[];
  /** Change knobs at run time. Setting `failFirst` re-arms it; setting `script` restarts it. */
  setOptions(partial: MutableServerOptions): void;
  /** Zero stats, clear recorded requests, rate windows, failFirst and script position; reseed PRNGs. */
  reset(): void;
  close(): Promise<void>;
}

const WINDOW_MS = 60_000;
const DEFAULT_MODELS: readonly string[] = ["silico-test"];
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const SYSTEM_FINGERPRINT = "fp_silico_test";
const PARSE_ERROR = Symbol("parse error");

// ---------------------------------------------------------------------------------------------
// Sliding 60 s window of accepted requests (time, tokens) in a growable ring buffer.

class SlidingWindow {
  span = WINDOW_MS;
  private times = new Float64Array(256);
  private weights = new Float64Array(256);
  private head = 0;
  size = 0;
  sum = 0;

  evict(now: number): void {
    const cut = now - this.span;
    const mask = this.times.length - 1;
    while (this.size > 0 && (this.times[this.head] as number) <= cut) {
      this.sum -= this.weights[this.head] as number;
      this.head = (this.head + 1) & mask;
      this.size--;
    }
    if (this.size === 0) this.sum = 0;
  }

  push(now: number, weight: number): void {
    if (this.size === this.times.length) this.grow();
    const idx = (this.head + this.size) & (this.times.length - 1);
    this.times[idx] = now;
    this.weights[idx] = weight;
    this.size++;
    this.sum += weight;
  }

  /** Milliseconds until the oldest entry leaves the window (0 when empty). */
  untilOldestExpires(now: number): number {
    return this.size === 0 ? 0 : Math.max(0, (this.times[this.head] as number) + this.span - now);
  }

  /** Milliseconds until `sum + extra <= limit`, or Infinity when `extra > limit`. */
  untilFits(now: number, extra: number, limit: number): number {
    if (extra > limit) return Number.POSITIVE_INFINITY;
    let sum = this.sum;
    const mask = this.times.length - 1;
    for (let i = 0; i < this.size && sum + extra > limit; i++) {
      const idx = (this.head + i) & mask;
      sum -= this.weights[idx] as number;
      if (sum + extra <= limit) return Math.max(0, (this.times[idx] as number) + this.span - now);
    }
    return 0;
  }

  clear(): void {
    this.head = 0;
    this.size = 0;
    this.sum = 0;
  }

  private grow(): void {
    const n = this.times.length;
    const times = new Float64Array(n * 2);
    const weights = new Float64Array(n * 2);
    for (let i = 0; i < this.size; i++) {
      times[i] = this.times[(this.head + i) & (n - 1)] as number;
      weights[i] = this.weights[(this.head + i) & (n - 1)] as number;
    }
    this.times = times;
    this.weights = weights;
    this.head = 0;
  }
}

/** OpenAI style durations: "250ms", "1s", "1.5s", "1m0s". */
export function formatResetDuration(ms: number): string {
  if (ms <= 0) return "0s";
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const total = Math.ceil(ms) / 1000;
  const minutes = Math.floor(total / 60);
  const seconds = Math.round((total - minutes * 60) * 1000) / 1000;
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}

// ---------------------------------------------------------------------------------------------
// Errors

const ERROR_CODES: Record<number, [type: string, code: string | null, message: string]> = {
  400: ["invalid_request_error", "bad_request", "Bad request."],
  401: ["invalid_request_error", "invalid_api_key", "Incorrect API key provided."],
  403: ["invalid_request_error", "forbidden", "You are not allowed to access this resource."],
  404: ["invalid_request_error", "not_found", "The requested resource does not exist."],
  408: ["invalid_request_error", "timeout", "Request timed out."],
  409: ["invalid_request_error", "conflict", "Conflict."],
  422: ["invalid_request_error", "unprocessable_entity", "Unprocessable entity."],
  429: ["requests", "rate_limit_exceeded", "Rate limit reached. Please try again later."],
  500: ["server_error", null, "The server had an error while processing your request. Sorry about that!"],
  502: ["server_error", "bad_gateway", "Bad gateway."],
  503: ["server_error", "service_unavailable", "The server is overloaded or not ready yet."],
  504: ["server_error", "gateway_timeout", "Gateway timeout."],
};

function errorBody(
  status: number,
  message?: string,
  type?: string,
  code?: string | null,
  param: string | null = null,
): string {
  const preset = ERROR_CODES[status] ?? [
    status >= 500 ? "server_error" : "invalid_request_error",
    null,
    "Error.",
  ];
  return JSON.stringify({
    error: {
      message: message ?? preset[2],
      type: type ?? preset[0],
      param,
      code: code === undefined ? preset[1] : code,
    },
  });
}

class BadRequest {
  constructor(
    readonly message: string,
    readonly param: string | null = null,
    readonly code: string = "invalid_value",
  ) {}
}

// ---------------------------------------------------------------------------------------------
// Request parsing

interface ParsedCompletion {
  endpoint: "chat.completions" | "completions";
  model: string;
  /** One message list per prompt (chat: exactly one). */
  conversations: WireMessage[][];
  n: number;
  maxTokens: number | undefined;
  stop: string[];
  /** Chat: top_logprobs when logprobs is true, else -1. Completions: the legacy `logprobs` integer or -1. */
  topLogprobs: number;
  promptTokens: number;
  params: Record<string, unknown>;
}

function optInt(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new BadRequest(
      `Invalid '${key}': expected an integer between ${min} and ${max}, got ${JSON.stringify(v)}.`,
      key,
    );
  }
  return v;
}

function optNumber(body: Record<string, unknown>, key: string, min: number, max: number): void {
  const v = body[key];
  if (v === undefined || v === null) return;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    throw new BadRequest(
      `Invalid '${key}': expected a number between ${min} and ${max}, got ${JSON.stringify(v)}.`,
      key,
    );
  }
}

function parseCompletion(
  body: unknown,
  endpoint: "chat.completions" | "completions",
  tokenCount: "words" | "estimate" = "words",
): ParsedCompletion {
  const count = (text: string, perMessage: number) =>
    tokenCount === "estimate" ? estimateTextTokens(text) + perMessage : countWords(text);
  if (body === PARSE_ERROR) {
    throw new BadRequest(
      "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.",
      null,
      "invalid_json",
    );
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new BadRequest("The request body must be a JSON object.", null, "invalid_json");
  }
  const b = body as Record<string, unknown>;
  if (b.stream === true) {
    throw new BadRequest(
      "Streaming is not supported by the silico OpenAI test server: send stream: false (or omit it).",
      "stream",
      "unsupported_value",
    );
  }
  if (typeof b.model !== "string" || b.model === "") {
    throw new BadRequest("You must provide a model parameter.", "model", "missing_required_parameter");
  }
  const n = optInt(b, "n", 1, 128) ?? 1;
  const maxTokens = optInt(b, "max_tokens", 1, 1_000_000) ?? optInt(b, "max_completion_tokens", 1, 1_000_000);
  optNumber(b, "temperature", 0, 2);
  optNumber(b, "top_p", 0, 1);
  optNumber(b, "presence_penalty", -2, 2);
  optNumber(b, "frequency_penalty", -2, 2);
  if (b.seed !== undefined && b.seed !== null && (typeof b.seed !== "number" || !Number.isInteger(b.seed))) {
    throw new BadRequest(`Invalid 'seed': expected an integer, got ${JSON.stringify(b.seed)}.`, "seed");
  }

  let stop: string[] = [];
  if (typeof b.stop === "string") stop = b.stop ? [b.stop] : [];
  else if (Array.isArray(b.stop)) {
    if (!b.stop.every((s) => typeof s === "string"))
      throw new BadRequest("Invalid 'stop': expected strings.", "stop");
    stop = (b.stop as string[]).filter((s) => s !== "");
  } else if (b.stop !== undefined && b.stop !== null) {
    throw new BadRequest("Invalid 'stop': expected a string or an array of strings.", "stop");
  }

  const rf = b.response_format;
  if (rf !== undefined && rf !== null) {
    const t = (rf as { type?: unknown }).type;
    if (typeof rf !== "object" || (t !== "text" && t !== "json_object" && t !== "json_schema")) {
      throw new BadRequest(
        "Invalid 'response_format.type': expected 'text', 'json_object' or 'json_schema'.",
        "response_format",
      );
    }
  }

  let topLogprobs = -1;
  let conversations: WireMessage[][];
  let promptTokens = 0;
  if (endpoint === "chat.completions") {
    const messages = b.messages;
    if (!Array.isArray(messages) || messages.length === 0) {
      throw new BadRequest("'messages' must be a non-empty array.", "messages", "missing_required_parameter");
    }
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i] as WireMessage | null;
      if (!m || typeof m !== "object" || typeof m.role !== "string") {
        throw new BadRequest(`Invalid 'messages[${i}]': expected an object with a 'role'.`, `messages[${i}]`);
      }
      promptTokens += count(contentText(m.content), ESTIMATE_PER_MESSAGE);
    }
    conversations = [messages as WireMessage[]];
    if (b.logprobs !== undefined && b.logprobs !== null && typeof b.logprobs !== "boolean") {
      throw new BadRequest("Invalid 'logprobs': expected a boolean.", "logprobs");
    }
    const top = optInt(b, "top_logprobs", 0, 20);
    if (top !== undefined && b.logprobs !== true) {
      throw new BadRequest("'logprobs' must be set to true when 'top_logprobs' is used.", "top_logprobs");
    }
    if (b.logprobs === true) topLogprobs = top ?? 0;
  } else {
    const prompt = b.prompt;
    let prompts: string[];
    if (typeof prompt === "string") prompts = [prompt];
    else if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((p) => typeof p === "string")) {
      prompts = prompt as string[];
    } else {
      throw new BadRequest("'prompt' must be a string or a non-empty array of strings.", "prompt");
    }
    conversations = prompts.map((p) => {
      promptTokens += count(p, 0);
      return [{ role: "user", content: p }];
    });
    topLogprobs = optInt(b, "logprobs", 0, 5) ?? -1;
  }

  return {
    endpoint,
    model: b.model,
    conversations,
    n,
    maxTokens,
    stop,
    topLogprobs,
    promptTokens,
    params: b,
  };
}

// ---------------------------------------------------------------------------------------------
// Server

interface Exchange {
  seq: number;
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  record: RecordedRequest | undefined;
  startedAt: number;
  /** Set once the request has been answered, dropped or abandoned. */
  done: boolean;
}

interface Answer {
  text: string;
  finishReason: FinishReason;
}

function validateOptions(o: MutableServerOptions): void {
  const nonNeg = (name: string, v: number | undefined) => {
    if (v !== undefined && !(typeof v === "number" && Number.isFinite(v) && v >= 0)) {
      throw new RangeError(`openai-test-server: ${name} must be a non-negative number, got ${String(v)}`);
    }
  };
  nonNeg("latencyMs", o.latencyMs);
  nonNeg("latencyJitterMs", o.latencyJitterMs);
  nonNeg("rpm", o.rpm);
  nonNeg("tpm", o.tpm);
  nonNeg("rateWindowMs", o.rateWindowMs);
  nonNeg("maxInFlight", o.maxInFlight);
  if (o.failures) {
    for (const k of ["rate500", "rateDrop", "rate429"] as const) {
      const v = o.failures[k];
      if (v !== undefined && !(v >= 0 && v <= 1)) {
        throw new RangeError(`openai-test-server: failures.${k} must be between 0 and 1, got ${String(v)}`);
      }
    }
    nonNeg("failures.retryAfter", o.failures.retryAfter);
  }
  if (o.failFirst) {
    const { count, status } = o.failFirst;
    nonNeg("failFirst.count", count);
    if (status !== "drop" && !(Number.isInteger(status) && status >= 400 && status <= 599)) {
      throw new RangeError(
        `openai-test-server: failFirst.status must be 400–599 or "drop", got ${String(status)}`,
      );
    }
  }
  if (o.script !== undefined && (!Array.isArray(o.script) || o.script.length === 0)) {
    throw new RangeError("openai-test-server: script must be a non-empty array of strings");
  }
}

/** Start the server on 127.0.0.1. Resolves once it listens. */
export async function startOpenAITestServer(options: OpenAITestServerOptions = {}): Promise<TestServer> {
  const { port: wantedPort = 0, ...initial } = options;
  validateOptions(initial);
  const opts: MutableServerOptions = { ...initial };

  let faultRng = new Rng(opts.faultSeed ?? 0);
  let jitterRng = new Rng(((opts.faultSeed ?? 0) ^ 0x5bd1e995) >>> 0);
  const window = new SlidingWindow();
  window.span = opts.rateWindowMs || WINDOW_MS;
  /** A per-minute limit as held over the window (at least 1). */
  const perWindow = (perMinute: number) => Math.max(1, Math.floor((perMinute * window.span) / WINDOW_MS));
  // Completion slots (maxInFlight): requests being answered, and those waiting for a slot.
  let serving = 0;
  const slotQueue: (() => void)[] = [];
  const withSlot = (fn: (done: () => void) => void) => {
    const start = () => {
      serving++;
      fn(() => {
        serving--;
        slotQueue.shift()?.();
      });
    };
    if (!opts.maxInFlight || serving < opts.maxInFlight) start();
    else slotQueue.push(start);
  };
  const requests: RecordedRequest[] = [];
  const pendingTimers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  let seq = 0;
  let failFirstUsed = 0;
  let scriptPos = 0;
  let closing = false;

  let nRequests = 0;
  let nCompleted = 0;
  let nDropped = 0;
  let nAborted = 0;
  let inFlight = 0;
  let inFlightMax = 0;
  let statusCounts: Record<number, number> = {};

  /** Marks the exchange done; false when it already was. */
  const finish = (ex: Exchange): boolean => {
    if (ex.done) return false;
    ex.done = true;
    inFlight--;
    return true;
  };

  const clientGone = (ex: Exchange): boolean => {
    const socket = ex.res.socket;
    return !socket || socket.destroyed || ex.res.destroyed;
  };

  const send = (ex: Exchange, status: number, payload: string, headers?: Record<string, string | number>) => {
    if (!finish(ex)) return;
    const res = ex.res;
    if (clientGone(ex)) {
      nAborted++;
      return;
    }
    const h: Record<string, string | number> = {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(payload),
      "x-request-id": `req_silico_${ex.seq}`,
      "openai-processing-ms": Math.round(performance.now() - ex.startedAt),
    };
    if (headers) Object.assign(h, headers);
    res.writeHead(status, h);
    res.end(payload);
    nCompleted++;
    statusCounts[status] = (statusCounts[status] ?? 0) + 1;
    if (ex.record) ex.record.status = status;
  };

  const drop = (ex: Exchange) => {
    if (!finish(ex)) return;
    if (clientGone(ex)) nAborted++;
    else {
      nDropped++;
      if (ex.record) ex.record.dropped = true;
    }
    ex.req.socket.destroy();
  };

  const later = (delay: number, fn: () => void) => {
    if (delay <= 0) {
      fn();
      return;
    }
    const t = setTimeout(() => {
      pendingTimers.delete(t);
      fn();
    }, delay);
    pendingTimers.add(t);
  };

  const delayMs = (): number => {
    const base = opts.latencyMs ?? 0;
    const jitter = opts.latencyJitterMs ?? 0;
    return jitter > 0 ? base + jitterRng.next() * jitter : base;
  };

  const rateHeaders = (
    now: number,
    requestsUsed: number,
    tokensUsed: number,
  ): Record<string, string | number> => {
    const h: Record<string, string | number> = {};
    if (opts.rpm) {
      h["x-ratelimit-limit-requests"] = opts.rpm;
      h["x-ratelimit-remaining-requests"] = Math.max(0, perWindow(opts.rpm) - requestsUsed);
      h["x-ratelimit-reset-requests"] = formatResetDuration(window.untilOldestExpires(now));
    }
    if (opts.tpm) {
      h["x-ratelimit-limit-tokens"] = opts.tpm;
      h["x-ratelimit-remaining-tokens"] = Math.max(0, perWindow(opts.tpm) - tokensUsed);
      h["x-ratelimit-reset-tokens"] = formatResetDuration(window.untilOldestExpires(now));
    }
    return h;
  };

  const answerFor = (req: ResponderRequest): ResponderResult | Promise<ResponderResult> => {
    if (opts.responder) return opts.responder(req);
    const script = opts.script;
    if (script && script.length > 0) {
      const text = script[scriptPos % script.length] as string;
      scriptPos++;
      return text;
    }
    return defaultResponder(req);
  };

  const finishAnswer = (result: ResponderResult, p: ParsedCompletion): Answer => {
    let text: string;
    let finishReason: FinishReason = "stop";
    if (typeof result === "string") text = result;
    else if (result && typeof result === "object" && typeof result.text === "string") {
      text = result.text;
      if (result.finish_reason) finishReason = result.finish_reason;
    } else throw new TypeError(`responder returned ${JSON.stringify(result)}; expected a string or {text}`);
    if (p.stop.length > 0) {
      let cut = -1;
      for (const s of p.stop) {
        const i = text.indexOf(s);
        if (i >= 0 && (cut < 0 || i < cut)) cut = i;
      }
      if (cut >= 0) {
        text = text.slice(0, cut);
        finishReason = "stop";
      }
    }
    if (p.maxTokens !== undefined) {
      const cut = truncateWords(text, p.maxTokens);
      if (cut !== null) {
        text = cut;
        finishReason = "length";
      }
    }
    return { text, finishReason };
  };

  const respondCompletion = (
    ex: Exchange,
    p: ParsedCompletion,
    answers: Answer[],
    extraHeaders: Record<string, string | number>,
  ) => {
    send(ex, 200, completionBody(ex.seq, p, answers), extraHeaders);
  };

  /** The response body of a chat or legacy completion; `seq` makes its id. */
  const completionBody = (seq: number, p: ParsedCompletion, answers: Answer[]): string => {
    const created = Math.floor(Date.now() / 1000);
    let completionTokens = 0;
    let body: string;
    const seedOf = (i: number) => `${p.model}\0${i}`;
    if (p.endpoint === "chat.completions") {
      const choices = answers.map((a, index) => {
        completionTokens += countWords(a.text);
        return {
          index,
          message: { role: "assistant", content: a.text, refusal: null },
          logprobs:
            p.topLogprobs >= 0
              ? { content: fakeLogprobs(a.text, seedOf(index), p.topLogprobs), refusal: null }
              : null,
          finish_reason: a.finishReason,
        };
      });
      body = JSON.stringify({
        id: `chatcmpl-silico${seq.toString(36).padStart(8, "0")}`,
        object: "chat.completion",
        created,
        model: p.model,
        choices,
        usage: {
          prompt_tokens: p.promptTokens,
          completion_tokens: completionTokens,
          total_tokens: p.promptTokens + completionTokens,
        },
        system_fingerprint: SYSTEM_FINGERPRINT,
      });
    } else {
      const choices = answers.map((a, index) => {
        completionTokens += countWords(a.text);
        return {
          text: a.text,
          index,
          logprobs: p.topLogprobs >= 0 ? legacyLogprobs(a.text, seedOf(index), p.topLogprobs) : null,
          finish_reason: a.finishReason,
        };
      });
      body = JSON.stringify({
        id: `cmpl-silico${seq.toString(36).padStart(8, "0")}`,
        object: "text_completion",
        created,
        model: p.model,
        choices,
        usage: {
          prompt_tokens: p.promptTokens,
          completion_tokens: completionTokens,
          total_tokens: p.promptTokens + completionTokens,
        },
        system_fingerprint: SYSTEM_FINGERPRINT,
      });
    }
    return body;
  };

  /** Every choice of every prompt of a parsed request, answered and cut to its limits. */
  const answersOf = async (
    p: ParsedCompletion,
    endpoint: ResponderRequest["endpoint"],
  ): Promise<Answer[]> => {
    const results: ResponderResult[] = [];
    for (const messages of p.conversations) {
      for (let i = 0; i < p.n; i++) {
        results.push(
          await answerFor({ model: p.model, messages, params: p.params, choiceIndex: i, endpoint }),
        );
      }
    }
    return results.map((r) => finishAnswer(r, p));
  };

  let offlineSeq = 0;
  /**
   * A completion body answered as the synchronous endpoint answers it (validation, unknown
   * models, answers), without latency, rate limits or injected faults: a batch's requests.
   */
  const completeOpenAI = async (url: string, body: unknown): Promise<{ status: number; body: unknown }> => {
    const endpoint = url === "/v1/completions" ? "completions" : "chat.completions";
    let p: ParsedCompletion;
    try {
      p = parseCompletion(body, endpoint, opts.tokenCount);
    } catch (e) {
      if (!(e instanceof BadRequest)) throw e;
      return {
        status: 400,
        body: JSON.parse(errorBody(400, e.message, "invalid_request_error", e.code, e.param)),
      };
    }
    if (opts.strictModels && !(opts.models ?? DEFAULT_MODELS).includes(p.model)) {
      const msg = `The model \`${p.model}\` does not exist or you do not have access to it.`;
      return {
        status: 404,
        body: JSON.parse(errorBody(404, msg, "invalid_request_error", "model_not_found")),
      };
    }
    try {
      const answers = await answersOf(p, endpoint);
      return { status: 200, body: JSON.parse(completionBody(++offlineSeq, p, answers)) };
    } catch (e) {
      return {
        status: 500,
        body: JSON.parse(errorBody(500, `responder failed: ${e instanceof Error ? e.message : String(e)}`)),
      };
    }
  };

  /** Anthropic's POST /v1/messages: the same answers as a chat completion of that conversation. */
  const completeAnthropic = async (body: unknown): Promise<{ status: number; body: unknown }> => {
    let m: ReturnType<typeof parseMessagesBody>;
    try {
      m = parseMessagesBody(body);
    } catch (e) {
      if (!(e instanceof MessagesBadRequest)) throw e;
      return { status: 400, body: anthropicError("invalid_request_error", e.message) };
    }
    const p: ParsedCompletion = {
      endpoint: "chat.completions",
      model: m.model,
      conversations: [m.messages],
      n: 1,
      maxTokens: m.maxTokens,
      stop: m.stop,
      topLogprobs: -1,
      promptTokens: m.messages.reduce(
        (n, msg) =>
          n +
          (opts.tokenCount === "estimate"
            ? estimateTextTokens(contentText(msg.content)) + ESTIMATE_PER_MESSAGE
            : countWords(contentText(msg.content))),
        0,
      ),
      params: m.params,
    };
    try {
      const r = await answerFor({
        model: p.model,
        messages: m.messages,
        params: p.params,
        choiceIndex: 0,
        endpoint: "chat.completions",
      });
      const answer = finishAnswer(r, p);
      const full = typeof r === "string" ? r : r.text;
      // Anthropic names the stop sequence that ended the answer.
      const cutByStop =
        answer.finishReason === "stop" && answer.text !== full
          ? (m.stop.find((s) => full.startsWith(answer.text + s)) ?? null)
          : null;
      return {
        status: 200,
        body: messageObject(
          `msg_silico${(++offlineSeq).toString(36).padStart(8, "0")}`,
          m.model,
          answer.text,
          answer.finishReason,
          cutByStop,
          p.promptTokens,
          countWords(answer.text),
        ),
      };
    } catch (e) {
      return {
        status: 500,
        body: anthropicError("api_error", `responder failed: ${e instanceof Error ? e.message : String(e)}`),
      };
    }
  };

  let origin = "";
  const batches = new BatchApi(
    { completeOpenAI, completeAnthropic, origin: () => origin },
    opts.batch ?? {},
    opts.faultSeed ?? 0,
  );

  const handleCompletion = (ex: Exchange, body: unknown, endpoint: "chat.completions" | "completions") => {
    // 1. failFirst
    const ff = opts.failFirst;
    if (ff && failFirstUsed < ff.count) {
      failFirstUsed++;
      if (ff.status === "drop") return drop(ex);
      const headers: Record<string, string | number> = {};
      if (ff.retryAfter !== undefined) headers["retry-after"] = Math.ceil(ff.retryAfter);
      return send(
        ex,
        ff.status,
        errorBody(
          ff.status,
          ff.message ?? `${ERROR_CODES[ff.status]?.[2] ?? "Error."} (injected by failFirst)`,
        ),
        headers,
      );
    }

    // 2. validation
    let p: ParsedCompletion;
    try {
      p = parseCompletion(body, endpoint, opts.tokenCount);
    } catch (e) {
      if (e instanceof BadRequest)
        return send(ex, 400, errorBody(400, e.message, "invalid_request_error", e.code, e.param));
      throw e;
    }

    // 2b. unknown model (OpenAI answers 404 model_not_found)
    if (opts.strictModels && !(opts.models ?? DEFAULT_MODELS).includes(p.model)) {
      return send(
        ex,
        404,
        errorBody(
          404,
          `The model \`${p.model}\` does not exist or you do not have access to it.`,
          "invalid_request_error",
          "model_not_found",
        ),
      );
    }

    // 3. rate limits
    let extraHeaders: Record<string, string | number> = {};
    if (opts.rpm || opts.tpm) {
      const now = performance.now();
      window.evict(now);
      const cost = p.promptTokens + p.n * (p.maxTokens ?? 0);
      const rpm = opts.rpm ? perWindow(opts.rpm) : 0;
      const tpm = opts.tpm ? perWindow(opts.tpm) : 0;
      if (rpm > 0 && window.size >= rpm) {
        const wait = window.untilOldestExpires(now);
        const h = rateHeaders(now, window.size, window.sum);
        h["retry-after"] = Math.max(1, Math.ceil(wait / 1000));
        const msg = `Rate limit reached for ${p.model} on requests per min (RPM): Limit ${opts.rpm}, Used ${window.size}, Requested 1. Please try again in ${formatResetDuration(wait)}.`;
        return send(ex, 429, errorBody(429, msg, "requests", "rate_limit_exceeded"), h);
      }
      if (tpm > 0 && window.sum + cost > tpm) {
        const wait = window.untilFits(now, cost, tpm);
        const h = rateHeaders(now, window.size, window.sum);
        const tooLarge = !Number.isFinite(wait);
        h["retry-after"] = tooLarge ? 60 : Math.max(1, Math.ceil(wait / 1000));
        h["x-ratelimit-reset-tokens"] = formatResetDuration(tooLarge ? WINDOW_MS : wait);
        const msg = tooLarge
          ? `Request too large for ${p.model} on tokens per min (TPM): Limit ${opts.tpm}, Requested ${cost}.`
          : `Rate limit reached for ${p.model} on tokens per min (TPM): Limit ${opts.tpm}, Used ${window.sum}, Requested ${cost}. Please try again in ${formatResetDuration(wait)}.`;
        return send(ex, 429, errorBody(429, msg, "tokens", "rate_limit_exceeded"), h);
      }
      window.push(now, cost);
      extraHeaders = rateHeaders(now, window.size, window.sum);
    }

    // 4. random failures (one draw per request)
    const f = opts.failures;
    if (f && (f.rateDrop || f.rate500 || f.rate429)) {
      const u = faultRng.next();
      const pDrop = f.rateDrop ?? 0;
      const p500 = pDrop + (f.rate500 ?? 0);
      const p429 = p500 + (f.rate429 ?? 0);
      if (u < pDrop) return later(delayMs(), () => drop(ex));
      if (u < p500) {
        return later(delayMs(), () =>
          send(ex, 500, errorBody(500, `${ERROR_CODES[500]![2]} (injected: failures.rate500)`), extraHeaders),
        );
      }
      if (u < p429) {
        const retry = Math.ceil(f.retryAfter ?? 1);
        const msg = `Rate limit reached for ${p.model}. Please try again in ${retry}s. (injected: failures.rate429)`;
        return send(ex, 429, errorBody(429, msg, "requests", "rate_limit_exceeded"), {
          ...extraHeaders,
          "retry-after": retry,
        });
      }
    }

    // 5. answers
    const results: (ResponderResult | Promise<ResponderResult>)[] = [];
    let async = false;
    try {
      for (const messages of p.conversations) {
        for (let i = 0; i < p.n; i++) {
          const r = answerFor({ model: p.model, messages, params: p.params, choiceIndex: i, endpoint });
          if (r && typeof (r as Promise<ResponderResult>).then === "function") async = true;
          results.push(r);
        }
      }
    } catch (e) {
      return send(ex, 500, errorBody(500, `responder failed: ${e instanceof Error ? e.message : String(e)}`));
    }
    const deliver = (done: ResponderResult[]) => {
      let answers: Answer[];
      try {
        answers = done.map((r) => finishAnswer(r, p));
      } catch (e) {
        return send(
          ex,
          500,
          errorBody(500, `responder failed: ${e instanceof Error ? e.message : String(e)}`),
        );
      }
      withSlot((done) =>
        later(delayMs(), () => {
          respondCompletion(ex, p, answers, extraHeaders);
          done();
        }),
      );
    };
    if (!async) return deliver(results as ResponderResult[]);
    Promise.all(results).then(deliver, (e: unknown) =>
      send(ex, 500, errorBody(500, `responder failed: ${e instanceof Error ? e.message : String(e)}`)),
    );
  };

  const modelObject = (id: string) => ({ id, object: "model", created: 1_700_000_000, owned_by: "silico" });

  const dispatch = (ex: Exchange, method: string, body: unknown, text = "") => {
    if (ex.record && body !== PARSE_ERROR) ex.record.body = body;
    if (opts.apiKey !== undefined) {
      const auth = ex.req.headers.authorization;
      if (auth !== `Bearer ${opts.apiKey}` && ex.req.headers["x-api-key"] !== opts.apiKey) {
        const msg =
          auth === undefined
            ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            : "Incorrect API key provided. Check the key you configured for the silico OpenAI test server.";
        return send(ex, 401, errorBody(401, msg, "invalid_request_error", "invalid_api_key"));
      }
    }
    const path = ex.path;
    if (BatchApi.owns(path)) {
      const contentType = String(ex.req.headers["content-type"] ?? "");
      batches.handle(method, path, body === PARSE_ERROR ? undefined : body, text, contentType).then(
        (r) => send(ex, r.status, r.body, r.contentType ? { "content-type": r.contentType } : undefined),
        (e: unknown) =>
          send(ex, 500, errorBody(500, `test server bug: ${e instanceof Error ? e.message : String(e)}`)),
      );
      return;
    }
    if (path === "/v1/messages") {
      if (method !== "POST")
        return send(
          ex,
          405,
          JSON.stringify(anthropicError("invalid_request_error", `Method ${method} not allowed.`)),
        );
      completeAnthropic(body === PARSE_ERROR ? undefined : body).then(
        (r) => later(r.status === 200 ? delayMs() : 0, () => send(ex, r.status, JSON.stringify(r.body))),
        (e: unknown) => send(ex, 500, JSON.stringify(anthropicError("api_error", String(e)))),
      );
      return;
    }
    if (path === "/v1/chat/completions" || path === "/v1/completions") {
      if (method !== "POST") {
        return send(
          ex,
          405,
          errorBody(
            405,
            `Method ${method} not allowed on ${path}; use POST.`,
            "invalid_request_error",
            "method_not_allowed",
          ),
          { allow: "POST" },
        );
      }
      return handleCompletion(ex, body, path === "/v1/completions" ? "completions" : "chat.completions");
    }
    if ((path === "/v1/models" || path.startsWith("/v1/models/")) && opts.listModels !== false) {
      if (method !== "GET") {
        return send(
          ex,
          405,
          errorBody(
            405,
            `Method ${method} not allowed on ${path}; use GET.`,
            "invalid_request_error",
            "method_not_allowed",
          ),
          { allow: "GET" },
        );
      }
      const models = opts.models ?? DEFAULT_MODELS;
      if (path === "/v1/models") {
        return send(ex, 200, JSON.stringify({ object: "list", data: models.map(modelObject) }));
      }
      const id = decodeURIComponent(path.slice("/v1/models/".length));
      if (models.includes(id)) return send(ex, 200, JSON.stringify(modelObject(id)));
      return send(
        ex,
        404,
        errorBody(
          404,
          `The model '${id}' does not exist.`,
          "invalid_request_error",
          "model_not_found",
          "model",
        ),
      );
    }
    return send(
      ex,
      404,
      errorBody(404, `Unknown request URL: ${method} ${path}.`, "invalid_request_error", "unknown_url"),
    );
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    nRequests++;
    inFlight++;
    if (inFlight > inFlightMax) inFlightMax = inFlight;
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? "GET";
    let record: RecordedRequest | undefined;
    if (opts.record !== false) {
      const headers: Record<string, string | string[] | undefined> = { ...req.headers };
      const hasAuthorization = headers.authorization !== undefined;
      delete headers.authorization;
      record = {
        seq: seq + 1,
        receivedAt: Date.now(),
        method,
        path,
        headers,
        hasAuthorization,
        body: undefined,
      };
      requests.push(record);
    }
    const ex: Exchange = { seq: ++seq, req, res, path, record, startedAt: performance.now(), done: false };

    if (method !== "POST" && method !== "PUT" && method !== "PATCH") {
      req.resume();
      dispatch(ex, method, undefined);
      return;
    }
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        tooLarge = true;
        return;
      }
      if (first === undefined) first = chunk;
      else {
        if (chunks === undefined) chunks = [first];
        chunks.push(chunk);
      }
    });
    req.on("end", () => {
      if (tooLarge)
        return send(
          ex,
          413,
          errorBody(413, "Request body too large.", "invalid_request_error", "payload_too_large"),
        );
      const text = chunks ? Buffer.concat(chunks).toString("utf8") : first ? first.toString("utf8") : "";
      let body: unknown;
      if (text === "") body = undefined;
      else {
        try {
          body = JSON.parse(text);
        } catch {
          body = PARSE_ERROR;
          if (record) record.body = text;
        }
      }
      try {
        dispatch(ex, method, body, text);
      } catch (e) {
        send(ex, 500, errorBody(500, `test server bug: ${e instanceof Error ? e.message : String(e)}`));
      }
    });
    req.on("error", () => {
      // the client went away before sending the whole body
      if (finish(ex)) nAborted++;
    });
  };

  const server = createServer({ keepAliveTimeout: 30_000 }, onRequest);
  server.on("connection", (socket: Socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("clientError", (_err, socket) => {
    if (!socket.destroyed) socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(wantedPort, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    stats: () => ({
      requests: nRequests,
      completed: nCompleted,
      status: { ...statusCounts },
      dropped: nDropped,
      aborted: nAborted,
      inFlight,
      inFlightMax,
    }),
    batchStats: () => batches.snapshot(),
    setOptions(partial: MutableServerOptions) {
      validateOptions(partial);
      const p = partial as Record<string, unknown>;
      if ("port" in p) throw new TypeError("openai-test-server: port cannot be changed after start");
      Object.assign(opts, partial);
      if ("faultSeed" in partial) {
        faultRng = new Rng(opts.faultSeed ?? 0);
        jitterRng = new Rng(((opts.faultSeed ?? 0) ^ 0x5bd1e995) >>> 0);
      }
      if ("rateWindowMs" in partial) window.span = opts.rateWindowMs || WINDOW_MS;
      if ("failFirst" in partial) failFirstUsed = 0;
      if ("script" in partial) scriptPos = 0;
      batches.setKnobs(opts.batch ?? {}, opts.faultSeed ?? 0);
    },
    reset() {
      nRequests = 0;
      nCompleted = 0;
      nDropped = 0;
      nAborted = 0;
      inFlightMax = inFlight;
      statusCounts = {};
      requests.length = 0;
      window.clear();
      failFirstUsed = 0;
      scriptPos = 0;
      seq = 0;
      faultRng = new Rng(opts.faultSeed ?? 0);
      jitterRng = new Rng(((opts.faultSeed ?? 0) ^ 0x5bd1e995) >>> 0);
      batches.reset();
    },
    close() {
      if (closing) return Promise.resolve();
      closing = true;
      for (const t of pendingTimers) clearTimeout(t);
      pendingTimers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
      });
    },
  };
}

/** Legacy /v1/completions logprobs: {tokens, token_logprobs, top_logprobs, text_offset}. */
function legacyLogprobs(text: string, seed: string, k: number) {
  const entries = fakeLogprobs(text, seed, k);
  const tokens: string[] = [];
  const tokenLogprobs: number[] = [];
  const top: Record<string, number>[] = [];
  const offsets: number[] = [];
  let offset = 0;
  for (const e of entries) {
    tokens.push(e.token);
    tokenLogprobs.push(e.logprob);
    const alt: Record<string, number> = {};
    for (const t of e.top_logprobs) alt[t.token] = t.logprob;
    top.push(alt);
    offsets.push(offset);
    offset += e.token.length;
  }
  return { tokens, token_logprobs: tokenLogprobs, top_logprobs: top, text_offset: offsets };
}
