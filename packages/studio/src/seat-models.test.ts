import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { applyModelOverride, checkWithModels } from "./model-override.js";
import { check, otreePreview } from "./preview.js";
import { applyStudyEdits } from "./study-edit.js";

const OTREE = `# bots with their own models
kind: otree
otree:
  url: http://127.0.0.1:9
session:
  config: ultimatum
  participants: 4
bots:
  model: mock:random # the default
  system: "Seat {{ seat }}."
  seats:
    - seats: [1, 3]
      model: mock:example # the proposers
    - { seats: [2], system: "Second {{ seat }}." }
`;

const path = join(tmpdir(), "seats.yaml");

/** The lines of `b` that differ from `a` (same line count expected). */
function changedLines(a: string, b: string): string[] {
  const x = a.split("\n");
  const y = b.split("\n");
  expect(y).toHaveLength(x.length);
  return y.filter((l, i) => l !== x[i]);
}

/** Each bot seat's model as the otree preview shows it. */
function seatModels(text: string): Record<string, string> {
  const r = check(text, path);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return Object.fromEntries(otreePreview(r.study).participants.map((p) => [p.id, p.model]));
}

describe("kind: otree: per-seat bot models", () => {
  it("the preview shows each seat's model: an entry's own, else the block's", () => {
    expect(seatModels(OTREE)).toEqual({
      "seat 1": "mock:example",
      "seat 2": "mock:random",
      "seat 3": "mock:example",
      "seat 4": "mock:random",
    });
  });

  it("a seats entry's model edit changes only its value: comments and everything else stay", () => {
    const out = applyStudyEdits(OTREE, [
      { op: "set", path: ["bots", "seats", 0, "model"], value: "mock:echo", as: "text" },
    ]);
    expect(changedLines(OTREE, out)).toEqual(["      model: mock:echo # the proposers"]);
    expect(seatModels(out)["seat 3"]).toBe("mock:echo");
  });

  it("a model for an entry without one is added into that entry's line, in its flow style", () => {
    const out = applyStudyEdits(OTREE, [
      { op: "set", path: ["bots", "seats", 1, "model"], value: "mock:echo", as: "text" },
    ]);
    expect(changedLines(OTREE, out)).toEqual([
      '    - { seats: [ 2 ], system: "Second {{ seat }}.", model: mock:echo }',
    ]);
    expect(seatModels(out)["seat 2"]).toBe("mock:echo");
  });

  it("a model for a further seat adds one bots.seats entry; a bad seat is the compiler's problem", () => {
    const out = applyStudyEdits(OTREE, [
      { op: "set", path: ["bots", "seats", 2], value: '{ seats: [4], model: "mock:echo" }' },
    ]);
    const before = OTREE.split("\n");
    const after = out.split("\n");
    expect(after.length).toBe(before.length + 1);
    expect(after.filter((l) => !before.includes(l))).toEqual(["    - { seats: [ 4 ], model: mock:echo }"]);
    expect(out.startsWith("# bots with their own models\n")).toBe(true);
    expect(seatModels(out)["seat 4"]).toBe("mock:echo");
    const bad = applyStudyEdits(OTREE, [
      { op: "set", path: ["bots", "seats", 2], value: '{ seats: [9], model: "mock:echo" }' },
    ]);
    const r = check(bad, path);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.map((p) => p.where).join(" ")).toContain("bots.seats");
  });

  it("a block without seats gets its first entry", () => {
    const plain = OTREE.replace(/ {2}seats:\n[\s\S]*$/, "");
    const out = applyStudyEdits(plain, [
      { op: "set", path: ["bots", "seats"], value: '[{ seats: [2], model: "mock:echo" }]' },
    ]);
    expect(out.startsWith(plain.trimEnd())).toBe(true);
    expect(seatModels(out)).toMatchObject({ "seat 1": "mock:random", "seat 2": "mock:echo" });
  });
});

describe("kind: otree: models chosen at run time, per seat", () => {
  it("a seat's model goes to its entry; a seat of no entry gets a new one", () => {
    const out = applyModelOverride("otree", OTREE, { roles: { "2": "mock:echo", "4": "mock:example" } });
    expect(out).toContain("# bots with their own models");
    expect(out).toContain("model: mock:random # the default");
    expect(seatModels(out)).toEqual({
      "seat 1": "mock:example",
      "seat 2": "mock:echo",
      "seat 3": "mock:example",
      "seat 4": "mock:example",
    });
  });

  it("one model for all bots replaces the default and the entries' own models", () => {
    // Seat 3 shares its entry with seat 1: both need the same model.
    expect(() => applyModelOverride("otree", OTREE, { roles: { "3": "mock:example" } })).toThrow(
      /seats 1, 3 share one entry/,
    );
    const all = applyModelOverride("otree", OTREE, { models: ["mock:echo"] });
    expect(new Set(Object.values(seatModels(all)))).toEqual(new Set(["mock:echo"]));
    const both = applyModelOverride("otree", OTREE, { roles: { "1": "mock:echo", "3": "mock:echo" } });
    expect(seatModels(both)).toMatchObject({
      "seat 1": "mock:echo",
      "seat 3": "mock:echo",
      "seat 2": "mock:random",
    });
  });

  it("checkWithModels compiles the chosen seat models; a seat that is not a number is refused", () => {
    const { result, text } = checkWithModels(OTREE, path, { roles: { "4": "mock:echo" } });
    expect(result.ok).toBe(true);
    expect(text).toContain("seats: [ 4 ]");
    expect(() => applyModelOverride("otree", OTREE, { roles: { left: "mock:echo" } })).toThrow(
      /per bot seat number/,
    );
  });
});
