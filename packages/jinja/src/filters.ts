/** Jinja2's builtin filters, with Python semantics. */
import { checkSequenceSize, joinedLength } from "./limits.js";
import { getItem, pyAttribute } from "./access.js";
import { bindArgs, type ParamSpec, params, REQUIRED } from "./call-args.js";
import { FILTERS, type FilterFn } from "./filter-table.js";
import { htmlSafeJson } from "./json.js";
import { pformat } from "./pprint.js";
import { escapeHtml, pyAbs, pyAdd, pyMul, pyPow, pyTrueDiv } from "./python-arith.js";
import { PyException, runtimeError, typeError, valueError } from "./python-errors.js";
import { roundFloat } from "./python-float.js";
import { formatSpec, percentFormat } from "./python-format.js";
import { textWrap } from "./text-wrap.js";
import {
  asciiDigits,
  pyCapitalize,
  pyCenter,
  pyReplace,
  pySplit,
  pySplitlines,
  pyStrip,
  WS,
} from "./python-strings.js";
import {
  codePoints,
  type DictLike,
  dictItems,
  floatVal,
  intVal,
  isStr,
  iterate,
  type Kwargs,
  kind,
  Markup,
  MISSING,
  mkFloat,
  mkInt,
  mustBeDefined,
  namedTuple,
  numKind,
  owned,
  PyDict,
  PyIter,
  pyEq,
  pyLen,
  pyRepr,
  pySortCompare,
  pyStr,
  strLen,
  strOf,
  truthy,
  tuple,
  typeName,
  Undef,
  undefinedAttr,
} from "./python-values.js";
import { callTest } from "./tests.js";

export { FILTERS, type FilterFn };

/** A filter with named parameters (after the value). */
function f(name: string, spec: ParamSpec, impl: (value: unknown, a: unknown[]) => unknown): FilterFn {
  return (value, args, kwargs) => impl(value, bindArgs(name, spec, args, kwargs));
}

/** Jinja2's soft_str: Markup stays Markup, everything else becomes str. */
const softStr = (v: unknown): string => pyStr(v);

const toInt = (name: string, v: unknown): number => {
  if (numKind(v) === 1) return Number(intVal(v));
  if (v instanceof Undef) return v.fail();
  throw typeError(`'${typeName(v)}' object cannot be interpreted as an integer (${name})`);
};

const lowerIfStr = (v: unknown): unknown => (isStr(v) ? strOf(v).toLowerCase() : v);

/** Jinja2's make_attrgetter: dotted attribute path (digits are indexes), item lookup first. */
function attrGetter(
  attribute: unknown,
  postprocess: ((v: unknown) => unknown) | null = null,
  dflt: unknown = null,
): (item: unknown) => unknown {
  const parts = attributeParts(attribute);
  return (item) => {
    let v = item;
    for (const p of parts) {
      v = getItem(v, p);
      if (dflt !== null && dflt !== undefined && v instanceof Undef) v = dflt;
    }
    return postprocess ? postprocess(v) : v;
  };
}

function attributeParts(attribute: unknown): unknown[] {
  if (attribute === null || attribute === undefined) return [];
  if (isStr(attribute)) {
    return strOf(attribute)
      .split(".")
      .map((p) => (/^\d+$/.test(p) ? Number.parseInt(p, 10) : p));
  }
  return [attribute];
}

/** Jinja2's make_multi_attrgetter (sort by "a,b"). */
function multiAttrGetter(
  attribute: unknown,
  postprocess: ((v: unknown) => unknown) | null,
): (item: unknown) => unknown {
  const split = isStr(attribute) ? strOf(attribute).split(",") : [attribute];
  const getters = split.map((a) => attrGetter(a, postprocess));
  return (item) => getters.map((g) => g(item));
}

