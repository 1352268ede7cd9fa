import { describe, expect, it } from "vitest";
import type { TokenLogprob } from "../models/types.js";
import {
  firstTokenAlternatives,
  normaliseToken,
  optionProbabilities,
  targetProbabilities,
} from "./option-probabilities.js";

const ln = Math.log;

/** A first token `token` with the given alternatives (probabilities, not logprobs). */
function first(token: string, p: number, top: [string, number][]): TokenLogprob {
  return { token, logprob: ln(p), top: top.map(([t, q]) => ({ token: t, logprob: ln(q) })) };
}

describe("normaliseToken", () => {
  it.each([
    [" Accept", "accept"],
    ["\u2581Yes", "yes"],
    ["\u0120No", "no"],
    ["\u010aOK", "ok"],
    ["\n\t Reject ", "reject"],
    ["OPTION  1", "option 1"],
    ["   ", ""],
    ["\u2581", ""],
  ])("%j → %j", (token, expected) => {
    expect(normaliseToken(token)).toBe(expected);
  });

  it("keeps case when asked", () => {
    expect(normaliseToken(" Yes", true)).toBe("Yes");
  });
});

describe("firstTokenAlternatives", () => {
  it("adds the chosen token when it is not among the alternatives", () => {
    const { position, alternatives } = firstTokenAlternatives([first("Sure", 0.04, [["A", 0.5]])]);
    expect(position).toBe(0);
    expect(alternatives.map((a) => a.token)).toEqual(["A", "Sure"]);
  });

  it("does not add it twice", () => {
    const { alternatives } = firstTokenAlternatives([
      first("A", 0.5, [
        ["A", 0.5],
        ["B", 0.2],
      ]),
    ]);
    expect(alternatives.map((a) => a.token)).toEqual(["A", "B"]);
  });

  it("skips leading whitespace-only tokens", () => {
    const tokens = [
      first("\n", 0.9, [
        ["\n", 0.9],
        ["A", 0.05],
      ]),
      first("B", 0.7, [["B", 0.7]]),
    ];
    expect(firstTokenAlternatives(tokens).position).toBe(1);
  });

  it("handles no tokens and tokens without alternatives", () => {
    expect(firstTokenAlternatives([])).toEqual({ position: -1, alternatives: [] });
    expect(firstTokenAlternatives([{ token: "A", logprob: ln(0.5) }]).alternatives).toEqual([
      { token: "A", logprob: ln(0.5) },
    ]);
  });
});

