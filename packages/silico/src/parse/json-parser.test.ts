import { describe, expect, it } from "vitest";
import { SilicoError } from "../errors.js";
import { balancedEnd, createJsonParser, describeJson, findJson } from "./json-parser.js";

const plain = createJsonParser({ type: "json" });
const keepSchema = {
  type: "object",
  properties: { keep: { type: "number" }, reason: { type: "string" } },
  required: ["keep"],
  additionalProperties: false,
};
const withSchema = createJsonParser({ type: "json", schema: keepSchema });

describe("json parser: finding the value", () => {
  it("parses the whole text", () => {
    expect(plain.parse('{"keep": 5}')).toEqual({ valid: true, value: { keep: 5 } });
    expect(plain.parse("  [1, 2]\n")).toEqual({ valid: true, value: [1, 2] });
    expect(plain.parse("42")).toEqual({ valid: true, value: 42 });
    expect(plain.parse('"text"')).toEqual({ valid: true, value: "text" });
    expect(plain.parse('\uFEFF{"a":1}')).toEqual({ valid: true, value: { a: 1 } });
  });

  it("finds a fenced json block", () => {
    const text = 'Here you go:\n```json\n{"keep": 3, "reason": "fair"}\n```\nHope that helps.';
    expect(plain.parse(text)).toEqual({ valid: true, value: { keep: 3, reason: "fair" } });
  });

  it("prefers json-labelled fences over other fences", () => {
    const text = '```\n{"a": 1}\n```\nand\n```JSON\n{"b": 2}\n```';
    expect(plain.parse(text)).toEqual({ valid: true, value: { b: 2 } });
  });

  it("uses an unlabelled fence when no labelled one parses", () => {
    expect(plain.parse('Result:\n```\n{"a": 1}\n```')).toEqual({ valid: true, value: { a: 1 } });
  });

  it("finds the first balanced object in prose", () => {
    expect(plain.parse('Sure! {"keep": 4} is my answer. {"keep": 9}')).toEqual({
      valid: true,
      value: { keep: 4 },
    });
  });

  it("respects strings and escapes when balancing", () => {
    const text = 'Answer: {"reason": "a } brace and a \\" quote {", "keep": 1} done';
    expect(plain.parse(text)).toEqual({
      valid: true,
      value: { reason: 'a } brace and a " quote {', keep: 1 },
    });
  });

  it("skips an unparseable outer candidate and finds the inner object", () => {
    expect(plain.parse('{answer: {"keep": 2}}')).toEqual({ valid: true, value: { keep: 2 } });
  });

  it("finds an array in prose", () => {
    expect(plain.parse("The ranking is [3, 1, 2].")).toEqual({ valid: true, value: [3, 1, 2] });
    expect(plain.parse('List: [{"a": 1}, {"a": 2}]')).toEqual({ valid: true, value: [{ a: 1 }, { a: 2 }] });
  });

  it("prefers an object over an earlier citation-like array", () => {
    expect(plain.parse('As shown in [1], the answer is {"keep": 7}.')).toEqual({
      valid: true,
      value: { keep: 7 },
    });
  });

  it("reports null", () => {
    expect(plain.parse("null")).toEqual({ valid: false, value: null, reason: "answer is null" });
    expect(plain.parse("```json\nnull\n```")).toEqual({
      valid: false,
      value: null,
      reason: "answer is null",
    });
  });

  it("reports no JSON", () => {
    expect(plain.parse("")).toEqual({ valid: false, value: null, reason: "no JSON found" });
    expect(plain.parse("   ")).toEqual({ valid: false, value: null, reason: "no JSON found" });
    expect(plain.parse("I keep five.")).toEqual({ valid: false, value: null, reason: "no JSON found" });
    expect(plain.parse('{"keep": 5')).toEqual({
      valid: false,
      value: null,
      reason: "no valid JSON found (unbalanced brackets: a { is not closed)",
    });
  });

  it("reports JSON that does not parse", () => {
    const result = plain.parse("Answer: {keep: 5}");
    expect(result.valid).toBe(false);
    if (!result.valid) expect(result.reason).toMatch(/^no valid JSON found \(.+\)$/);
  });

  it("handles Unicode content", () => {
    expect(plain.parse('Réponse : {"mot": "café ☕", "n": 1} ✓')).toEqual({
      valid: true,
      value: { mot: "café ☕", n: 1 },
    });
  });
});