/** Python float(v) for the float filter; undefined when the conversion fails. */
export function parseFloatValue(v: unknown): number | undefined {
  const k = numKind(v);
  if (k !== 0) return floatVal(v);
  if (!isStr(v)) return undefined;
  const s = asciiDigits(pyStrip(strOf(v)));
  const m = /^([+-]?)(?:(inf|infinity)|(nan))$/i.exec(s);
  if (m) {
    if (m[3] !== undefined) return Number.NaN;
    return m[1] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  const digits = "\\d(?:_?\\d)*";
  const re = new RegExp(`^[+-]?(?:${digits}(?:\\.(?:${digits})?)?|\\.${digits})(?:[eE][+-]?${digits})?$`);
  if (!re.test(s)) return undefined;
  return Number(s.replace(/_/g, ""));
}

/** Python int(str, base) parsing; undefined when invalid. */
export function parseIntString(text: string, base: number): number | bigint | undefined {
  let s = asciiDigits(pyStrip(text));
  let sign = "";
  if (s.startsWith("+") || s.startsWith("-")) {
    sign = s[0] === "-" ? "-" : "";
    s = s.slice(1);
  }
  let b = base;
  const prefix = /^0([box])/i.exec(s);
  if (prefix) {
    const pb = { b: 2, o: 8, x: 16 }[(prefix[1] as string).toLowerCase() as "b" | "o" | "x"];
    if (b === 0 || b === pb) {
      b = pb;
      s = s.slice(2).replace(/^_/, "");
    }
  }
  if (b === 0) b = 10;
  if (b < 2 || b > 36) return undefined;
  const digitChars = "0123456789abcdefghijklmnopqrstuvwxyz".slice(0, b);
  const re = new RegExp(`^[${digitChars}](?:_?[${digitChars}])*$`, "i");
  if (!re.test(s)) return undefined;
  const clean = s.replace(/_/g, "").toLowerCase();
  let n = 0n;
  const bb = BigInt(b);
  for (const ch of clean) n = n * bb + BigInt(digitChars.indexOf(ch));
  return mkInt(sign === "-" ? -n : n);
}

function doInt(value: unknown, dflt: unknown, base: unknown): unknown {
  const b = toInt("int", base);
  if (isStr(value)) {
    const r = parseIntString(strOf(value), b);
    if (r !== undefined) return r;
  } else if (numKind(value) === 1) return intVal(value);
  else if (numKind(value) === 2) {
    const x = floatVal(value);
    if (Number.isFinite(x)) {
      const t = Math.trunc(x) || 0;
      return mkInt(Math.abs(t) <= Number.MAX_SAFE_INTEGER ? t : BigInt(t));
    }
    return dflt;
  }
  const fl = parseFloatValue(value);
  if (fl !== undefined && Number.isFinite(fl)) {
    const t = Math.trunc(fl) || 0;
    return mkInt(Math.abs(t) <= Number.MAX_SAFE_INTEGER ? t : BigInt(t));
  }
  return dflt;
}

function doRound(value: unknown, precision: unknown, method: unknown): unknown {
  const m = pyStr(method);
  if (m !== "common" && m !== "ceil" && m !== "floor") {
    throw new PyException("FilterArgumentError", "method must be common, ceil or floor");
  }
  const p = toInt("round", precision);
  const k = numKind(value);
  if (k === 0) throw typeError(`type ${typeName(value)} doesn't define __round__ method`);
  if (m === "common") {
    if (k === 1) {
      const n = intVal(value);
      if (p >= 0) return n;
      const unit = 10n ** BigInt(-p);
      const big = BigInt(n);
      let q = big / unit;
      let r = big % unit;
      if (r < 0n) {
        r += unit;
        q -= 1n;
      }
      if (r * 2n > unit || (r * 2n === unit && q % 2n !== 0n)) q += 1n;
      return mkInt(q * unit);
    }
    return mkFloat(roundFloat(floatVal(value), p));
  }
  const scale = pyPow(10, p);
  const scaled = pyMul(value, scale);
  let rounded: unknown = scaled;
  if (numKind(scaled) === 2) {
    const x = floatVal(scaled);
    if (!Number.isFinite(x))
      throw new PyException("OverflowError", "cannot convert float infinity to integer");
    const c = (m === "ceil" ? Math.ceil(x) : Math.floor(x)) || 0;
    rounded = mkInt(Number.isSafeInteger(c) ? c : BigInt(c));
  }
  return pyTrueDiv(rounded, scale);
}

/** A width or indent that becomes that many characters. */
function sizeArg(n: number): number {
  checkSequenceSize(n);
  return n;
}

function joinChecked(parts: string[], sep: string): string {
  checkSequenceSize(joinedLength(parts, sep));
  return parts.join(sep);
}

function doIndent(s: unknown, width: unknown, first: unknown, blank: unknown): unknown {
  if (!isStr(s)) throw typeError(`unsupported operand type(s) for +=: '${typeName(s)}' and 'str'`);
  const indention = isStr(width) ? strOf(width) : " ".repeat(sizeArg(toInt("indent", width)));
  const text = `${strOf(s)}\n`;
  let rv: string;
  if (truthy(blank)) rv = pySplitlines(text).join(`\n${indention}`);
  else {
    const lines = pySplitlines(text);
    rv = lines.shift() ?? "";
    if (lines.length > 0) rv += `\n${lines.map((l) => (l ? indention + l : l)).join("\n")}`;
  }
  if (truthy(first)) rv = indention + rv;
  return s instanceof Markup ? new Markup(rv) : rv;
}

function doTruncate(s: unknown, length: unknown, killwords: unknown, end: unknown, leeway: unknown): unknown {
  const len = toInt("truncate", length);
  const endS = pyStr(end);
  const lw = leeway === null || leeway === undefined ? 5 : toInt("truncate", leeway);
  if (len < strLen(endS))
    throw new PyException("AssertionError", `expected length >= ${strLen(endS)}, got ${len}`);
  if (lw < 0) throw new PyException("AssertionError", `expected leeway >= 0, got ${lw}`);
  if (pyLen(s) <= len + lw) return s;
  if (!isStr(s)) throw typeError(`can only truncate strings, not ${typeName(s)}`);
  const cps = codePoints(strOf(s));
  const head = cps.slice(0, Math.max(len - strLen(endS), 0)).join("");
  if (truthy(killwords)) return head + endS;
  const i = head.lastIndexOf(" ");
  return (i >= 0 ? head.slice(0, i) : head) + endS;
}

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00a0",
  copy: "\u00a9",
  reg: "\u00ae",
  hellip: "\u2026",
  mdash: "\u2014",
  ndash: "\u2013",
  lsquo: "\u2018",
  rsquo: "\u2019",
  ldquo: "\u201c",
  rdquo: "\u201d",
  laquo: "\u00ab",
  raquo: "\u00bb",
  euro: "\u20ac",
  pound: "\u00a3",
  deg: "\u00b0",
  times: "\u00d7",
  middot: "\u00b7",
  bull: "\u2022",
};

