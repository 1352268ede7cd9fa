import { describe, expect, it } from "vitest";
import { StudyError } from "../errors.js";
import { duplicateJsonKey, nestedTooDeep } from "./source-limits.js";
import { parseStudyText } from "./source.js";

function problems(text: string, file: string): string[] {
  try {
    parseStudyText(text, `/x/${file}`);
  } catch (e) {
    if (e instanceof StudyError) return e.problems.map((p) => `${p.where}: ${p.message}`);
    throw e;
  }
  return [];
}

describe("duplicateJsonKey", () => {
  it("finds a key given twice in one object, wherever the object is", () => {
    const text = '{"a": {"x": 1, "y": [{"x": 2}], "x": 3}}';
    expect(duplicateJsonKey(text)).toEqual({ key: "x", offset: text.lastIndexOf('"x"'), firstOffset: 7 });
  });

  it("compares keys by value, escapes included, and ignores equal strings that are values", () => {
    expect(duplicateJsonKey('{"a": "a", "b": ["a", "a"], "c": {"a": 1}}')).toBeUndefined();
    expect(duplicateJsonKey('{"\\u0061": 1, "a": 2}')?.key).toBe("a");
    expect(duplicateJsonKey('{"a\\"": 1, "b": "\\\\", "a\\"": 2}')?.key).toBe('a"');
  });

  it("walks deep nesting without recursion", () => {
    expect(duplicateJsonKey(`${"[".repeat(200000)}${"]".repeat(200000)}`)).toBeUndefined();
  });
});

describe("nestedTooDeep", () => {
  it("gives the path where nesting passes the limit", () => {
    expect(nestedTooDeep({ a: [[[1]]] }, 3)).toEqual(["a", 0, 0]);
    expect(nestedTooDeep({ a: [[1]] }, 3)).toBeUndefined();
  });

  it("ends on circular data", () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(nestedTooDeep(loop, 10)).toHaveLength(10);
  });
});

describe("parseStudyText refuses", () => {
  it("a duplicate JSON key, at the line of its second use", () => {
    expect(problems('{\n  "kind": "x",\n  "kind": "y"\n}\n', "s.json")).toEqual([
      's.json:3: not valid JSON: duplicate key "kind" (first given on line 2)',
    ]);
  });

  it("a YAML alias bomb, at the alias that multiplies", () => {
    const text =
      "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n";
    expect(problems(text, "s.yaml")).toEqual([
      "s.yaml:3: not valid YAML: aliases (*name) expand to too much data; write the values out instead",
    ]);
  });

  it("YAML nested past the limit, at the line it happens", () => {
    const text = `kind: x\nlevels:\n  a: ${"[".repeat(70)}1${"]".repeat(70)}\n`;
    expect(problems(text, "s.yaml")).toEqual([
      "s.yaml:3: levels.a[0]…: nested more than 64 levels deep; a study needs far fewer",
    ]);
  });

  it("JSON nested past the limit, at the line of the bracket that passes it", () => {
    const text = `{\n"kind": "x",\n"levels": {"a": "[[[",\n"b":\n${"[".repeat(70)}1${"]".repeat(70)}}}\n`;
    expect(problems(text, "s.json")).toEqual([
      "s.json:5: levels.b[0]…: nested more than 64 levels deep; a study needs far fewer",
    ]);
  });

  it("but accepts moderate nesting and ordinary aliases", () => {
    expect(problems(`a: &a {x: 1}\nb: *a\nc: ${"[".repeat(30)}1${"]".repeat(30)}\n`, "s.yaml")).toEqual([]);
  });
});
