import { createAnthropic } from "@ai-sdk/anthropic";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenRouter } from "@openrouter/ai-sdk-provider";
import { APICallError, generateText, jsonSchema, type LanguageModel, type ModelMessage, Output } from "ai";
import { nodeHttpFetch } from "./node-http-fetch.js";
import { leanChat, leanChatEligible, Redirected } from "./openai-chat-http.js";
import { openAICompletion } from "./openai-completions.js";
import { type RateLimitInfo, rateLimitFromHeaders } from "./rate-limit-headers.js";
import { retryAfterFromHeaders } from "./retry-after.js";
import { redact } from "./secrets.js";
import {
  classifyStatus,
  type Message,
  type Model,
  type ModelInfo,
  type ModelRequest,
  type ModelResponse,
  ProviderError,
  type TokenLogprob,
} from "./types.js";

// The AI SDK prints each call's warnings with console.warn, which interleaves with a person's
// prompts at the terminal and repeats once per call. silico keeps them as data on every call
// instead (ModelResponse.warnings). A program that set its own logger keeps it.
const sdkGlobals = globalThis as { AI_SDK_LOG_WARNINGS?: unknown };
if (sdkGlobals.AI_SDK_LOG_WARNINGS === undefined) sdkGlobals.AI_SDK_LOG_WARNINGS = false;

/** The provider-level model interface (LanguageModelV3) of the OpenAI adapter. */
type DirectModel = ReturnType<ReturnType<typeof createOpenAI>["chat"]>;
type DirectCallOptions = Parameters<DirectModel["doGenerate"]>[0];

export type AiSdkFlavour = "openai" | "anthropic" | "google" | "openrouter" | "openai-compatible";

export interface AiSdkModelOptions {
  flavour: AiSdkFlavour;
  /** Full id as written in the study, e.g. "openai:gpt-4o" or "vllm:meta-llama/x". */
  id: string;
  modelName: string;
  apiKey?: string;
  keyEnv?: string;
  baseURL?: string;
  /** Replaces the HTTP client (the library's `fetch` option). */
  fetch?: typeof globalThis.fetch;
}

/** A model reached through the Vercel AI SDK. The SDK's own retries are off: the executor retries. */
export class AiSdkModel implements Model {
  readonly info: ModelInfo;
  private chatModel?: LanguageModel;

  constructor(private readonly opts: AiSdkModelOptions) {
    this.info = {
      id: opts.id,
      provider: opts.flavour,
      ...(opts.keyEnv ? { keyEnv: opts.keyEnv } : {}),
      ...(opts.baseURL ? { manifest: { baseURL: opts.baseURL } } : {}),
    };
  }

  /** The chat model; completion mode never gets here (see openAICompletion). */
  private languageModel(): LanguageModel {
    if (this.chatModel) return this.chatModel;
    const { flavour, modelName, apiKey, baseURL } = this.opts;
    const fetch = this.opts.fetch;
    let model: LanguageModel;
    if (flavour === "openai" || flavour === "openai-compatible") {
      // The OpenAI adapter on a custom base URL speaks Chat/Completions to any compatible server
      // and, unlike the generic adapter, passes logprobs and n-free settings through.
      const p = createOpenAI({
        apiKey: apiKey ?? "not-needed",
        ...(baseURL ? { baseURL } : {}),
        fetch: fetch ?? nodeHttpFetch,
      });
      model = p.chat(modelName);
    } else if (flavour === "openrouter") {
      model = createOpenRouter({ apiKey, ...(baseURL ? { baseURL } : {}), ...(fetch ? { fetch } : {}) }).chat(
        modelName,
      );
    } else if (flavour === "anthropic") {
      model = createAnthropic({ apiKey, ...(baseURL ? { baseURL } : {}), ...(fetch ? { fetch } : {}) })(
        modelName,
      );
    } else {
      model = createGoogleGenerativeAI({
        apiKey,
        ...(baseURL ? { baseURL } : {}),
        ...(fetch ? { fetch } : {}),
      })(modelName);
    }
    this.chatModel = model;
    return model;
  }

