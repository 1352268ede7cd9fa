/**
 * The Python value model of the template engine, over plain JS values so that context data is used
 * as is (no conversion per render):
 *
 * - str: JS string (or Markup from `|safe`, `|e`, `|tojson`)
 * - int: integral JS number, or bigint beyond 2**53; bool: JS boolean; None: null or undefined
 * - float: non-integral JS number, or PyFloat (any float, needed for integral ones like 4.0)
 * - list: JS array; tuple: JS array tagged with TUPLE
 * - dict: PyDict (made by templates), Map or plain object (context data)
 * - PyObject subclasses for range, dict views, generators, namespaces, callables, loop objects
 * - Undef: an undefined value; using it raises (StrictUndefined), except for the lenient kind
 *   produced by `a if b` without else, which prints as ''.
 */
import { checkSequenceSize, countItems, mapText } from "./limits.js";
import { floatRepr } from "./python-float.js";
import { overflowError, typeError, undefinedError } from "./python-errors.js";

/** A Python float. Integral floats (4.0) must be wrapped; non-integral floats may be plain numbers. */
export class PyFloat {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
  toString(): string {
    return floatRepr(this.value);
  }
}

/** Marks a number as a Python float for template contexts: `pyFloat(4)` prints `4.0`. */
export function pyFloat(n: number): PyFloat {
  return new PyFloat(n);
}

/** A float result: plain number when non-integral, PyFloat otherwise. */
export function mkFloat(n: number): number | PyFloat {
  return Number.isInteger(n) ? new PyFloat(n) : n;
}

/** An int result from a bigint: back to a number when it is safe. */
export function mkInt(n: number | bigint): number | bigint {
  if (typeof n === "bigint") {
    return n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n;
  }
  return n === 0 ? 0 : n;
}

