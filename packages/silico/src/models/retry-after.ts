/** Milliseconds to wait, read from rate-limit headers (Retry-After, retry-after-ms, x-ratelimit-reset-*). */
export function retryAfterFromHeaders(headers: Record<string, string> | undefined): number | undefined {
  if (!headers) return undefined;
  const get = (name: string) => headers[name] ?? headers[name.toLowerCase()];
  const ms = get("retry-after-ms");
  if (ms !== undefined && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = get("retry-after");
  if (ra !== undefined) {
    if (/^\s*\d+(\.\d+)?\s*$/.test(ra)) return Math.max(0, Number(ra) * 1000);
    const date = Date.parse(ra);
    if (Number.isFinite(date)) return Math.max(0, date - Date.now());
  }
  // OpenAI-style headers give a reset time per limit. Wait for the limit that is used up (both,
  // when both are); when none says it is used up, the soonest reset is the best guess.
  const limits = (["requests", "tokens"] as const).map((kind) => {
    const reset = get(`x-ratelimit-reset-${kind}`);
    const remaining = get(`x-ratelimit-remaining-${kind}`);
    return {
      resetMs: reset === undefined ? undefined : parseDuration(reset),
      exhausted: remaining !== undefined && Number(remaining.trim()) <= 0,
    };
  });
  const known = limits.filter((l): l is { resetMs: number; exhausted: boolean } => l.resetMs !== undefined);
  if (known.length === 0) return undefined;
  const exhausted = known.filter((l) => l.exhausted);
  if (exhausted.length > 0) return Math.max(...exhausted.map((l) => l.resetMs));
  return Math.min(...known.map((l) => l.resetMs));
}

/** Parses OpenAI-style durations: "1s", "250ms", "6m0s", "1h2m3.5s", or bare seconds. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = "";
  for (let m = re.exec(t); m; m = re.exec(t)) {
    const n = Number(m[1]);
    const unit = m[2];
    total += unit === "ms" ? n : unit === "s" ? n * 1000 : unit === "m" ? n * 60_000 : n * 3_600_000;
    matched += m[0];
  }
  return matched.length === t.length && matched.length > 0 ? total : undefined;
}
