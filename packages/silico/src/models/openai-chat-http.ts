import http from "node:http";
import https from "node:https";
import { APICallError } from "ai";
import { SILICO_VERSION } from "../data-files.js";
import { httpAgents, IDLE_TIMEOUT_MS, decodedBody, REDIRECT_STATUS } from "./node-http-fetch.js";
import { type RateLimitInfo, rateLimitFromHeaders } from "./rate-limit-headers.js";
import type { Message, ModelChoice, ModelInfo, ModelParams } from "./types.js";

/**
 * OpenAI Chat/Completions over a bare node:http(s) request: the same request body, response
 * checks and errors as the AI SDK's OpenAI chat adapter (`doGenerate`), without its per-call
 * machinery (header merging, WHATWG Request/Response, zod validation of the answer): ≈ 0.25 ms
 * less CPU per call, which is most of what a served agent turn costs beyond its two HTTP hops.
 *
 * Only requests whose body the adapter builds without model-specific rewriting take this path
 * (`leanChatEligible`): text messages, no response schema (the adapter rewrites schemas), a model
 * the adapter does not treat as a reasoning or search model. Everything else stays on the SDK.
 * Errors are built as the SDK builds them (an `APICallError` with the same status, body and
 * headers, or the same abort reason), so `toProviderError` classifies them identically.
 */

/** The adapter's reasoning models (o-series, gpt-5+ but chat variants) get a rewritten body. */
function adapterRewrites(modelName: string): boolean {
  if (/^o\d+(?:-|$)/.test(modelName)) return true;
  if (modelName.includes("search-preview")) return true;
  const gpt = /^gpt-(\d+)(?:\.(\d+))?(?:-(.+))?$/.exec(modelName);
  return gpt !== null && Number(gpt[1]) >= 5;
}

export function leanChatEligible(modelName: string, messages: Message[], params: ModelParams): boolean {
  if (params.responseSchema !== undefined) return false;
  if (adapterRewrites(modelName)) return false;
  for (const m of messages) if (typeof m.content !== "string") return false;
  return true;
}

/** The result of one request, as `AiSdkModel.generateDirect` returns it. */
export interface ChatResult {
  choice: ModelChoice;
  raw: unknown;
  inputTokens: number;
  outputTokens: number;
  modelVersion: string | undefined;
  rateLimit: RateLimitInfo | undefined;
  warnings: string[];
}

/** The server answered with a redirect: the caller sends this request through the SDK instead. */
export class Redirected extends Error {}

export interface LeanChatRequest {
  info: ModelInfo;
  /** Base URL without a trailing slash, e.g. https://api.openai.com/v1. */
  baseURL: string;
  apiKey: string;
  modelName: string;
  messages: Message[];
  params: ModelParams;
  seed: number | undefined;
  signal: AbortSignal | undefined;
}

/** The request body in the adapter's field order (JSON.stringify drops the undefined ones). */
function bodyOf(r: LeanChatRequest): string {
  const { params } = r;
  const wantsLogprobs = params.logprobs || (params.topLogprobs ?? 0) > 0;
  const top = params.topLogprobs && params.topLogprobs > 0 ? params.topLogprobs : undefined;
  return JSON.stringify({
    model: r.modelName,
    logprobs: wantsLogprobs ? true : undefined,
    top_logprobs: wantsLogprobs ? (top ?? 0) : undefined,
    max_tokens: params.maxTokens,
    temperature: params.temperature,
    top_p: params.topP,
    stop: params.stop && params.stop.length > 0 ? params.stop : undefined,
    seed: r.seed,
    messages: r.messages.map((m) => ({ role: m.role, content: m.content as string })),
  });
}

const USER_AGENT = `silico/${SILICO_VERSION} node/${process.versions.node}`;

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

