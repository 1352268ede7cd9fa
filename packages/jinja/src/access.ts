/**
 * Jinja2's attribute and item lookup: `a.b` tries the Python attribute (methods, object fields)
 * and then the item; `a['b']` tries the item and then the attribute. A miss gives an undefined
 * value naming what is missing. Names that could reach JS internals (`constructor`, `prototype`,
 * anything starting with `__`) are never looked up: templates are a sandbox.
 */
import { boundMethod, DICT_METHOD_NAMES } from "./methods.js";
import { PyException, typeError, valueError } from "./python-errors.js";
import type { FieldGetter } from "./python-format.js";
import {
  codePoints,
  type DictLike,
  dictGet,
  hasSurrogates,
  intVal,
  isProjecting,
  isStr,
  isTuple,
  kind,
  MISSING,
  Markup,
  mustBeDefined,
  namedFields,
  numKind,
  owned,
  PyObject,
  PyRange,
  projecting,
  strOf,
  tuple,
  Undef,
  undefinedAttr,
} from "./python-values.js";

export function isBlockedName(name: string): boolean {
  return name.startsWith("__") || name === "constructor" || name === "prototype";
}

/**
 * How `str.format` resolves `{0.name}` and `{0[key]}`: like Jinja2's getattr / getitem. Handed
 * to the methods this module binds (methods.ts cannot import this module: it is imported by it).
 */
const fieldGetter: FieldGetter = (obj, key, isItem) => {
  const v = isItem ? getItem(obj, key) : getAttr(obj, String(key));
  mustBeDefined(v);
  return v;
};

/** The Python attribute `name` of a value (not falling back to items), or MISSING. */
export function pyAttribute(obj: unknown, name: string): unknown {
  const k = kind(obj);
  switch (k) {
    case "str":
      return boundMethod("str", obj instanceof Markup ? obj.value : obj, name, fieldGetter);
    case "list": {
      const method = boundMethod(k, obj, name, fieldGetter);
      if (method !== MISSING || !isProjecting(obj)) return method;
      return projecting((obj as unknown[]).map((item) => getAttr(item, name)));
    }
    case "dict":
    case "float":
      return boundMethod(k, obj, name, fieldGetter);
    case "tuple": {
      const named = namedFields(obj as unknown[]);
      if (named) {
        const i = named.fields.indexOf(name);
        if (i >= 0) return (obj as unknown[])[i];
      }
      return boundMethod("tuple", obj, name, fieldGetter);
    }
    default:
      if (obj instanceof PyObject) return obj.getAttr(name);
      return MISSING;
  }
}

/** Normalizes a Python index into a sequence of the given length, or -1 when out of range. */
function seqIndex(key: unknown, len: number): number {
  let i = Number(intVal(key));
  if (i < 0) i += len;
  return i >= 0 && i < len ? i : -1;
}

/** `obj[key]` without the attribute fallback, or MISSING. */
function itemLookup(obj: unknown, key: unknown): unknown {
  if (Array.isArray(obj)) {
    if (numKind(key) !== 1) return MISSING;
    const i = seqIndex(key, obj.length);
    return i < 0 ? MISSING : (obj[i] ?? null);
  }
  if (typeof obj === "string" || obj instanceof Markup) {
    if (numKind(key) !== 1) return MISSING;
    const s = strOf(obj);
    if (!hasSurrogates(s)) {
      const i = seqIndex(key, s.length);
      return i < 0 ? MISSING : s[i];
    }
    const cps = codePoints(s);
    const i = seqIndex(key, cps.length);
    return i < 0 ? MISSING : cps[i];
  }
  switch (kind(obj)) {
    case "dict": {
      if (key instanceof Undef) return key.fail();
      if (isStr(key) && isBlockedName(strOf(key))) return MISSING;
      try {
        return dictGet(obj as DictLike, key);
      } catch (e) {
        if (e instanceof PyException && e.pyType === "TypeError") return MISSING;
        throw e;
      }
    }
    case "range": {
      if (numKind(key) !== 1) return MISSING;
      const r = obj as PyRange;
      const i = seqIndex(key, r.length);
      return i < 0 ? MISSING : r.at(i);
    }
    default:
      return MISSING;
  }
}

