import { describe, expect, it } from "vitest";
import { tCritical975, wilson } from "./summary.js";

describe("summary statistics", () => {
  it("gives Student t quantiles close to published values", () => {
    expect(tCritical975(1)).toBeCloseTo(12.706, 3);
    expect(tCritical975(10)).toBeCloseTo(2.228, 3);
    expect(tCritical975(40)).toBeCloseTo(2.021, 2);
    expect(tCritical975(120)).toBeCloseTo(1.98, 2);
    expect(tCritical975(100000)).toBeCloseTo(1.96, 2);
  });

  it("computes Wilson intervals", () => {
    const [lo, hi] = wilson(5, 10);
    expect(lo).toBeCloseTo(0.2366, 3);
    expect(hi).toBeCloseTo(0.7634, 3);
    const [lo0, hi0] = wilson(0, 20);
    expect(lo0).toBe(0);
    expect(hi0).toBeCloseTo(0.1611, 3);
  });
});

describe("summarize over a real run", () => {
  it("gives per-cell means with t intervals, rates with Wilson intervals, and JSON fields", async () => {
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { factorial } = await import("../api/factorial.js");
    const { registerMockModel } = await import("../models/mock-model.js");
    const { RunStore } = await import("../store/run-store.js");
    const { summarize, formatSummary } = await import("./summary.js");
    const db = join(mkdtempSync(join(tmpdir(), "silico-summary-")), "s.db");
    // Answers 10, 20, 30 for cell a; 40, 40, 40 for cell b: known means and spreads.
    const seen = new Map<string, number>();
    registerMockModel("summary-numbers", (req) => {
      const text = String(req.messages.at(-1)?.content);
      const n = (seen.get(text) ?? 0) + 1;
      seen.set(text, n);
      return text.includes("a")
        ? `{"x": ${n * 10}, "pick": "${n === 1 ? "yes" : "no"}"}`
        : `{"x": 40, "pick": "yes"}`;
    });
    const records = await factorial("cell {{ c }}", { c: ["a", "b"] }).run({
      model: "mock:summary-numbers",
      parse: "json",
      times: 3,
      store: db,
    });
    expect(records).toHaveLength(6);
    const store = RunStore.open(db);
    try {
      const run = store.getRun("last");
      const result = summarize(store, run);
      const x = result.rows.filter((r) => r.name === "answer.x");
      expect(x.map((r) => r.group)).toEqual([{ c: "a" }, { c: "b" }]);
      const a = x[0]!;
      expect(a.mean).toBe(20);
      expect(a.sd).toBe(10);
      expect(a.ci?.[0]).toBeCloseTo(20 - 4.303 * (10 / Math.sqrt(3)), 2);
      expect(x[1]?.ci).toEqual([40, 40]);
      const pick = result.rows.find((r) => r.name === "answer.pick" && r.group.c === "a");
      expect(pick?.rates?.map((p) => [p.value, p.count])).toEqual([
        ["no", 2],
        ["yes", 1],
      ]);
      expect(formatSummary(result).join("\n")).toContain("answer.x by c");
      expect(() => summarize(store, run, { by: ["nope"] })).toThrow(/no column "nope"/);
    } finally {
      store.close();
    }
  });
});
