/**
 * The functions a bare expression may call (compileExpression): Python's builtins abs, bool,
 * float, int, len, max, min, round and sum, plus floor and ceil (math.floor / math.ceil) and mean
 * (statistics.mean), all with Python's results and errors. Templates do not get them: Jinja2 has
 * no such globals (use filters there: `|round`, `|sum`, `|max`).
 */
import { noKwargs } from "./call-args.js";
import { parseFloatValue, parseIntString } from "./filters.js";
import { pyAbs, pyAdd, pyTrueDiv } from "./python-arith.js";
import { overflowError, PyException, typeError, valueError } from "./python-errors.js";
import { roundFloat } from "./python-float.js";
import {
  floatVal,
  intVal,
  isStr,
  iterate,
  type Kwargs,
  mkFloat,
  mkInt,
  mustBeDefined,
  numKind,
  pyCompare,
  pyLen,
  pyRepr,
  strOf,
  truthy,
  typeName,
} from "./python-values.js";
import { BuiltinFunction } from "./runtime.js";

/** A float as a Python int (int(x), round(x), floor(x)), refusing inf and nan like Python. */
function floatToInt(x: number): number | bigint {
  if (Number.isNaN(x)) throw valueError("cannot convert float NaN to integer");
  if (!Number.isFinite(x)) throw overflowError("cannot convert float infinity to integer");
  return mkInt(Number.isSafeInteger(x) ? x || 0 : BigInt(x));
}

function arity(name: string, args: unknown[], min: number, max: number): void {
  if (args.length >= min && args.length <= max) return;
  if (min === max)
    throw typeError(
      `${name}() takes exactly ${min === 1 ? "one argument" : `${min} arguments`} (${args.length} given)`,
    );
  if (args.length < min)
    throw typeError(`${name}() expected at least ${min} argument${min === 1 ? "" : "s"}, got ${args.length}`);
  throw typeError(`${name}() expected at most ${max} arguments, got ${args.length}`);
}

/** Python's round(): ints stay ints, floats round half to even (an int without ndigits). */
function pyRoundFn(args: unknown[]): unknown {
  arity("round", args, 1, 2);
  const x = args[0];
  mustBeDefined(x);
  const nd = args[1];
  const k = numKind(x);
  if (k === 0) throw typeError(`type ${typeName(x)} doesn't define __round__ method`);
  if (nd === undefined || nd === null) {
    if (k === 1) return intVal(x);
    const v = floatVal(x);
    if (!Number.isFinite(v)) return floatToInt(v);
    let r = Math.round(v);
    if (Math.abs(v % 1) === 0.5) r = 2 * Math.round(v / 2);
    return floatToInt(r);
  }
  mustBeDefined(nd);
  if (numKind(nd) !== 1) throw typeError(`'${typeName(nd)}' object cannot be interpreted as an integer`);
  const digits = Number(intVal(nd));
  if (k === 2) return mkFloat(roundFloat(floatVal(x), digits));
  if (digits >= 0) return intVal(x);
  // An int to a negative number of digits: exact, half to even.
  const n = BigInt(intVal(x));
  const p = 10n ** BigInt(-digits);
  let q = n / p;
  let r = n % p;
  if (r < 0n) {
    r += p;
    q -= 1n;
  }
  if (2n * r > p || (2n * r === p && q % 2n !== 0n)) q += 1n;
  return mkInt(q * p);
}

function pyIntFn(args: unknown[], kwargs: Kwargs): unknown {
  noKwargs("int", kwargs);
  arity("int", args, 0, 2);
  if (args.length === 0) return 0;
  const x = args[0];
  mustBeDefined(x);
  if (args.length === 2 || isStr(x)) {
    if (!isStr(x)) throw typeError("int() can't convert non-string with explicit base");
    const base = args.length === 2 ? Number(intVal(args[1])) : 10;
    const r = parseIntString(strOf(x), base);
    if (r === undefined) throw valueError(`invalid literal for int() with base ${base}: ${pyRepr(x)}`);
    return r;
  }
  const k = numKind(x);
  if (k === 1) return intVal(x);
  if (k === 2) return floatToInt(Math.trunc(floatVal(x)));
  throw typeError(
    `int() argument must be a string, a bytes-like object or a real number, not '${typeName(x)}'`,
  );
}

function pyFloatFn(args: unknown[], kwargs: Kwargs): unknown {
  noKwargs("float", kwargs);
  arity("float", args, 0, 1);
  if (args.length === 0) return mkFloat(0);
  const x = args[0];
  mustBeDefined(x);
  if (isStr(x)) {
    const v = parseFloatValue(x);
    if (v === undefined) throw valueError(`could not convert string to float: ${pyRepr(x)}`);
    return mkFloat(v);
  }
  if (numKind(x) === 0)
    throw typeError(`float() argument must be a string or a real number, not '${typeName(x)}'`);
  const v = floatVal(x);
  if (!Number.isFinite(v) && numKind(x) === 1) throw overflowError("int too large to convert to float");
  return mkFloat(v);
}

