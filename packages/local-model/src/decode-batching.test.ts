import { describe, expect, it } from "vitest";
import { choiceSeed, wholeItemsStrategy } from "./decode-batching.js";

// The pure parts of how the local model cuts work into decode batches (no model needed).

const item = (n: number) => ({ tokens: Array.from({ length: n }, (_, i) => i) });

describe("decode batches", () => {
  it("takes whole evaluations in queue order; one that does not fit waits", () => {
    const [a, b, c, d] = [item(32), item(20), item(32), item(1)];
    const picked = wholeItemsStrategy({ items: [a, b, c, d], size: 64 });
    // c (32 tokens) does not fit after a and b (52): it waits whole rather than being cut at 12.
    expect(picked).toEqual([
      { item: a, processAmount: 32 },
      { item: b, processAmount: 20 },
      { item: d, processAmount: 1 },
    ]);
  });

  it("cuts only an evaluation larger than a whole batch, and only when it comes first", () => {
    const big = item(600);
    const small = item(10);
    expect(wholeItemsStrategy({ items: [small, big], size: 512 })).toEqual([
      { item: small, processAmount: 10 },
    ]);
    expect(wholeItemsStrategy({ items: [big, small], size: 512 })).toEqual([
      { item: big, processAmount: 512 },
    ]);
  });
});

describe("choice seeds", () => {
  it("choice 0 keeps the seed; the others are hashed, within uint32", () => {
    expect(choiceSeed(42, 0)).toBe(42);
    expect(choiceSeed(-1, 0)).toBe(2 ** 32 - 1);
    expect(choiceSeed(42, 1)).toBe(choiceSeed(42, 1));
    expect(choiceSeed(42, 1)).not.toBe(43);
    expect(choiceSeed(42, 1)).not.toBe(choiceSeed(43, 1));
    expect(choiceSeed(42, 1)).not.toBe(choiceSeed(42, 2));
  });
});
