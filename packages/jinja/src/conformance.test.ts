/**
 * Runs every case of conformance/cases.json (rendered by real Jinja2 with
 * scripts/generate.py) through silico's engine and requires identical output,
 * or a TemplateError where Jinja2 raised. JINJA_CONFORMANCE_CASES=path runs another cases file
 * instead (e.g. one written by scripts/fuzz.py).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { TemplateError } from "./template-error.js";
import { compileTemplate, pyFloat } from "./template.js";

interface ConformanceCase {
  name: string;
  template: string;
  context: Record<string, unknown>;
  expected?: string;
  error?: true;
  error_type?: string;
  error_message?: string;
  /** The engine must raise Python's exception type and message. */
  exact?: true;
}

const customCases = process.env.JINJA_CONFORMANCE_CASES;
const casesFile = customCases ?? new URL("./conformance/cases.json", import.meta.url);
const doc = JSON.parse(readFileSync(casesFile, "utf8")) as {
  jinja2: string;
  cases: ConformanceCase[];
};

/** Turns the generator's {"__float__": n} markers into Python floats. */
function toContext(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toContext);
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1 && entries[0]?.[0] === "__float__") return pyFloat(entries[0][1] as number);
    return Object.fromEntries(entries.map(([k, v]) => [k, toContext(v)]));
  }
  return value;
}

function run(c: ConformanceCase): string {
  const origin = { where: `conformance: ${c.name}` };
  return compileTemplate(c.template, origin).render(toContext(c.context) as Record<string, unknown>);
}

describe(`Jinja2 ${doc.jinja2} conformance`, () => {
  it.skipIf(customCases !== undefined)("has enough cases", () => {
    expect(doc.cases.length).toBeGreaterThanOrEqual(60);
  });

  for (const c of doc.cases) {
    if (c.error) {
      it(`${c.name} (raises ${c.error_type})`, () => {
        let thrown: unknown;
        try {
          run(c);
        } catch (e) {
          thrown = e;
        }
        expect(thrown).toBeInstanceOf(TemplateError);
        if (c.error_type === "UndefinedError") {
          expect((thrown as TemplateError).detail).toBe(c.error_message);
        } else if (c.exact) {
          expect((thrown as TemplateError).detail).toBe(`${c.error_type}: ${c.error_message}`);
        }
      });
    } else {
      it(c.name, () => {
        expect(run(c)).toBe(c.expected);
      });
    }
  }
});
