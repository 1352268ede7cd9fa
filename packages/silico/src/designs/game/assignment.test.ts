import { describe, expect, it } from "vitest";
import { assignTreatments } from "./assignment.js";

const count = (list: string[]) => {
  const m: Record<string, number> = {};
  for (const t of list) m[t] = (m[t] ?? 0) + 1;
  return m;
};

describe("balanced assignment", () => {
  it("gives every treatment the same number of units, ±1", () => {
    for (const [treatments, units] of [
      [["a", "b", "c"], 30],
      [["a", "b", "c"], 31],
      [["a", "b", "c"], 2],
      [["g", "t", "s", "x", "y", "z", "u", "v", "w", "q"], 23],
    ] as [string[], number][]) {
      for (const seed of [0, 1, 99, 123456]) {
        const out = assignTreatments(treatments, units, "balanced", seed);
        expect(out).toHaveLength(units);
        const counts = Object.values(count(out));
        const all = treatments.map((t) => count(out)[t] ?? 0);
        expect(Math.max(...all) - Math.min(...all)).toBeLessThanOrEqual(1);
        expect(counts.reduce((a, b) => a + b, 0)).toBe(units);
      }
    }
  });

  it("is reproducible from the seed and shuffled differently for another seed", () => {
    const a = assignTreatments(["give", "take", "split"], 30, "balanced", 7);
    expect(assignTreatments(["give", "take", "split"], 30, "balanced", 7)).toEqual(a);
    expect(assignTreatments(["give", "take", "split"], 30, "balanced", 8)).not.toEqual(a);
    // Not simply cycling through the treatments.
    expect(a.slice(0, 6)).not.toEqual(["give", "take", "split", "give", "take", "split"]);
  });

  it("draws which treatments get the leftover units", () => {
    const extra = new Set<string>();
    for (let seed = 0; seed < 30; seed++) {
      const c = count(assignTreatments(["a", "b", "c"], 4, "balanced", seed));
      for (const [t, n] of Object.entries(c)) if (n === 2) extra.add(t);
    }
    expect(extra).toEqual(new Set(["a", "b", "c"]));
  });
});

describe("random assignment", () => {
  it("draws independently but reproducibly from the seed", () => {
    const a = assignTreatments(["a", "b"], 200, "random", 5);
    expect(assignTreatments(["a", "b"], 200, "random", 5)).toEqual(a);
    expect(assignTreatments(["a", "b"], 200, "random", 6)).not.toEqual(a);
    const c = count(a);
    expect(c.a).toBeGreaterThan(70);
    expect(c.b).toBeGreaterThan(70);
    // Unbalanced in general: with 200 draws an exact 100/100 split is unlikely for most seeds.
    const exact = [1, 2, 3, 4, 5, 6, 7, 8].filter(
      (s) => count(assignTreatments(["a", "b"], 200, "random", s)).a === 100,
    );
    expect(exact.length).toBeLessThan(4);
  });

  it("allows a single treatment", () => {
    expect(assignTreatments(["only"], 3, "random", 1)).toEqual(["only", "only", "only"]);
    expect(assignTreatments(["only"], 3, "balanced", 1)).toEqual(["only", "only", "only"]);
  });
});
