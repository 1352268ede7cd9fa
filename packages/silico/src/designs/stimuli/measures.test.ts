import { describe, expect, it } from "vitest";
import type { TokenLogprob } from "../../models/types.js";
import { makeMeasure, measureName, measureValues } from "./measures.js";

const tok = (token: string, p: number, top: [string, number][]): TokenLogprob => ({
  token,
  logprob: Math.log(p),
  top: top.map(([t, q]) => ({ token: t, logprob: Math.log(q) })),
});

describe("measureValues", () => {
  it("normalises target probabilities over the targets and reports the covered mass", () => {
    const tokens = [
      tok(" he", 0.6, [
        [" he", 0.6],
        [" She", 0.3],
        [" the", 0.05],
      ]),
      tok(" went", 0.9, []),
    ];
    const values = measureValues(makeMeasure("targets", ["he", "she"], false), tokens);
    expect(values.map((v) => v.name)).toEqual(["p_he", "p_she", "covered"]);
    expect(values[0]?.value).toBeCloseTo(0.6 / 0.9, 12);
    expect(values[1]?.value).toBeCloseTo(0.3 / 0.9, 12);
    expect(values[2]?.value).toBeCloseTo(0.9, 12);
  });

  it("reads option probabilities by prefix for a choice question, skipping a leading newline token", () => {
    const tokens = [
      tok("\n", 0.99, []),
      tok("ACC", 0.5, [
        ["ACC", 0.5],
        ["REJ", 0.25],
        ["Maybe", 0.2],
      ]),
    ];
    const values = measureValues(makeMeasure("options", ["ACCEPT", "REJECT"], false), tokens);
    expect(values.map((v) => [v.name, Number(v.value?.toFixed(6))])).toEqual([
      ["p_ACCEPT", Number((2 / 3).toFixed(6))],
      ["p_REJECT", Number((1 / 3).toFixed(6))],
      ["covered", 0.75],
    ]);
  });

  it("gives null probabilities (and covered 0) when no alternative names a target", () => {
    const values = measureValues(makeMeasure("targets", ["he", "she"], false), [
      tok(" The", 0.7, [[" A", 0.2]]),
    ]);
    expect(values).toEqual([
      { name: "p_he", value: null },
      { name: "p_she", value: null },
      { name: "covered", value: 0 },
    ]);
  });

  it("makes column-safe names", () => {
    expect(measureName("OPTION 1")).toBe("p_OPTION_1");
    expect(measureName("élan")).toBe("p_élan");
  });
});