  async generate(request: ModelRequest): Promise<ModelResponse> {
    const mode = request.mode ?? "chat";
    const { params } = request;
    const warnings: string[] = [];
    const n = params.n ?? 1;
    if (mode === "completion") {
      if (this.opts.flavour === "anthropic" || this.opts.flavour === "google") {
        throw new ProviderError(`${this.opts.id}: ${this.opts.flavour} has no text-completion endpoint`, {
          retryable: false,
        });
      }
      const baseURL =
        this.opts.baseURL ??
        (this.opts.flavour === "openrouter" ? "https://openrouter.ai/api/v1" : "https://api.openai.com/v1");
      const signal = combineSignals(request.signal, params.timeoutMs);
      return openAICompletion({
        info: this.info,
        baseURL,
        ...(this.opts.apiKey ? { apiKey: this.opts.apiKey } : {}),
        ...(this.opts.fetch ? { fetch: this.opts.fetch } : {}),
        model: this.opts.modelName,
        prompt: completionPrompt(request.messages),
        params,
        ...(signal ? { signal } : {}),
      });
    }
    if (n > 1)
      warnings.push(`n=${n} sent as ${n} separate requests (the AI SDK returns one choice per request)`);
    const providerOptions: Record<string, Record<string, unknown>> = {};
    const wantsLogprobs = params.logprobs || (params.topLogprobs ?? 0) > 0;
    if (wantsLogprobs) {
      if (this.opts.flavour === "openai" || this.opts.flavour === "openai-compatible") {
        providerOptions.openai = {
          logprobs: params.topLogprobs && params.topLogprobs > 0 ? params.topLogprobs : true,
        };
      } else if (this.opts.flavour === "openrouter") {
        providerOptions.openrouter = {
          logprobs: params.topLogprobs && params.topLogprobs > 0 ? params.topLogprobs : true,
        };
      } else {
        warnings.push(`logprobs are not available from ${this.opts.flavour}; none recorded`);
      }
    }

    const base = {
      model: this.languageModel(),
      maxRetries: 0,
      ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
      ...(params.topP !== undefined ? { topP: params.topP } : {}),
      ...(params.maxTokens !== undefined ? { maxOutputTokens: params.maxTokens } : {}),
      ...(params.seed !== undefined ? { seed: params.seed } : {}),
      ...(params.stop && params.stop.length > 0 ? { stopSequences: params.stop } : {}),
      ...(Object.keys(providerOptions).length > 0 ? { providerOptions: providerOptions as never } : {}),
      ...(params.responseSchema
        ? { output: Output.object({ schema: jsonSchema(params.responseSchema) }) }
        : {}),
    };
    const signal = combineSignals(request.signal, params.timeoutMs);
    const choices: ModelResponse["choices"] = [];
    const raws: unknown[] = [];
    let inputTokens = 0;
    let outputTokens = 0;
    let modelVersion: string | undefined;
    let rateLimit: RateLimitInfo | undefined;
    const direct = this.directModel(request.messages);
    const lean = direct !== undefined && this.leanBaseURL(request.messages, params);
    for (let i = 0; i < n; i++) {
      const seed = params.seed !== undefined && i > 0 ? { seed: params.seed + i } : {};
      if (direct) {
        const one =
          (lean ? await this.generateLean(lean, request.messages, params, signal, seed.seed) : undefined) ??
          (await this.generateDirect(direct, request.messages, params, providerOptions, signal, seed.seed));
        choices.push(one.choice);
        raws.push(one.raw);
        inputTokens += one.inputTokens;
        outputTokens += one.outputTokens;
        modelVersion = one.modelVersion ?? modelVersion;
        rateLimit = one.rateLimit ?? rateLimit;
        if (i === 0) warnings.push(...one.warnings);
        continue;
      }
      let result: Awaited<ReturnType<typeof generateText>>;
      try {
        result = await generateText({
          ...base,
          ...seed,
          messages: toModelMessages(request.messages),
          // silico's system messages are the study author's, not injected text; without this the
          // SDK prints a warning on every call.
          allowSystemInMessages: true,
          ...(signal ? { abortSignal: signal } : {}),
        } as Parameters<typeof generateText>[0]);
      } catch (e) {
        throw toProviderError(e, this.info);
      }
      const meta = result.providerMetadata as Record<string, Record<string, unknown>> | undefined;
      choices.push({
        text: result.text,
        finishReason: result.rawFinishReason ?? result.finishReason,
        ...extractLogprobs(meta),
      });
      raws.push(result.response.body ?? null);
      inputTokens += result.usage.inputTokens ?? 0;
      outputTokens += result.usage.outputTokens ?? 0;
      modelVersion = result.response.modelId;
      rateLimit = rateLimitFromHeaders(result.response.headers) ?? rateLimit;
      for (const w of result.warnings ?? []) {
        const text = describeWarning(w);
        if (i === 0) warnings.push(text);
      }
    }
    return {
      choices,
      usage: { inputTokens, outputTokens },
      raw: n === 1 ? raws[0] : raws,
      warnings,
      ...(modelVersion ? { modelVersion } : {}),
      ...(rateLimit ? { rateLimit } : {}),
    };
  }

