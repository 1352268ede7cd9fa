/** Methods callable on template values: `s.upper()`, `d.items()`, `xs.append(x)` (on lists and dicts the template made)... */
import { checkSequenceSize, joinedLength } from "./limits.js";
import { bindArgs, noKwargs, params, REQUIRED } from "./call-args.js";
import { PyException, typeError, valueError } from "./python-errors.js";
import { callValue } from "./runtime.js";
import { strFormat, type FieldGetter } from "./python-format.js";
import {
  isAlnumStr,
  isAlphaStr,
  isDecimalStr,
  isDigitStr,
  isNumericStr,
  isSpaceStr,
  pyCapitalize,
  pyCasefold,
  pyCenter,
  pyCount,
  pyFind,
  pyIsLower,
  pyIsTitle,
  pyIsUpper,
  pyLjust,
  pyReplace,
  pyRjust,
  pyRsplit,
  pySplit,
  pySplitlines,
  pyStrip,
  pySwapcase,
  pyTitle,
  pyZfill,
} from "./python-strings.js";
import {
  dictGet,
  dictItems,
  type DictLike,
  DictView,
  floatVal,
  intVal,
  isOwned,
  isStr,
  isTuple,
  iterate,
  kind,
  type Kwargs,
  MISSING,
  mustBeDefined,
  numKind,
  owned,
  PyCallable,
  PyDict,
  pyEq,
  pyRepr,
  pySortCompare,
  strLen,
  strOf,
  truthy,
  tuple,
  typeName,
} from "./python-values.js";

/**
 * A method's implementation. `fields` is how `str.format` resolves `{0.name}` and `{0[key]}`:
 * Jinja2's getattr / getitem, handed in by access.ts (which binds methods) so that this module
 * does not import access.ts back.
 */
type MethodImpl = (self: unknown, args: unknown[], kwargs: Kwargs, fields: FieldGetter) => unknown;

/** A method bound to its value, as `getattr(value, name)` returns it. */
export class BoundMethod extends PyCallable {
  readonly typeName = "builtin_function_or_method";
  readonly self: unknown;
  readonly name: string;
  readonly impl: MethodImpl;
  private readonly fields: FieldGetter;
  constructor(self: unknown, name: string, impl: MethodImpl, fields: FieldGetter) {
    super();
    this.self = self;
    this.name = name;
    this.impl = impl;
    this.fields = fields;
  }
  call(args: unknown[], kwargs: Kwargs): unknown {
    return this.impl(this.self, args, kwargs, this.fields);
  }
  override repr(): string {
    return `<built-in method ${this.name} of ${typeName(this.self)} object>`;
  }
}

function strArg(fname: string, v: unknown, what = "argument"): string {
  mustBeDefined(v);
  if (!isStr(v)) throw typeError(`${fname}() ${what} must be str, not ${typeName(v)}`);
  return strOf(v);
}

function optStrArg(fname: string, v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return strArg(fname, v);
}

function intArg(_fname: string, v: unknown): number {
  mustBeDefined(v);
  if (numKind(v) !== 1) throw typeError(`'${typeName(v)}' object cannot be interpreted as an integer`);
  return Number(intVal(v));
}

function optIntArg(fname: string, v: unknown): number | null {
  if (v === null || v === undefined) return null;
  return intArg(fname, v);
}

function fillArg(fname: string, v: unknown): string {
  const s = strArg(fname, v);
  if (strLen(s) !== 1) throw typeError("The fill character must be exactly one character long");
  return s;
}

const self = (s: unknown): string => strOf(s as string);

/** Binds args and calls f with the values. */
function m(
  names: [string, unknown][],
  f: (s: string, a: unknown[], fields: FieldGetter) => unknown,
): MethodImpl {
  const spec = params(...names);
  return (s, args, kwargs, fields) => f(self(s), bindArgs("str method", spec, args, kwargs), fields);
}

const noArgs =
  (f: (s: string) => unknown, name: string): MethodImpl =>
  (s, args, kwargs) => {
    noKwargs(name, kwargs);
    if (args.length > 0) throw typeError(`${name}() takes no arguments (${args.length} given)`);
    return f(self(s));
  };