describe("optionProbabilities", () => {
  it("normalises over the options (0.6, 0.3, 0.05 → 0.6/0.9, 0.3/0.9)", () => {
    const tokens = [
      first("ACCEPT", 0.6, [
        ["ACCEPT", 0.6],
        ["REJECT", 0.3],
        ["I", 0.05],
      ]),
    ];
    const result = optionProbabilities(tokens, ["ACCEPT", "REJECT"]);
    expect(result.covered).toBeCloseTo(0.9, 12);
    expect(result.ambiguous).toBe(0);
    expect(result.raw.ACCEPT).toBeCloseTo(0.6, 12);
    expect(result.raw.REJECT).toBeCloseTo(0.3, 12);
    expect(result.probabilities.ACCEPT).toBeCloseTo(2 / 3, 12);
    expect(result.probabilities.REJECT).toBeCloseTo(1 / 3, 12);
    expect(result.matchedTokens.map((m) => [m.token, m.option])).toEqual([
      ["ACCEPT", "ACCEPT"],
      ["REJECT", "REJECT"],
    ]);
    expect(result.matchedTokens[0]!.probability).toBeCloseTo(0.6, 12);
    expect(result.position).toBe(0);
  });

  it("adds up alternatives for the same option, across case, spaces and prefixes", () => {
    const tokens = [
      first(" Accept", 0.2, [
        [" Accept", 0.2],
        ["ACC", 0.1],
        ["accept", 0.3],
        [" REJECT", 0.2],
        ["Hmm", 0.1],
      ]),
    ];
    const result = optionProbabilities(tokens, ["ACCEPT", "REJECT"]);
    expect(result.raw.ACCEPT).toBeCloseTo(0.6, 12);
    expect(result.raw.REJECT).toBeCloseTo(0.2, 12);
    expect(result.covered).toBeCloseTo(0.8, 12);
    expect(result.probabilities.ACCEPT).toBeCloseTo(0.75, 12);
    expect(result.probabilities.REJECT).toBeCloseTo(0.25, 12);
    const sum = Object.values(result.probabilities).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 12);
  });

  it("includes the chosen token when it is missing from the alternatives", () => {
    const tokens = [first("REJECT", 0.1, [["ACCEPT", 0.7]])];
    const result = optionProbabilities(tokens, ["ACCEPT", "REJECT"]);
    expect(result.covered).toBeCloseTo(0.8, 12);
    expect(result.probabilities.ACCEPT).toBeCloseTo(0.875, 12);
    expect(result.probabilities.REJECT).toBeCloseTo(0.125, 12);
  });

  it("leaves out ambiguous prefixes and reports their mass", () => {
    const tokens = [
      first("OP", 0.5, [
        ["OP", 0.5],
        ["OPTION 1", 0.2],
        ["OPTION 2", 0.1],
        [" Option", 0.1],
      ]),
    ];
    const result = optionProbabilities(tokens, ["OPTION 1", "OPTION 2"]);
    expect(result.ambiguous).toBeCloseTo(0.6, 12);
    expect(result.covered).toBeCloseTo(0.3, 12);
    expect(result.probabilities["OPTION 1"]).toBeCloseTo(2 / 3, 12);
    expect(result.probabilities["OPTION 2"]).toBeCloseTo(1 / 3, 12);
  });

  it("treats a token that starts several options as ambiguous even if it equals one", () => {
    const tokens = [
      first("NO", 0.5, [
        ["NO", 0.5],
        ["NOT", 0.2],
        ["YES", 0.2],
      ]),
    ];
    const result = optionProbabilities(tokens, ["YES", "NO", "NOT SURE"]);
    expect(result.ambiguous).toBeCloseTo(0.5, 12);
    expect(result.raw).toEqual({ YES: expect.closeTo(0.2, 12), NO: 0, "NOT SURE": expect.closeTo(0.2, 12) });
    expect(result.probabilities).toEqual({
      YES: expect.closeTo(0.5, 12),
      NO: 0,
      "NOT SURE": expect.closeTo(0.5, 12),
    });
  });

  it("credits a token longer than an option only at a word boundary", () => {
    const tokens = [
      first("Yes,", 0.4, [
        ["Yes,", 0.4],
        ["Yesterday", 0.3],
        ["No.", 0.2],
      ]),
    ];
    const result = optionProbabilities(tokens, ["Yes", "No"]);
    expect(result.raw.Yes).toBeCloseTo(0.4, 12);
    expect(result.raw.No).toBeCloseTo(0.2, 12);
    expect(result.covered).toBeCloseTo(0.6, 12);
  });

  it("credits the longest option a token fully covers", () => {
    const tokens = [first("A B.", 0.5, [["A B.", 0.5]])];
    const result = optionProbabilities(tokens, ["A", "A B"]);
    expect(result.raw).toEqual({ A: 0, "A B": expect.closeTo(0.5, 12) });
  });

  it("understands tokeniser space markers", () => {
    const tokens = [
      first("\u2581Yes", 0.5, [
        ["\u2581Yes", 0.5],
        ["\u0120No", 0.25],
      ]),
    ];
    const result = optionProbabilities(tokens, ["Yes", "No"]);
    expect(result.probabilities.Yes).toBeCloseTo(2 / 3, 12);
    expect(result.probabilities.No).toBeCloseTo(1 / 3, 12);
  });

  it("skips a leading newline token", () => {
    const tokens = [
      first("\n", 0.9, [["\n", 0.9]]),
      first("B", 0.6, [
        ["B", 0.6],
        ["A", 0.2],
      ]),
    ];
    const result = optionProbabilities(tokens, ["A", "B"]);
    expect(result.position).toBe(1);
    expect(result.probabilities.B).toBeCloseTo(0.75, 12);
  });

  it("respects caseSensitive", () => {
    const tokens = [
      first("accept", 0.5, [
        ["accept", 0.5],
        ["ACCEPT", 0.25],
        ["REJECT", 0.25],
      ]),
    ];
    const result = optionProbabilities(tokens, ["ACCEPT", "REJECT"], { caseSensitive: true });
    expect(result.covered).toBeCloseTo(0.5, 12);
    expect(result.probabilities.ACCEPT).toBeCloseTo(0.5, 12);
  });

  it("returns empty probabilities when nothing is covered", () => {
    const tokens = [
      first("Well", 0.7, [
        ["Well", 0.7],
        ["I", 0.2],
      ]),
    ];
    const result = optionProbabilities(tokens, ["ACCEPT", "REJECT"]);
    expect(result).toEqual({
      probabilities: {},
      covered: 0,
      ambiguous: 0,
      raw: { ACCEPT: 0, REJECT: 0 },
      matchedTokens: [],
      position: 0,
    });
  });

  it("handles no tokens", () => {
    expect(optionProbabilities([], ["A"])).toEqual({
      probabilities: {},
      covered: 0,
      ambiguous: 0,
      raw: { A: 0 },
      matchedTokens: [],
      position: -1,
    });
  });

  it("counts options equal after normalisation once, under the first spelling, and ignores empty ones", () => {
    const tokens = [first("yes", 0.5, [["yes", 0.5]])];
    const result = optionProbabilities(tokens, ["Yes", "yes", " "], {});
    expect(Object.keys(result.raw)).toEqual(["Yes"]);
    expect(result.probabilities).toEqual({ Yes: 1 });
  });

  it("ignores NaN logprobs and gives -Infinity no mass", () => {
    const tokens: TokenLogprob[] = [
      {
        token: "A",
        logprob: ln(0.5),
        top: [
          { token: "A", logprob: ln(0.5) },
          { token: "B", logprob: Number.NaN },
          { token: "B", logprob: Number.NEGATIVE_INFINITY },
        ],
      },
    ];
    const result = optionProbabilities(tokens, ["A", "B"]);
    expect(result.probabilities).toEqual({ A: 1, B: 0 });
  });

  it("works with non-Latin options", () => {
    const tokens = [
      first("是", 0.7, [
        ["是", 0.7],
        ["否", 0.2],
      ]),
    ];
    const result = optionProbabilities(tokens, ["是", "否"]);
    expect(result.probabilities.是).toBeCloseTo(0.7 / 0.9, 12);
  });
});