  /**
   * The OpenAI adapters are called at the provider level (`doGenerate`) for text-only
   * conversations: `generateText` re-validates every prompt with zod and wraps the call in
   * telemetry and step machinery, which costs more CPU than the HTTP call itself. Images (whose
   * URLs `generateText` may need to download) and other providers keep the `generateText` path.
   */
  private directModel(messages: Message[]): DirectModel | undefined {
    if (this.opts.flavour !== "openai" && this.opts.flavour !== "openai-compatible") return undefined;
    if (messages.some((m) => typeof m.content !== "string" && m.content.some((p) => p.type !== "text")))
      return undefined;
    const model = this.languageModel() as DirectModel;
    return model.specificationVersion === "v3" ? model : undefined;
  }

  /**
   * The base URL for the lean Chat/Completions client (openai-chat-http.ts) when this request can
   * take it: the OpenAI adapters with silico's own HTTP client (a fetch the caller supplied is
   * always used), and a request whose body the adapter would send unchanged.
   */
  private leanBaseURL(messages: Message[], params: ModelRequest["params"]): string | false {
    const { flavour, fetch, modelName } = this.opts;
    if ((flavour !== "openai" && flavour !== "openai-compatible") || fetch !== undefined) return false;
    if (!leanChatEligible(modelName, messages, params)) return false;
    // Where createOpenAI sends it: the base URL given, else OPENAI_BASE_URL, without a trailing slash.
    this.leanBase ??= (() => {
      const base = this.opts.baseURL ?? process.env.OPENAI_BASE_URL;
      if (base === undefined) return "https://api.openai.com/v1";
      return base.endsWith("/") ? base.slice(0, -1) : base;
    })();
    return this.leanBase;
  }

  private leanBase: string | undefined;

  /** One request through the lean client; undefined when the server redirected (the SDK follows). */
  private async generateLean(
    baseURL: string,
    messages: Message[],
    params: ModelRequest["params"],
    signal: AbortSignal | undefined,
    seedOverride: number | undefined,
  ) {
    try {
      return await leanChat({
        info: this.info,
        baseURL,
        apiKey: this.opts.apiKey ?? "not-needed",
        modelName: this.opts.modelName,
        messages,
        params,
        seed: seedOverride ?? params.seed,
        signal,
      });
    } catch (e) {
      if (e instanceof Redirected) return undefined;
      throw toProviderError(e, this.info);
    }
  }

