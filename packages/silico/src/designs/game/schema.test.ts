import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseStudyText } from "../../study/source.js";
import { gameDesign } from "./index.js";

const PACKAGE = join(import.meta.dirname, "..", "..", "..");
const EXAMPLES = join(PACKAGE, "..", "..", "examples");
const schema = JSON.parse(readFileSync(join(PACKAGE, "schemas", "game.schema.json"), "utf8")) as Record<
  string,
  unknown
>;
const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);
const examples = ["ultimatum", "framed-pd", "public-goods"].map((name) => join(EXAMPLES, name, "study.yaml"));

describe("the published JSON Schema of game studies", () => {
  it("is a valid draft-07 schema (strict mode)", () => {
    expect(typeof validate).toBe("function");
  });

  for (const file of examples) {
    it(`accepts ${file.split("/").slice(-2).join("/")}, which silico also compiles`, () => {
      const text = readFileSync(file, "utf8");
      const ok = validate(parse(text));
      expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
      expect(ok).toBe(true);
      expect(text.split("\n")[0]).toBe(
        "# yaml-language-server: $schema=../../packages/silico/schemas/game.schema.json",
      );
      expect(() => gameDesign.compile(parseStudyText(text, file), {})).not.toThrow();
    });
  }

  it("rejects what silico rejects at the surface: unknown keys, bad enums, zero counts", () => {
    const base = parse(readFileSync(examples[0] as string, "utf8")) as Record<string, unknown>;
    const bad = [
      { ...base, round: 3 },
      { ...base, assignment: "alternating" },
      { ...base, matching: { type: "stranger", poolsize: 6 } },
      { ...base, roles: { proposer: { count: 0 } } },
      { ...base, stages: [{ name: "offer" }] },
      { ...base, stages: [{ name: "offer", prompt: "x", mode: "parallel" }] },
      { ...base, invalid: JSON.parse('{"then": "ignore"}') },
      { ...base, model: "gpt-4o" },
      { ...base, kind: "factorial" },
    ];
    for (const doc of bad) expect(validate(doc), JSON.stringify(doc).slice(0, 80)).toBe(false);
  });
});
