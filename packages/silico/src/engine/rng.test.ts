import { describe, expect, it } from "vitest";
import { Rng } from "./rng.js";

describe("Rng", () => {
  it("repeats for the same seed and label and differs across labels", () => {
    const a = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.next()
      )(new Rng(7, "s1")),
    );
    const b = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.next()
      )(new Rng(7, "s1")),
    );
    const c = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.next()
      )(new Rng(7, "s2")),
    );
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    for (const x of a) expect(x >= 0 && x < 1).toBe(true);
  });

  it("shuffles to a permutation and is roughly uniform", () => {
    const rng = new Rng(1, "shuffle");
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) {
      const s = rng.shuffle([0, 1, 2, 3]);
      expect([...s].sort()).toEqual([0, 1, 2, 3]);
      counts[s[0] as number]! += 1;
    }
    for (const c of counts) expect(c).toBeGreaterThan(850);
  });
});
