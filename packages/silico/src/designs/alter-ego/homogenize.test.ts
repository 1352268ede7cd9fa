import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { homogenize, pyStrip } from "./homogenize.js";
import { FIXTURES, fixture, STAG_HUNT, ULTIMATUM } from "./test-helpers.js";

/** Produced by alter_ego 1.6.0's own alter_ego.utils.homogenize (see testdata/PROVENANCE.md). */
const expected = JSON.parse(readFileSync(join(FIXTURES, "homogenize-expected.json"), "utf8")) as Record<
  string,
  unknown
> & {
  cases: [string, string][];
};

describe("homogenize (alter_ego's template rewrite)", () => {
  it.each(expected.cases)("matches alter_ego on %j", (input, output) => {
    expect(homogenize(input)).toBe(output);
  });

  it.each([ULTIMATUM, STAG_HUNT])("matches alter_ego on both prompts of %s", (name) => {
    const prompts = fixture(name).prompts as { system: string; user: string };
    const want = expected[name] as { system: string; user: string };
    expect(homogenize(prompts.system)).toBe(want.system);
    expect(homogenize(prompts.user)).toBe(want.user);
    // The stag hunt's prompts are indented: homogenize must have removed the indentation.
    expect(homogenize(prompts.user)).not.toMatch(/\n /);
  });

  it("turns CRLF into a blank line, collapses runs until stable and rewrites string literals too", () => {
    expect(homogenize("a\r\nb")).toBe("a\n\nb");
    expect(homogenize(`a${" ".repeat(9)}b`)).toBe("a b");
    expect(homogenize("a\n\n\n\n\n\nb")).toBe("a\n\nb");
    expect(homogenize("{{ 'x    y' }}")).toBe("{{ 'x y' }}");
  });

  it("strips what Python's str.strip strips, not what JS trim strips", () => {
    expect(pyStrip("\u001cx\u0085")).toBe("x");
    expect(pyStrip("\ufeffx")).toBe("\ufeffx");
    expect(pyStrip("\u00a0x\u3000")).toBe("x");
  });
});
