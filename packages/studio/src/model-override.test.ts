import { describe, expect, it } from "vitest";
import { applyModelOverride, overrideOf } from "./model-override.js";

const GAME = `kind: game # a comment that stays
name: g
model: ts:a # the default
roles:
  left: { count: 1 }
  right:
    count: 1
    model: ts:b # right's own
treatments: { low: { bonus: 1 } }
`;

const changed = (a: string, b: string) => {
  const x = a.split("\n");
  const y = b.split("\n");
  return y.filter((l, i) => l !== x[i]);
};

describe("models chosen at run time, written into the study text", () => {
  it("sets a role's model and changes nothing else (comments, order, style)", () => {
    const out = applyModelOverride("game", GAME, { roles: { left: "ts:c" } });
    expect(out).toBe(GAME.replace("left: { count: 1 }", "left: { count: 1, model: ts:c }"));
  });

  it("one model for everyone replaces the default and the roles' own models", () => {
    const out = applyModelOverride("game", GAME, { models: ["ts:z"] });
    expect(out).toContain("model: ts:z # the default");
    expect(out).not.toContain("ts:b");
    expect(out).toContain("# a comment that stays");
  });

  it("gives a factorial several models as its models list", () => {
    const f = "kind: factorial\nmodel: ts:a\nprompt: hi\n";
    const out = applyModelOverride("factorial", f, { models: ["ts:a", "ts:b"] });
    expect(out).toBe("kind: factorial\nprompt: hi\nmodels: [ ts:a, ts:b ]\n");
    expect(changed(f, applyModelOverride("factorial", f, { models: ["ts:q"] }))).toEqual(["model: ts:q"]);
  });

  it("refuses what a kind cannot take, and malformed ids", () => {
    expect(() => applyModelOverride("stimuli", "kind: stimuli\n", { models: ["a:b", "a:c"] })).toThrow(
      /one model/,
    );
    expect(() => applyModelOverride("alter_ego", "{}", { models: ["a:b"] })).toThrow(/not available/);
    expect(() => applyModelOverride("game", GAME, { roles: { up: "a:b" } })).toThrow(/no such role/);
    expect(() => overrideOf({ models: ["gpt-4o"] })).toThrow(/provider:model/);
    expect(overrideOf({ models: [], roles: { left: "" } })).toBeUndefined();
  });
});