/** Jinja2 `obj.name`. */
export function getAttr(obj: unknown, name: string): unknown {
  mustBeDefined(obj);
  if (isBlockedName(name)) return undefinedAttr(obj, name);
  const attr = pyAttribute(obj, name);
  if (attr !== MISSING) return attr;
  const item = itemLookup(obj, name);
  if (item !== MISSING) return item;
  return undefinedAttr(obj, name);
}

const hasOwn = Object.prototype.hasOwnProperty;

/** `obj.name` for a name known at compile time: plain context objects take a fast path. */
export function attrAccessor(name: string): (obj: unknown) => unknown {
  if (isBlockedName(name) || DICT_METHOD_NAMES.has(name)) return (obj) => getAttr(obj, name);
  return (obj) => {
    if (typeof obj === "object" && obj !== null && !Array.isArray(obj)) {
      const proto = Object.getPrototypeOf(obj);
      if (proto === Object.prototype || proto === null) {
        if (hasOwn.call(obj, name)) return (obj as Record<string, unknown>)[name] ?? null;
        return undefinedAttr(obj, name);
      }
    }
    return getAttr(obj, name);
  };
}

/** Jinja2 `obj[key]`. */
export function getItem(obj: unknown, key: unknown): unknown {
  mustBeDefined(obj);
  const item = itemLookup(obj, key);
  if (item !== MISSING) return item;
  if (isStr(key)) {
    const name = strOf(key);
    if (!isBlockedName(name)) {
      const attr = pyAttribute(obj, name);
      if (attr !== MISSING) return attr;
    }
  }
  return undefinedAttr(obj, key);
}

function sliceBound(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  mustBeDefined(v);
  if (numKind(v) !== 1) throw typeError("slice indices must be integers or None or have an __index__ method");
  return Number(intVal(v));
}

/** Python slice.indices(length): start, step and item count. */
export function sliceIndices(
  length: number,
  startV: unknown,
  stopV: unknown,
  stepV: unknown,
): { start: number; step: number; count: number } {
  const step = sliceBound(stepV) ?? 1;
  if (step === 0) throw valueError("slice step cannot be zero");
  const lower = step < 0 ? -1 : 0;
  const upper = step < 0 ? length - 1 : length;
  const clamp = (v: number | null, dflt: number): number => {
    if (v === null) return dflt;
    if (v < 0) return Math.max(v + length, lower);
    return Math.min(v, upper);
  };
  const start = clamp(sliceBound(startV), step < 0 ? upper : lower);
  const stop = clamp(sliceBound(stopV), step < 0 ? lower : upper);
  let count = 0;
  if (step > 0 && start < stop) count = Math.ceil((stop - start) / step);
  else if (step < 0 && stop < start) count = Math.ceil((start - stop) / -step);
  return { start, step, count };
}

function sliceArray<T>(items: readonly T[], start: unknown, stop: unknown, step: unknown): T[] {
  const s = sliceIndices(items.length, start, stop, step);
  if (s.step === 1) return items.slice(s.start, s.start + s.count);
  const out: T[] = new Array(s.count);
  for (let i = 0; i < s.count; i++) out[i] = items[s.start + i * s.step] as T;
  return out;
}

/** `obj[start:stop:step]`. */
export function getSlice(obj: unknown, start: unknown, stop: unknown, step: unknown): unknown {
  mustBeDefined(obj);
  if (Array.isArray(obj)) {
    const r = sliceArray(obj, start, stop, step);
    return isTuple(obj) ? tuple(r) : owned(r);
  }
  if (typeof obj === "string" || obj instanceof Markup) {
    const s = strOf(obj);
    if (!hasSurrogates(s) && (step === null || step === undefined || step === 1)) {
      const { start: a, count } = sliceIndices(s.length, start, stop, 1);
      return s.slice(a, a + count);
    }
    return sliceArray(codePoints(s), start, stop, step).join("");
  }
  if (obj instanceof PyRange) {
    const s = sliceIndices(obj.length, start, stop, step);
    const first = obj.at(s.start);
    const newStep = obj.step * s.step;
    return new PyRange(first, first + s.count * newStep, newStep);
  }
  const fmt = (v: unknown): string => (v === null || v === undefined ? "None" : String(v));
  return new Undef(
    `${kind(obj) === "dict" ? "dict object" : "object"} has no element slice(${fmt(start)}, ${fmt(stop)}, ${fmt(step)})`,
  );
}
