import { describe, expect, it } from "vitest";
import { rateLimitFromHeaders } from "./rate-limit-headers.js";

describe("rateLimitFromHeaders", () => {
  it("reads OpenAI's x-ratelimit-* headers, durations included", () => {
    expect(
      rateLimitFromHeaders({
        "x-ratelimit-limit-requests": "5000",
        "x-ratelimit-remaining-requests": "4999",
        "x-ratelimit-reset-requests": "12ms",
        "x-ratelimit-limit-tokens": "160000",
        "x-ratelimit-remaining-tokens": "159000",
        "x-ratelimit-reset-tokens": "6m0s",
      }),
    ).toEqual({
      limitRequests: 5000,
      remainingRequests: 4999,
      resetRequestsMs: 12,
      limitTokens: 160000,
      remainingTokens: 159000,
      resetTokensMs: 360_000,
    });
  });

  it("reads Anthropic's headers, whose reset is a time, from a Headers object", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    const h = new Headers({
      "anthropic-ratelimit-requests-limit": "50",
      "anthropic-ratelimit-requests-remaining": "0",
      "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:02Z",
    });
    expect(rateLimitFromHeaders(h, now)).toEqual({
      limitRequests: 50,
      remainingRequests: 0,
      resetRequestsMs: 2000,
    });
  });

  it("is undefined without rate-limit headers, and ignores values that are not numbers", () => {
    expect(rateLimitFromHeaders({ "content-type": "application/json" })).toBeUndefined();
    expect(rateLimitFromHeaders(undefined)).toBeUndefined();
    expect(
      rateLimitFromHeaders({ "x-ratelimit-limit-requests": "lots", "x-ratelimit-reset-requests": "soon" }),
    ).toBeUndefined();
  });
});
