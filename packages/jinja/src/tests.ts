/** Jinja2's builtin tests (`x is defined`, `n is divisibleby 3`, ...). */
import { bindArgs, params, REQUIRED } from "./call-args.js";
import { FILTERS } from "./filter-table.js";
import { pyMod } from "./python-arith.js";
import { runtimeError } from "./python-errors.js";
import { pyIsLower, pyIsUpper } from "./python-strings.js";
import {
  isStr,
  type Kwargs,
  kind,
  Markup,
  numKind,
  PyCallable,
  pyCompare,
  pyContains,
  pyEq,
  pyStr,
  strOf,
  Undef,
} from "./python-values.js";

export type TestFn = (value: unknown, args: unknown[], kwargs: Kwargs) => boolean;

function oneArg(name: string, f: (v: unknown, other: unknown) => boolean): TestFn {
  const spec = params(["other", REQUIRED]);
  return (v, args, kwargs) => f(v, bindArgs(name, spec, args, kwargs)[0]);
}

function noArg(name: string, f: (v: unknown) => boolean): TestFn {
  const spec = params();
  return (v, args, kwargs) => {
    bindArgs(name, spec, args, kwargs);
    return f(v);
  };
}

const eq = oneArg("eq", (a, b) => pyEq(a, b));
const ne = oneArg("ne", (a, b) => !pyEq(a, b));
const lt = oneArg("lt", (a, b) => pyCompare("<", a, b));
const le = oneArg("le", (a, b) => pyCompare("<=", a, b));
const gt = oneArg("gt", (a, b) => pyCompare(">", a, b));
const ge = oneArg("ge", (a, b) => pyCompare(">=", a, b));

function sameas(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((a === null || a === undefined) && (b === null || b === undefined)) return true;
  return false;
}

const isSequence = (v: unknown): boolean => {
  const k = kind(v);
  return k === "str" || k === "list" || k === "tuple" || k === "dict" || k === "range";
};

export const TESTS: Record<string, TestFn> = {
  defined: noArg("defined", (v) => !(v instanceof Undef)),
  undefined: noArg("undefined", (v) => v instanceof Undef),
  none: noArg("none", (v) => v === null || v === undefined),
  boolean: noArg("boolean", (v) => typeof v === "boolean"),
  false: noArg("false", (v) => v === false),
  true: noArg("true", (v) => v === true),
  integer: noArg("integer", (v) => numKind(v) === 1 && typeof v !== "boolean"),
  float: noArg("float", (v) => kind(v) === "float"),
  number: noArg("number", (v) => numKind(v) !== 0),
  string: noArg("string", (v) => isStr(v)),
  mapping: noArg("mapping", (v) => kind(v) === "dict"),
  sequence: noArg("sequence", isSequence),
  iterable: noArg("iterable", (v) => {
    if (v instanceof Undef) return v.lenient ? true : v.fail();
    const k = kind(v);
    return isSequence(v) || k === "view" || k === "iter";
  }),
  callable: noArg(
    "callable",
    (v) => v instanceof PyCallable || typeof v === "function" || v instanceof Undef,
  ),
  escaped: noArg("escaped", (v) => v instanceof Markup),
  even: noArg("even", (v) => pyEq(pyMod(v, 2), 0)),
  odd: noArg("odd", (v) => pyEq(pyMod(v, 2), 1)),
  divisibleby: oneArg("divisibleby", (v, n) => pyEq(pyMod(v, n), 0)),
  lower: noArg("lower", (v) => pyIsLower(pyStr(v))),
  upper: noArg("upper", (v) => pyIsUpper(pyStr(v))),
  eq,
  equalto: eq,
  "==": eq,
  ne,
  "!=": ne,
  lt,
  lessthan: lt,
  "<": lt,
  le,
  "<=": le,
  gt,
  greaterthan: gt,
  ">": gt,
  ge,
  ">=": ge,
  in: oneArg("in", (v, seq) => pyContains(seq, v)),
  sameas: oneArg("sameas", sameas),
  filter: noArg("filter", (v) => isStr(v) && Object.hasOwn(FILTERS, strOf(v))),
  test: noArg("test", (v) => isStr(v) && Object.hasOwn(TESTS, strOf(v))),
};

/** Tests that get an undefined value as is (the others raise when given one). */
export const TESTS_ACCEPTING_UNDEFINED = new Set([
  "defined",
  "undefined",
  "none",
  "boolean",
  "false",
  "true",
  "integer",
  "float",
  "number",
  "string",
  "mapping",
  "sequence",
  "iterable",
  "callable",
  "escaped",
  "sameas",
  "filter",
  "test",
]);

/** Runs a test by name (for select/reject and compiled `is` tests). */
export function callTest(name: string, value: unknown, args: unknown[], kwargs: Kwargs): boolean {
  if (!Object.hasOwn(TESTS, name)) throw runtimeError(`No test named '${name}'.`);
  if (value instanceof Undef && !value.lenient && !TESTS_ACCEPTING_UNDEFINED.has(name)) value.fail();
  return (TESTS[name] as TestFn)(value, args, kwargs);
}
