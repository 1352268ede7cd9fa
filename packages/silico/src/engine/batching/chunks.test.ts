import { describe, expect, it } from "vitest";
import { chunks } from "./batcher.js";

describe("chunks", () => {
  const items = (sizes: number[]) => sizes.map((n, i) => ({ id: i, body: "x".repeat(n) }));

  it("splits a wave at the provider's request limit", () => {
    expect(chunks(items([1, 1, 1, 1, 1]), 2, 1e9).map((c) => c.map((i) => i.id))).toEqual([
      [0, 1],
      [2, 3],
      [4],
    ]);
  });

  it("splits at the byte limit (each line counts its body and 200 bytes of framing)", () => {
    const got = chunks(items([300, 300, 300, 900]), 100, 1000);
    expect(got.map((c) => c.map((i) => i.id))).toEqual([[0, 1], [2], [3]]);
  });

  it("keeps an item larger than the limit on its own instead of dropping it", () => {
    expect(chunks(items([5000]), 100, 1000)).toHaveLength(1);
    expect(chunks([], 100, 1000)).toEqual([]);
  });
});
