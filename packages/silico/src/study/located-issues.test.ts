import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ProblemList } from "../errors.js";
import { parseLocated, salvage } from "./located-issues.js";
import { mapping, namedRecord, num, oneOf, paramsSchema, reaskSchema, text } from "./schema-parts.js";
import { parseStudyText } from "./source.js";

const schema = mapping({
  kind: z.literal("demo"),
  title: text().optional(),
  size: num({ int: true, min: 1 }),
  color: oneOf(["red", "green", "blue"], (v) => `must be red, green or blue, got ${String(v)}`).optional(),
  params: paramsSchema.optional(),
  reask: reaskSchema.optional(),
  parts: z
    .array(mapping({ name: text("a part needs a name"), weight: num({ min: 0 }).optional() }))
    .optional(),
});

function check(yaml: string) {
  const src = parseStudyText(yaml, "/tmp/demo.yaml");
  const problems = new ProblemList();
  const result = parseLocated(schema, src, problems);
  return { ...result, lines: problems.items.map((p) => `${p.where}: ${p.message}`) };
}

describe("zod issues as located problems", () => {
  it("passes a valid file through unchanged and typed", () => {
    const r = check("kind: demo\nsize: 3\ncolor: red\n");
    expect(r.ok).toBe(true);
    expect(r.lines).toEqual([]);
    expect(r.data).toEqual({ kind: "demo", size: 3, color: "red" });
  });

  it("reports every problem at once, each at its own line and path", () => {
    const r = check(
      [
        "kind: demo",
        "size: 0",
        "colour: red",
        "color: gren",
        "params:",
        "  temprature: 1",
        "  top_p: 3",
        "parts:",
        "  - name: a",
        "  - weight: -1",
        "",
      ].join("\n"),
    );
    expect(r.ok).toBe(false);
    expect(r.lines).toEqual([
      "demo.yaml:2: size: must be at least 1, got 0",
      'demo.yaml:4: color: must be red, green or blue, got gren (did you mean "green"?)',
      "demo.yaml:7: params.top_p: must be at most 1, got 3",
      expect.stringMatching(
        /^demo\.yaml:6: params\.temprature: unknown key "temprature" \(did you mean "temperature"\?\); allowed here: temperature, top_p, /,
      ),
      "demo.yaml:10: parts[1].name: a part needs a name",
      "demo.yaml:10: parts[1].weight: must be at least 0, got -1",
      'demo.yaml:3: colour: unknown key "colour" (did you mean "color"?); allowed here: kind, title, size, color, params, reask, parts',
    ]);
  });

  it("keeps the fields that are valid on their own for the semantic checks", () => {
    const r = check("kind: demo\nsize: 0\ntitle: T\ncolor: blue\n");
    expect(r.ok).toBe(false);
    expect(r.data).toEqual({ kind: "demo", title: "T", color: "blue" });
    expect(salvage(schema, [1, 2])).toEqual({});
  });

  it("looks inside the one alternative of a union that fits the value's type", () => {
    expect(check("kind: demo\nsize: 1\nreask: {max: 20}\n").lines).toEqual([
      "demo.yaml:3: reask.max: must be at most 10, got 20",
    ]);
    expect(check("kind: demo\nsize: 1\nreask: many\n").lines).toEqual([
      "demo.yaml:3: reask: must be a number of re-asks or a mapping {max, message}",
    ]);
    expect(check("kind: demo\nsize: 1\nparams: {stop: [1]}\n").lines).toEqual([
      "demo.yaml:3: params.stop[0]: must be a text",
    ]);
  });

  it("names a missing key at its mapping when the message says what the mapping needs", () => {
    const needs = mapping({ kind: z.literal("demo"), size: num({ message: 'needs "size": a number' }) });
    const src = parseStudyText("kind: demo\n", "/tmp/demo.yaml");
    const problems = new ProblemList();
    parseLocated(needs, src, problems);
    expect(problems.items).toEqual([{ where: "demo.yaml:1", message: 'needs "size": a number' }]);
  });

  it("words zod's own messages for parts a schema gave none", () => {
    const bare = mapping({ kind: z.literal("demo"), tags: z.array(z.string()).optional() });
    const src = parseStudyText("kind: demo\ntags: [a, 2]\n", "/tmp/demo.yaml");
    const problems = new ProblemList();
    parseLocated(bare, src, problems);
    expect(problems.items).toEqual([{ where: "demo.yaml:2: tags[1]", message: "must be a text" }]);
  });

  it("reports a bad name and the problems of its value together", () => {
    const named = mapping({
      kind: z.literal("demo"),
      groups: namedRecord(
        z.string().regex(/^[a-z]+$/, { error: (iss) => `name "${String(iss.input)}" must be lower-case` }),
        z.array(z.string()).min(1, { error: "must list at least one member" }),
      ),
    });
    const src = parseStudyText("kind: demo\ngroups:\n  ok: [a]\n  Bad: []\n", "/tmp/demo.yaml");
    const problems = new ProblemList();
    parseLocated(named, src, problems);
    expect(problems.items).toEqual([
      { where: "demo.yaml:4: groups.Bad", message: "must list at least one member" },
      { where: "demo.yaml:4: groups.Bad", message: 'name "Bad" must be lower-case' },
    ]);
  });
});
