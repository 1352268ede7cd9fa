/** Python `json.dumps(..., sort_keys=True)` and Jinja2's HTML-safe variant used by `|tojson`. */
import { mapText } from "./limits.js";
import { typeError } from "./python-errors.js";
import { floatRepr } from "./python-float.js";
import {
  type DictLike,
  dictItems,
  floatVal,
  intStr,
  intVal,
  isStr,
  kind,
  pySortCompare,
  strOf,
  typeName,
} from "./python-values.js";

function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c === 0x08) out += "\\b";
    else if (c === 0x0c) out += "\\f";
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += s[i];
  }
  return `${out}"`;
}

function jsonFloat(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Number.POSITIVE_INFINITY) return "Infinity";
  if (x === Number.NEGATIVE_INFINITY) return "-Infinity";
  return floatRepr(x);
}

function keyString(k: unknown): string {
  if (isStr(k)) return strOf(k);
  switch (kind(k)) {
    case "bool":
      return k ? "true" : "false";
    case "none":
      return "null";
    case "int":
      return intStr(intVal(k));
    case "float":
      return jsonFloat(floatVal(k));
    default:
      throw typeError(`keys must be str, int, float, bool or None, not ${typeName(k)}`);
  }
}

/** json.dumps(value, indent=indent, sort_keys=sortKeys). */
export function jsonDumps(value: unknown, indent: string | null, sortKeys: boolean): string {
  const seen = new Set<unknown>();
  const enc = (v: unknown, level: number): string => {
    if (isStr(v)) return jsonString(strOf(v));
    switch (kind(v)) {
      case "none":
        return "null";
      case "bool":
        return v ? "true" : "false";
      case "int":
        return intStr(intVal(v));
      case "float":
        return jsonFloat(floatVal(v));
      case "list":
      case "tuple":
      case "dict":
        break;
      default:
        throw typeError(`Object of type ${typeName(v)} is not JSON serializable`);
    }
    if (seen.has(v)) throw typeError("Circular reference detected");
    seen.add(v);
    let parts: string[];
    let open: string;
    let close: string;
    if (Array.isArray(v)) {
      open = "[";
      close = "]";
      parts = mapText(v, (x) => enc(x, level + 1));
    } else {
      open = "{";
      close = "}";
      let items = dictItems(v as DictLike) as [unknown, unknown][];
      if (sortKeys) items = items.slice().sort((a, b) => pySortCompare(a[0], b[0]));
      parts = mapText(items, ([k, x]) => `${jsonString(keyString(k))}: ${enc(x, level + 1)}`);
    }
    seen.delete(v);
    if (parts.length === 0) return open + close;
    if (indent === null) return open + parts.join(", ") + close;
    const inner = `\n${indent.repeat(level + 1)}`;
    return `${open}${inner}${parts.join(`,${inner}`)}\n${indent.repeat(level)}${close}`;
  };
  return enc(value, 0);
}

/** Jinja2's htmlsafe_json_dumps: json.dumps with sorted keys, `<>&'` escaped as \u sequences. */
export function htmlSafeJson(value: unknown, indent: string | null): string {
  return jsonDumps(value, indent, true)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/'/g, "\\u0027");
}
