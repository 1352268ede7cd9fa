import { describe, expect, it } from "vitest";
import { applyStudyEdits, cellValue, editsOf } from "./study-edit.js";

const GAME = `# my game
kind: game
roles:
  left: { count: 1 } # the first mover
  right:
    count: 1
treatments:
  low: { bonus: 1, label: "small" }
  high: { bonus: 5, label: "big" } # keep me
`;

/** The lines of `b` that differ from `a` (same line count expected). */
function changedLines(a: string, b: string): string[] {
  const x = a.split("\n");
  const y = b.split("\n");
  expect(y).toHaveLength(x.length);
  return y.filter((l, i) => l !== x[i]);
}

describe("builder table edits on the study text", () => {
  it("a cell edit changes that value only: comments, order, quoting and flow style stay", () => {
    const out = applyStudyEdits(GAME, [{ op: "set", path: ["treatments", "high", "bonus"], value: "7" }]);
    expect(changedLines(GAME, out)).toEqual(['  high: { bonus: 7, label: "big" } # keep me']);
    const label = applyStudyEdits(GAME, [{ op: "set", path: ["treatments", "low", "label"], value: "tiny" }]);
    expect(changedLines(GAME, label)).toEqual(['  low: { bonus: 1, label: "tiny" }']);
  });

  it("adds a variable to every treatment and a role, in the maps' own style", () => {
    const out = applyStudyEdits(GAME, [
      { op: "set", path: ["treatments", "low", "cost"], value: "0.5" },
      { op: "set", path: ["treatments", "high", "cost"], value: "1" },
      { op: "set", path: ["roles", "middle"], value: "{ count: 2 }" },
    ]);
    expect(out).toContain('  low: { bonus: 1, label: "small", cost: 0.5 }');
    expect(out).toContain('  high: { bonus: 5, label: "big", cost: 1 } # keep me');
    expect(out).toContain("  middle: { count: 2 }");
    expect(out.startsWith("# my game\n")).toBe(true);
  });

  it("renames a row keeping its value, place and comment; deletes a row or a cell", () => {
    const out = applyStudyEdits(GAME, [{ op: "rename", path: ["roles", "left"], to: "first" }]);
    expect(changedLines(GAME, out)).toEqual(["  first: { count: 1 } # the first mover"]);
    expect(() => applyStudyEdits(GAME, [{ op: "rename", path: ["roles", "left"], to: "right" }])).toThrow(
      /taken/,
    );
    const del = applyStudyEdits(GAME, [{ op: "delete", path: ["treatments", "low"] }]);
    expect(del).not.toContain("low:");
    expect(del).toContain("# keep me");
  });

  it("edits a factorial factor's levels as list items", () => {
    const f = "kind: factorial\nlevels:\n  item: [apples, pears] # fruit\n  time: [now]\n";
    // A changed level: exactly its characters.
    const one = applyStudyEdits(f, [{ op: "set", path: ["levels", "item", 1], value: "plums" }]);
    expect(one).toBe(f.replace("pears", "plums"));
    // A new level: only that factor's line changes (in the yaml library's spacing).
    const out = applyStudyEdits(f, [{ op: "set", path: ["levels", "time", 1], value: "later" }]);
    expect(changedLines(f, out)).toEqual(["  time: [ now, later ]"]);
    const quoted = applyStudyEdits(GAME, [
      { op: "set", path: ["treatments", "high", "label"], value: "'a: b'" },
    ]);
    expect(changedLines(GAME, quoted)).toEqual(['  high: { bonus: 5, label: "a: b" } # keep me']);
    expect(applyStudyEdits(f, [{ op: "delete", path: ["levels", "item", 0] }])).toContain("item: [ pears ]");
  });

  it("reads a cell as YAML and checks requests", () => {
    expect(cellValue("2")).toBe(2);
    expect(cellValue("a b")).toBe("a b");
    expect(cellValue("[x, y]")).toEqual(["x", "y"]);
    expect(cellValue("a: b: c")).toBe("a: b: c");
    expect(() => editsOf([{ op: "set", path: [], value: "1" }])).toThrow(/path/);
    expect(() => editsOf([{ op: "move", path: ["a"] }])).toThrow(/op must be/);
    expect(() => applyStudyEdits("a: [", [{ op: "delete", path: ["a"] }])).toThrow(/not valid YAML/);
  });

  it("a form's text value stays text (as: text), in the node's own quoting", () => {
    const text = `kind: factorial\nname: plain # the name\nmodel: mock:random\n`;
    const out = applyStudyEdits(text, [{ op: "set", path: ["name"], value: "42", as: "text" }]);
    expect(changedLines(text, out)).toEqual(['name: "42" # the name']);
    const colon = applyStudyEdits(text, [{ op: "set", path: ["name"], value: "a: b", as: "text" }]);
    expect(changedLines(text, colon)).toEqual(['name: "a: b" # the name']);
    // Read as YAML (the default), the same text is a number.
    const n = applyStudyEdits(text, [{ op: "set", path: ["name"], value: "42" }]);
    expect(changedLines(text, n)).toEqual(["name: 42 # the name"]);
    expect(editsOf([{ op: "set", path: ["name"], value: "x", as: "text" }])).toEqual([
      { op: "set", path: ["name"], value: "x", as: "text" },
    ]);
    expect(() => editsOf([{ op: "set", path: ["name"], value: "x", as: "json" }])).toThrow(
      /as must be yaml or text/,
    );
  });

  it("a new multi-line value of a block scalar keeps the block's indentation", () => {
    const text = `kind: factorial\nsettings:\n  note: |\n    one\n    two\nmodel: mock:random\n`;
    const out = applyStudyEdits(text, [
      { op: "set", path: ["settings", "note"], value: "uno\ndos\n", as: "text" },
    ]);
    expect(out).toBe(`kind: factorial\nsettings:\n  note: |\n    uno\n    dos\nmodel: mock:random\n`);
  });
});
