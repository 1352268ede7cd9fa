import { describe, expect, it } from "vitest";
import {
  ExpressionError,
  ExpressionSyntaxError,
  InvalidReference,
  InvalidValue,
  parseExpression,
  pyRound,
} from "./expression.js";

const ev = (src: string, scope: Record<string, unknown> = {}) => parseExpression(src).evaluate(scope);

describe("payoff expressions: arithmetic with Python semantics", () => {
  it("follows Python precedence and associativity", () => {
    expect(ev("1 + 2 * 3")).toBe(7);
    expect(ev("(1 + 2) * 3")).toBe(9);
    expect(ev("2 ** 3 ** 2")).toBe(512);
    expect(ev("-2 ** 2")).toBe(-4);
    expect(ev("10 - 4 - 3")).toBe(3);
    expect(ev("20 / 4 / 5")).toBe(1);
  });

  it("divides like Python: / is true division, // floors, % takes the divisor's sign", () => {
    expect(ev("7 / 2")).toBe(3.5);
    expect(ev("7 // 2")).toBe(3);
    expect(ev("-7 // 2")).toBe(-4);
    expect(ev("-7 % 3")).toBe(2);
    expect(ev("7 % -3")).toBe(-2);
    expect(ev("1.5e1 + .5")).toBe(15.5);
  });

  it("reports division by zero as an evaluation error, not Infinity", () => {
    expect(() => ev("1 / 0")).toThrow(ExpressionError);
    expect(() => ev("x // 0", { x: 3 })).toThrow(/division by zero/);
    expect(() => ev("x % 0", { x: 3 })).toThrow(/modulo by zero/);
  });

  it("computes a public-goods payoff with projection over the group", () => {
    const players = [{ contribution: 10 }, { contribution: 5 }, { contribution: 0 }];
    const scope = { endowment: 20, mpcr: 0.5, me: players[1], players };
    expect(ev("endowment - me.contribution + mpcr * sum(players.contribution)", scope)).toBe(22.5);
    expect(ev("mean(players.contribution)", scope)).toBe(5);
    expect(ev("len(players)", scope)).toBe(3);
  });

  it("evaluates the ultimatum payoff with a conditional", () => {
    const e = parseExpression("offer.keep if respond == 'ACCEPT' else 0");
    expect(e.evaluate({ offer: { keep: 6 }, respond: "ACCEPT" })).toBe(6);
    expect(e.evaluate({ offer: { keep: 6 }, respond: "REJECT" })).toBe(0);
  });

  it("chains conditionals to the right (the PD payoff matrix)", () => {
    const pd = parseExpression("20 if me == 1 and other == 1 else 0 if me == 1 else 28 if other == 1 else 8");
    expect(pd.evaluate({ me: 1, other: 1 })).toBe(20);
    expect(pd.evaluate({ me: 1, other: 2 })).toBe(0);
    expect(pd.evaluate({ me: 2, other: 1 })).toBe(28);
    expect(pd.evaluate({ me: 2, other: 2 })).toBe(8);
  });

  it("has Python comparisons (chained, in / not in) and and/or returning operands", () => {
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

  it("evaluates only the branch it takes (an unused name can be missing)", () => {
    expect(ev("1 if True else missing")).toBe(1);
    expect(ev("flag and missing", { flag: false })).toBe(false);
  });

  it("indexes lists from the end and reads dict items", () => {
    expect(ev("xs[-1] + xs[0]", { xs: [1, 2, 3] })).toBe(4);
    expect(ev("d['keep']", { d: { keep: 4 } })).toBe(4);
    expect(() => ev("xs[3]", { xs: [1, 2, 3] })).toThrow(/out of range/);
  });

  it("offers only the whitelisted functions, with Python rounding", () => {
    expect(ev("min(3, 1, 2) + max([4, 9]) + abs(-2)")).toBe(12);
    expect(ev("round(2.5)")).toBe(2);
    expect(ev("round(3.5)")).toBe(4);
    expect(ev("round(2.675, 2)")).toBe(2.67);
    expect(ev("floor(2.7) + ceil(2.1) + int('4') + float('0.5')")).toBe(9.5);
    expect(pyRound(-2.5)).toBe(-2);
    expect(pyRound(-1.5)).toBe(-2);
    expect(pyRound(0.125, 2)).toBe(0.12);
    expect(pyRound(0.375, 2)).toBe(0.38);
    expect(pyRound(1234.5678, 2)).toBe(1234.57);
    expect(pyRound(1250, -2)).toBe(1200);
    expect(pyRound(-0.4)).toBe(0);
  });
});

describe("payoff expressions: safety", () => {
  it("never reaches JavaScript internals through attributes", () => {
    for (const src of [
      "x.constructor",
      "x.__proto__",
      "x.prototype",
      "x.toString",
      "x.hasOwnProperty",
      "s.length",
    ]) {
      expect(() => ev(src, { x: { a: 1 }, s: "text" }), src).toThrow(ExpressionError);
    }
    expect(() => ev("x['constructor']", { x: {} })).toThrow(/not allowed/);
    expect(() => ev("x['__proto__']", { x: {} })).toThrow(/not allowed/);
  });

  it("does not read properties of class instances or functions in the scope", () => {
    class Secret {
      key = "sk-123";
    }
    expect(() => ev("s.key", { s: new Secret() })).toThrow(ExpressionError);
    expect(() => ev("f.name", { f: () => 1 })).toThrow(ExpressionError);
  });

  it("refuses calls other than the whitelist, including method calls", () => {
    expect(() => parseExpression("eval('1')")).toThrow(/unknown function "eval"/);
    expect(() => parseExpression("process.exit(1)")).toThrow(ExpressionSyntaxError);
    expect(() => parseExpression("x.keys()")).toThrow(/can be called/);
    expect(() => parseExpression("[min][0](1)")).toThrow(ExpressionSyntaxError);
  });

  it("rejects JavaScript syntax with a hint and a column", () => {
    expect(() => parseExpression("a == 1 ? 2 : 3")).toThrow(
      /conditionals are written `a if condition else b`.*column 8/,
    );
    try {
      parseExpression("a && b");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ExpressionSyntaxError);
      expect((e as ExpressionSyntaxError).column).toBe(3);
      expect((e as Error).message).toMatch(/use and \/ or/);
    }
    expect(() => parseExpression("1 +")).toThrow(/unexpected end/);
    expect(() => parseExpression("min(1, 2")).toThrow(/expected "\)"/);
    expect(() => parseExpression("'open")).toThrow(/unterminated string/);
    expect(() => parseExpression("")).toThrow(/empty/);
    expect(() => parseExpression("1 if x")).toThrow(/expected "else"/);
  });

  it("limits nesting depth", () => {
    expect(() => parseExpression(`${"(".repeat(200)}1${")".repeat(200)}`)).toThrow(/nested too deeply/);
  });

  it("reports which names and attributes an expression reads", () => {
    const refs = parseExpression("me.payoffs[-1] + min(others.contribution) + k").references();
    expect(refs.map((r) => [r.name, r.attrs.join(".")])).toEqual([
      ["me", "payoffs"],
      ["others", "contribution"],
      ["k", ""],
    ]);
  });
});

describe("payoff expressions: invalid choices", () => {
  it("turns a read of an invalid choice into InvalidReference", () => {
    const scope = { respond: new InvalidValue("responder gave no valid answer"), offer: { keep: 5 } };
    expect(() => ev("offer.keep if respond == 'ACCEPT' else 0", scope)).toThrow(InvalidReference);
    expect(() => ev("sum(xs)", { xs: [1, new InvalidValue("x")] })).toThrow(InvalidReference);
  });

  it("does not care about an invalid choice it does not read", () => {
    expect(ev("offer.keep", { respond: new InvalidValue("r"), offer: { keep: 5 } })).toBe(5);
  });
});
