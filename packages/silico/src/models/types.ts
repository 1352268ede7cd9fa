import type { RateLimitInfo } from "./rate-limit-headers.js";
import { SilicoError } from "../errors.js";

export type Role = "system" | "user" | "assistant";

export type ContentPart =
  | { type: "text"; text: string }
  | { type: "image"; data?: string; mediaType?: string; url?: string; detail?: "auto" | "low" | "high" };

export interface Message {
  role: Role;
  content: string | ContentPart[];
}

/** Request parameters common to every provider. Anything a provider cannot honour becomes a warning. */
export interface ModelParams {
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  seed?: number;
  stop?: string[];
  n?: number;
  logprobs?: boolean;
  topLogprobs?: number;
  /** JSON Schema the answer must follow (provider-native structured output where supported). */
  responseSchema?: Record<string, unknown>;
  /** Request timeout for one attempt. */
  timeoutMs?: number;
}

/**
 * What a parser knows about the shape of a valid answer. Providers that can constrain decoding
 * (the local model's grammars) use it; others ignore it.
 */
export type OutputConstraint =
  | { type: "choice"; options: string[] }
  | { type: "number"; integer?: boolean; min?: number; max?: number }
  | { type: "json"; schema?: Record<string, unknown> };

export interface ModelRequest {
  messages: Message[];
  params: ModelParams;
  /** chat (default) or plain text completion of the rendered prompt. */
  mode?: "chat" | "completion";
  constraint?: OutputConstraint;
  signal?: AbortSignal;
  /** Who is asked (session key, participant id, role): for a human at the terminal and for logs; never sent to a provider. */
  participant?: { session: string; id: string; role?: string };
}

export interface TokenLogprob {
  token: string;
  logprob: number;
  top?: { token: string; logprob: number }[];
}

export interface ModelChoice {
  text: string;
  finishReason: string;
  logprobs?: TokenLogprob[];
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface ModelResponse {
  choices: ModelChoice[];
  usage?: Usage;
  /** The provider's response body (or the closest thing to it), for the record. Never contains keys. */
  raw?: unknown;
  /** Settings the provider could not honour, and similar notes. Stored on the call. */
  warnings: string[];
  /** True when decoding was constrained to the parser's shape. */
  constrained?: boolean;
  /** The exact model the provider reports having used, when it says. */
  modelVersion?: string;
  /**
   * What the provider's rate-limit headers said, for the executor's limiter. Never stored: the
   * executor takes it off before the response is recorded or cached.
   */
  rateLimit?: RateLimitInfo;
}

export interface ModelInfo {
  /** Full id, e.g. "openai:gpt-4o-mini". */
  id: string;
  provider: string;
  /** Name of the environment variable holding this provider's key, if it needs one. */
  keyEnv?: string;
  /** Extra facts to put in the run manifest (e.g. the local model file's hash). */
  manifest?: Record<string, unknown>;
  /**
   * What the answers depend on beyond the request (for the local model: the file's hash, the
   * runtime and the decode settings that change the numbers). Part of the cache key, so a call is
   * never answered from the cache with an answer made under other settings.
   */
  cacheScope?: Record<string, unknown>;
  /** The provider's capabilities (filled in by the model pool when the model does not say). */
  capabilities?: import("./providers.js").ProviderCapabilities;
}

export interface Model {
  readonly info: ModelInfo;
  generate(request: ModelRequest): Promise<ModelResponse>;
  /** Release resources (loaded weights, sockets). Called once at the end of a run. */
  close?(): Promise<void>;
}

/**
 * A provider failure. `status` is the HTTP status when there was one. Retryable failures
 * (timeouts, connection errors, 408/409/429/5xx) are retried by the executor; `fatal` ones
 * (401/403) stop the whole run.
 */
export class ProviderError extends SilicoError {
  readonly status?: number;
  readonly retryAfterMs?: number;
  /** The rate-limit headers of the failed response (a 429's say which limit is used up). */
  readonly rateLimit?: RateLimitInfo;
  readonly fatal: boolean;
  constructor(
    message: string,
    options: {
      status?: number;
      retryable: boolean;
      retryAfterMs?: number;
      rateLimit?: RateLimitInfo;
      fatal?: boolean;
      cause?: unknown;
    },
  ) {
    super(
      options.fatal ? "provider_auth" : options.retryable ? "provider_transient" : "provider_error",
      message,
      { retryable: options.retryable, cause: options.cause },
    );
    this.name = "ProviderError";
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    if (options.rateLimit) this.rateLimit = options.rateLimit;
    this.fatal = options.fatal ?? false;
  }
}

/** Classify an HTTP status the way the executor needs it. */
export function classifyStatus(status: number): { retryable: boolean; fatal: boolean } {
  if (status === 401 || status === 403) return { retryable: false, fatal: true };
  if (status === 408 || status === 409 || status === 429 || status >= 500)
    return { retryable: true, fatal: false };
  return { retryable: false, fatal: false };
}
