import { parseDuration } from "./retry-after.js";

/**
 * What a provider's rate-limit headers say about the limits in force: OpenAI-style
 * `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (reset as "1s", "250ms", "6m0s") and
 * Anthropic's `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}` (reset as a time).
 * Limits are per minute. Fields a provider does not send stay undefined.
 */
export interface RateLimitInfo {
  limitRequests?: number;
  remainingRequests?: number;
  resetRequestsMs?: number;
  limitTokens?: number;
  remainingTokens?: number;
  resetTokensMs?: number;
}

type HeaderSource = Record<string, string | undefined> | Headers | undefined;

export function rateLimitFromHeaders(headers: HeaderSource, now = Date.now()): RateLimitInfo | undefined {
  if (!headers) return undefined;
  const get = (name: string): string | undefined =>
    headers instanceof Headers ? (headers.get(name) ?? undefined) : (headers[name] ?? undefined);
  const num = (v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v.trim());
    return Number.isFinite(n) ? n : undefined;
  };
  const reset = (v: string | undefined) => {
    if (v === undefined) return undefined;
    const d = parseDuration(v);
    if (d !== undefined) return d;
    const t = Date.parse(v);
    return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
  };
  const info: RateLimitInfo = {};
  for (const kind of ["requests", "tokens"] as const) {
    const K = kind === "requests" ? "Requests" : "Tokens";
    const limit = num(get(`x-ratelimit-limit-${kind}`) ?? get(`anthropic-ratelimit-${kind}-limit`));
    const remaining = num(
      get(`x-ratelimit-remaining-${kind}`) ?? get(`anthropic-ratelimit-${kind}-remaining`),
    );
    const resetMs = reset(get(`x-ratelimit-reset-${kind}`) ?? get(`anthropic-ratelimit-${kind}-reset`));
    if (limit !== undefined) info[`limit${K}`] = limit;
    if (remaining !== undefined) info[`remaining${K}`] = remaining;
    if (resetMs !== undefined) info[`reset${K}Ms`] = resetMs;
  }
  return Object.keys(info).length > 0 ? info : undefined;
}
