import { describe, expect, it } from "vitest";
import { createTextParser } from "./text-parser.js";

describe("text parser", () => {
  it("returns the trimmed text", () => {
    const parser = createTextParser({ type: "text" });
    expect(parser.parse("  Hello, world.\n")).toEqual({ valid: true, value: "Hello, world." });
    expect(parser.parse("日本語 ✓")).toEqual({ valid: true, value: "日本語 ✓" });
  });

  it("rejects an empty answer", () => {
    const parser = createTextParser({ type: "text" });
    expect(parser.parse("")).toEqual({ valid: false, value: null, reason: "empty answer" });
    expect(parser.parse(" \n\t ")).toEqual({ valid: false, value: null, reason: "empty answer" });
  });

  it("accepts an empty answer when allowed", () => {
    const parser = createTextParser({ type: "text", allowEmpty: true });
    expect(parser.parse("  ")).toEqual({ valid: true, value: "" });
  });

  it("has no constraint and a description", () => {
    expect(createTextParser({ type: "text" }).constraint).toBeUndefined();
    expect(createTextParser({ type: "text" }).describe()).toBe(
      "Answer in plain text (the answer must not be empty).",
    );
    expect(createTextParser({ type: "text", allowEmpty: true }).describe()).toBe("Answer in plain text.");
  });
});
