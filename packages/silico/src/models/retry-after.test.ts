import { describe, expect, it } from "vitest";
import { parseDuration, retryAfterFromHeaders } from "./retry-after.js";

describe("retryAfterFromHeaders", () => {
  it("waits for the used-up limit, not the longer of the two reset times", () => {
    // Requests are used up and free again in 2 s; tokens have room but reset in 1 min.
    const requestsOut = {
      "x-ratelimit-remaining-requests": "0",
      "x-ratelimit-reset-requests": "2s",
      "x-ratelimit-remaining-tokens": "5000",
      "x-ratelimit-reset-tokens": "1m0s",
    };
    expect(retryAfterFromHeaders(requestsOut)).toBe(2000);
    const tokensOut = {
      "x-ratelimit-remaining-requests": "12",
      "x-ratelimit-reset-requests": "1m0s",
      "x-ratelimit-remaining-tokens": "0",
      "x-ratelimit-reset-tokens": "250ms",
    };
    expect(retryAfterFromHeaders(tokensOut)).toBe(250);
  });

  it("waits for the later reset when both limits are used up", () => {
    expect(
      retryAfterFromHeaders({
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "2s",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "6m0s",
      }),
    ).toBe(360_000);
  });

  it("takes the soonest reset when no limit says it is used up", () => {
    expect(
      retryAfterFromHeaders({ "x-ratelimit-reset-requests": "3s", "x-ratelimit-reset-tokens": "1.5s" }),
    ).toBe(1500);
    expect(retryAfterFromHeaders({ "x-ratelimit-reset-tokens": "4s" })).toBe(4000);
  });

  it("prefers retry-after-ms, then Retry-After (seconds or a date), over reset headers", () => {
    const resets = { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "9s" };
    expect(retryAfterFromHeaders({ ...resets, "retry-after-ms": "120" })).toBe(120);
    expect(retryAfterFromHeaders({ ...resets, "retry-after": "3" })).toBe(3000);
    const date = new Date(Date.now() + 30_000).toUTCString();
    const ms = retryAfterFromHeaders({ "retry-after": date }) ?? -1;
    expect(ms).toBeGreaterThan(25_000);
    expect(ms).toBeLessThanOrEqual(30_000);
  });

  it("returns nothing without usable headers", () => {
    expect(retryAfterFromHeaders(undefined)).toBeUndefined();
    expect(retryAfterFromHeaders({})).toBeUndefined();
    expect(retryAfterFromHeaders({ "x-ratelimit-remaining-requests": "0" })).toBeUndefined();
    expect(retryAfterFromHeaders({ "x-ratelimit-reset-requests": "soon" })).toBeUndefined();
  });
});

describe("parseDuration", () => {
  it("reads OpenAI-style durations", () => {
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("6m0s")).toBe(360_000);
    expect(parseDuration("1h2m3.5s")).toBe(3_723_500);
    expect(parseDuration("7")).toBe(7000);
    expect(parseDuration("later")).toBeUndefined();
  });
});
