import { describe, expect, it } from "vitest";
import { compileExpression } from "./expression.js";
import { projecting, pyFloat, Undef } from "./python-values.js";
import { EXPRESSION_FUNCTIONS } from "./python-builtins.js";
import { compileTemplate, renderTemplate } from "./template.js";
import { TemplateError } from "./template-error.js";

const origin = { where: "game.yaml: payoffs.proposer" };
const ev = (src: string, context: Record<string, unknown> = {}) =>
  compileExpression(src, origin).evaluate(context);

function errorOf(fn: () => unknown): TemplateError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateError);
    return e as TemplateError;
  }
  throw new Error("expected a TemplateError");
}

describe("expressions: arithmetic with Python semantics", () => {
  it("follows Python precedence and associativity", () => {
    expect(ev("1 + 2 * 3")).toBe(7);
    expect(ev("(1 + 2) * 3")).toBe(9);
    expect(ev("2 ** 3 ** 2")).toBe(512);
    expect(ev("-2 ** 2")).toBe(-4);
    expect(ev("10 - 4 - 3")).toBe(3);
    expect(ev("20 / 4 / 5")).toEqual(pyFloat(1));
  });

  it("divides like Python: / is true division, // floors, % takes the divisor's sign", () => {
    expect(ev("7 / 2")).toBe(3.5);
    expect(ev("7 // 2")).toBe(3);
    expect(ev("-7 // 2")).toBe(-4);
    expect(ev("-7 % 3")).toBe(2);
    expect(ev("7 % -3")).toBe(-2);
    expect(ev("1.5e1 + .5")).toBe(15.5);
    expect(ev("2 ** 100")).toBe(2n ** 100n);
  });

  it("raises Python's errors for division by zero, with the origin", () => {
    const e = errorOf(() => ev("1 / 0"));
    expect(e.where).toBe("game.yaml: payoffs.proposer");
    expect(e.detail).toBe("ZeroDivisionError: division by zero");
    expect(errorOf(() => ev("x // 0", { x: 3 })).detail).toBe(
      "ZeroDivisionError: integer division or modulo by zero",
    );
    expect(errorOf(() => ev("x % 0", { x: 3 })).detail).toBe("ZeroDivisionError: integer modulo by zero");
    expect(errorOf(() => ev("'a' - 1")).detail).toBe(
      "TypeError: unsupported operand type(s) for -: 'str' and 'int'",
    );
  });

  it("evaluates conditionals lazily and chains them to the right", () => {
    const pd = compileExpression(
      "20 if me == 1 and other == 1 else 0 if me == 1 else 28 if other == 1 else 8",
      origin,
    );
    expect(pd.evaluate({ me: 1, other: 1 })).toBe(20);
    expect(pd.evaluate({ me: 1, other: 2 })).toBe(0);
    expect(pd.evaluate({ me: 2, other: 1 })).toBe(28);
    expect(pd.evaluate({ me: 2, other: 2 })).toBe(8);
    expect(ev("1 if True else missing")).toBe(1);
    expect(ev("flag and missing", { flag: false })).toBe(false);
  });

  it("has Python comparisons and and/or returning operands", () => {
    expect(ev("1 < x <= 3", { x: 3 })).toBe(true);
    expect(ev("1 < x <= 3", { x: 4 })).toBe(false);
    expect(ev("'A' in ['A', 'B']")).toBe(true);
    expect(ev("'C' not in ['A', 'B']")).toBe(true);
    expect(ev("0 or 5")).toBe(5);
    expect(ev("3 and 0")).toBe(0);
    expect(ev("not []")).toBe(true);
    expect(ev("True + 1")).toBe(2);
    expect(ev("x == None", { x: null })).toBe(true);
    expect(ev("'ab' + 'c'")).toBe("abc");
  });

  it("indexes from the end, reads attributes and items, applies filters", () => {
    expect(ev("xs[-1] + xs[0]", { xs: [1, 2, 3] })).toBe(4);
    expect(ev("d['keep'] + d.keep", { d: { keep: 4 } })).toBe(8);
    expect(errorOf(() => ev("xs[3]", { xs: [1, 2, 3] })).detail).toBe("list object has no element 3");
    expect(ev("xs|map('upper')|join(',')", { xs: ["a", "b"] })).toBe("A,B");
  });

  it("calls Python's builtins with Python's results", () => {
    expect(ev("min(3, 1, 2) + max([4, 9]) + abs(-2)")).toBe(12);
    expect(ev("round(2.5)")).toBe(2);
    expect(ev("round(3.5)")).toBe(4);
    expect(ev("round(-2.5)")).toBe(-2);
    expect(ev("round(-1.5)")).toBe(-2);
    expect(ev("round(-0.4)")).toBe(0);
    expect(ev("round(2.675, 2)")).toBe(2.67);
    expect(ev("round(0.125, 2)")).toBe(0.12);
    expect(ev("round(0.375, 2)")).toBe(0.38);
    expect(ev("round(1234.5678, 2)")).toBe(1234.57);
    expect(ev("round(1250, -2)")).toBe(1200);
    expect(ev("round(1350, -2)")).toBe(1400);
    expect(ev("floor(2.7) + ceil(2.1) + int('4') + float('0.5')")).toBe(9.5);
    expect(ev("floor(-2.5)")).toBe(-3);
    expect(ev("int(-2.7)")).toBe(-2);
    expect(ev("float(3)")).toEqual(pyFloat(3));
    expect(ev("sum([1, 2, 3])")).toBe(6);
    expect(ev("sum([0.5, 1])")).toBe(1.5);
    expect(ev("mean([10, 5, 0])")).toBe(5);
    expect(ev("mean([1, 2])")).toBe(1.5);
    expect(ev("len('abc') + len([1]) + len({'a': 1})")).toBe(5);
    expect(ev("bool(0)")).toBe(false);
    expect(errorOf(() => ev("int('x')")).detail).toBe(
      "ValueError: invalid literal for int() with base 10: 'x'",
    );
    expect(errorOf(() => ev("max([])")).detail).toBe("ValueError: max() arg is an empty sequence");
    expect(errorOf(() => ev("mean([])")).detail).toBe(
      "StatisticsError: mean requires at least one data point",
    );
    expect(errorOf(() => ev("round(1e400)")).detail).toBe(
      "OverflowError: cannot convert float infinity to integer",
    );
  });

  it("lets the context shadow the functions, which templates have only when asked", () => {
    expect(ev("round", { round: 3 })).toBe(3);
    expect(() => renderTemplate("{{ round(2.5) }}", {}, origin)).toThrow(/'round' is undefined/);
    const t = compileTemplate("{{ round(2.5) }} {{ max(xs) }}", origin, { globals: EXPRESSION_FUNCTIONS });
    expect(t.render({ xs: [1, 3] })).toBe("2 3");
    expect(t.freeVariables()).toEqual(["xs"]);
  });

  it("projects attributes over an opted-in list", () => {
    const players = projecting([{ contribution: 10 }, { contribution: 5 }, { contribution: 0 }]);
    const context = { endowment: 20, mpcr: 0.5, me: players[1], players };
    expect(ev("endowment - me.contribution + mpcr * sum(players.contribution)", context)).toBe(22.5);
    expect(ev("players.count({'contribution': 5})", context)).toBe(1);
    expect(errorOf(() => ev("[{'a': 1}].a")).detail).toBe("'list object' has no attribute 'a'");
  });
});

