import { rateLimitFromHeaders } from "./rate-limit-headers.js";
import { retryAfterFromHeaders } from "./retry-after.js";
import { redact } from "./secrets.js";
import {
  classifyStatus,
  type ModelInfo,
  type ModelParams,
  type ModelResponse,
  ProviderError,
  type TokenLogprob,
} from "./types.js";

interface CompletionBody {
  choices?: {
    text?: string;
    finish_reason?: string;
    logprobs?: {
      tokens?: string[];
      token_logprobs?: (number | null)[];
      top_logprobs?: (Record<string, number> | null)[] | null;
    } | null;
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
  model?: string;
  error?: { message?: string };
}

/**
 * Text completion (`POST /completions`) sent as is. The AI SDK's completion adapter wraps the
 * prompt in "user:/assistant:" turns, which changes what a base model sees; psycholinguistic
 * completion studies need the exact text, so this one endpoint is called directly.
 */
export async function openAICompletion(args: {
  info: ModelInfo;
  baseURL: string;
  apiKey?: string;
  model: string;
  prompt: string;
  params: ModelParams;
  signal?: AbortSignal;
  fetch?: typeof globalThis.fetch;
}): Promise<ModelResponse> {
  const { params, info } = args;
  const warnings: string[] = [];
  let logprobs: number | undefined;
  if (params.logprobs || (params.topLogprobs ?? 0) > 0) {
    logprobs = Math.max(1, Math.min(5, params.topLogprobs ?? 1));
    if ((params.topLogprobs ?? 0) > 5)
      warnings.push("the completions endpoint returns at most 5 top logprobs; asked for 5");
  }
  if (params.responseSchema) warnings.push("response_schema is not supported in completion mode; not sent");
  const body = {
    model: args.model,
    prompt: args.prompt,
    max_tokens: params.maxTokens ?? 256,
    ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
    ...(params.topP !== undefined ? { top_p: params.topP } : {}),
    ...(params.seed !== undefined ? { seed: params.seed } : {}),
    ...(params.stop?.length ? { stop: params.stop } : {}),
    ...(params.n !== undefined ? { n: params.n } : {}),
    ...(logprobs !== undefined ? { logprobs } : {}),
  };
  let res: Response;
  try {
    res = await (args.fetch ?? fetch)(`${args.baseURL.replace(/\/+$/, "")}/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(args.apiKey ? { authorization: `Bearer ${args.apiKey}` } : {}),
      },
      body: JSON.stringify(body),
      ...(args.signal ? { signal: args.signal } : {}),
    });
  } catch (e) {
    const err = e as Error;
    if (err.name === "AbortError" || err.name === "TimeoutError") {
      throw new ProviderError(`${info.id}: request timed out or was aborted`, { retryable: true });
    }
    throw new ProviderError(
      redact(`${info.id}: ${err.message}${err.cause ? ` (${(err.cause as Error).message})` : ""}`),
      {
        retryable: true,
      },
    );
  }
  const text = await res.text().catch(() => "");
  if (!res.ok) {
    const { retryable, fatal } = classifyStatus(res.status);
    let detail = text.slice(0, 300);
    try {
      detail = (JSON.parse(text) as CompletionBody).error?.message ?? detail;
    } catch {
      // not JSON: keep the start of the body
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      headers[k] = v;
    });
    const retryAfterMs = retryAfterFromHeaders(headers);
    const rateLimit = rateLimitFromHeaders(headers);
    const keyHint = fatal && info.keyEnv ? ` — check the key in ${info.keyEnv}` : "";
    throw new ProviderError(redact(`${info.id}: HTTP ${res.status}: ${detail}${keyHint}`), {
      status: res.status,
      retryable,
      fatal,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(rateLimit ? { rateLimit } : {}),
    });
  }
  const rateLimit = rateLimitFromHeaders(res.headers);
  let parsed: CompletionBody;
  try {
    parsed = JSON.parse(text) as CompletionBody;
  } catch {
    throw new ProviderError(`${info.id}: the server's answer is not JSON`, { retryable: true });
  }
  return {
    choices: (parsed.choices ?? []).map((c) => ({
      text: c.text ?? "",
      finishReason: c.finish_reason ?? "unknown",
      ...(c.logprobs?.tokens ? { logprobs: legacyLogprobs(c.logprobs) } : {}),
    })),
    usage: {
      inputTokens: parsed.usage?.prompt_tokens ?? 0,
      outputTokens: parsed.usage?.completion_tokens ?? 0,
    },
    raw: parsed,
    warnings,
    ...(parsed.model ? { modelVersion: parsed.model } : {}),
    ...(rateLimit ? { rateLimit } : {}),
  };
}

function legacyLogprobs(
  lp: NonNullable<NonNullable<CompletionBody["choices"]>[number]["logprobs"]>,
): TokenLogprob[] {
  return (lp.tokens ?? []).map((token, i) => {
    const top = lp.top_logprobs?.[i];
    return {
      token,
      logprob: lp.token_logprobs?.[i] ?? Number.NaN,
      ...(top ? { top: Object.entries(top).map(([t, l]) => ({ token: t, logprob: l })) } : {}),
    };
  });
}
