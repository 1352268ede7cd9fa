import { describe, expect, it } from "vitest";
import { ProblemList } from "../errors.js";
import { normalizeParserSpec, validateParserSpec } from "./validate-spec.js";

const W = "study.yaml: threads[0].parser";

function check(spec: unknown): { ok: boolean; problems: { where: string; message: string }[] } {
  const problems = new ProblemList();
  const ok = validateParserSpec(spec, W, problems);
  return { ok, problems: problems.items };
}

describe("validateParserSpec: valid specs", () => {
  it.each([
    [{ type: "number" }],
    [{ type: "number", min: 1, max: 7, integer: true }],
    [{ type: "number", min: 3, max: 3 }],
    [{ type: "choice", options: ["ACCEPT", "REJECT"] }],
    [{ type: "choice", options: ["a", "A"], caseSensitive: true }],
    [{ type: "json" }],
    [{ type: "json", schema: { type: "object", properties: { keep: { type: "number" } } } }],
    [{ type: "regex", pattern: "(\\d+)", flags: "i", group: 1 }],
    [{ type: "regex", pattern: "(?<n>\\d+)", group: "n" }],
    [{ type: "regex", pattern: "\\d+", group: 0 }],
    [{ type: "text" }],
    [{ type: "text", allowEmpty: true }],
  ])("%j", (spec) => {
    expect(check(spec)).toEqual({ ok: true, problems: [] });
  });
});