function unescapeHtml(s: string): string {
  return s.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);?/g, (whole, ent: string) => {
    if (ent.startsWith("#")) {
      const cp =
        ent[1] === "x" || ent[1] === "X"
          ? Number.parseInt(ent.slice(2), 16)
          : Number.parseInt(ent.slice(1), 10);
      if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return "\ufffd";
      return String.fromCodePoint(cp);
    }
    const r = ENTITIES[ent];
    return r !== undefined && whole.endsWith(";")
      ? r
      : r !== undefined && ["amp", "lt", "gt", "quot"].includes(ent)
        ? r
        : whole;
  });
}

/** markupsafe's Markup.striptags(). */
function stripTags(text: string): string {
  let value = text;
  for (;;) {
    const start = value.indexOf("<!--");
    if (start < 0) break;
    const end = value.indexOf("-->", start);
    if (end < 0) break;
    value = value.slice(0, start) + value.slice(end + 3);
  }
  for (;;) {
    const start = value.indexOf("<");
    if (start < 0) break;
    const end = value.indexOf(">", start);
    if (end < 0) break;
    value = value.slice(0, start) + value.slice(end + 1);
  }
  return unescapeHtml(pySplit(value, null, -1).join(" "));
}

function urlQuote(v: unknown, forQs: boolean): string {
  const s = pyStr(v);
  let out = encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  if (!forQs) out = out.replace(/%2F/g, "/");
  else out = out.replace(/%20/g, "+");
  return out;
}

function filesizeformat(value: unknown, binary: unknown): string {
  const bytes = parseFloatValue(value);
  if (bytes === undefined) throw valueError(`could not convert string to float: ${pyRepr(value)}`);
  const bin = truthy(binary);
  const base = bin ? 1024 : 1000;
  const prefixes = bin
    ? ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
    : ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
  if (bytes === 1) return "1 Byte";
  if (bytes < base) return `${Math.trunc(bytes)} Bytes`;
  let unit = 0;
  let prefix = "";
  for (let i = 0; i < prefixes.length; i++) {
    unit = base ** (i + 2);
    prefix = prefixes[i] as string;
    if (bytes < unit) break;
  }
  return `${formatSpec(mkFloat((base * bytes) / unit), ".1f")} ${prefix}`;
}