describe("targetProbabilities", () => {
  it("measures P(he) against P(she) as the first word", () => {
    const tokens = [
      first(" he", 0.5, [
        [" he", 0.5],
        [" she", 0.3],
        [" He", 0.1],
        ["The", 0.05],
      ]),
    ];
    const result = targetProbabilities(tokens, ["he", "she"]);
    expect(result.raw.he).toBeCloseTo(0.6, 12);
    expect(result.raw.she).toBeCloseTo(0.3, 12);
    expect(result.covered).toBeCloseTo(0.9, 12);
    expect(result.probabilities.he).toBeCloseTo(2 / 3, 12);
    expect(result.probabilities.she).toBeCloseTo(1 / 3, 12);
  });

  it("lets an exact match win over a prefix of another target", () => {
    const tokens = [
      first("he", 0.4, [
        ["he", 0.4],
        ["her", 0.2],
        ["h", 0.1],
        ["hers", 0.1],
      ]),
    ];
    const result = targetProbabilities(tokens, ["he", "her"]);
    expect(result.raw.he).toBeCloseTo(0.4, 12);
    expect(result.raw.her).toBeCloseTo(0.2, 12);
    expect(result.ambiguous).toBeCloseTo(0.1, 12); // "h" starts both
    expect(result.covered).toBeCloseTo(0.6, 12); // "hers" counts for neither
  });

  it("credits a prefix of exactly one target", () => {
    const tokens = [
      first("s", 0.3, [
        ["s", 0.3],
        ["he", 0.3],
      ]),
    ];
    const result = targetProbabilities(tokens, ["he", "she"]);
    expect(result.probabilities).toEqual({ he: expect.closeTo(0.5, 12), she: expect.closeTo(0.5, 12) });
  });

  it("returns empty probabilities when nothing is covered", () => {
    const result = targetProbabilities([first("They", 0.9, [["They", 0.9]])], ["he", "she"]);
    expect(result.probabilities).toEqual({});
    expect(result.covered).toBe(0);
  });
});
