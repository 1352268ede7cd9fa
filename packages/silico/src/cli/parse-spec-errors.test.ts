import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../test-support/cli.js";

// Every malformed `parse:` spec is refused before anything is written, with exit 2 and the
// problem at its own line and key (`s.yaml:8: parse.max: …`), in every study kind that has one.

let dir: string;
let n = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "silico-parse-spec-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refused(file: string, text: string, fragments: string[], extra: Record<string, string> = {}) {
  const d = join(dir, `t${++n}`);
  mkdirSync(d);
  for (const [name, content] of Object.entries({ ...extra, [file]: text }))
    writeFileSync(join(d, name), content);
  const before = readdirSync(d).sort();
  const r = await runCli(["run", join(d, file), "--db", join(d, "s.db"), "-q"], { cwd: d });
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  for (const f of fragments) expect(r.stderr).toContain(f);
  expect(r.stdout).toBe("");
  expect(readdirSync(d).sort()).toEqual(before);
}

/** A factorial study whose `parse:` starts on line 5; a block spec's first key is on line 6. */
const factorial = (parse: string) =>
  `kind: factorial\nprompt: "Rate {{ a }}"\nlevels: {a: [1, 2]}\nmodel: mock:random\nparse:${parse}\n`;

const CASES: { name: string; parse: string; fragments: string[] }[] = [
  {
    name: "unknown type",
    parse: "\n  type: nmber",
    fragments: ['s.yaml:6: parse.type: unknown parser type "nmber" (did you mean "number"?)'],
  },
  {
    name: "unknown bare name",
    parse: " Number",
    fragments: ['s.yaml:5: parse: unknown parser "Number" (did you mean "number"?)'],
  },
  { name: "no type", parse: " {}", fragments: ["s.yaml:5: parse: missing parser type"] },
  { name: "a list", parse: " [number]", fragments: ["s.yaml:5: parse: expected a parser", "not a list"] },
  { name: "null", parse: " null", fragments: ["s.yaml:5: parse: expected a parser", "not null"] },
  {
    name: "bad regex",
    parse: '\n  type: regex\n  pattern: "(\\\\d+"',
    fragments: ["s.yaml:7: parse.pattern: invalid regular expression: /(\\d+/: Unterminated group"],
  },
  {
    name: "bad regex flags",
    parse: '\n  type: regex\n  pattern: "\\\\d+"\n  flags: q',
    fragments: ["s.yaml:8: parse.flags: invalid regex flags"],
  },
  {
    name: "regex group the pattern lacks",
    parse: '\n  type: regex\n  pattern: "(\\\\d+)"\n  group: 2',
    fragments: ["s.yaml:8: parse.group: the pattern has 1 capture group, so there is no group 2"],
  },
  {
    name: "regex group of the wrong type",
    parse: '\n  type: regex\n  pattern: "(\\\\d+)"\n  group: 1.5',
    fragments: ["s.yaml:8: parse.group: must be a group number or name, not 1.5"],
  },
  {
    name: "regex without a pattern",
    parse: " regex",
    fragments: ["s.yaml:5: parse: a regex parser needs a pattern"],
  },
  {
    name: "choice without options",
    parse: "\n  type: choice",
    fragments: ["s.yaml:6: parse: a choice parser needs options"],
  },
  {
    name: "choices as text",
    parse: '\n  type: choice\n  options: "A, B"',
    fragments: ['s.yaml:7: parse.options: must be a list of strings, not "A, B"'],
  },
  {
    name: "no choices",
    parse: "\n  type: choice\n  options: []",
    fragments: ["s.yaml:7: parse.options: must list at least one option"],
  },
  {
    name: "a choice that is not text, on its own line",
    parse: "\n  type: choice\n  options:\n    - ACCEPT\n    - 2\n    - accept",
    fragments: [
      "s.yaml:9: parse.options[1]: must be a string, not 2 (put it in quotes)",
      's.yaml:10: parse.options[2]: duplicate option "accept", same as options[0] (options are compared ignoring case)',
    ],
  },
  {
    name: "min > max",
    parse: "\n  type: number\n  min: 10\n  max: 1",
    fragments: ["s.yaml:7: parse.min: min (10) is greater than max (1)"],
  },
  {
    name: "no whole number in range",
    parse: "\n  type: number\n  min: 0.2\n  max: 0.8\n  integer: true",
    fragments: ["s.yaml:7: parse.min: no whole number lies between min (0.2) and max (0.8)"],
  },
  {
    name: "wrong types",
    parse: '\n  type: number\n  min: "0"\n  max: .inf\n  integer: "yes"',
    fragments: [
      's.yaml:7: parse.min: must be a number, not "0"',
      "s.yaml:8: parse.max: must be a number, not Infinity",
      's.yaml:9: parse.integer: must be true or false, not "yes"',
    ],
  },
  {
    name: "unknown keys",
    parse: "\n  type: choice\n  options: [A, B]\n  case_sensitive: true\n  strict: true",
    fragments: [
      's.yaml:8: parse.case_sensitive: unknown key "case_sensitive" for a choice parser (did you mean "caseSensitive"?)',
      's.yaml:9: parse.strict: unknown key "strict" for a choice parser (allowed: type, options, caseSensitive)',
    ],
  },
  {
    name: "text parser with a wrong type",
    parse: "\n  type: text\n  allowEmpty: 1",
    fragments: ["s.yaml:7: parse.allowEmpty: must be true or false, not 1"],
  },
  {
    name: "a JSON schema that is not one",
    parse: "\n  type: json\n  schema: object",
    fragments: ['s.yaml:7: parse.schema: must be a JSON Schema object, not "object"'],
  },
  {
    name: "a JSON schema with a bad type",
    parse: "\n  type: json\n  schema:\n    type: object\n    properties:\n      keep: { type: integr }",
    fragments: ["s.yaml:10: parse.schema.properties.keep.type: must be equal to one of the allowed values"],
  },
  {
    name: "a JSON schema no answer can meet",
    parse:
      "\n  type: json\n  schema:\n    type: object\n    properties:\n      keep:\n        type: integer\n        minimum: 10\n        maximum: 0",
    fragments: [
      "s.yaml:12: parse.schema.properties.keep.minimum: minimum (10) is greater than maximum (0): no answer can match",
    ],
  },
  {
    name: "a JSON schema keyword misspelt",
    parse: "\n  type: json\n  schema: { type: object, requried: [keep] }",
    fragments: ["s.yaml:7: parse.schema: invalid JSON Schema", "requried"],
  },
];