function sortItems(items: unknown[], keyFn: (v: unknown) => unknown, reverse: boolean): unknown[] {
  const keyed = items.map((item) => ({ item, key: keyFn(item) }));
  keyed.sort((a, b) => (reverse ? pySortCompare(b.key, a.key) : pySortCompare(a.key, b.key)));
  return keyed.map((x) => x.item);
}

function aggregate(value: unknown, caseSensitive: unknown, attribute: unknown, wantMax: boolean): unknown {
  const items = iterate(value);
  if (items.length === 0) return new Undef("No aggregated item, sequence was empty.");
  const key = attrGetter(attribute, truthy(caseSensitive) ? null : lowerIfStr);
  let best = items[0];
  let bestKey = key(best);
  for (let i = 1; i < items.length; i++) {
    const k = key(items[i]);
    if (wantMax ? pySortCompare(k, bestKey) > 0 : pySortCompare(k, bestKey) < 0) {
      best = items[i];
      bestKey = k;
    }
  }
  return best;
}

function selectOrReject(
  value: unknown,
  args: unknown[],
  kwargs: Kwargs,
  lookupAttr: boolean,
  select: boolean,
): PyIter {
  let trans: (v: unknown) => unknown = (v) => v;
  let off = 0;
  if (lookupAttr) {
    if (args.length < 1) throw new PyException("FilterArgumentError", "Missing parameter for attribute name");
    trans = attrGetter(args[0]);
    off = 1;
  }
  let test: (v: unknown) => boolean;
  if (args.length > off) {
    const name = pyStr(args[off]);
    const rest = args.slice(off + 1);
    test = (v) => callTest(name, v, rest, kwargs);
  } else test = truthy;
  const out = iterate(value).filter((item) => test(trans(item)) === select);
  return new PyIter(out, lookupAttr ? "select_or_reject" : "select_or_reject");
}

function doMap(value: unknown, args: unknown[], kwargs: Kwargs): PyIter {
  let fn: (v: unknown) => unknown;
  if (args.length === 0 && kwargs !== null && kwargs.has("attribute")) {
    const rest = new Map(kwargs);
    const attribute = rest.get("attribute");
    rest.delete("attribute");
    const dflt = rest.has("default") ? rest.get("default") : null;
    rest.delete("default");
    if (rest.size > 0)
      throw new PyException("FilterArgumentError", `Unexpected keyword argument '${[...rest.keys()][0]}'`);
    fn = attrGetter(attribute, null, dflt);
  } else {
    if (args.length === 0) throw new PyException("FilterArgumentError", "map requires a filter argument");
    const name = pyStr(args[0]);
    const rest = args.slice(1);
    fn = (item) => callFilter(name, item, rest, kwargs);
  }
  return new PyIter(iterate(value).map(fn), "sync_do_map");
}

function doReverse(value: unknown): unknown {
  if (isStr(value)) return codePoints(strOf(value)).reverse().join("");
  const k = kind(value);
  if (k === "iter") return iterate(value).slice().reverse();
  const items = iterate(value).slice().reverse();
  const typeNames: Record<string, string> = {
    list: "list_reverseiterator",
    dict: "dict_reversekeyiterator",
    range: "range_iterator",
  };
  return new PyIter(items, "reversed", typeNames[k] ?? "reversed");
}

function doGroupby(value: unknown, attribute: unknown, dflt: unknown, caseSensitive: unknown): unknown {
  const cs = truthy(caseSensitive);
  const expr = attrGetter(attribute, cs ? null : lowerIfStr, dflt);
  const sorted = sortItems(iterate(value).slice(), expr, false);
  const groups: { key: unknown; items: unknown[] }[] = [];
  for (const item of sorted) {
    const key = expr(item);
    const last = groups[groups.length - 1];
    if (last && pyEq(last.key, key)) last.items.push(item);
    else groups.push({ key, items: [item] });
  }
  const outExpr = cs ? expr : attrGetter(attribute, null, dflt);
  return groups.map((g) =>
    namedTuple("_GroupTuple", ["grouper", "list"], [cs ? g.key : outExpr(g.items[0]), g.items]),
  );
}