/** A string marked safe (markupsafe.Markup): `|e` does not escape it again. */
export class Markup {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

/** An undefined value (Jinja2 StrictUndefined, or the lenient Undefined of `a if b` without else). */
export class Undef {
  readonly message: string;
  readonly lenient: boolean;
  constructor(message: string, lenient = false) {
    this.message = message;
    this.lenient = lenient;
  }
  fail(): never {
    throw undefinedError(this.message);
  }
}

export const MISSING: unique symbol = Symbol("missing");
export type Missing = typeof MISSING;

export const TUPLE: unique symbol = Symbol("tuple");
/** Field names of a named tuple (groupby results), for attribute access and repr. */
export const NAMED: unique symbol = Symbol("named");
interface TupleArray extends Array<unknown> {
  [TUPLE]?: true;
  [NAMED]?: { typeName: string; fields: string[] };
}

export function tuple(items: unknown[]): unknown[] {
  (items as TupleArray)[TUPLE] = true;
  return items;
}

export function namedTuple(typeName: string, fields: string[], items: unknown[]): unknown[] {
  const t = tuple(items) as TupleArray;
  t[NAMED] = { typeName, fields };
  return t;
}

export function namedFields(v: unknown[]): { typeName: string; fields: string[] } | undefined {
  return (v as TupleArray)[NAMED];
}

/**
 * Lists the render made itself (literals, `|list`, `|sort`, `+`, `*`, slices, `split()`…). Only
 * these may be changed by `append`, `pop`, `sort`…: lists from the context are the caller's data
 * (shared between renders) and stay read-only. Dicts made by templates are PyDict.
 */
const OWNED = new WeakSet<unknown[]>();

export function owned<T extends unknown[]>(items: T): T {
  countItems(items.length);
  OWNED.add(items);
  return items;
}

export function isOwned(items: unknown[]): boolean {
  return OWNED.has(items);
}

/** Marks a list whose attributes project over its items (see `projecting`). */
const PROJECT: unique symbol = Symbol("project");

/**
 * A list on which `xs.name` is the list of every item's `name` (unless `name` is a list method):
 * `players.contribution`. Not Python: an opt-in for the embedding program's own data.
 */
export function projecting<T>(items: T[]): T[] {
  // Not enumerable: the list stays equal to (and prints like) a plain list.
  Object.defineProperty(items, PROJECT, { value: true });
  return items;
}

export function isProjecting(v: unknown): v is unknown[] {
  return Array.isArray(v) && (v as { [PROJECT]?: true })[PROJECT] === true;
}

export function isTuple(v: unknown): v is unknown[] {
  return Array.isArray(v) && (v as TupleArray)[TUPLE] === true;
}

export type Kwargs = Map<string, unknown> | null;

/** Base of engine objects with Python attributes (namespace, loop, callables, range...). */
export abstract class PyObject {
  abstract readonly typeName: string;
  /** Used in "'X object' has no attribute" messages (Jinja2's object_type_repr). */
  get objectTypeRepr(): string {
    return `${this.typeName} object`;
  }
  getAttr(_name: string): unknown {
    return MISSING;
  }
  repr(): string {
    return `<${this.typeName} object>`;
  }
  str(): string {
    return this.repr();
  }
}

/** Anything a template can call. */
export abstract class PyCallable extends PyObject {
  abstract call(args: unknown[], kwargs: Kwargs): unknown;
}

/** A Python dict made by a template: insertion ordered, keys compared with Python equality (1 == 1.0 == True). */
export class PyDict {
  readonly map = new Map<unknown, [unknown, unknown]>();
  static of(entries: Iterable<readonly [unknown, unknown]>): PyDict {
    const d = new PyDict();
    for (const [k, v] of entries) d.set(k, v);
    return d;
  }
  get size(): number {
    return this.map.size;
  }
  get(key: unknown): unknown {
    const e = this.map.get(hashKey(key));
    return e === undefined ? MISSING : e[1];
  }
  has(key: unknown): boolean {
    return this.map.has(hashKey(key));
  }
  delete(key: unknown): boolean {
    return this.map.delete(hashKey(key));
  }
  set(key: unknown, value: unknown): void {
    const h = hashKey(key);
    const e = this.map.get(h);
    if (e) e[1] = value;
    else this.map.set(h, [key, value]);
  }
  keys(): unknown[] {
    return Array.from(this.map.values(), (e) => e[0]);
  }
  values(): unknown[] {
    return Array.from(this.map.values(), (e) => e[1]);
  }
  items(): unknown[][] {
    return Array.from(this.map.values(), (e) => tuple([e[0], e[1]]));
  }
}

export class PyRange extends PyObject {
  readonly typeName = "range";
  readonly start: number;
  readonly stop: number;
  readonly step: number;
  constructor(start: number, stop: number, step: number) {
    super();
    this.start = start;
    this.stop = stop;
    this.step = step;
  }
  get length(): number {
    const { start, stop, step } = this;
    if (step > 0) return stop > start ? Math.ceil((stop - start) / step) : 0;
    return start > stop ? Math.ceil((start - stop) / -step) : 0;
  }
  at(i: number): number {
    return this.start + i * this.step;
  }
  toArray(): number[] {
    const n = this.length;
    checkSequenceSize(n);
    countItems(n);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.start + i * this.step;
    return out;
  }
  override getAttr(name: string): unknown {
    if (name === "start") return this.start;
    if (name === "stop") return this.stop;
    if (name === "step") return this.step;
    return MISSING;
  }
  override repr(): string {
    return this.step === 1
      ? `range(${this.start}, ${this.stop})`
      : `range(${this.start}, ${this.stop}, ${this.step})`;
  }
}

export type DictLike = PyDict | Map<unknown, unknown> | Record<string, unknown>;

/** dict.keys() / values() / items(). */
export class DictView extends PyObject {
  readonly typeName: string;
  readonly dict: DictLike;
  readonly which: "keys" | "values" | "items";
  constructor(dict: DictLike, which: "keys" | "values" | "items") {
    super();
    this.dict = dict;
    this.which = which;
    this.typeName = `dict_${which}`;
  }
  toArray(): unknown[] {
    if (this.which === "keys") return dictKeys(this.dict);
    if (this.which === "values") return dictValues(this.dict);
    return dictItems(this.dict);
  }
  override repr(): string {
    return `${this.typeName}(${pyRepr(this.toArray())})`;
  }
}

/** A one-shot iterator (what Jinja2's map/select/... filters return): iterating consumes it, it has no len and is always true. */
export class PyIter extends PyObject {
  readonly typeName: string;
  readonly name: string;
  items: unknown[];
  constructor(items: unknown[], name = "generator", typeName = "generator") {
    super();
    countItems(items.length);
    this.items = items;
    this.name = name;
    this.typeName = typeName;
  }
  consume(): unknown[] {
    const items = this.items;
    this.items = [];
    return items;
  }
  override repr(): string {
    return this.typeName === "generator" ? `<generator object ${this.name}>` : `<${this.typeName} object>`;
  }
}

/** Jinja2's namespace(): the one object whose attributes templates may assign. */
export class Namespace extends PyObject {
  readonly typeName = "Namespace";
  readonly attrs = new Map<string, unknown>();
  override get objectTypeRepr(): string {
    return "jinja2.utils.Namespace object";
  }
  override getAttr(name: string): unknown {
    const v = this.attrs.get(name);
    return v === undefined && !this.attrs.has(name) ? MISSING : v;
  }
  override repr(): string {
    return `<Namespace ${pyRepr(PyDict.of(this.attrs))}>`;
  }
}

export type Kind =
  | "none"
  | "bool"
  | "int"
  | "float"
  | "str"
  | "list"
  | "tuple"
  | "dict"
  | "range"
  | "view"
  | "iter"
  | "undef"
  | "callable"
  | "object";

export function kind(v: unknown): Kind {
  switch (typeof v) {
    case "string":
      return "str";
    case "number":
      return Number.isInteger(v) ? "int" : "float";
    case "boolean":
      return "bool";
    case "bigint":
      return "int";
    case "undefined":
      return "none";
    case "function":
      return "callable";
    case "object":
      break;
    default:
      return "object";
  }
  if (v === null) return "none";
  if (Array.isArray(v)) return (v as TupleArray)[TUPLE] === true ? "tuple" : "list";
  if (v instanceof PyFloat) return "float";
  if (v instanceof Markup) return "str";
  if (v instanceof PyDict || v instanceof Map) return "dict";
  if (v instanceof Undef) return "undef";
  if (v instanceof PyObject) {
    if (v instanceof PyCallable) return "callable";
    if (v instanceof PyRange) return "range";
    if (v instanceof DictView) return "view";
    if (v instanceof PyIter) return "iter";
    return "object";
  }
  return "dict";
}

export function isStr(v: unknown): v is string | Markup {
  return typeof v === "string" || v instanceof Markup;
}

/** The JS string of a str value (string or Markup). */
export function strOf(v: string | Markup): string {
  return typeof v === "string" ? v : v.value;
}

export function isDictLike(v: unknown): v is DictLike {
  return kind(v) === "dict";
}

export function isUndef(v: unknown): v is Undef {
  return v instanceof Undef;
}

/** Raises for a strict undefined value; lets everything else (including lenient undefined) through. */
export function checkDefined(v: unknown): void {
  if (v instanceof Undef && !v.lenient) v.fail();
}

/** Raises for any undefined value (arithmetic, attribute access, calls). */
export function mustBeDefined(v: unknown): void {
  if (v instanceof Undef) v.fail();
}

const hasOwn = Object.prototype.hasOwnProperty;

export function dictGet(d: DictLike, key: unknown): unknown {
  if (d instanceof PyDict) return d.get(key);
  if (d instanceof Map) {
    if (d.has(key)) return d.get(key) ?? null;
    const k = key instanceof Markup ? key.value : key instanceof PyFloat ? key.value : key;
    return d.has(k) ? (d.get(k) ?? null) : MISSING;
  }
  const h = hashKey(key);
  if (typeof h !== "string" || !hasOwn.call(d, h)) return MISSING;
  return d[h] ?? null;
}

export function dictHas(d: DictLike, key: unknown): boolean {
  return dictGet(d, key) !== MISSING;
}

export function dictKeys(d: DictLike): unknown[] {
  if (d instanceof PyDict) return d.keys();
  if (d instanceof Map) return Array.from(d.keys());
  return Object.keys(d);
}

export function dictValues(d: DictLike): unknown[] {
  if (d instanceof PyDict) return d.values();
  if (d instanceof Map) return Array.from(d.values(), (v) => v ?? null);
  return Object.keys(d).map((k) => d[k] ?? null);
}

export function dictItems(d: DictLike): unknown[][] {
  if (d instanceof PyDict) return d.items();
  if (d instanceof Map) return Array.from(d.entries(), ([k, v]) => tuple([k, v ?? null]));
  return Object.keys(d).map((k) => tuple([k, d[k] ?? null]));
}

export function dictLen(d: DictLike): number {
  if (d instanceof PyDict || d instanceof Map) return d.size;
  return Object.keys(d).length;
}

/** The Map key standing for a Python dict key; raises for unhashable values. */
export function hashKey(k: unknown): unknown {
  switch (typeof k) {
    case "string":
      return k;
    case "number":
      return k === 0 ? 0 : k;
    case "boolean":
      return k ? 1 : 0;
    case "undefined":
      return null;
    case "bigint":
    case "function":
    case "symbol":
      return k;
    default:
      break;
  }
  if (k === null) return null;
  if (k instanceof PyFloat) return k.value === 0 ? 0 : k.value;
  if (k instanceof Markup) return k.value;
  if (k instanceof Undef) return k.fail();
  if (Array.isArray(k)) {
    if ((k as TupleArray)[TUPLE] !== true) throw typeError("unhashable type: 'list'");
    return `\u0000tuple${JSON.stringify(k.map(hashPart))}`;
  }
  const kd = kind(k);
  if (kd === "dict") throw typeError("unhashable type: 'dict'");
  return k;
}

function hashPart(x: unknown): unknown {
  const h = hashKey(x);
  if (typeof h === "bigint") return { big: h.toString() };
  if (typeof h === "object" && h !== null) return { repr: pyRepr(h) };
  return h;
}

/** Python type name, as in TypeError messages. */
export function typeName(v: unknown): string {
  switch (kind(v)) {
    case "none":
      return "NoneType";
    case "bool":
      return "bool";
    case "int":
      return "int";
    case "float":
      return "float";
    case "str":
      return v instanceof Markup ? "Markup" : "str";
    case "list":
      return "list";
    case "tuple":
      return "tuple";
    case "dict":
      return "dict";
    case "undef":
      return (v as Undef).lenient ? "Undefined" : "StrictUndefined";
    case "callable":
      return typeof v === "function" ? "function" : (v as PyObject).typeName;
    default:
      return v instanceof PyObject ? v.typeName : "object";
  }
}

/** Jinja2's object_type_repr: `None`, `dict object`, `jinja2.utils.Namespace object`. */
export function objectTypeRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v instanceof PyObject) return v.objectTypeRepr;
  if (v instanceof Markup) return "markupsafe.Markup object";
  return `${typeName(v)} object`;
}

