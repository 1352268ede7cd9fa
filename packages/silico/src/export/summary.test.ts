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
