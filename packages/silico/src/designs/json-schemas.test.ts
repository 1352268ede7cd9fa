import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { FIXTURES, STAG_HUNT, ULTIMATUM } from "./alter-ego/test-helpers.js";
import { compileStudyText } from "./index.js";
import { studyJsonSchemas } from "./json-schemas.js";

const PACKAGE = join(import.meta.dirname, "..", "..");
const EXAMPLES = join(PACKAGE, "..", "..", "examples");
/** Agents files are examples of an integration, not studies: they live next to their oTree apps. */
const AGENTS_EXAMPLE = join(PACKAGE, "..", "..", "integrations", "otree", "agents_project", "agents.yaml");
const generated = studyJsonSchemas();

/** Every YAML study under examples/ with its kind, read as plain data. */
function examplesOf(kind: string): { file: string; text: string; data: unknown }[] {
  const out: { file: string; text: string; data: unknown }[] = [];
  if (kind === "alter_ego") {
    // built.json files carry no kind and no comment: the alter_ego fixtures are the examples.
    for (const name of [ULTIMATUM, STAG_HUNT]) {
      const text = readFileSync(join(FIXTURES, name), "utf8");
      out.push({ file: name, text, data: JSON.parse(text) });
    }
    return out;
  }
  if (kind === "agents") {
    const text = readFileSync(AGENTS_EXAMPLE, "utf8");
    return [{ file: "integrations/otree/agents_project/agents.yaml", text, data: parse(text) }];
  }
  for (const dir of readdirSync(EXAMPLES)) {
    for (const name of readdirSync(join(EXAMPLES, dir))) {
      if (!/\.ya?ml$/.test(name)) continue;
      const file = join(EXAMPLES, dir, name);
      const text = readFileSync(file, "utf8");
      const data = parse(text) as { kind?: unknown };
      if (data?.kind === kind) out.push({ file: `${dir}/${name}`, text, data });
    }
  }
  return out;
}