  private async generateDirect(
    model: DirectModel,
    messages: Message[],
    params: ModelRequest["params"],
    providerOptions: Record<string, Record<string, unknown>>,
    signal: AbortSignal | undefined,
    seedOverride: number | undefined,
  ) {
    const seed = seedOverride ?? params.seed;
    const options: DirectCallOptions = {
      prompt: toProviderPrompt(messages),
      ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
      ...(params.topP !== undefined ? { topP: params.topP } : {}),
      ...(params.maxTokens !== undefined ? { maxOutputTokens: params.maxTokens } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(params.stop && params.stop.length > 0 ? { stopSequences: params.stop } : {}),
      ...(Object.keys(providerOptions).length > 0 ? { providerOptions: providerOptions as never } : {}),
      ...(params.responseSchema
        ? { responseFormat: { type: "json" as const, schema: params.responseSchema as never } }
        : {}),
      ...(signal ? { abortSignal: signal } : {}),
    };
    let result: Awaited<ReturnType<DirectModel["doGenerate"]>>;
    try {
      result = await model.doGenerate(options);
    } catch (e) {
      throw toProviderError(e, this.info);
    }
    let text = "";
    for (const part of result.content) if (part.type === "text") text += part.text;
    return {
      choice: {
        text,
        finishReason: result.finishReason.raw ?? result.finishReason.unified,
        ...extractLogprobs(result.providerMetadata as Record<string, Record<string, unknown>> | undefined),
      },
      raw: result.response?.body ?? null,
      inputTokens: result.usage.inputTokens.total ?? 0,
      outputTokens: result.usage.outputTokens.total ?? 0,
      modelVersion: result.response?.modelId,
      rateLimit: rateLimitFromHeaders(result.response?.headers),
      warnings: (result.warnings ?? []).map(describeWarning),
    };
  }
}

function describeWarning(w: unknown): string {
  const o = w as { type?: string; setting?: string; feature?: string; details?: string; message?: string };
  if (o.type === "unsupported-setting" || o.type === "unsupported") {
    return `setting not supported by the provider: ${o.setting ?? o.feature ?? "?"}${o.details ? ` (${o.details})` : ""}`;
  }
  return o.message ?? o.details ?? JSON.stringify(w);
}

/** Text-only messages in the provider-level prompt format (what `generateText` would produce). */
function toProviderPrompt(messages: Message[]): DirectCallOptions["prompt"] {
  return messages.map((m): DirectCallOptions["prompt"][number] => {
    const text =
      typeof m.content === "string"
        ? m.content
        : m.content.map((p) => (p.type === "text" ? p.text : "")).join("");
    if (m.role === "system") return { role: "system", content: text };
    return { role: m.role, content: [{ type: "text", text }] };
  });
}

function toModelMessages(messages: Message[]): ModelMessage[] {
  return messages.map((m): ModelMessage => {
    if (typeof m.content === "string" || m.role !== "user") {
      const text =
        typeof m.content === "string"
          ? m.content
          : m.content.map((p) => (p.type === "text" ? p.text : "")).join("");
      return { role: m.role, content: text } as ModelMessage;
    }
    return {
      role: "user",
      content: m.content.map((p) =>
        p.type === "text"
          ? { type: "text" as const, text: p.text }
          : p.url
            ? { type: "image" as const, image: new URL(p.url) }
            : {
                type: "image" as const,
                image: p.data ?? "",
                ...(p.mediaType ? { mediaType: p.mediaType } : {}),
              },
      ),
    } as ModelMessage;
  });
}

/** Completion mode sends the conversation's text as one prompt; see README "Text-completion mode". */
export function completionPrompt(messages: Message[]): string {
  return messages
    .map((m) =>
      typeof m.content === "string"
        ? m.content
        : m.content.map((p) => (p.type === "text" ? p.text : "")).join(""),
    )
    .join("");
}

function extractLogprobs(meta: Record<string, Record<string, unknown>> | undefined): {
  logprobs?: TokenLogprob[];
} {
  const lp = meta?.openai?.logprobs ?? meta?.openrouter?.logprobs;
  if (!lp) return {};
  if (Array.isArray(lp)) {
    return {
      logprobs: (
        lp as { token: string; logprob: number; top_logprobs?: { token: string; logprob: number }[] }[]
      ).map((t) => ({
        token: t.token,
        logprob: t.logprob,
        ...(t.top_logprobs
          ? { top: t.top_logprobs.map((a) => ({ token: a.token, logprob: a.logprob })) }
          : {}),
      })),
    };
  }
  const c = lp as {
    tokens?: string[];
    token_logprobs?: number[];
    top_logprobs?: Record<string, number>[] | null;
  };
  if (c.tokens && c.token_logprobs) {
    return {
      logprobs: c.tokens.map((token, i) => ({
        token,
        logprob: c.token_logprobs?.[i] ?? Number.NaN,
        ...(c.top_logprobs?.[i]
          ? {
              top: Object.entries(c.top_logprobs[i] as Record<string, number>).map(([t, l]) => ({
                token: t,
                logprob: l,
              })),
            }
          : {}),
      })),
    };
  }
  return {};
}

function combineSignals(
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
): AbortSignal | undefined {
  const signals = [signal, timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined].filter(
    (s): s is AbortSignal => s !== undefined,
  );
  if (signals.length === 0) return undefined;
  return signals.length === 1 ? signals[0] : AbortSignal.any(signals);
}

export function toProviderError(e: unknown, info: ModelInfo): ProviderError {
  if (e instanceof ProviderError) return e;
  if (APICallError.isInstance(e)) {
    const status = e.statusCode;
    const detail = providerMessage(e.responseBody) ?? e.message;
    if (status !== undefined) {
      const { retryable, fatal } = classifyStatus(status);
      const keyHint =
        fatal && info.keyEnv
          ? ` — check the key in ${info.keyEnv}`
          : fatal
            ? " — the server refused the credentials"
            : "";
      const retryAfterMs = retryAfterFromHeaders(e.responseHeaders);
      const rateLimit = rateLimitFromHeaders(e.responseHeaders);
      return new ProviderError(redact(`${info.id}: HTTP ${status}: ${detail}${keyHint}`), {
        status,
        retryable,
        fatal,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        ...(rateLimit ? { rateLimit } : {}),
      });
    }
    return new ProviderError(redact(`${info.id}: ${detail}`), { retryable: true });
  }
  const err = e as Error & { name?: string; cause?: unknown };
  const name = err?.name ?? "";
  if (name === "AbortError" || name === "TimeoutError") {
    return new ProviderError(`${info.id}: request timed out or was aborted`, { retryable: true });
  }
  // Connection resets and refused connections surface as TypeError("fetch failed") or as
  // AI SDK retry/response errors wrapping them; all of them may succeed on a later attempt.
  const text = `${err?.message ?? String(e)}${err?.cause ? ` (${(err.cause as Error).message ?? err.cause})` : ""}`;
  const transient =
    /fetch failed|socket|ECONNRESET|ECONNREFUSED|EPIPE|terminated|other side closed|network|Invalid JSON response|empty response/i.test(
      text,
    );
  return new ProviderError(redact(`${info.id}: ${text}`), { retryable: transient });
}

function providerMessage(body: string | undefined): string | undefined {
  if (!body) return undefined;
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string } | string; message?: string };
    if (typeof parsed.error === "string") return parsed.error;
    return parsed.error?.message ?? parsed.message;
  } catch {
    return body.slice(0, 300);
  }
}
