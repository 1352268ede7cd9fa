import { describe, expect, it } from "vitest";
import { createChoiceMatcher, createChoiceParser, describeChoice } from "./choice-parser.js";

const acceptReject = createChoiceParser({ type: "choice", options: ["ACCEPT", "REJECT"] });

describe("choice parser", () => {
  it.each([
    ["ACCEPT", "ACCEPT"],
    ["accept", "ACCEPT"],
    ["I accept.", "ACCEPT"],
    ["ACCEPT.", "ACCEPT"],
    ["**REJECT**", "REJECT"],
    ['"Reject"', "REJECT"],
    ["(accept)", "ACCEPT"],
    ["  reject\n", "REJECT"],
    ["ACCEPT. I definitely ACCEPT!", "ACCEPT"],
    ["re-accept", "ACCEPT"],
    ["ACCEPT's merits", "ACCEPT"],
  ])("%j → %s", (text, value) => {
    expect(acceptReject.parse(text)).toEqual({ valid: true, value });
  });

  it.each([["UNACCEPTABLE"], ["ACCEPTED"], ["accepting"], ["ACCEPT_ALL"], ["ACCEPT2"], [""], ["   "]])(
    "no whole-word option in %j",
    (text) => {
      expect(acceptReject.parse(text)).toEqual({
        valid: false,
        value: null,
        reason: "none of the options found (expected one of: ACCEPT, REJECT)",
      });
    },
  );

  it("rejects two different options, naming both in order of appearance", () => {
    expect(acceptReject.parse("I would reject rather than accept")).toEqual({
      valid: false,
      value: null,
      reason: "found 2 different options: REJECT, ACCEPT",
    });
  });

  it("matches a whole word inside a longer phrase", () => {
    const yesNo = createChoiceParser({ type: "choice", options: ["YES", "NO"] });
    expect(yesNo.parse("no idea")).toEqual({ valid: true, value: "NO" });
    expect(yesNo.parse("nobody knows")).toMatchObject({ valid: false });
    expect(yesNo.parse("Yes, yes, YES")).toEqual({ valid: true, value: "YES" });
  });

  it("returns the option as spelled in the spec", () => {
    const parser = createChoiceParser({ type: "choice", options: ["Strongly agree", "Agree", "Disagree"] });
    expect(parser.parse("STRONGLY AGREE")).toEqual({ valid: true, value: "Strongly agree" });
    expect(parser.parse("I disagree.")).toEqual({ valid: true, value: "Disagree" });
    expect(parser.parse("agree")).toEqual({ valid: true, value: "Agree" });
  });

  it("matches multi-word options across any whitespace", () => {
    const parser = createChoiceParser({ type: "choice", options: ["OPTION 1", "OPTION 2"] });
    expect(parser.parse("option 2")).toEqual({ valid: true, value: "OPTION 2" });
    expect(parser.parse("OPTION\n  1")).toEqual({ valid: true, value: "OPTION 1" });
    expect(parser.parse("OPTION")).toMatchObject({ valid: false });
    expect(parser.parse("OPTION 1 or OPTION 2")).toEqual({
      valid: false,
      value: null,
      reason: "found 2 different options: OPTION 1, OPTION 2",
    });
  });

  it("prefers the longest option: OPTION 10 is not OPTION 1", () => {
    const parser = createChoiceParser({ type: "choice", options: ["OPTION 1", "OPTION 10"] });
    expect(parser.parse("OPTION 10")).toEqual({ valid: true, value: "OPTION 10" });
    expect(parser.parse("OPTION 1.")).toEqual({ valid: true, value: "OPTION 1" });
  });

  it("prefers the longest option starting at the same place", () => {
    const parser = createChoiceParser({ type: "choice", options: ["NO", "NO WAY"] });
    expect(parser.parse("no way!")).toEqual({ valid: true, value: "NO WAY" });
    expect(parser.parse("no.")).toEqual({ valid: true, value: "NO" });
  });

  it("is case-sensitive when asked", () => {
    const parser = createChoiceParser({ type: "choice", options: ["A", "B"], caseSensitive: true });
    expect(parser.parse("B")).toEqual({ valid: true, value: "B" });
    expect(parser.parse("I choose a")).toMatchObject({ valid: false });
    expect(parser.parse("I choose b")).toMatchObject({ valid: false });
  });

  it("treats single letters as whole words", () => {
    const parser = createChoiceParser({ type: "choice", options: ["A", "B"] });
    expect(parser.parse("Answer: B")).toEqual({ valid: true, value: "B" });
    expect(parser.parse("(b)")).toEqual({ valid: true, value: "B" });
    // "a" as an English article is a whole word too: the parser cannot know better.
    expect(parser.parse("B is a good one")).toMatchObject({ valid: false });
  });

  it("escapes regex characters in options", () => {
    const parser = createChoiceParser({ type: "choice", options: ["$5 (now)", "C++", "a.b"] });
    expect(parser.parse("I take $5 (now).")).toEqual({ valid: true, value: "$5 (now)" });
    expect(parser.parse("c++")).toEqual({ valid: true, value: "C++" });
    expect(parser.parse("axb")).toMatchObject({ valid: false });
    const more = createChoiceParser({ type: "choice", options: ["N/A", "e-mail", "a|b", "[x]"] });
    expect(more.parse("n/a")).toEqual({ valid: true, value: "N/A" });
    expect(more.parse("by E-mail")).toEqual({ valid: true, value: "e-mail" });
    expect(more.parse("a|b")).toEqual({ valid: true, value: "a|b" });
    expect(more.parse("[X]")).toEqual({ valid: true, value: "[x]" });
  });

  it("uses Unicode-aware word boundaries", () => {
    const parser = createChoiceParser({ type: "choice", options: ["café", "thé", "Ja"] });
    expect(parser.parse("Un café, s'il vous plaît")).toEqual({ valid: true, value: "café" });
    // decomposed é (e + combining accent) is the same word after NFC
    expect(parser.parse("CAFE\u0301")).toEqual({ valid: true, value: "café" });
    expect(parser.parse("cafés")).toMatchObject({ valid: false });
    expect(parser.parse("Thés")).toMatchObject({ valid: false });
    expect(parser.parse("JA!")).toEqual({ valid: true, value: "Ja" });
    expect(parser.parse("Jaé")).toMatchObject({ valid: false });
    expect(parser.parse("Ärger: thé")).toEqual({ valid: true, value: "thé" });
  });

  it("handles options in other scripts", () => {
    const parser = createChoiceParser({ type: "choice", options: ["ДА", "НЕТ"] });
    expect(parser.parse("Ответ: да.")).toEqual({ valid: true, value: "ДА" });
    expect(parser.parse("Данные")).toMatchObject({ valid: false });
  });

  it("offers a choice constraint and a description", () => {
    expect(acceptReject.constraint).toEqual({ type: "choice", options: ["ACCEPT", "REJECT"] });
    expect(acceptReject.describe()).toBe("Answer with exactly one of: ACCEPT, REJECT.");
    expect(describeChoice(["A"])).toBe("Answer with exactly one of: A.");
  });
});

describe("createChoiceMatcher", () => {
  it("reports each mention with its position", () => {
    const find = createChoiceMatcher(["ACCEPT", "REJECT"]);
    expect(find("accept, then REJECT")).toEqual([
      { option: "ACCEPT", optionIndex: 0, text: "accept", index: 0 },
      { option: "REJECT", optionIndex: 1, text: "REJECT", index: 13 },
    ]);
  });

  it("skips empty and duplicate options", () => {
    const find = createChoiceMatcher(["", "yes", "YES"]);
    expect(find("Yes")).toEqual([{ option: "yes", optionIndex: 1, text: "Yes", index: 0 }]);
    expect(createChoiceMatcher([""])("anything")).toEqual([]);
  });
});