/** Response headers as the SDK reads them (lower-case names, repeated values joined). */
function headerRecord(res: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

interface Raw {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  text: string;
}

function post(r: LeanChatRequest, url: string, body: string): Promise<Raw> {
  const signal = r.signal;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const secure = url.startsWith("https:");
  const requestBodyValues = () => JSON.parse(body) as unknown;
  return new Promise<Raw>((resolve, reject) => {
    let settled = false;
    const done = (f: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      f();
    };
    // What the SDK makes of a transport failure (its fetch's TypeError("fetch failed", {cause})).
    const fail = (cause: Error) =>
      done(() =>
        reject(
          new APICallError({
            message: `Cannot connect to API: ${cause.message}`,
            cause,
            url,
            requestBodyValues: requestBodyValues(),
            isRetryable: true,
          }),
        ),
      );
    const request = (secure ? https : http).request(
      url,
      {
        method: "POST",
        agent: secure ? httpAgents["https:"] : httpAgents["http:"],
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${r.apiKey}`,
          // Some gateways refuse a request without one (the SDK sends its own).
          "user-agent": USER_AGENT,
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (REDIRECT_STATUS.has(status) && res.headers.location) {
          res.resume();
          done(() => reject(new Redirected()));
          return;
        }
        decodedBody(res, (e, text) => {
          if (e) fail(e);
          else
            done(() =>
              resolve({ status, statusText: res.statusMessage ?? "", headers: headerRecord(res), text }),
            );
        });
      },
    );
    const onAbort = () => {
      request.destroy();
      done(() => reject(abortReason(signal as AbortSignal)));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    request.setTimeout(IDLE_TIMEOUT_MS, () =>
      request.destroy(new Error(`no response for ${IDLE_TIMEOUT_MS / 1000} s`)),
    );
    request.on("error", fail);
    request.end(body);
  });
}

/** secure-json-parse (the SDK's JSON parser) refuses these keys: so does this path. */
function hasForbiddenKey(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return false;
  if (Array.isArray(v)) return v.some(hasForbiddenKey);
  for (const k of Object.keys(v)) {
    if (k === "__proto__") return true;
    const child = (v as Record<string, unknown>)[k];
    if (k === "constructor" && typeof child === "object" && child !== null && "prototype" in child)
      return true;
    if (hasForbiddenKey(child)) return true;
  }
  return false;
}

const isNullish = (v: unknown) => v === undefined || v === null;
const optString = (v: unknown) => isNullish(v) || typeof v === "string";
const optNumber = (v: unknown) => isNullish(v) || typeof v === "number";
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const optObject = (v: unknown, check: (o: Record<string, unknown>) => boolean) =>
  isNullish(v) || (isObject(v) && check(v));
const optArray = (v: unknown, check: (o: unknown) => boolean) =>
  isNullish(v) || (Array.isArray(v) && v.every(check));

const tokenLogprob = (t: unknown) =>
  isObject(t) &&
  typeof t.token === "string" &&
  typeof t.logprob === "number" &&
  Array.isArray(t.top_logprobs) &&
  t.top_logprobs.every((a) => isObject(a) && typeof a.token === "string" && typeof a.logprob === "number");

/** The adapter's response schema (openaiChatResponseSchema), checked by hand. */
function validResponse(v: unknown): boolean {
  if (!isObject(v)) return false;
  if (!optString(v.id) || !optNumber(v.created) || !optString(v.model)) return false;
  if (!Array.isArray(v.choices)) return false;
  for (const c of v.choices) {
    if (!isObject(c) || typeof c.index !== "number" || !optString(c.finish_reason)) return false;
    const m = c.message;
    if (!isObject(m)) return false;
    if (!(isNullish(m.role) || m.role === "assistant") || !optString(m.content) || !optString(m.refusal))
      return false;
    if (!optObject(m.audio, (a) => optString(a.transcript))) return false;
    if (
      !optArray(
        m.tool_calls,
        (t) =>
          isObject(t) &&
          optString(t.id) &&
          t.type === "function" &&
          isObject(t.function) &&
          typeof t.function.name === "string" &&
          typeof t.function.arguments === "string",
      )
    )
      return false;
    if (
      !optArray(
        m.annotations,
        (a) =>
          isObject(a) &&
          a.type === "url_citation" &&
          isObject(a.url_citation) &&
          typeof a.url_citation.start_index === "number" &&
          typeof a.url_citation.end_index === "number" &&
          typeof a.url_citation.url === "string" &&
          typeof a.url_citation.title === "string",
      )
    )
      return false;
    if (!optObject(c.logprobs, (l) => optArray(l.content, tokenLogprob) && optArray(l.refusal, tokenLogprob)))
      return false;
  }
  return optObject(
    v.usage,
    (u) =>
      optNumber(u.prompt_tokens) &&
      optNumber(u.completion_tokens) &&
      optNumber(u.total_tokens) &&
      optObject(
        u.prompt_tokens_details,
        (d) => optNumber(d.cached_tokens) && optNumber(d.cache_write_tokens),
      ) &&
      optObject(
        u.completion_tokens_details,
        (d) =>
          optNumber(d.reasoning_tokens) &&
          optNumber(d.accepted_prediction_tokens) &&
          optNumber(d.rejected_prediction_tokens),
      ),
  );
}

/** The error body's message as the adapter's error handler reads it, else the status text. */
function errorMessage(text: string, statusText: string): string {
  if (text.trim() === "") return statusText;
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } };
    if (hasForbiddenKey(parsed)) return statusText;
    const m = isObject(parsed) && isObject(parsed.error) ? parsed.error.message : undefined;
    return typeof m === "string" ? m : statusText;
  } catch {
    return statusText;
  }
}

/**
 * One chat completion. Throws what the SDK's adapter would throw (an APICallError, an abort
 * reason, or an error with the adapter's message) for `toProviderError` to classify, or
 * `Redirected`.
 */
export async function leanChat(r: LeanChatRequest): Promise<ChatResult> {
  const url = `${r.baseURL}/chat/completions`;
  const body = bodyOf(r);
  const res = await post(r, url, body);
  if (res.status < 200 || res.status > 299) {
    throw new APICallError({
      message: errorMessage(res.text, res.statusText),
      url,
      requestBodyValues: JSON.parse(body) as unknown,
      statusCode: res.status,
      responseHeaders: res.headers,
      responseBody: res.text,
    });
  }
  let value: unknown;
  let parsed = false;
  try {
    value = JSON.parse(res.text);
    parsed = !hasForbiddenKey(value) && validResponse(value);
  } catch {
    parsed = false;
  }
  if (!parsed) {
    throw new APICallError({
      message: "Invalid JSON response",
      statusCode: res.status,
      responseHeaders: res.headers,
      responseBody: res.text,
      url,
      requestBodyValues: JSON.parse(body) as unknown,
    });
  }
  const response = value as ChatResponse;
  const choice = response.choices[0];
  if (choice === undefined) {
    const e = new Error("Response did not contain any choices.");
    e.name = "AI_InvalidResponseDataError";
    throw e;
  }
  const m = choice.message;
  let text = "";
  const content =
    m.content !== null && m.content !== undefined && m.content.length > 0 ? m.content : m.audio?.transcript;
  if (content !== null && content !== undefined && content.length > 0) text += content;
  if (m.refusal !== null && m.refusal !== undefined && m.refusal.length > 0) text += m.refusal;
  const lp = choice.logprobs;
  const tokens =
    !isNullish(lp?.content) || !isNullish(lp?.refusal)
      ? [...(lp?.content ?? []), ...(lp?.refusal ?? [])]
      : undefined;
  const usage = response.usage;
  return {
    choice: {
      text,
      // The SDK reports the raw reason, else its unified one ("other" for none).
      finishReason: choice.finish_reason ?? "other",
      ...(tokens
        ? {
            logprobs: tokens.map((t) => ({
              token: t.token,
              logprob: t.logprob,
              top: t.top_logprobs.map((a) => ({ token: a.token, logprob: a.logprob })),
            })),
          }
        : {}),
    },
    raw: value,
    inputTokens: usage?.prompt_tokens ?? 0,
    outputTokens: usage?.completion_tokens ?? 0,
    modelVersion: response.model ?? undefined,
    rateLimit: rateLimitFromHeaders(res.headers),
    warnings: [],
  };
}

interface LogprobToken {
  token: string;
  logprob: number;
  top_logprobs: { token: string; logprob: number }[];
}

interface ChatResponse {
  model?: string | null;
  choices: {
    message: {
      content?: string | null;
      refusal?: string | null;
      audio?: { transcript?: string | null } | null;
    };
    logprobs?: { content?: LogprobToken[] | null; refusal?: LogprobToken[] | null } | null;
    finish_reason?: string | null;
  }[];
  usage?: { prompt_tokens?: number | null; completion_tokens?: number | null } | null;
}