describe("a malformed parse: spec is refused, located at its key", () => {
  for (const c of CASES) it(`factorial: ${c.name}`, () => refused("s.yaml", factorial(c.parse), c.fragments));

  it("params.response_schema: a schema the provider would refuse, or no answer can meet", async () => {
    const study = (schema: string) =>
      `kind: factorial\nprompt: "Rate {{ a }}"\nlevels: {a: [1]}\nmodel: mock:random\nparse: json\nparams:\n  response_schema:\n${schema}\n`;
    await refused("s.yaml", study("    type: objekt"), [
      "s.yaml:8: params.response_schema.type: must be equal to one of the allowed values",
    ]);
    await refused(
      "s.yaml",
      study("    type: object\n    properties:\n      keep: { type: integer, minimum: 9, maximum: 1 }"),
      ["s.yaml:10: params.response_schema.properties.keep.minimum: minimum (9) is greater than maximum (1)"],
    );
    // A provider's own keyword (Google's nullable) is not refused.
    const d = join(dir, `t${++n}`);
    mkdirSync(d);
    writeFileSync(join(d, "s.yaml"), study("    type: object\n    nullable: true"));
    const r = await runCli(["run", join(d, "s.yaml"), "--db", join(d, "s.db"), "-q"]);
    expect(r.stderr).not.toContain("response_schema");
  });

  it("game: a stage's parser", async () => {
    const game = `kind: game
groups: 1
model: mock:random
roles: { a: { count: 1 } }
stages:
  - name: pick
    prompt: Pick.
    parse:
      type: choice
      options: [A, A]
  - name: rate
    prompt: Rate.
    parse: { type: number, min: 3, max: 1, step: 1 }
`;
    await refused("g.yaml", game, [
      'g.yaml:10: stages[0].parse.options[1]: duplicate option "A", same as options[0]',
      "g.yaml:13: stages[1].parse.min: min (3) is greater than max (1)",
      'g.yaml:13: stages[1].parse.step: unknown key "step" for a number parser',
    ]);
  });

  it("stimuli: the study's parser", async () => {
    await refused(
      "s.yaml",
      "kind: stimuli\nstimuli: stim.csv\ndesign: one-trial-per-run\nmodel: mock:random\nparse:\n  type: regex\n  pattern: '[a-'\n",
      ["s.yaml:7: parse.pattern: invalid regular expression: /[a-/: Unterminated character class"],
      { "stim.csv": "Run,Item,Condition,Prompt\n1,1,a,Hello\n" },
    );
  });
});
