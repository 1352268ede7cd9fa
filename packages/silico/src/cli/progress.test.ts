import { describe, expect, it } from "vitest";
import { fmtDuration, type ProgressState, progressLine } from "./progress.js";

const state = (o: Partial<ProgressState> = {}): ProgressState => ({
  sessionsDone: 0,
  sessionsTotal: 20,
  calls: 0,
  elapsedSeconds: 0,
  cached: 0,
  retries: 0,
  invalid: 0,
  cost: 0,
  costUnknown: false,
  ...o,
});

describe("progressLine", () => {
  it("a 20-session game that made 150 of 400 calls in a minute shows calls, a filled bar and an ETA", () => {
    const line = progressLine(state({ calls: 150, callsTotal: 400, elapsedSeconds: 60 }));
    expect(line).toContain("0/20 sessions");
    expect(line).toContain("150/400 calls");
    expect(line).toContain("ETA 1m40s"); // 250 calls left at 2.5 calls/s
    expect(line.startsWith("████░░░░░░")).toBe(true);
  });

  it("without an expected call count, the ETA follows sessions", () => {
    const line = progressLine(state({ sessionsDone: 5, calls: 50, elapsedSeconds: 10 }));
    expect(line).toContain("50 calls");
    expect(line).toContain("ETA 30s");
    expect(progressLine(state())).toContain("ETA --");
  });

  it("stays within the width with huge counts, dropping the least useful fields first", () => {
    const big = state({
      sessionsDone: 123_456_789,
      sessionsTotal: 999_999_999,
      calls: 1_234_567_890,
      callsTotal: 9_999_999_999,
      elapsedSeconds: 86_400,
      cached: 123_456_789,
      retries: 98_765,
      invalid: 43_210,
      failed: 5,
      cost: 123_456.789,
      costUnknown: true,
    });
    const line = progressLine(big);
    expect([...line].length).toBeLessThanOrEqual(80);
    expect(line).toContain("123456789/999999999 sessions");
    expect(line).toContain("1234567890/9999999999 calls");
    expect(line).not.toContain("cache"); // dropped first
    for (const width of [40, 60, 79]) expect([...progressLine(big, width)].length).toBeLessThanOrEqual(width);
    const small = progressLine(state({ sessionsDone: 3, calls: 3, callsTotal: 20, elapsedSeconds: 1 }));
    expect(small).toContain("ETA 6s"); // 17 calls left at 3 calls/s
    expect(small).toContain("retries 0");
    expect(small).toContain("invalid 0");
    expect(small).toContain("$0.0000");
    expect([...small].length).toBeLessThanOrEqual(80);
  });
});

describe("fmtDuration", () => {
  it("formats seconds, minutes and hours", () => {
    expect(fmtDuration(Number.NaN)).toBe("--");
    expect(fmtDuration(42)).toBe("42s");
    expect(fmtDuration(100)).toBe("1m40s");
    expect(fmtDuration(7260)).toBe("2h01m");
  });
});
