import { describe, expect, it } from "vitest";
import {
  choiceGrammar,
  gbnfLiteral,
  normalizeJsonSchema,
  numberAnswer,
  numberGrammar,
  planGrammar,
} from "./grammar.js";

describe("GBNF building", () => {
  it("escapes literals", () => {
    expect(gbnfLiteral('say "hi"\\now\n\t')).toBe('"say \\"hi\\"\\\\now\\n\\t"');
    expect(gbnfLiteral("a\u0001b")).toBe('"a\\x01b"');
    expect(gbnfLiteral("stimmt völlig")).toBe('"stimmt völlig"');
  });

  it("builds a choice alternation without duplicates", () => {
    expect(choiceGrammar(["A", "B", "A"])).toBe('root ::= "A" | "B"\n');
  });

  it("builds bounded number grammars", () => {
    expect(numberGrammar(true)).toContain("root ::= int tail?");
    expect(numberGrammar(true)).not.toContain("frac ::=");
    expect(numberGrammar(true, { min: 0, max: 3 })).toContain('int ::= "0" | "1" | "2" | "3"');
    expect(numberGrammar(false, { min: 0 })).not.toContain('"-"');
    expect(numberGrammar(false, { min: -5 })).toContain('"-"?');
    expect(numberGrammar(false)).toContain('frac ::= "." [0-9]{1,10}');
    expect(numberGrammar(false)).toContain("[0-9]{0,14}");
  });

  it("reads a number and knows when it is complete", () => {
    expect(numberAnswer("4", true)).toEqual({ text: "4", done: false });
    expect(numberAnswer("42 out of 100", true)).toEqual({ text: "42", done: true });
    expect(numberAnswer("42.", false)).toEqual({ text: "42", done: false });
    expect(numberAnswer("42.5", false)).toEqual({ text: "42.5", done: false });
    expect(numberAnswer("42.5%", false)).toEqual({ text: "42.5", done: true });
    expect(numberAnswer("42. I", false)).toEqual({ text: "42", done: true });
    expect(numberAnswer("-7\n", true)).toEqual({ text: "-7", done: true });
  });
});

describe("JSON schema normalisation", () => {
  it("keeps supported schemas and drops annotations", () => {
    const n = normalizeJsonSchema({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      title: "Answer",
      type: "object",
      properties: {
        choice: { type: "string", enum: ["a", "b"], description: "pick" },
        n: { type: "integer" },
      },
      required: ["choice"],
      additionalProperties: false,
    });
    expect(n.unsupported).toEqual([]);
    expect(n.notEnforced).toEqual([]);
    expect(n.schema).toEqual({
      type: "object",
      properties: {
        choice: { type: "string", enum: ["a", "b"], description: "pick" },
        n: { type: "integer" },
      },
      required: ["choice"],
      additionalProperties: false,
    });
  });

  it("rewrites anyOf, definitions, untyped and any-value schemas", () => {
    const n = normalizeJsonSchema({
      properties: {
        a: { anyOf: [{ type: "string" }, { type: "null" }] },
        b: { $ref: "#/definitions/B" },
        c: {},
        d: { type: ["object", "null"] },
      },
      definitions: { B: { type: "object" } },
    });
    expect(n.unsupported).toEqual([]);
    const s = n.schema as {
      type: string;
      properties: Record<string, Record<string, unknown>>;
      $defs: Record<string, unknown>;
    };
    expect(s.type).toBe("object");
    expect(s.properties.a).toEqual({ oneOf: [{ type: "string" }, { type: "null" }] });
    expect(s.properties.b).toEqual({ $ref: "#/$defs/B" });
    expect(s.$defs.B).toEqual({ type: "object", additionalProperties: true });
    expect(s.properties.c!.oneOf).toHaveLength(3);
    expect(s.properties.d).toEqual({
      oneOf: [{ type: "object", additionalProperties: true }, { type: "null" }],
    });
  });

  it("reports value checks it cannot enforce and structures it cannot express", () => {
    const a = normalizeJsonSchema({ type: "number", minimum: 0, maximum: 100 });
    expect(a.notEnforced.sort()).toEqual(["maximum", "minimum"]);
    expect(a.unsupported).toEqual([]);
    const wide = normalizeJsonSchema({ type: "integer", minimum: 0, maximum: 100000 });
    expect(wide.notEnforced.sort()).toEqual(["maximum", "minimum"]);
    const b = normalizeJsonSchema({ allOf: [{ type: "string" }] });
    expect(b.unsupported).toEqual(["allOf"]);
  });

  it("enforces a small integer range by listing its values", () => {
    const r = normalizeJsonSchema({
      type: "object",
      properties: { keep: { type: "integer", minimum: 0, exclusiveMaximum: 4 } },
      required: ["keep"],
    });
    expect(r.notEnforced).toEqual([]);
    expect((r.schema.properties as Record<string, unknown>).keep).toEqual({ enum: [0, 1, 2, 3] });
  });

  it("keeps length bounds on type lists, untyped values and arrays without items", () => {
    const r = normalizeJsonSchema({
      type: "object",
      properties: {
        a: { type: ["string", "null"], maxLength: 3, minLength: 1 },
        b: { maxLength: 2 },
        c: { type: "array", maxItems: 2, minItems: 1 },
        d: { type: ["array", "string"], maxItems: 1, maxLength: 4 },
      },
    });
    expect(r.unsupported).toEqual([]);
    const p = r.schema.properties as Record<
      string,
      { oneOf?: Record<string, unknown>[] } & Record<string, unknown>
    >;
    // Each type keeps only its own bounds (the generator ignores bounds on a type list).
    expect(p.a).toEqual({ oneOf: [{ type: "string", maxLength: 3, minLength: 1 }, { type: "null" }] });
    // Without a type, maxLength bounds the strings of an any-value union.
    expect(p.b!.oneOf!.map((v) => v.type)).toEqual([
      "string",
      "number",
      "boolean",
      "null",
      "object",
      "array",
    ]);
    expect(p.b!.oneOf![0]).toEqual({ type: "string", maxLength: 2 });
    expect(p.b!.oneOf![1]).toEqual({ type: "number" });
    // An array without items gets any-JSON items, so maxItems/minItems are not dropped.
    expect(p.c).toMatchObject({ type: "array", maxItems: 2, minItems: 1 });
    expect(p.c!.items).toBeDefined();
    expect(p.d!.oneOf).toEqual([
      expect.objectContaining({ type: "array", maxItems: 1 }),
      { type: "string", maxLength: 4 },
    ]);
    expect(p.d!.oneOf![0]).not.toHaveProperty("maxLength");
  });

  it("plans grammars with warnings", () => {
    expect(planGrammar({ type: "json" }).plan).toEqual({ kind: "json" });
    const fallback = planGrammar({ type: "json", schema: { type: "object", not: { required: ["x"] } } });
    expect(fallback.plan).toEqual({ kind: "json" });
    expect(fallback.warnings[0]).toMatch(/cannot express \(not\)/);
    const partial = planGrammar({ type: "json", schema: { type: "string", pattern: "^a" } });
    expect(partial.plan.kind).toBe("jsonSchema");
    expect(partial.warnings[0]).toMatch(/not enforced during decoding: pattern/);
    expect(planGrammar({ type: "number", integer: true }).extract?.("12 ")).toEqual({
      text: "12",
      done: true,
    });
  });
});