function prefixTest(name: string, test: (s: string, p: string) => boolean): MethodImpl {
  return m(
    [
      ["prefix", REQUIRED],
      ["start", null],
      ["end", null],
    ],
    (s, [prefix, start, end]) => {
      let target = s;
      if (start !== null || end !== null) {
        const a = optIntArg(name, start);
        const b = optIntArg(name, end);
        const len = strLen(s);
        let x = a ?? 0;
        let y = b ?? len;
        if (x < 0) x = Math.max(x + len, 0);
        if (y < 0) y = Math.max(y + len, 0);
        if (x > len) return false;
        target = Array.from(s).slice(x, y).join("");
      }
      if (isTuple(prefix)) return prefix.some((p) => test(target, strArg(name, p)));
      if (!isStr(prefix)) {
        throw typeError(`${name} first arg must be str or a tuple of str, not ${typeName(prefix)}`);
      }
      return test(target, strOf(prefix));
    },
  );
}

function findMethod(name: string, reverse: boolean, raise: boolean): MethodImpl {
  return m(
    [
      ["sub", REQUIRED],
      ["start", null],
      ["end", null],
    ],
    (s, [sub, start, end]) => {
      const r = pyFind(s, strArg(name, sub), optIntArg(name, start), optIntArg(name, end), reverse);
      if (r < 0 && raise) throw valueError("substring not found");
      return r;
    },
  );
}

function joinStrings(sep: string, items: readonly unknown[]): string {
  const parts = items.map((x, i) => {
    mustBeDefined(x);
    if (!isStr(x)) throw typeError(`sequence item ${i}: expected str instance, ${typeName(x)} found`);
    return strOf(x);
  });
  checkSequenceSize(joinedLength(parts, sep));
  return parts.join(sep);
}