export function undefinedAttr(obj: unknown, name: unknown): Undef {
  if (isStr(name))
    return new Undef(`${strRepr(objectTypeRepr(obj))} has no attribute ${strRepr(strOf(name))}`);
  return new Undef(`${objectTypeRepr(obj)} has no element ${pyRepr(name)}`);
}

// ---------------------------------------------------------------------------------------------
// Truthiness, str(), repr()

export function truthy(v: unknown): boolean {
  switch (typeof v) {
    case "boolean":
      return v;
    case "string":
      return v.length > 0;
    case "number":
      return v !== 0;
    case "bigint":
      return v !== 0n;
    case "undefined":
      return false;
    case "function":
      return true;
    default:
      break;
  }
  if (v === null) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof PyFloat) return v.value !== 0;
  if (v instanceof Undef) {
    if (v.lenient) return false;
    return v.fail();
  }
  if (v instanceof Markup) return v.value.length > 0;
  if (v instanceof PyDict || v instanceof Map) return v.size > 0;
  if (v instanceof PyRange) return v.length > 0;
  if (v instanceof DictView) return dictLen(v.dict) > 0;
  if (v instanceof PyObject) return true;
  return Object.keys(v as object).length > 0;
}

/** Python int to decimal text (numbers from 1e21 on print all digits). */
export function intStr(n: number | bigint): string {
  if (typeof n === "bigint") return n.toString();
  return Math.abs(n) < 1e21 ? String(n === 0 ? 0 : n) : BigInt(n).toString();
}

