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

describe("summarize clusters game observations by their independent unit", () => {
  const game = (matching: string, groups: number) => `kind: game
name: clustered
seed: 5
groups: ${groups}
rounds: 1
model: mock:cluster-groups
roles:
  player: { count: 3 }
treatments:
  only: {}
${matching}
stages:
  - name: contribute
    as: contribution
    prompt: "How many tokens (0 to 20) do you put in? Respond with a number only."
    parse: { type: number, min: 0, max: 20, integer: true }
`;

  it("widens the interval to the t-interval over group means, and says so", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { compileStudyFile } = await import("../designs/index.js");
    const { startRun } = await import("../engine/run-study.js");
    const { registerMockModel } = await import("../models/mock-model.js");
    const { RunStore } = await import("../store/run-store.js");
    const { summarize, formatSummary, clusteredVariance, tCritical975 } = await import("./summary.js");
    const dir = mkdtempSync(join(tmpdir(), "silico-summary-cluster-"));
    // Each group answers around its own level (2, 4, 10 or 12), its three players at −1, 0, +1:
    // the groups differ far more than the players within them.
    const levels = [2, 4, 10, 12];
    const groupLevel = new Map<string, number>();
    const asked = new Map<string, number>();
    registerMockModel("cluster-groups", (req) => {
      const session = req.participant?.session ?? "";
      if (!groupLevel.has(session))
        groupLevel.set(session, levels[groupLevel.size % levels.length] as number);
      const k = asked.get(session) ?? 0;
      asked.set(session, k + 1);
      return String((groupLevel.get(session) as number) + (k % 3) - 1);
    });
    const store = RunStore.open(join(dir, "s.db"));
    try {
      const file = join(dir, "partner.yaml");
      writeFileSync(file, game("matching: partner", 4));
      await startRun(compileStudyFile(file), { store, concurrency: 1 });
      const result = summarize(store, store.getRun("last"));
      const row = result.rows.find((r) => r.name === "contribution");
      expect(row?.n).toBe(12);
      expect(row?.mean).toBe(7);
      expect(row?.clustered).toEqual({ by: "group", clusters: 4 });
      // By hand: group means 2, 4, 10, 12 (balanced groups, so CR1 is the t-interval over them):
      // sd² = (25 + 9 + 9 + 25) / 3, se = √(sd² / 4), t(3) = 3.182.
      const half = 3.182 * Math.sqrt(68 / 3 / 4);
      expect(row?.ci?.[0]).toBeCloseTo(7 - half, 6);
      expect(row?.ci?.[1]).toBeCloseTo(7 + half, 6);
      // The naive interval treats the 12 answers as independent and is far narrower.
      const naiveHalf = tCritical975(11) * ((row?.sd ?? 0) / Math.sqrt(12));
      expect(naiveHalf).toBeLessThan(half / 2);
      // CR1 with unbalanced clusters, by hand:
      const v = clusteredVariance([1, 1, 2, 4, 2], ["a", "a", "b", "b", "c"]);
      // ȳ = 2; cluster residual sums a: −2, b: 2, c: 0 → G/(G−1) · 8 / 25 = 1.5 · 0.32.
      expect(v.variance).toBeCloseTo(0.48, 10);
      const text = formatSummary(result).join("\n");
      expect(text).toContain("clustered by group (4 clusters)");
      // Payoffs are per player too: clustered as well.
      expect(result.rows.filter((r) => r.name === "payoff").every((r) => r.clustered?.by === "group")).toBe(
        true,
      );
    } finally {
      store.close();
    }
  });

  it("clusters by the matching pool under stranger matching", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { compileStudyFile } = await import("../designs/index.js");
    const { startRun } = await import("../engine/run-study.js");
    const { RunStore } = await import("../store/run-store.js");
    const { summarize, formatSummary } = await import("./summary.js");
    const dir = mkdtempSync(join(tmpdir(), "silico-summary-pool-"));
    const store = RunStore.open(join(dir, "s.db"));
    try {
      const file = join(dir, "stranger.yaml");
      writeFileSync(
        file,
        game("matching: { type: stranger, pool_size: 6 }", 4).replace("mock:cluster-groups", "mock:fixed:5"),
      );
      await startRun(compileStudyFile(file), { store });
      const result = summarize(store, store.getRun("last"));
      const row = result.rows.find((r) => r.name === "contribution");
      expect(row?.n).toBe(12);
      expect(row?.clustered).toEqual({ by: "pool", clusters: 2 });
      expect(formatSummary(result).join("\n")).toContain("clustered by pool (2 clusters)");
    } finally {
      store.close();
    }
  });
});

describe("summarize a stimulus run", () => {
  it("groups by condition by default (not one row per item), clustering many-trial conversations", async () => {
    const { copyFileSync, mkdtempSync, readFileSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { compileStudyFile } = await import("../designs/index.js");
    const { startRun } = await import("../engine/run-study.js");
    const { RunStore } = await import("../store/run-store.js");
    const { summarize, formatSummary, effectiveN } = await import("./summary.js");
    const examples = join(import.meta.dirname, "..", "..", "..", "..", "examples", "pronoun-gender");
    const dir = mkdtempSync(join(tmpdir(), "silico-summary-stimuli-"));
    copyFileSync(join(examples, "stimuli.csv"), join(dir, "stimuli.csv"));
    const store = RunStore.open(join(dir, "s.db"));
    try {
      for (const study of ["one-trial.yaml", "many-trials.yaml"]) {
        const file = join(dir, study);
        writeFileSync(
          file,
          readFileSync(join(examples, study), "utf8").replace(
            /^model: .*$/m,
            "model: mock:script:he|she|she",
          ),
        );
        await startRun(compileStudyFile(file), { store, concurrency: 1 });
        const result = summarize(store, store.getRun("last"));
        const answers = result.rows.filter((r) => r.name === "answer");
        expect(answers.map((r) => r.group)).toEqual([
          { condition: "male-ending" },
          { condition: "female-ending" },
        ]);
        expect(answers.reduce((n, r) => n + r.n, 0)).toBe(48);
        const text = formatSummary(result).join("\n");
        expect(text).toContain("answer by condition");
        if (study === "one-trial.yaml") expect(answers.every((r) => r.clustered === undefined)).toBe(true);
        else {
          // 6 conversations (2 lists × 3 repetitions), each with several items of a condition.
          expect(answers.every((r) => r.clustered?.by === "conversation")).toBe(true);
          expect(text).toMatch(/clustered by conversation \(\d+ clusters\)/);
        }
      }
      // Two clusters that each answer alike: 4 answers are worth 1 (CR1's G/(G−1) included).
      expect(effectiveN([1, 1, 0, 0], ["a", "a", "b", "b"])).toBeCloseTo(1, 10);
      // A clustered variance of 0 says nothing about the share's precision: each cluster counts once.
      expect(effectiveN([1, 0, 1, 0], ["a", "a", "b", "b"])).toBe(2);
    } finally {
      store.close();
    }
  });
});
