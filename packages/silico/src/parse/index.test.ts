import { describe, expect, it } from "vitest";
import { StudyError } from "../errors.js";
import {
  createParser,
  normalizeParserSpec,
  optionProbabilities,
  type ParserSpec,
  validateParserSpec,
} from "./index.js";

describe("createParser", () => {
  it.each<[ParserSpec, string, unknown]>([
    [{ type: "number" }, "about 5.", 5],
    [{ type: "choice", options: ["ACCEPT", "REJECT"] }, "I accept.", "ACCEPT"],
    [{ type: "json" }, 'Here: {"a": 1}', { a: 1 }],
    [{ type: "regex", pattern: "(\\d+)%" }, "about 40% sure", "40"],
    [{ type: "text" }, "  hi  ", "hi"],
  ])("builds a %j parser", (spec, text, value) => {
    const parser = createParser(spec);
    expect(parser.spec).toBe(spec);
    expect(parser.parse(text)).toEqual({ valid: true, value });
    expect(parser.describe()).toMatch(/^Answer .+\.|^Answer with a JSON object\.$/);
  });

  it("sets constraints only for number, choice and json", () => {
    expect(createParser({ type: "number", integer: true }).constraint).toEqual({
      type: "number",
      integer: true,
    });
    expect(createParser({ type: "choice", options: ["A", "B"] }).constraint).toEqual({
      type: "choice",
      options: ["A", "B"],
    });
    expect(createParser({ type: "json", schema: { type: "object" } }).constraint).toEqual({
      type: "json",
      schema: { type: "object" },
    });
    expect(createParser({ type: "regex", pattern: "x" }).constraint).toBeUndefined();
    expect(createParser({ type: "text" }).constraint).toBeUndefined();
  });

  it("throws a StudyError listing every problem of an invalid spec", () => {
    let error: unknown;
    try {
      createParser({ type: "choice", options: ["A", "A", 3] } as unknown as ParserSpec);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StudyError);
    expect((error as StudyError).problems).toEqual([
      { where: "parser.options[1]", message: 'duplicate option "A", same as options[0]' },
      { where: "parser.options[2]", message: "must be a string, not 3 (put it in quotes)" },
    ]);
  });

  it("works end to end from a shorthand", async () => {
    const { ProblemList } = await import("../errors.js");
    const problems = new ProblemList();
    const spec = normalizeParserSpec("number", "study.yaml: parser", problems);
    expect(spec).toBeDefined();
    expect(validateParserSpec(spec, "x", problems)).toBe(true);
    expect(createParser(spec!).parse("7")).toEqual({ valid: true, value: 7 });
  });

  it("re-exports the logprob measures", () => {
    expect(typeof optionProbabilities).toBe("function");
  });
});