const STR_METHODS: Record<string, MethodImpl> = {
  upper: noArgs((s) => s.toUpperCase(), "upper"),
  lower: noArgs((s) => s.toLowerCase(), "lower"),
  casefold: noArgs(pyCasefold, "casefold"),
  title: noArgs(pyTitle, "title"),
  capitalize: noArgs(pyCapitalize, "capitalize"),
  swapcase: noArgs(pySwapcase, "swapcase"),
  strip: m([["chars", null]], (s, [c]) => pyStrip(s, optStrArg("strip", c))),
  lstrip: m([["chars", null]], (s, [c]) => pyStrip(s, optStrArg("lstrip", c), true, false)),
  rstrip: m([["chars", null]], (s, [c]) => pyStrip(s, optStrArg("rstrip", c), false, true)),
  split: m(
    [
      ["sep", null],
      ["maxsplit", -1],
    ],
    (s, [sep, max]) => owned(pySplit(s, optStrArg("split", sep), intArg("split", max))),
  ),
  rsplit: m(
    [
      ["sep", null],
      ["maxsplit", -1],
    ],
    (s, [sep, max]) => owned(pyRsplit(s, optStrArg("rsplit", sep), intArg("rsplit", max))),
  ),
  splitlines: m([["keepends", false]], (s, [k]) =>
    owned(pySplitlines(s, k === true || (numKind(k) > 0 && floatVal(k) !== 0))),
  ),
  replace: m(
    [
      ["old", REQUIRED],
      ["new", REQUIRED],
      ["count", -1],
    ],
    (s, [a, b, c]) => pyReplace(s, strArg("replace", a), strArg("replace", b), intArg("replace", c)),
  ),
  startswith: prefixTest("startswith", (s, p) => s.startsWith(p)),
  endswith: prefixTest("endswith", (s, p) => s.endsWith(p)),
  find: findMethod("find", false, false),
  rfind: findMethod("rfind", true, false),
  index: findMethod("index", false, true),
  rindex: findMethod("rindex", true, true),
  count: m(
    [
      ["sub", REQUIRED],
      ["start", null],
      ["end", null],
    ],
    (s, [sub, a, b]) => pyCount(s, strArg("count", sub), optIntArg("count", a), optIntArg("count", b)),
  ),
  join: m([["iterable", REQUIRED]], (s, [it]) => joinStrings(s, iterate(it))),
  format: (s, args, kwargs, fields) => strFormat(self(s), args, kwargs, fields),
  format_map: m([["mapping", REQUIRED]], (s, [map], fields) => {
    const kw = new Map<string, unknown>();
    for (const [k, v] of new DictView(map as DictLike, "items").toArray() as unknown[][]) {
      if (isStr(k)) kw.set(strOf(k), v);
    }
    return strFormat(s, [], kw, fields);
  }),
  center: m(
    [
      ["width", REQUIRED],
      ["fillchar", " "],
    ],
    (s, [w, f]) => pyCenter(s, intArg("center", w), fillArg("center", f)),
  ),
  ljust: m(
    [
      ["width", REQUIRED],
      ["fillchar", " "],
    ],
    (s, [w, f]) => pyLjust(s, intArg("ljust", w), fillArg("ljust", f)),
  ),
  rjust: m(
    [
      ["width", REQUIRED],
      ["fillchar", " "],
    ],
    (s, [w, f]) => pyRjust(s, intArg("rjust", w), fillArg("rjust", f)),
  ),
  zfill: m([["width", REQUIRED]], (s, [w]) => pyZfill(s, intArg("zfill", w))),
  isdigit: noArgs(isDigitStr, "isdigit"),
  isdecimal: noArgs(isDecimalStr, "isdecimal"),
  isnumeric: noArgs(isNumericStr, "isnumeric"),
  isalpha: noArgs(isAlphaStr, "isalpha"),
  isalnum: noArgs(isAlnumStr, "isalnum"),
  isspace: noArgs(isSpaceStr, "isspace"),
  islower: noArgs(pyIsLower, "islower"),
  isupper: noArgs(pyIsUpper, "isupper"),
  istitle: noArgs(pyIsTitle, "istitle"),
  partition: m([["sep", REQUIRED]], (s, [sep]) => {
    const p = strArg("partition", sep);
    if (p === "") throw valueError("empty separator");
    const i = s.indexOf(p);
    return i < 0 ? tuple([s, "", ""]) : tuple([s.slice(0, i), p, s.slice(i + p.length)]);
  }),
  rpartition: m([["sep", REQUIRED]], (s, [sep]) => {
    const p = strArg("rpartition", sep);
    if (p === "") throw valueError("empty separator");
    const i = s.lastIndexOf(p);
    return i < 0 ? tuple(["", "", s]) : tuple([s.slice(0, i), p, s.slice(i + p.length)]);
  }),
  removeprefix: m([["prefix", REQUIRED]], (s, [p]) => {
    const x = strArg("removeprefix", p);
    return x !== "" && s.startsWith(x) ? s.slice(x.length) : s;
  }),
  removesuffix: m([["suffix", REQUIRED]], (s, [p]) => {
    const x = strArg("removesuffix", p);
    return x !== "" && s.endsWith(x) ? s.slice(0, s.length - x.length) : s;
  }),
};

function seqIndex(name: string) {
  return (s: unknown, args: unknown[], kwargs: Kwargs): unknown => {
    noKwargs(name, kwargs);
    const items = s as unknown[];
    if (args.length < 1) throw typeError(`${name} expected at least 1 argument, got 0`);
    const len = items.length;
    let a = args.length > 1 ? intArg(name, args[1]) : 0;
    let b = args.length > 2 ? intArg(name, args[2]) : len;
    if (a < 0) a = Math.max(a + len, 0);
    if (b < 0) b = Math.max(b + len, 0);
    for (let i = a; i < Math.min(b, len); i++) if (pyEq(items[i], args[0])) return i;
    throw valueError(`${pyRepr(args[0])} is not in ${isTuple(s) ? "tuple" : "list"}`);
  };
}

const SEQ_METHODS: Record<string, MethodImpl> = {
  index: seqIndex("index"),
  count: (s, args, kwargs) => {
    noKwargs("count", kwargs);
    if (args.length !== 1) throw typeError(`count() takes exactly one argument (${args.length} given)`);
    return (s as unknown[]).filter((x) => pyEq(x, args[0])).length;
  },
};

/** The list `s` if the render may change it (see `owned`). */
function mutableList(s: unknown, name: string): unknown[] {
  const items = s as unknown[];
  if (!isOwned(items)) {
    throw typeError(
      `list.${name}(): this list comes from the template's context and cannot be changed; change a copy (xs|list)`,
    );
  }
  return items;
}