describe("validateParserSpec: problems", () => {
  it.each<[unknown, { where: string; message: string | RegExp }[]]>([
    ["number", [{ where: W, message: /^expected a parser: an object with a type .*not "number"$/ }]],
    [null, [{ where: W, message: /not null$/ }]],
    [[1], [{ where: W, message: /not a list$/ }]],
    [{}, [{ where: W, message: "missing parser type (one of: number, choice, json, regex, text)" }]],
    [
      { type: "float" },
      [
        {
          where: `${W}.type`,
          message: 'unknown parser type "float" (expected one of: number, choice, json, regex, text)',
        },
      ],
    ],
    [{ type: 3 }, [{ where: `${W}.type`, message: /^unknown parser type 3 / }]],
    [
      { type: "choice" },
      [{ where: W, message: "a choice parser needs options (a list of the allowed answers)" }],
    ],
    [{ type: "choice", options: [] }, [{ where: `${W}.options`, message: "must list at least one option" }]],
    [
      { type: "choice", options: "A, B" },
      [{ where: `${W}.options`, message: 'must be a list of strings, not "A, B"' }],
    ],
    [
      { type: "choice", options: ["A", 2, null] },
      [
        { where: `${W}.options[1]`, message: "must be a string, not 2 (put it in quotes)" },
        { where: `${W}.options[2]`, message: "must be a string, not null (put it in quotes)" },
      ],
    ],
    [{ type: "choice", options: ["A", "  "] }, [{ where: `${W}.options[1]`, message: "must not be empty" }]],
    [
      { type: "choice", options: ["A", "B", "A"] },
      [{ where: `${W}.options[2]`, message: 'duplicate option "A", same as options[0]' }],
    ],
    [
      { type: "choice", options: ["Yes", "YES"] },
      [
        {
          where: `${W}.options[1]`,
          message: 'duplicate option "YES", same as options[0] (options are compared ignoring case)',
        },
      ],
    ],
    [
      { type: "choice", options: [" A"] },
      [{ where: `${W}.options[0]`, message: 'has leading or trailing spaces: " A"' }],
    ],
    [
      { type: "choice", options: ["A"], caseSensitive: "yes" },
      [{ where: `${W}.caseSensitive`, message: 'must be true or false, not "yes"' }],
    ],
    [
      { type: "choice", option: ["A"] },
      [
        {
          where: `${W}.option`,
          message: 'unknown key "option" for a choice parser (did you mean "options"?)',
        },
        { where: W, message: "a choice parser needs options (a list of the allowed answers)" },
      ],
    ],
    [{ type: "number", min: 5, max: 3 }, [{ where: `${W}.min`, message: "min (5) is greater than max (3)" }]],
    [
      { type: "number", min: 1.2, max: 1.8, integer: true },
      [{ where: `${W}.min`, message: "no whole number lies between min (1.2) and max (1.8)" }],
    ],
    [
      { type: "number", min: "1", integer: 1 },
      [
        { where: `${W}.min`, message: 'must be a number, not "1"' },
        { where: `${W}.integer`, message: "must be true or false, not 1" },
      ],
    ],
    [
      { type: "number", options: ["A"] },
      [
        {
          where: `${W}.options`,
          message: 'unknown key "options" for a number parser (allowed: type, min, max, integer)',
        },
      ],
    ],
    [
      { type: "number", case_sensitive: true, Min: 3 },
      [
        { where: `${W}.case_sensitive`, message: /allowed: type, min, max, integer/ },
        { where: `${W}.Min`, message: 'unknown key "Min" for a number parser (did you mean "min"?)' },
      ],
    ],
    [
      { type: "json", schema: "object" },
      [{ where: `${W}.schema`, message: 'must be a JSON Schema object, not "object"' }],
    ],
    [
      { type: "json", schema: { type: "objekt" } },
      [
        {
          where: `${W}.schema.type`,
          message: /^must be equal to one of the allowed values \("array", "boolean"/,
        },
      ],
    ],
    [
      {
        type: "json",
        schema: { type: "object", properties: { keep: { type: "integer", minimum: 5, maximum: 1 } } },
      },
      [
        {
          where: `${W}.schema.properties.keep.minimum`,
          message: "minimum (5) is greater than maximum (1): no answer can match",
        },
      ],
    ],
    [
      { type: "json", schema: { prefixItems: [{ type: "string", minLength: 3, maxLength: 2 }], enum: [] } },
      [
        { where: `${W}.schema.enum`, message: "lists no value: no answer can match" },
        {
          where: `${W}.schema.prefixItems[0].minLength`,
          message: "minLength (3) is greater than maxLength (2): no answer can match",
        },
      ],
    ],
    [
      {
        type: "json",
        schema: {
          properties: { enum: { exclusiveMinimum: 2, maximum: 2 } },
          const: { minimum: 9, maximum: 1 },
        },
      },
      [
        {
          where: `${W}.schema.properties.enum.exclusiveMinimum`,
          message: "exclusiveMinimum (2) is not below maximum (2): no answer can match",
        },
      ],
    ],
    [
      { type: "json", schema: { requried: ["a"] } },
      [{ where: `${W}.schema`, message: /unknown keyword: "requried"/ }],
    ],
    [{ type: "regex" }, [{ where: W, message: "a regex parser needs a pattern" }]],
    [
      { type: "regex", pattern: "" },
      [{ where: `${W}.pattern`, message: 'must be a non-empty string, not ""' }],
    ],
    [{ type: "regex", pattern: "(" }, [{ where: `${W}.pattern`, message: /^invalid regular expression: / }]],
    [
      { type: "regex", pattern: "a", flags: "q" },
      [{ where: `${W}.flags`, message: /^invalid regex flags: / }],
    ],
    [
      { type: "regex", pattern: "\\p{L", flags: "u" },
      [{ where: `${W}.pattern`, message: /^invalid regular expression: / }],
    ],
    [
      { type: "regex", pattern: "a", flags: 1 },
      [{ where: `${W}.flags`, message: /^must be a string of regex flags/ }],
    ],
    [
      { type: "regex", pattern: "(a)", group: 2 },
      [{ where: `${W}.group`, message: "the pattern has 1 capture group, so there is no group 2" }],
    ],
    [{ type: "regex", pattern: "a", group: -1 }, [{ where: `${W}.group`, message: /there is no group -1/ }]],
    [
      { type: "regex", pattern: "a", group: 1.5 },
      [{ where: `${W}.group`, message: /^must be a group number or name/ }],
    ],
    [
      { type: "regex", pattern: "(?<x>a)", group: "y" },
      [{ where: `${W}.group`, message: 'the pattern has no group named "y" (named groups: x)' }],
    ],
    [
      { type: "text", allowEmpty: "no" },
      [{ where: `${W}.allowEmpty`, message: 'must be true or false, not "no"' }],
    ],
  ])("%j", (spec, expected) => {
    const { ok, problems } = check(spec);
    expect(ok).toBe(false);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((e, i) => {
      expect(problems[i]!.where).toBe(e.where);
      if (typeof e.message === "string") expect(problems[i]!.message).toBe(e.message);
      else expect(problems[i]!.message).toMatch(e.message);
    });
  });

  it("only judges its own problems when the list already has some", () => {
    const problems = new ProblemList();
    problems.add("elsewhere", "something");
    expect(validateParserSpec({ type: "text" }, W, problems)).toBe(true);
    expect(validateParserSpec({ type: "nope" }, W, problems)).toBe(false);
    expect(problems.items).toHaveLength(2);
  });
});

describe("normalizeParserSpec", () => {
  it.each(["number", "text", "json", " json "])("accepts the shorthand %j", (name) => {
    const problems = new ProblemList();
    expect(normalizeParserSpec(name, W, problems)).toEqual({ type: name.trim() });
    expect(problems.ok).toBe(true);
  });

  it("returns a copy of a valid object spec", () => {
    const problems = new ProblemList();
    const raw = { type: "choice", options: ["A", "B"] };
    const spec = normalizeParserSpec(raw, W, problems);
    expect(spec).toEqual(raw);
    expect(spec).not.toBe(raw);
  });

  it.each([
    ["choice", "a choice parser needs options: write it as { type: choice, options: [...] }"],
    ["regex", "a regex parser needs a pattern: write it as { type: regex, pattern: ... }"],
    [
      "integer",
      'unknown parser "integer" (expected one of: number, choice, json, regex, text, or an object with a type)',
    ],
    ["", 'unknown parser "" (expected one of: number, choice, json, regex, text, or an object with a type)'],
  ])("reports the bare name %j", (name, message) => {
    const problems = new ProblemList();
    expect(normalizeParserSpec(name, W, problems)).toBeUndefined();
    expect(problems.items).toEqual([{ where: W, message }]);
  });

  it("reports invalid objects and other values", () => {
    const problems = new ProblemList();
    expect(normalizeParserSpec({ type: "number", min: 2, max: 1 }, W, problems)).toBeUndefined();
    expect(normalizeParserSpec(undefined, W, problems)).toBeUndefined();
    expect(normalizeParserSpec(5, W, problems)).toBeUndefined();
    expect(problems.items.map((p) => p.message)).toEqual([
      "min (2) is greater than max (1)",
      expect.stringMatching(/not undefined$/),
      expect.stringMatching(/not 5$/),
    ]);
  });
});