describe("json parser: schema", () => {
  it("accepts a matching value", () => {
    expect(withSchema.parse('{"keep": 5, "reason": "ok"}')).toEqual({
      valid: true,
      value: { keep: 5, reason: "ok" },
    });
  });

  it("reports schema errors with their paths", () => {
    expect(withSchema.parse('{"keep": "five"}')).toEqual({
      valid: false,
      value: null,
      reason: "answer does not match the schema: /keep must be number",
    });
  });

  it("reports root errors and several errors", () => {
    const result = withSchema.parse('{"reason": 3, "extra": true}');
    expect(result.valid).toBe(false);
    if (!result.valid) {
      expect(result.reason).toContain("must have required property 'keep'");
      expect(result.reason).toContain("/reason must be string");
      expect(result.reason).toContain("must NOT have additional properties (extra)");
    }
  });

  it("limits the number of errors reported", () => {
    const parser = createJsonParser({
      type: "json",
      schema: {
        type: "object",
        properties: {
          a: { type: "string" },
          b: { type: "string" },
          c: { type: "string" },
          d: { type: "string" },
          e: { type: "string" },
        },
      },
    });
    const result = parser.parse('{"a":1,"b":2,"c":3,"d":4,"e":5}');
    expect(result.valid).toBe(false);
    if (!result.valid) expect(result.reason).toMatch(/; and 2 more$/);
  });

  it("takes the first candidate that fits the schema", () => {
    const text = 'Draft: {"keep": "x"}. Final: {"keep": 6}';
    expect(withSchema.parse(text)).toEqual({ valid: true, value: { keep: 6 } });
  });

  it("with an array schema, prefers a matching array over an object", () => {
    const parser = createJsonParser({ type: "json", schema: { type: "array", items: { type: "integer" } } });
    expect(parser.parse('Note {"x": 1}; answer [1, 2]')).toEqual({ valid: true, value: [1, 2] });
  });

  it("supports enums and lists allowed values", () => {
    const parser = createJsonParser({
      type: "json",
      schema: { type: "object", properties: { choice: { enum: ["A", "B"] } }, required: ["choice"] },
    });
    expect(parser.parse('{"choice": "C"}')).toEqual({
      valid: false,
      value: null,
      reason:
        'answer does not match the schema: /choice must be equal to one of the allowed values ("A", "B")',
    });
  });

  it("supports draft-07 and 2020-12 dialects", () => {
    const d7 = createJsonParser({
      type: "json",
      schema: {
        $schema: "http://json-schema.org/draft-07/schema#",
        type: "array",
        items: [{ type: "string" }],
      },
    });
    expect(d7.parse('["a"]')).toEqual({ valid: true, value: ["a"] });
    const d2020 = createJsonParser({
      type: "json",
      schema: {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        type: "array",
        prefixItems: [{ type: "string" }],
      },
    });
    expect(d2020.parse("[1]")).toMatchObject({ valid: false });
  });

  it("ignores formats and the propertyOrdering keyword", () => {
    const parser = createJsonParser({
      type: "json",
      schema: {
        type: "object",
        properties: { when: { type: "string", format: "date-time" } },
        propertyOrdering: ["when"],
      },
    });
    expect(parser.parse('{"when": "not a date"}')).toEqual({ valid: true, value: { when: "not a date" } });
  });

  it("allows two parsers with the same $id", () => {
    const schema = { $id: "https://example.org/answer", type: "object" };
    createJsonParser({ type: "json", schema });
    expect(() => createJsonParser({ type: "json", schema })).not.toThrow();
  });

  it("throws on a schema that does not compile", () => {
    expect(() => createJsonParser({ type: "json", schema: { type: "objekt" } })).toThrow(SilicoError);
  });
});

describe("json parser: constraint and description", () => {
  it("offers a json constraint", () => {
    expect(plain.constraint).toEqual({ type: "json" });
    expect(withSchema.constraint).toEqual({ type: "json", schema: keepSchema });
  });

  it("describes the expected answer", () => {
    expect(plain.describe()).toBe("Answer with a JSON object.");
    expect(withSchema.describe()).toBe(
      'Answer with a JSON object matching this schema: {"type":"object","properties":{"keep":{"type":"number"},"reason":{"type":"string"}},"required":["keep"],"additionalProperties":false}',
    );
    expect(describeJson({ $schema: "x", type: "array" })).toBe(
      'Answer with a JSON array matching this schema: {"type":"array"}',
    );
  });
});

describe("findJson and balancedEnd", () => {
  it("lists candidates in order of preference", () => {
    const search = findJson('[1] then {"a": 1} then ```json\n{"b": 2}\n```');
    expect(search.candidates.map((c) => c.source)).toEqual(["fence", "object", "object", "array"]);
    expect(search.candidates.map((c) => c.value)).toEqual([{ b: 2 }, { a: 1 }, { b: 2 }, [1]]);
  });

  it("returns only the whole text when it parses", () => {
    expect(findJson('{"a": [1, {"b": 2}]}').candidates).toEqual([
      { value: { a: [1, { b: 2 }] }, source: "whole", text: '{"a": [1, {"b": 2}]}' },
    ]);
  });

  it("finds closing brackets", () => {
    expect(balancedEnd('{"a": [1, 2]} x', 0)).toBe(12);
    expect(balancedEnd('x [1, "]", 2]', 2)).toBe(12);
    expect(balancedEnd("{ ]", 0)).toBe(-1);
    expect(balancedEnd("{ [ }", 0)).toBe(-1);
    expect(balancedEnd("{", 0)).toBe(-1);
  });
});