function argCount(name: string, args: unknown[], kwargs: Kwargs, min: number, max: number): void {
  noKwargs(name, kwargs);
  if (args.length >= min && args.length <= max) return;
  if (min === max) {
    throw typeError(
      min === 0
        ? `${name}() takes no arguments (${args.length} given)`
        : `${name}() takes exactly one argument (${args.length} given)`,
    );
  }
  throw typeError(
    args.length < min
      ? `${name} expected at least ${min} argument${min === 1 ? "" : "s"}, got ${args.length}`
      : `${name} expected at most ${max} argument${max === 1 ? "" : "s"}, got ${args.length}`,
  );
}

const LIST_METHODS: Record<string, MethodImpl> = {
  ...SEQ_METHODS,
  copy: (s) => owned((s as unknown[]).slice()),
  append: (s, args, kwargs) => {
    argCount("append", args, kwargs, 1, 1);
    const items = mutableList(s, "append");
    checkSequenceSize(items.length + 1);
    items.push(args[0]);
    return null;
  },
  extend: (s, args, kwargs) => {
    argCount("extend", args, kwargs, 1, 1);
    const items = mutableList(s, "extend");
    mustBeDefined(args[0]);
    const more = iterate(args[0]).slice();
    checkSequenceSize(items.length + more.length);
    for (const x of more) items.push(x);
    return null;
  },
  insert: (s, args, kwargs) => {
    argCount("insert", args, kwargs, 2, 2);
    const items = mutableList(s, "insert");
    checkSequenceSize(items.length + 1);
    let i = intArg("insert", args[0]);
    if (i < 0) i = Math.max(i + items.length, 0);
    items.splice(Math.min(i, items.length), 0, args[1]);
    return null;
  },
  pop: (s, args, kwargs) => {
    argCount("pop", args, kwargs, 0, 1);
    const items = mutableList(s, "pop");
    if (items.length === 0) throw new PyException("IndexError", "pop from empty list");
    let i = args.length > 0 ? intArg("pop", args[0]) : -1;
    if (i < 0) i += items.length;
    if (i < 0 || i >= items.length) throw new PyException("IndexError", "pop index out of range");
    return items.splice(i, 1)[0];
  },
  remove: (s, args, kwargs) => {
    argCount("remove", args, kwargs, 1, 1);
    const items = mutableList(s, "remove");
    const i = items.findIndex((x) => pyEq(x, args[0]));
    if (i < 0) throw valueError("list.remove(x): x not in list");
    items.splice(i, 1);
    return null;
  },
  clear: (s, args, kwargs) => {
    argCount("clear", args, kwargs, 0, 0);
    mutableList(s, "clear").length = 0;
    return null;
  },
  reverse: (s, args, kwargs) => {
    argCount("reverse", args, kwargs, 0, 0);
    mutableList(s, "reverse").reverse();
    return null;
  },
  sort: (s, args, kwargs) => {
    if (args.length > 0) throw typeError("sort() takes no positional arguments");
    const items = mutableList(s, "sort");
    const key = kwargs?.get("key") ?? null;
    const reverse = truthy(kwargs?.get("reverse") ?? false);
    for (const k of kwargs?.keys() ?? []) {
      if (k !== "key" && k !== "reverse") throw typeError(`'${k}' is an invalid keyword argument for sort()`);
    }
    const keyed = items.map((item) => ({ item, k: key === null ? item : callValue(key, [item], null) }));
    // Python sorts stably and reverse keeps equal items in their original order.
    keyed.sort((a, b) => (reverse ? pySortCompare(b.k, a.k) : pySortCompare(a.k, b.k)));
    for (let i = 0; i < keyed.length; i++) items[i] = (keyed[i] as { item: unknown }).item;
    return null;
  },
};

/** The dict `d` if the render may change it: dicts the template made (context dicts are read-only). */
function mutableDict(d: unknown, name: string): PyDict {
  if (!(d instanceof PyDict)) {
    throw typeError(
      `dict.${name}(): this dict comes from the template's context and cannot be changed; change a copy (dict(d))`,
    );
  }
  return d;
}

