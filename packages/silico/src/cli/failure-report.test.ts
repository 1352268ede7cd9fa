import { describe, expect, it } from "vitest";
import type { RunTotals } from "../engine/executor.js";
import type { RunResult } from "../engine/run-study.js";
import { failureReportLines } from "./failure-report.js";

function result(t: Partial<RunTotals>, status: RunResult["status"] = "partial"): RunResult {
  return {
    runId: "RUN",
    status,
    warnings: [],
    totals: {
      sessions: 10,
      done: 0,
      invalid: 0,
      failed: 0,
      skipped: 0,
      pending: 0,
      calls: 0,
      cacheHits: 0,
      retries: 0,
      invalidAnswers: 0,
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
      costKnown: true,
      ...t,
    },
  };
}

describe("failureReportLines", () => {
  it("permanent failures beside invalid answers: retry for the invalid ones, a new run for the rest", () => {
    const lines = failureReportLines(
      result({
        done: 5,
        invalid: 2,
        failed: 3,
        failureReasons: [{ reason: "m: HTTP 400: bad max_tokens", kind: "permanent", count: 3 }],
      }),
    );
    expect(lines).toContain("    3 × m: HTTP 400: bad max_tokens (permanent: a retry repeats it)");
    expect(lines).toContain("  finish with: silico resume RUN --retry-failed");
    expect(lines.at(-1)).toMatch(/^ {2}3 sessions failed for a reason a retry would repeat/);
  });

  it("only permanent failures but sessions not run yet: resume without --retry-failed", () => {
    const lines = failureReportLines(
      result({ failed: 2, pending: 4, failureReasons: [{ reason: "x", kind: "permanent", count: 2 }] }),
    );
    expect(lines).toContain("  finish with: silico resume RUN");
    expect(lines.join("\n")).not.toContain("--retry-failed");
  });

  it("lists the five most frequent reasons and sums up the rest", () => {
    const reasons = Array.from({ length: 7 }, (_, i) => ({
      reason: `r${i}`,
      kind: "transient" as const,
      count: 10 - i,
    }));
    const lines = failureReportLines(result({ failed: 49, failureReasons: reasons }, "failed"));
    expect(lines.filter((l) => / × r\d/.test(l))).toHaveLength(5);
    expect(lines).toContain("    … and 2 more reasons (9 sessions)");
    expect(lines).toContain("  finish with: silico resume RUN --retry-failed");
  });

  it("says nothing more for a finished run", () => {
    expect(failureReportLines(result({ done: 10 }, "done"))).toEqual([]);
  });
});