/** Python `str(v)`. */
export function pyStr(v: unknown): string {
  switch (typeof v) {
    case "string":
      return v;
    case "number":
      return Number.isInteger(v) ? intStr(v) : floatRepr(v);
    case "boolean":
      return v ? "True" : "False";
    case "undefined":
      return "None";
    case "bigint":
      return v.toString();
    default:
      break;
  }
  if (v === null) return "None";
  if (v instanceof Markup) return v.value;
  if (v instanceof PyFloat) return floatRepr(v.value);
  if (v instanceof Undef) {
    if (v.lenient) return "";
    return v.fail();
  }
  if (v instanceof PyObject) return v.str();
  return pyRepr(v);
}

const PLAIN_ASCII = /^[\x20-\x26\x28-\x5b\x5d-\x7e]*$/;
const NON_PRINTABLE = /[\p{C}\p{Z}]/u;

const hex = (n: number, width: number): string => n.toString(16).padStart(width, "0");

/** Python `repr(str)`. */
export function strRepr(s: string): string {
  if (PLAIN_ASCII.test(s)) return `'${s}'`;
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === quote || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${hex(cp, 2)}`;
    else if (cp < 0x7f) out += ch;
    else if (!NON_PRINTABLE.test(ch)) out += ch;
    else if (cp < 0x100) out += `\\x${hex(cp, 2)}`;
    else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
    else out += `\\U${hex(cp, 8)}`;
  }
  return out + quote;
}

/** Python `repr(v)`. */
export function pyRepr(v: unknown, seen?: Set<unknown>): string {
  switch (typeof v) {
    case "string":
      return strRepr(v);
    case "function":
      return `<function ${v.name || "<anonymous>"}>`;
    case "object":
      break;
    default:
      return pyStr(v);
  }
  if (v === null) return "None";
  if (v instanceof PyFloat) return floatRepr(v.value);
  if (v instanceof Markup) return `Markup(${strRepr(v.value)})`;
  if (v instanceof Undef) return "Undefined";
  if (v instanceof PyObject) return v.repr();
  const s = seen ?? new Set<unknown>();
  if (Array.isArray(v)) {
    const isT = (v as TupleArray)[TUPLE] === true;
    if (s.has(v)) return isT ? "(...)" : "[...]";
    s.add(v);
    const parts = mapText(v, (x) => pyRepr(x, s));
    s.delete(v);
    if (!isT) return `[${parts.join(", ")}]`;
    const named = (v as TupleArray)[NAMED];
    if (named) return `${named.typeName}(${parts.map((p, i) => `${named.fields[i]}=${p}`).join(", ")})`;
    return parts.length === 1 ? `(${parts[0]},)` : `(${parts.join(", ")})`;
  }
  const d = v as DictLike;
  if (s.has(v)) return "{...}";
  s.add(v);
  const parts = mapText(dictItems(d), (kv) => `${pyRepr(kv[0], s)}: ${pyRepr(kv[1], s)}`);
  s.delete(v);
  return `{${parts.join(", ")}}`;
}

// ---------------------------------------------------------------------------------------------
// Numbers

/** 0 = not a number, 1 = int (or bool), 2 = float. */
export function numKind(v: unknown): 0 | 1 | 2 {
  switch (typeof v) {
    case "number":
      return Number.isInteger(v) ? 1 : 2;
    case "boolean":
    case "bigint":
      return 1;
    case "object":
      return v instanceof PyFloat ? 2 : 0;
    default:
      return 0;
  }
}

/** The int value of an int or bool. */
export function intVal(v: unknown): number | bigint {
  if (typeof v === "boolean") return v ? 1 : 0;
  return v as number | bigint;
}

/** The float value of any number. */
export function floatVal(v: unknown): number {
  switch (typeof v) {
    case "number":
      return v;
    case "boolean":
      return v ? 1 : 0;
    case "bigint": {
      // Python refuses to turn an int beyond the float range into a float.
      const x = Number(v);
      if (!Number.isFinite(x)) throw overflowError("int too large to convert to float");
      return x;
    }
    default:
      return (v as PyFloat).value;
  }
}

/** A numeric value for comparisons (number or bigint), or undefined for non-numbers. */
export function numVal(v: unknown): number | bigint | undefined {
  switch (typeof v) {
    case "number":
    case "bigint":
      return v;
    case "boolean":
      return v ? 1 : 0;
    case "object":
      return v instanceof PyFloat ? v.value : undefined;
    default:
      return undefined;
  }
}

function numEq(a: number | bigint, b: number | bigint): boolean {
  if (typeof a === typeof b) return a === b;
  const n = (typeof a === "number" ? a : b) as number;
  const big = (typeof a === "bigint" ? a : b) as bigint;
  return Number.isInteger(n) && BigInt(n) === big;
}

// ---------------------------------------------------------------------------------------------
// Equality and ordering

/** Python `a == b`. */
export function pyEq(a: unknown, b: unknown): boolean {
  if (a instanceof Undef) return a.lenient ? b instanceof Undef : a.fail();
  if (b instanceof Undef) return b.lenient ? false : b.fail();
  if (a === b) return true;
  const na = numVal(a);
  if (na !== undefined) {
    const nb = numVal(b);
    return nb !== undefined && numEq(na, nb);
  }
  if (isStr(a)) return isStr(b) && strOf(a) === strOf(b);
  if (a === null || a === undefined) return b === null || b === undefined;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || isTuple(a) !== isTuple(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!pyEq(a[i], b[i])) return false;
    return true;
  }
  const ka = kind(a);
  if (ka === "dict") {
    if (kind(b) !== "dict") return false;
    const da = a as DictLike;
    const db = b as DictLike;
    if (dictLen(da) !== dictLen(db)) return false;
    for (const [k, v] of dictItems(da)) {
      const w = dictGet(db, k);
      if (w === MISSING || !pyEq(v, w)) return false;
    }
    return true;
  }
  if (ka === "range" && b instanceof PyRange) return pyEq((a as PyRange).toArray(), b.toArray());
  return false;
}

/** Orders strings by code point, as Python does (JS compares UTF-16 units). */
export function cmpStr(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return unitKey(x) - unitKey(y);
  }
  return a.length - b.length;
}

const unitKey = (u: number): number =>
  u >= 0xd800 && u <= 0xdfff ? u + 0x2000 : u >= 0xe000 ? u - 0x800 : u;

export type CmpOp = "<" | "<=" | ">" | ">=";

/** Python ordering comparison; raises TypeError for unorderable types. */
export function pyCompare(op: CmpOp, a: unknown, b: unknown): boolean {
  mustBeDefined(a);
  mustBeDefined(b);
  const na = numVal(a);
  const nb = numVal(b);
  if (na !== undefined && nb !== undefined) {
    switch (op) {
      case "<":
        return na < nb;
      case "<=":
        return na <= nb;
      case ">":
        return na > nb;
      default:
        return na >= nb;
    }
  }
  let c: number | undefined;
  if (isStr(a) && isStr(b)) c = cmpStr(strOf(a), strOf(b));
  else if (Array.isArray(a) && Array.isArray(b) && isTuple(a) === isTuple(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (!pyEq(a[i], b[i])) return pyCompare(op, a[i], b[i]);
    }
    c = a.length - b.length;
  }
  if (c === undefined) {
    throw typeError(`'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
  }
  switch (op) {
    case "<":
      return c < 0;
    case "<=":
      return c <= 0;
    case ">":
      return c > 0;
    default:
      return c >= 0;
  }
}