function keyError(key: unknown): PyException {
  return new PyException("KeyError", pyRepr(key));
}

const DICT_METHODS: Record<string, MethodImpl> = {
  items: (d, args) => {
    if (args.length > 0) throw typeError("items() takes no arguments");
    return new DictView(d as DictLike, "items");
  },
  keys: (d, args) => {
    if (args.length > 0) throw typeError("keys() takes no arguments");
    return new DictView(d as DictLike, "keys");
  },
  values: (d, args) => {
    if (args.length > 0) throw typeError("values() takes no arguments");
    return new DictView(d as DictLike, "values");
  },
  get: (d, args, kwargs) => {
    noKwargs("get", kwargs);
    if (args.length < 1 || args.length > 2) {
      throw typeError(`get expected at most 2 arguments, got ${args.length}`);
    }
    const v = dictGet(d as DictLike, args[0]);
    return v === MISSING ? (args.length > 1 ? args[1] : null) : v;
  },
  copy: (d) => PyDict.of(new DictView(d as DictLike, "items").toArray() as [unknown, unknown][]),
  update: (d, args, kwargs) => {
    if (args.length > 1) throw typeError(`update expected at most 1 argument, got ${args.length}`);
    const target = mutableDict(d, "update");
    if (args.length === 1) {
      const src = args[0];
      mustBeDefined(src);
      if (kind(src) === "dict") for (const [k, v] of dictItems(src as DictLike)) target.set(k, v);
      else {
        iterate(src).forEach((pair, i) => {
          const kv = iterate(pair);
          if (kv.length !== 2) {
            throw valueError(
              `dictionary update sequence element #${i} has length ${kv.length}; 2 is required`,
            );
          }
          target.set(kv[0], kv[1]);
        });
      }
    }
    if (kwargs !== null) for (const [k, v] of kwargs) target.set(k, v);
    return null;
  },
  setdefault: (d, args, kwargs) => {
    argCount("setdefault", args, kwargs, 1, 2);
    const target = mutableDict(d, "setdefault");
    const v = target.get(args[0]);
    if (v !== MISSING) return v;
    const dflt = args.length > 1 ? args[1] : null;
    target.set(args[0], dflt);
    return dflt;
  },
  pop: (d, args, kwargs) => {
    argCount("pop", args, kwargs, 1, 2);
    const target = mutableDict(d, "pop");
    const v = target.get(args[0]);
    if (v === MISSING) {
      if (args.length > 1) return args[1];
      throw keyError(args[0]);
    }
    target.delete(args[0]);
    return v;
  },
  popitem: (d, args, kwargs) => {
    argCount("popitem", args, kwargs, 0, 0);
    const target = mutableDict(d, "popitem");
    const last = target.items().pop();
    if (last === undefined) throw new PyException("KeyError", "'popitem(): dictionary is empty'");
    target.delete(last[0]);
    return last;
  },
  clear: (d, args, kwargs) => {
    argCount("clear", args, kwargs, 0, 0);
    mutableDict(d, "clear").map.clear();
    return null;
  },
};

/** Names of dict methods: on dicts `d.items` is the method, not the key "items" (Jinja2 tries attributes first). */
export const DICT_METHOD_NAMES: ReadonlySet<string> = new Set(Object.keys(DICT_METHODS));

const FLOAT_METHODS: Record<string, MethodImpl> = {
  is_integer: (x) => Number.isInteger(floatVal(x)),
};

const hasOwn = Object.prototype.hasOwnProperty;

/** The method `name` of a value of the given kind, bound to it, or MISSING. */
export function boundMethod(kind: string, value: unknown, name: string, fields: FieldGetter): unknown {
  let table: Record<string, MethodImpl> | undefined;
  switch (kind) {
    case "str":
      table = STR_METHODS;
      break;
    case "list":
      table = LIST_METHODS;
      break;
    case "tuple":
      table = SEQ_METHODS;
      break;
    case "dict":
      table = DICT_METHODS;
      break;
    case "float":
      table = FLOAT_METHODS;
      break;
    default:
      return MISSING;
  }
  if (!hasOwn.call(table, name)) return MISSING;
  return new BoundMethod(value, name, table[name] as MethodImpl, fields);
}