describe("expressions: syntax", () => {
  it("needs the else of a conditional, as Python does", () => {
    const e = errorOf(() => compileExpression("offer if respond == 'ACCEPT'", origin));
    expect(e.where).toBe("game.yaml: payoffs.proposer");
    expect(e.detail).toBe("expected token 'else', got 'end of expression'");
  });

  it("rejects JavaScript syntax with a hint and a column", () => {
    expect(errorOf(() => compileExpression("a == 1 ? 2 : 3", origin)).detail).toBe(
      `unexpected char "?" at column 8 (conditionals are written \`a if condition else b\`)`,
    );
    expect(errorOf(() => compileExpression("a && b", origin)).detail).toBe(
      'unexpected char "&" at column 3 (use and / or instead of && / ||)',
    );
    expect(errorOf(() => compileExpression("1 +", origin)).detail).toMatch(/end of expression/);
    expect(errorOf(() => compileExpression("x -", origin)).detail).toMatch(/end of expression/);
    expect(compileExpression("-x", origin).evaluate({ x: 2 })).toBe(-2);
    expect(errorOf(() => compileExpression("min(1, 2", origin)).detail).toMatch(/expected '\)'/);
    expect(errorOf(() => compileExpression("'open", origin)).detail).toBe("unexpected end of string");
    expect(errorOf(() => compileExpression(" ", origin)).detail).toBe("empty expression");
    expect(errorOf(() => compileExpression("x }} y", origin)).detail).toBe("unexpected '}}'");
  });

  it("names the line of a multi-line expression", () => {
    const e = errorOf(() => compileExpression("1 +\n\n*", { where: "f.yaml: when", line: 7 }));
    expect(e.where).toBe("f.yaml: when (line 9)");
  });

  it("limits nesting depth with a located error, quickly", () => {
    const t0 = performance.now();
    const deep = `${"(".repeat(5000)}1${")".repeat(5000)}`;
    const e = errorOf(() => compileExpression(deep, origin));
    expect(e.detail).toBe("expression nested too deeply (limit: 100 levels)");
    expect(errorOf(() => compileExpression(`${"not ".repeat(5000)}x`, origin)).detail).toMatch(
      /nested too deeply/,
    );
    expect(errorOf(() => compileExpression(`${"-".repeat(5000)}1`, origin)).detail).toMatch(
      /nested too deeply/,
    );
    expect(compileExpression(`${"(".repeat(90)}1${")".repeat(90)}`, origin).evaluate({})).toBe(1);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it("reports the names and attribute chains it reads, with columns", () => {
    const e = compileExpression("me.payoffs[-1] + min(others.contribution) + k + k", origin);
    expect(e.references().map((r) => [r.name, r.attrs.join("."), r.column])).toEqual([
      ["me", "payoffs", 1],
      ["others", "contribution", 22],
      ["k", "", 45],
      ["k", "", 49],
    ]);
    expect(e.freeVariables()).toEqual(["me", "others", "k"]);
    const cond = compileExpression("offer.keep if respond == 'ACCEPT' else fallback", origin);
    expect(cond.references().map((r) => [r.name, r.column])).toEqual([
      ["offer", 1],
      ["respond", 15],
      ["fallback", 40],
    ]);
    expect(compileExpression("a +\n  bb", origin).references()[1]).toEqual({
      name: "bb",
      attrs: [],
      column: 3,
    });
  });
});

describe("expressions: safety", () => {
  it("never reaches JavaScript internals through attributes or items", () => {
    for (const src of [
      "x.constructor",
      "x.__proto__",
      "x.prototype",
      "x.toString",
      "x.hasOwnProperty",
      "s.length",
      "x['constructor']",
      "x['__proto__']",
      "f.name",
      "s.constructor.constructor('return process')()",
    ]) {
      const e = errorOf(() => ev(src, { x: { a: 1 }, s: "text", f: () => 1 }));
      expect(e.detail, src).toMatch(/has no attribute|is undefined/);
    }
  });

  it("calls only the functions it offers and context values", () => {
    expect(errorOf(() => ev("eval('1')")).detail).toBe("'eval' is undefined");
    expect(errorOf(() => ev("process.exit(1)")).detail).toBe("'process' is undefined");
    expect(ev("x['keys'] + len(x.keys())", { x: { keys: 1 } })).toBe(2);
  });
});

describe("expressions: values that must not be used", () => {
  class Poison extends Undef {
    override fail(): never {
      throw new Error(`used ${this.message}`);
    }
  }

  it("raises the value's own error, as the cause, when the expression uses it", () => {
    const context = { respond: new Poison("respond"), offer: { keep: 5 } };
    const e = errorOf(() => ev("offer.keep if respond == 'ACCEPT' else 0", context));
    expect((e.cause as Error).message).toBe("used respond");
    expect(errorOf(() => ev("sum(xs)", { xs: [1, new Poison("x")] })).cause).toBeInstanceOf(Error);
    expect(ev("offer.keep", context)).toBe(5);
  });

  it("fails on an undefined result", () => {
    expect(errorOf(() => ev("d.missing", { d: {} })).detail).toBe("'dict object' has no attribute 'missing'");
  });
});