describe("the JSON Schemas shipped in packages/silico/schemas", () => {
  it("cover every kind of study file", () => {
    expect(Object.keys(generated).sort()).toEqual([
      "agents",
      "alter_ego",
      "factorial",
      "game",
      "otree",
      "stimuli",
    ]);
  });

  for (const [kind, schema] of Object.entries(generated)) {
    describe(kind, () => {
      it("is the committed file (run `npm run schemas -w packages/silico` after changing a schema)", () => {
        const committed = JSON.parse(readFileSync(join(PACKAGE, "schemas", `${kind}.schema.json`), "utf8"));
        expect(committed).toEqual(schema);
      });

      const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);

      const examples = examplesOf(kind);
      it("has an example to check", () => {
        expect(examples.length).toBeGreaterThan(0);
      });
      for (const ex of examples) {
        it(`accepts ${ex.file}, which silico also compiles`, () => {
          const ok = validate(ex.data);
          expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
          expect(ok).toBe(true);
          if (kind === "alter_ego") {
            expect(() => compileStudyText(ex.text, join(FIXTURES, ex.file))).not.toThrow();
            return;
          }
          if (kind === "agents") {
            expect(ex.text.split("\n")[0]).toBe(
              "# yaml-language-server: $schema=../../../packages/silico/schemas/agents.schema.json",
            );
            expect(() => compileStudyText(ex.text, AGENTS_EXAMPLE)).not.toThrow();
            return;
          }
          expect(ex.text.split("\n")[0]).toBe(
            `# yaml-language-server: $schema=../../packages/silico/schemas/${kind}.schema.json`,
          );
          expect(() => compileStudyText(ex.text, join(EXAMPLES, ex.file))).not.toThrow();
        });
      }
    });
  }

  /** A valid study of each kind, and changes to it that silico rejects at the surface. */
  const SURFACE: Record<string, { base: Record<string, unknown>; bad: Record<string, unknown>[] }> = {
    agents: {
      base: {
        kind: "agents",
        model: "mock:random",
        agents: {
          partner: {
            owner: "group",
            prompt: "Round {{ round }}",
            parse: { type: "choice", options: ["A", "B"] },
          },
        },
      },
      bad: [
        { agents: { "9x": { system: "x" } } },
        { agents: { chat: { owner: "player" } } },
        { agents: { chat: { sytem: "x" } } },
        { agents: { chat: { params: { temperature: 3 } } } },
        { model: "gpt-4o" },
        { settings: { max_in_flight: 0 } },
        { kind: "game" },
      ],
    },
    factorial: {
      base: { kind: "factorial", prompt: "Rate {{ x }}", levels: { x: [1, 2] }, model: "mock:random" },
      bad: [
        { promt: "x" },
        { levels: { x: [] } },
        { levels: { "9x": [1] } },
        { model: "gpt-4o" },
        { times: 0 },
        { params: { temperature: 3 } },
        { providers: { vllm: { base_url: "ftp://x" } } },
        { kind: "game" },
      ],
    },
    game: {
      base: {
        kind: "game",
        groups: 2,
        model: "mock:random",
        roles: { proposer: null, responder: { count: 1 } },
        stages: [{ name: "offer", prompt: "How much?", parse: "number" }],
      },
      bad: [
        { round: 3 },
        { groups: 0 },
        { assignment: "alternating" },
        { matching: { type: "stranger", poolsize: 6 } },
        { roles: { proposer: { count: 0 } } },
        { roles: {} },
        { stages: [{ name: "offer" }] },
        { stages: [{ name: "offer", prompt: "x", mode: "parallel" }] },
        { stages: [] },
        { invalid: JSON.parse('{"then": "ignore"}') },
        { model: "gpt-4o" },
        { kind: "factorial" },
      ],
    },
    alter_ego: {
      base: {
        threads: [[1, ["GPTThread", "gpt-4o"]]],
        treatments: ["give", "take"],
        rounds: 1,
        variables: {},
        prompts: { system: "", user: "x" },
        filters: [["JSON"]],
      },
      bad: [
        { threads: [] },
        { threads: [[1]] },
        { threads: [["1", "CLIThread"]] },
        { treatments: [] },
        { rounds: 0 },
        { rounds: 2.5 },
        { variables: { amount: 5 } },
        { prompts: { system: "" } },
        { filters: "JSON" },
        { filters: [["json"]] },
      ],
    },
    stimuli: {
      base: { kind: "stimuli", stimuli: "s.csv", design: "one-trial-per-run", model: "mock:random" },
      bad: [
        { design: "one-per-run" },
        { delimiter: "|" },
        { columns: { itme: "X" } },
        { randomize: ["items", "trials"] },
        { parse_events: [] },
        { measure: { targets: ["he"] } },
        { mode: "completon" },
        { sessions: 0 },
      ],
    },
    otree: {
      base: {
        kind: "otree",
        otree: { project: "./p" },
        session: { config: "ug", participants: 2 },
        bots: { model: "mock:random" },
      },
      bad: [
        { otree: { project: "./p", key: "x" } },
        { otree: { url: "ftp://x" } },
        { otree: { url: "http://x", rest_key_env: "my key" } },
        { session: { config: "ug", participants: 0 } },
        { humans: -1 },
        { humans: [0] },
        { bots: { model: "mock:random", memory: "all" } },
        { bots: { model: "mock:random", driver: "chrome" } },
        { bots: { model: "gpt-4o" } },
      ],
    },
  };

  for (const [kind, { base, bad }] of Object.entries(SURFACE)) {
    it(`rejects what silico rejects at the surface (${kind})`, () => {
      const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(
        generated[kind] as Record<string, unknown>,
      );
      expect(validate(base), JSON.stringify(validate.errors)).toBe(true);
      for (const change of bad) expect(validate({ ...base, ...change }), JSON.stringify(change)).toBe(false);
    });
  }
});
