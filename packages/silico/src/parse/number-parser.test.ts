import { describe, expect, it } from "vitest";
import { createNumberParser, describeNumber, extractNumbers, parseNumberAnswer } from "./number-parser.js";

type Row = [input: string, expected: number | { reason: string | RegExp }];

const rows: Row[] = [
  ["5", 5],
  ["  42  ", 42],
  ["0", 0],
  ["-0", 0],
  ["007", 7],
  ["3.5", 3.5],
  [".5", 0.5],
  ["The answer is .5 exactly", 0.5],
  ["5.0", 5],
  ["I pick 2.", 2],
  ["-7", -7],
  ["+3", 3],
  ["\u22127", -7],
  ["(-5)", -5],
  ["x=-7", -7],
  ["-.25", -0.25],
  ["1,000", 1000],
  ["1,234.5", 1234.5],
  ["1,234,567", 1234567],
  ["-1,000", -1000],
  ["I would pay 5,000.", 5000],
  ["12%", 12],
  ["About 12 % of them", 12],
  ["$4.50", 4.5],
  ["-$4.50", -4.5],
  ["$-4.50", -4.5],
  ["€12", 12],
  ["£1,250", 1250],
  ["3e8", 3e8],
  ["1.5E-3", 0.0015],
  ["2e+2 units", 200],
  ["OPTION 1", 1],
  ["OPTION1", 1],
  ["COVID-19", 19],
  ["5 ... 5", 5],
  ["5, and again 5.0", 5],
  ["12% (that is, 12)", 12],
  ["I'd say **7**.", 7],
  ["My estimate: 3 eggs", 3],
  ["Answer:\n\n  8\n", 8],
  ["", { reason: "no number found" }],
  ["   ", { reason: "no number found" }],
  ["no idea", { reason: "no number found" }],
  ["five", { reason: "no number found" }],
  ["-", { reason: "no number found" }],
  ["3 or 5", { reason: "found 2 different numbers: 3, 5" }],
  ["1,5", { reason: "found 2 different numbers: 1, 5" }],
  ["1,2345", { reason: "found 2 different numbers: 1, 2345" }],
  ["3, 5", { reason: "found 2 different numbers: 3, 5" }],
  ["2023-08-11", { reason: "found 3 different numbers: 2023, 8, 11" }],
  ["3-5", { reason: "found 2 different numbers: 3, 5" }],
  ["3 -5", { reason: "found 2 different numbers: 3, -5" }],
  ["1.2.3", { reason: "found 2 different numbers: 1.2, 3" }],
  ["1 2 3 4 5 6 7", { reason: "found 7 different numbers: 1, 2, 3, 4, 5, …" }],
  ["1e999", { reason: /^number too large: 1e999$/ }],
];

describe("number parser: table", () => {
  it.each(rows)("%j", (input, expected) => {
    const result = parseNumberAnswer(input);
    if (typeof expected === "number") {
      expect(result).toEqual({ valid: true, value: expected });
      expect(Object.is(result.value, -0)).toBe(false);
    } else {
      expect(result.valid).toBe(false);
      expect(result.value).toBeNull();
      if (!result.valid) {
        if (typeof expected.reason === "string") expect(result.reason).toBe(expected.reason);
        else expect(result.reason).toMatch(expected.reason);
      }
    }
  });

  it("has at least 30 rows", () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
  });
});

describe("extractNumbers", () => {
  it("reports the text and position of each number", () => {
    expect(extractNumbers("pay -$4.50 or 1,000")).toEqual([
      { value: -4.5, text: "-$4.50", index: 4 },
      { value: 1000, text: "1,000", index: 14 },
    ]);
  });

  it("does not read a hyphen between digits as a sign", () => {
    expect(extractNumbers("2023-08-11").map((m) => m.value)).toEqual([2023, 8, 11]);
    expect(extractNumbers("2023-08-11").map((m) => m.text)).toEqual(["2023", "08", "11"]);
  });

  it("does not read a hyphen after a letter as a sign", () => {
    expect(extractNumbers("gpt-4")).toEqual([{ value: 4, text: "4", index: 4 }]);
  });

  it("reads the Unicode minus as a sign", () => {
    expect(extractNumbers("\u22122.5")[0]?.value).toBe(-2.5);
  });

  it("ignores non-ASCII digits", () => {
    expect(extractNumbers("٣ or ５")).toEqual([]);
  });

  it("returns nothing for empty text", () => {
    expect(extractNumbers("")).toEqual([]);
  });
});

describe("number parser options", () => {
  it("rejects a non-integer when integer is set", () => {
    const parser = createNumberParser({ type: "number", integer: true });
    expect(parser.parse("3.5")).toEqual({
      valid: false,
      value: null,
      reason: "expected a whole number, got 3.5",
    });
    expect(parser.parse("5.0")).toEqual({ valid: true, value: 5 });
    expect(parser.parse("3e8")).toEqual({ valid: true, value: 3e8 });
  });

  it("checks min and max", () => {
    const parser = createNumberParser({ type: "number", min: 1, max: 7 });
    expect(parser.parse("1")).toEqual({ valid: true, value: 1 });
    expect(parser.parse("7")).toEqual({ valid: true, value: 7 });
    expect(parser.parse("0")).toEqual({ valid: false, value: null, reason: "0 is below the minimum of 1" });
    expect(parser.parse("8")).toEqual({ valid: false, value: null, reason: "8 is above the maximum of 7" });
    expect(parser.parse("-3")).toEqual({ valid: false, value: null, reason: "-3 is below the minimum of 1" });
  });

  it("reports several numbers before range problems", () => {
    const parser = createNumberParser({ type: "number", min: 1, max: 7 });
    expect(parser.parse("On a scale of 1 to 7: 5")).toEqual({
      valid: false,
      value: null,
      reason: "found 3 different numbers: 1, 7, 5",
    });
  });

  it("offers a number constraint", () => {
    expect(createNumberParser({ type: "number" }).constraint).toEqual({ type: "number", integer: false });
    expect(createNumberParser({ type: "number", integer: true }).constraint).toEqual({
      type: "number",
      integer: true,
    });
  });

  it("keeps the spec", () => {
    const spec = { type: "number" as const, min: 0 };
    expect(createNumberParser(spec).spec).toBe(spec);
  });
});

describe("describeNumber", () => {
  it.each([
    [{}, "Answer with a single number."],
    [{ integer: true }, "Answer with a single whole number."],
    [{ integer: true, min: 1, max: 7 }, "Answer with a single whole number from 1 to 7."],
    [{ min: 0 }, "Answer with a single number of at least 0."],
    [{ max: 100.5 }, "Answer with a single number of at most 100.5."],
  ])("%j", (spec, sentence) => {
    expect(describeNumber(spec)).toBe(sentence);
    expect(createNumberParser({ type: "number", ...spec }).describe()).toBe(sentence);
  });
});