/** The items max/min/sum/mean work on: one iterable argument, or (max, min) several arguments. */
function itemsOf(name: string, args: unknown[], allowMany: boolean): readonly unknown[] {
  if (args.length === 0) throw typeError(`${name} expected at least 1 argument, got 0`);
  if (args.length > 1 && allowMany) return args;
  const v = args[0];
  mustBeDefined(v);
  return iterate(v);
}

function extreme(name: "max" | "min", args: unknown[], kwargs: Kwargs): unknown {
  noKwargs(name, kwargs);
  const items = itemsOf(name, args, true);
  if (items.length === 0) throw valueError(`${name}() arg is an empty sequence`);
  let best = items[0];
  for (let i = 1; i < items.length; i++) {
    const x = items[i];
    if (pyCompare(name === "max" ? ">" : "<", x, best)) best = x;
  }
  mustBeDefined(best);
  return best;
}

function pySumFn(args: unknown[], kwargs: Kwargs): unknown {
  let start: unknown = kwargs?.get("start") ?? (args.length > 1 ? args[1] : 0);
  arity("sum", args, 1, 2);
  if (isStr(start)) throw typeError("sum() can't sum strings [use ''.join(seq) instead]");
  for (const x of itemsOf("sum", [args[0]], false)) start = pyAdd(start, x);
  return start;
}

function pyMeanFn(args: unknown[], kwargs: Kwargs): unknown {
  noKwargs("mean", kwargs);
  arity("mean", args, 1, 1);
  const items = itemsOf("mean", args, false);
  if (items.length === 0) throw new PyException("StatisticsError", "mean requires at least one data point");
  let total: unknown = 0;
  let allInts = true;
  for (const x of items) {
    mustBeDefined(x);
    if (numKind(x) === 0) throw typeError(`can't convert type '${typeName(x)}' to numerator/denominator`);
    if (numKind(x) !== 1) allInts = false;
    total = pyAdd(total, x);
  }
  const q = pyTrueDiv(total, items.length);
  // statistics.mean keeps ints when the mean of ints is whole.
  if (allInts && numKind(q) === 2 && Number.isInteger(floatVal(q))) return floatToInt(floatVal(q));
  return q;
}

function rounding(name: "floor" | "ceil", args: unknown[], kwargs: Kwargs): unknown {
  noKwargs(name, kwargs);
  arity(name, args, 1, 1);
  const x = args[0];
  mustBeDefined(x);
  const k = numKind(x);
  if (k === 0) throw typeError(`must be real number, not ${typeName(x)}`);
  if (k === 1) return intVal(x);
  const v = floatVal(x);
  return floatToInt(name === "floor" ? Math.floor(v) : Math.ceil(v));
}

export const EXPRESSION_FUNCTIONS: ReadonlyMap<string, BuiltinFunction> = new Map(
  (
    [
      [
        "abs",
        (a: unknown[], k: Kwargs) => {
          noKwargs("abs", k);
          arity("abs", a, 1, 1);
          return pyAbs(a[0]);
        },
      ],
      [
        "bool",
        (a: unknown[], k: Kwargs) => {
          noKwargs("bool", k);
          arity("bool", a, 0, 1);
          return a.length === 0 ? false : truthy(a[0]);
        },
      ],
      ["ceil", (a: unknown[], k: Kwargs) => rounding("ceil", a, k)],
      ["float", pyFloatFn],
      ["floor", (a: unknown[], k: Kwargs) => rounding("floor", a, k)],
      ["int", pyIntFn],
      [
        "len",
        (a: unknown[], k: Kwargs) => {
          noKwargs("len", k);
          arity("len", a, 1, 1);
          mustBeDefined(a[0]);
          return pyLen(a[0]);
        },
      ],
      ["max", (a: unknown[], k: Kwargs) => extreme("max", a, k)],
      ["mean", pyMeanFn],
      ["min", (a: unknown[], k: Kwargs) => extreme("min", a, k)],
      [
        "round",
        (a: unknown[], k: Kwargs) => {
          noKwargs("round", k);
          return pyRoundFn(a);
        },
      ],
      ["sum", pySumFn],
    ] as [string, (args: unknown[], kwargs: Kwargs) => unknown][]
  ).map(([name, impl]) => [name, new BuiltinFunction(name, impl)]),
);