function doSum(value: unknown, attribute: unknown, start: unknown): unknown {
  let items = iterate(value);
  if (attribute !== null && attribute !== undefined) items = items.map(attrGetter(attribute));
  if (isStr(start)) throw typeError("sum() can't sum strings [use ''.join(seq) instead]");
  let total = start;
  for (const x of items) total = pyAdd(total, x);
  return total;
}

function doUnique(value: unknown, caseSensitive: unknown, attribute: unknown): PyIter {
  const getter = attrGetter(attribute, truthy(caseSensitive) ? null : lowerIfStr);
  const seen = new PyDict();
  const out: unknown[] = [];
  for (const item of iterate(value)) {
    const key = getter(item);
    if (!seen.has(key)) {
      seen.set(key, true);
      out.push(item);
    }
  }
  return new PyIter(out, "do_unique");
}

function doBatch(value: unknown, linecount: unknown, fill: unknown): PyIter {
  const n = toInt("batch", linecount);
  const out: unknown[][] = [];
  let tmp: unknown[] = [];
  for (const item of iterate(value)) {
    if (tmp.length === n) {
      out.push(tmp);
      tmp = [];
    }
    tmp.push(item);
  }
  if (tmp.length > 0) {
    if (fill !== null && fill !== undefined) while (tmp.length < n) tmp.push(fill);
    out.push(tmp);
  }
  return new PyIter(out, "do_batch");
}

function doSlice(value: unknown, slicesArg: unknown, fill: unknown): PyIter {
  const seq = iterate(value);
  const slices = toInt("slice", slicesArg);
  if (slices === 0) throw new PyException("ZeroDivisionError", "integer division or modulo by zero");
  const length = seq.length;
  const per = Math.floor(length / slices);
  const extra = ((length % slices) + slices) % slices;
  let offset = 0;
  const out: unknown[][] = [];
  for (let i = 0; i < slices; i++) {
    const start = offset + i * per;
    if (i < extra) offset += 1;
    const end = offset + (i + 1) * per;
    const tmp = seq.slice(start, end);
    if (fill !== null && fill !== undefined && i >= extra) tmp.push(fill);
    out.push(tmp);
  }
  return new PyIter(out, "do_slice");
}

function doDictsort(value: unknown, caseSensitive: unknown, by: unknown, reverse: unknown): unknown {
  if (kind(value) !== "dict")
    throw new PyException("AttributeError", `'${typeName(value)}' object has no attribute 'items'`);
  const byS = pyStr(by);
  let pos: number;
  if (byS === "key") pos = 0;
  else if (byS === "value") pos = 1;
  else throw new PyException("FilterArgumentError", 'You can only sort by either "key" or "value"');
  const cs = truthy(caseSensitive);
  const key = (item: unknown): unknown => {
    const v = (item as unknown[])[pos];
    return cs ? v : lowerIfStr(v);
  };
  return sortItems(dictItems(value as DictLike), key, truthy(reverse));
}

const W = /[\p{L}\p{N}_]+/gu;
const TITLE_SPLIT = new RegExp(`([-${WS}({\\[<]+)`);

