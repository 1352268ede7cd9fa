import { describe, expect, it } from "vitest";
import { SilicoError } from "../errors.js";
import { compilePattern, createRegexParser } from "./regex-parser.js";

describe("regex parser", () => {
  it("returns the whole match when the pattern has no groups", () => {
    const parser = createRegexParser({ type: "regex", pattern: "\\d+" });
    expect(parser.parse("I'd give 12 points, maybe 13")).toEqual({ valid: true, value: "12" });
  });

  it("returns the first capture group by default", () => {
    const parser = createRegexParser({ type: "regex", pattern: "Answer:\\s*(\\w+)" });
    expect(parser.parse("Thinking...\nAnswer: blue")).toEqual({ valid: true, value: "blue" });
  });

  it("returns a numbered group", () => {
    const parser = createRegexParser({ type: "regex", pattern: "(\\w+)=(\\w+)", group: 2 });
    expect(parser.parse("x=42")).toEqual({ valid: true, value: "42" });
    const whole = createRegexParser({ type: "regex", pattern: "(\\w+)=(\\w+)", group: 0 });
    expect(whole.parse("x=42")).toEqual({ valid: true, value: "x=42" });
  });

  it("returns a named group", () => {
    const parser = createRegexParser({
      type: "regex",
      pattern: "(?<left>\\d+)-(?<right>\\d+)",
      group: "right",
    });
    expect(parser.parse("range 3-9")).toEqual({ valid: true, value: "9" });
  });

  it("honours flags and ignores g and y", () => {
    const parser = createRegexParser({ type: "regex", pattern: "^yes$", flags: "gimy" });
    expect(parser.parse("Well\nYES\n")).toEqual({ valid: true, value: "YES" });
    // no lastIndex state: the same text matches every time
    expect(parser.parse("Well\nYES\n")).toEqual({ valid: true, value: "YES" });
  });

  it("works with Unicode patterns", () => {
    const parser = createRegexParser({ type: "regex", pattern: "\\p{Lu}+", flags: "u" });
    expect(parser.parse("mot: ÉTÉ")).toEqual({ valid: true, value: "ÉTÉ" });
  });

  it("is invalid when nothing matches", () => {
    const parser = createRegexParser({ type: "regex", pattern: "\\d+" });
    expect(parser.parse("none")).toEqual({
      valid: false,
      value: null,
      reason: "answer does not match /\\d+/",
    });
    expect(parser.parse("")).toMatchObject({ valid: false });
  });

  it("is invalid when the chosen group did not take part", () => {
    const parser = createRegexParser({ type: "regex", pattern: "(a)|(b)", group: 2 });
    expect(parser.parse("a")).toEqual({
      valid: false,
      value: null,
      reason: "group 2 of /(a)|(b)/ did not match",
    });
    expect(parser.parse("b")).toEqual({ valid: true, value: "b" });
  });

  it("has no constraint and describes the pattern", () => {
    const parser = createRegexParser({ type: "regex", pattern: "[A-D]", flags: "i" });
    expect(parser.constraint).toBeUndefined();
    expect(parser.describe()).toBe("Answer in a form that matches the regular expression /[A-D]/i.");
  });

  it("throws on a bad pattern", () => {
    expect(() => createRegexParser({ type: "regex", pattern: "(" })).toThrow(SilicoError);
  });
});

describe("compilePattern", () => {
  it("counts groups and names", () => {
    const compiled = compilePattern("(a)(?:b)(?<c>c)");
    expect(compiled.ok && compiled.info).toEqual({ groupCount: 2, groupNames: ["c"] });
  });

  it("reports bad patterns and flags", () => {
    expect(compilePattern("[").ok).toBe(false);
    expect(compilePattern("a", "q").ok).toBe(false);
    expect(compilePattern("a", "ii").ok).toBe(false);
  });
});