/** Comparator for sorting with Python `<` (stable sort keeps equal items in order). */
export function pySortCompare(a: unknown, b: unknown): number {
  if (pyCompare("<", a, b)) return -1;
  if (pyCompare("<", b, a)) return 1;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Strings as code points

const SURROGATE = /[\ud800-\udfff]/;

export function hasSurrogates(s: string): boolean {
  return SURROGATE.test(s);
}

/** The characters (code points) of a string. */
export function codePoints(s: string): string[] {
  return SURROGATE.test(s) ? Array.from(s) : s.split("");
}

/** Python `len(str)`. */
export function strLen(s: string): number {
  if (!SURROGATE.test(s)) return s.length;
  let n = 0;
  for (const _ of s) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Iteration, len, in

/** The items of an iterable (read only: may be the value itself). */
export function iterate(v: unknown): readonly unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v === "string") return codePoints(v);
  if (v instanceof Markup) return codePoints(v.value);
  if (v instanceof Undef) {
    if (v.lenient) return [];
    return v.fail();
  }
  switch (kind(v)) {
    case "dict":
      return dictKeys(v as DictLike);
    case "range":
      return (v as PyRange).toArray();
    case "view":
      return (v as DictView).toArray();
    case "iter":
      return (v as PyIter).consume();
    default:
      throw typeError(`'${typeName(v)}' object is not iterable`);
  }
}