const BUILTIN_FILTERS: Record<string, FilterFn> = {
  abs: f("abs", params(), (v) => pyAbs(v)),
  attr: f("attr", params(["name", REQUIRED]), (v, [name]) => {
    const n = pyStr(name);
    const a = pyAttribute(v, n);
    return a === MISSING ? undefinedAttr(v, n) : a;
  }),
  batch: f("batch", params(["linecount", REQUIRED], ["fill_with", null]), (v, [n, fill]) =>
    doBatch(v, n, fill),
  ),
  capitalize: f("capitalize", params(), (v) => pyCapitalize(softStr(v))),
  center: f("center", params(["width", 80]), (v, [w]) => pyCenter(softStr(v), toInt("center", w))),
  default: f("default", params(["default_value", ""], ["boolean", false]), (v, [d, boolean]) =>
    v instanceof Undef || (truthy(boolean) && !truthy(v)) ? d : v,
  ),
  dictsort: f(
    "dictsort",
    params(["case_sensitive", false], ["by", "key"], ["reverse", false]),
    (v, [cs, by, rev]) => doDictsort(v, cs, by, rev),
  ),
  escape: f("escape", params(), (v) => (v instanceof Markup ? v : new Markup(escapeHtml(pyStr(v))))),
  filesizeformat: f("filesizeformat", params(["binary", false]), (v, [b]) => filesizeformat(v, b)),
  first: f("first", params(), (v) => {
    const items = iterate(v);
    return items.length > 0 ? items[0] : new Undef("No first item, sequence was empty.");
  }),
  float: f("float", params(["default", mkFloat(0)]), (v, [d]) => {
    const x = parseFloatValue(v);
    return x === undefined ? d : mkFloat(x);
  }),
  forceescape: f("forceescape", params(), (v) => new Markup(escapeHtml(pyStr(v)))),
  format: (v, args, kwargs) => {
    if (args.length > 0 && kwargs !== null && kwargs.size > 0) {
      throw new PyException(
        "FilterArgumentError",
        "can't handle positional and keyword arguments at the same time",
      );
    }
    const arg = kwargs !== null && kwargs.size > 0 ? PyDict.of(kwargs) : tuple(args);
    return percentFormat(softStr(v), arg);
  },
  groupby: f(
    "groupby",
    params(["attribute", REQUIRED], ["default", null], ["case_sensitive", false]),
    (v, [a, d, cs]) => doGroupby(v, a, d, cs),
  ),
  indent: f("indent", params(["width", 4], ["first", false], ["blank", false]), (v, [w, first, blank]) =>
    doIndent(v, w, first, blank),
  ),
  int: f("int", params(["default", 0], ["base", 10]), (v, [d, b]) => doInt(v, d, b)),
  items: f("items", params(), (v) => {
    if (v instanceof Undef) return new PyIter([], "do_items");
    if (kind(v) !== "dict") throw new PyException("TypeError", "Can only get item pairs from a mapping.");
    return new PyIter(dictItems(v as DictLike), "do_items");
  }),
  join: f("join", params(["d", ""], ["attribute", null]), (v, [d, attribute]) => {
    let items = iterate(v);
    if (attribute !== null && attribute !== undefined) items = items.map(attrGetter(attribute));
    return joinChecked(items.map(pyStr), pyStr(d));
  }),
  last: f("last", params(), (v) => {
    if (kind(v) === "iter") throw typeError("'generator' object is not reversible");
    const items = iterate(v);
    return items.length > 0 ? items[items.length - 1] : new Undef("No last item, sequence was empty.");
  }),
  length: f("length", params(), (v) => pyLen(v)),
  list: f("list", params(), (v) => owned(iterate(v).slice())),
  lower: f("lower", params(), (v) => softStr(v).toLowerCase()),
  map: doMap,
  max: f("max", params(["case_sensitive", false], ["attribute", null]), (v, [cs, a]) =>
    aggregate(v, cs, a, true),
  ),
  min: f("min", params(["case_sensitive", false], ["attribute", null]), (v, [cs, a]) =>
    aggregate(v, cs, a, false),
  ),
  pprint: f("pprint", params(), (v) => pformat(v)),
  random: f("random", params(), (v) => {
    const items = iterate(v);
    if (items.length === 0) throw new PyException("IndexError", "Cannot choose from an empty sequence");
    return items[Math.floor(Math.random() * items.length)];
  }),
  reject: (v, args, kwargs) => selectOrReject(v, args, kwargs, false, false),
  rejectattr: (v, args, kwargs) => selectOrReject(v, args, kwargs, true, false),
  replace: f("replace", params(["old", REQUIRED], ["new", REQUIRED], ["count", null]), (v, [a, b, c]) =>
    pyReplace(pyStr(v), pyStr(a), pyStr(b), c === null || c === undefined ? -1 : toInt("replace", c)),
  ),
  reverse: f("reverse", params(), (v) => doReverse(v)),
  round: f("round", params(["precision", 0], ["method", "common"]), (v, [p, m]) => doRound(v, p, m)),
  safe: f("safe", params(), (v) => (v instanceof Markup ? v : new Markup(pyStr(v)))),
  select: (v, args, kwargs) => selectOrReject(v, args, kwargs, false, true),
  selectattr: (v, args, kwargs) => selectOrReject(v, args, kwargs, true, true),
  slice: f("slice", params(["slices", REQUIRED], ["fill_with", null]), (v, [n, fill]) => doSlice(v, n, fill)),
  sort: f(
    "sort",
    params(["reverse", false], ["case_sensitive", false], ["attribute", null]),
    (v, [rev, cs, a]) =>
      owned(sortItems(iterate(v).slice(), multiAttrGetter(a, truthy(cs) ? null : lowerIfStr), truthy(rev))),
  ),
  string: f("string", params(), (v) => (v instanceof Markup ? v : pyStr(v))),
  striptags: f("striptags", params(), (v) => stripTags(pyStr(v))),
  sum: f("sum", params(["attribute", null], ["start", 0]), (v, [a, start]) => doSum(v, a, start)),
  title: f("title", params(), (v) =>
    softStr(v)
      .split(TITLE_SPLIT)
      .filter((item) => item !== "")
      .map((item) => {
        const cps = codePoints(item);
        return (cps[0] as string).toUpperCase() + cps.slice(1).join("").toLowerCase();
      })
      .join(""),
  ),
  tojson: f("tojson", params(["indent", null]), (v, [indent]) => {
    const ind =
      indent === null || indent === undefined
        ? null
        : isStr(indent)
          ? strOf(indent)
          : " ".repeat(sizeArg(toInt("tojson", indent)));
    return new Markup(htmlSafeJson(v, ind));
  }),
  trim: f("trim", params(["chars", null]), (v, [chars]) =>
    pyStrip(softStr(v), chars === null || chars === undefined ? null : pyStr(chars)),
  ),
  truncate: f(
    "truncate",
    params(["length", 255], ["killwords", false], ["end", "..."], ["leeway", null]),
    (v, [len, kill, end, leeway]) => doTruncate(v, len, kill, end, leeway),
  ),
  unique: f("unique", params(["case_sensitive", false], ["attribute", null]), (v, [cs, a]) =>
    doUnique(v, cs, a),
  ),
  upper: f("upper", params(), (v) => softStr(v).toUpperCase()),
  urlencode: f("urlencode", params(), (v) => {
    const k = kind(v);
    if (isStr(v) || (k !== "list" && k !== "tuple" && k !== "dict" && k !== "iter" && k !== "view")) {
      return urlQuote(v, false);
    }
    const items = k === "dict" ? dictItems(v as DictLike) : iterate(v);
    return items
      .map((kv) => {
        const pair = iterate(kv);
        if (pair.length !== 2) {
          throw valueError(`${pair.length < 2 ? "not enough" : "too many"} values to unpack (expected 2)`);
        }
        return `${urlQuote(pair[0], true)}=${urlQuote(pair[1], true)}`;
      })
      .join("&");
  }),
  wordcount: f("wordcount", params(), (v) => (softStr(v).match(W) ?? []).length),
  wordwrap: f(
    "wordwrap",
    params(["width", 79], ["break_long_words", true], ["wrapstring", null], ["break_on_hyphens", true]),
    (v, [width, breakLong, wrapstring, breakOnHyphens]) => {
      mustBeDefined(v);
      if (!isStr(v))
        throw new PyException("AttributeError", `'${typeName(v)}' object has no attribute 'splitlines'`);
      const w = toInt("wordwrap", width);
      const sep = wrapstring === null || wrapstring === undefined ? "\n" : pyStr(wrapstring);
      // Each line on its own, as Jinja2 does: textwrap ignores existing newlines.
      const parts = pySplitlines(strOf(v)).map((line) =>
        textWrap(line, w, truthy(breakLong), truthy(breakOnHyphens)).join(sep),
      );
      return joinChecked(parts, sep);
    },
  ),
};
Object.assign(FILTERS, BUILTIN_FILTERS);
FILTERS.d = FILTERS.default as FilterFn;
FILTERS.e = FILTERS.escape as FilterFn;
FILTERS.count = FILTERS.length as FilterFn;

/** Filters that get an undefined value as is (the others raise when given one). */
export const FILTERS_ACCEPTING_UNDEFINED = new Set(["default", "d", "items"]);

/** Runs a filter by name (for `map('upper')` and compiled filter expressions). */
export function callFilter(name: string, value: unknown, args: unknown[], kwargs: Kwargs): unknown {
  if (!Object.hasOwn(FILTERS, name)) throw runtimeError(`No filter named '${name}'.`);
  if (value instanceof Undef && !value.lenient && !FILTERS_ACCEPTING_UNDEFINED.has(name)) value.fail();
  return (FILTERS[name] as FilterFn)(value, args, kwargs);
}
