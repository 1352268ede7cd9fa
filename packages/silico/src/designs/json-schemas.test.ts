import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { compileStudyText } from "./index.js";
import { studyJsonSchemas } from "./json-schemas.js";

const PACKAGE = join(import.meta.dirname, "..", "..");
const EXAMPLES = join(PACKAGE, "..", "..", "examples");
const generated = studyJsonSchemas();

/** Every YAML study under examples/ with its kind, read as plain data. */
function examplesOf(kind: string): { file: string; text: string; data: unknown }[] {
  const out: { file: string; text: string; data: unknown }[] = [];
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
    expect(Object.keys(generated).sort()).toEqual(["factorial"]);
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
        it(`accepts examples/${ex.file}, which silico also compiles`, () => {
          const ok = validate(ex.data);
          expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
          expect(ok).toBe(true);
          expect(() => compileStudyText(ex.text, join(EXAMPLES, ex.file))).not.toThrow();
        });
      }
    });
  }

  it("rejects what silico rejects at the surface (factorial)", () => {
    const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(
      generated.factorial as Record<string, unknown>,
    );
    const base = { kind: "factorial", prompt: "Rate {{ x }}", levels: { x: [1, 2] }, model: "mock:random" };
    expect(validate(base)).toBe(true);
    const bad = [
      { ...base, promt: "x" },
      { ...base, levels: { x: [] } },
      { ...base, levels: { "9x": [1] } },
      { ...base, model: "gpt-4o" },
      { ...base, times: 0 },
      { ...base, params: { temperature: 3 } },
      { ...base, providers: { vllm: { base_url: "ftp://x" } } },
      { ...base, kind: "game" },
    ];
    for (const doc of bad) expect(validate(doc), JSON.stringify(doc)).toBe(false);
  });
});