/** Python `len(v)`. */
export function pyLen(v: unknown): number {
  if (Array.isArray(v)) return v.length;
  if (typeof v === "string") return strLen(v);
  if (v instanceof Markup) return strLen(v.value);
  if (v instanceof Undef) {
    if (v.lenient) return 0;
    return v.fail();
  }
  switch (kind(v)) {
    case "dict":
      return dictLen(v as DictLike);
    case "range":
      return (v as PyRange).length;
    case "view":
      return dictLen((v as DictView).dict);
    default:
      throw typeError(`object of type '${typeName(v)}' has no len()`);
  }
}

/** Python `item in container`. */
export function pyContains(container: unknown, item: unknown): boolean {
  mustBeDefined(container);
  if (isStr(container)) {
    if (!isStr(item)) {
      mustBeDefined(item);
      throw typeError(`'in <string>' requires string as left operand, not ${typeName(item)}`);
    }
    return strOf(container).includes(strOf(item));
  }
  if (Array.isArray(container)) {
    for (const x of container) if (pyEq(x, item)) return true;
    return false;
  }
  switch (kind(container)) {
    case "dict":
      return dictHas(container as DictLike, item);
    case "view": {
      const view = container as DictView;
      if (view.which === "keys") return dictHas(view.dict, item);
      return view.toArray().some((x) => pyEq(x, item));
    }
    case "range":
    case "iter":
      return iterate(container).some((x) => pyEq(x, item));
    default:
      throw typeError(`argument of type '${typeName(container)}' is not iterable`);
  }
}
