/**
 * Python's `json.loads` and `json.dumps` (default arguments) over the template engine's Python
 * value model. alter_ego keeps filter results as Python values: `{"keep": 5.0}` stays a dict
 * holding the float 5.0, which prints as `5.0` in a template and in the `ego data` CSV, so JS's
 * JSON.parse (which loses the float) cannot be used for either.
 */
import { floatRepr, intStr, Markup, mkInt, PyDict, PyFloat } from "@silico/jinja";

export type LoadsResult = { ok: true; value: unknown } | { ok: false; error: string };

/** CPython refuses to convert longer digit strings to int (sys.int_info.default_max_str_digits). */
const MAX_INT_DIGITS = 4300;
const MAX_DEPTH = 900;
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/y;

class DecodeError extends Error {
  constructor(message: string, text: string, pos: number) {
    let line = 1;
    let col = pos + 1;
    const before = text.slice(0, pos);
    const nl = before.lastIndexOf("\n");
    if (nl >= 0) {
      line = before.split("\n").length;
      col = pos - nl;
    }
    super(`${message}: line ${line} column ${col} (char ${pos})`);
  }
}

/** Python `json.loads(text)`: whole text, `[ \t\n\r]` around it, NaN/Infinity accepted, last duplicate key wins. */
export function pyJsonLoads(text: string): LoadsResult {
  if (text.startsWith("\ufeff")) return { ok: false, error: "Unexpected UTF-8 BOM (decode using utf-8-sig)" };
  let pos = 0;
  const ws = () => {
    while (pos < text.length) {
      const c = text[pos];
      if (c === " " || c === "\t" || c === "\n" || c === "\r") pos++;
      else break;
    }
  };
  const fail = (message: string, at = pos): never => {
    throw new DecodeError(message, text, at);
  };

  const parseString = (): string => {
    // pos is just after the opening quote
    const start = pos - 1;
    let out = "";
    for (;;) {
      if (pos >= text.length) fail("Unterminated string starting at", start);
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        pos++;
        return out;
      }
      if (c < 0x20) fail("Invalid control character at");
      if (c !== 0x5c) {
        out += text[pos];
        pos++;
        continue;
      }
      const esc = text[pos + 1];
      if (esc === undefined) fail("Unterminated string starting at", start);
      if (esc === "u") {
        const cu = readHex4(pos + 2);
        let code = cu;
        pos += 6;
        if (cu >= 0xd800 && cu <= 0xdbff && text[pos] === "\\" && text[pos + 1] === "u") {
          const lo = readHex4Maybe(pos + 2);
          if (lo !== undefined && lo >= 0xdc00 && lo <= 0xdfff) {
            code = 0x10000 + ((cu - 0xd800) << 10) + (lo - 0xdc00);
            pos += 6;
          }
        }
        out += code > 0xffff ? String.fromCodePoint(code) : String.fromCharCode(code);
        continue;
      }
      const simple: Record<string, string> = {
        '"': '"',
        "\\": "\\",
        "/": "/",
        b: "\b",
        f: "\f",
        n: "\n",
        r: "\r",
        t: "\t",
      };
      const rep = simple[esc as string];
      if (rep === undefined) fail("Invalid \\escape", pos);
      out += rep;
      pos += 2;
    }
  };
  const readHex4Maybe = (at: number): number | undefined => {
    const h = text.slice(at, at + 4);
    return /^[0-9a-fA-F]{4}$/.test(h) ? Number.parseInt(h, 16) : undefined;
  };
  const readHex4 = (at: number): number => {
    const v = readHex4Maybe(at);
    if (v === undefined) fail("Invalid \\uXXXX escape", at - 1);
    return v as number;
  };

  const parseValue = (depth: number): unknown => {
    if (depth > MAX_DEPTH) fail("maximum recursion depth exceeded");
    const c = text[pos];
    if (c === '"') {
      pos++;
      return parseString();
    }
    if (c === "{") return parseObject(depth);
    if (c === "[") return parseArray(depth);
    if (text.startsWith("null", pos)) {
      pos += 4;
      return null;
    }
    if (text.startsWith("true", pos)) {
      pos += 4;
      return true;
    }
    if (text.startsWith("false", pos)) {
      pos += 5;
      return false;
    }
    if (text.startsWith("NaN", pos)) {
      pos += 3;
      return Number.NaN;
    }
    if (text.startsWith("Infinity", pos)) {
      pos += 8;
      return Number.POSITIVE_INFINITY;
    }
    if (text.startsWith("-Infinity", pos)) {
      pos += 9;
      return Number.NEGATIVE_INFINITY;
    }
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (!m) return fail("Expecting value");
    pos += m[0].length;
    if (m[1] === undefined && m[2] === undefined) {
      const digits = m[0].replace("-", "");
      if (digits.length > MAX_INT_DIGITS)
        fail("Exceeds the limit (4300 digits) for integer string conversion");
      return mkInt(BigInt(m[0]));
    }
    const f = Number(m[0]);
    return Number.isInteger(f) ? new PyFloat(f) : f;
  };

  const parseObject = (depth: number): PyDict => {
    pos++;
    const d = new PyDict();
    ws();
    if (text[pos] === "}") {
      pos++;
      return d;
    }
    for (;;) {
      if (text[pos] !== '"') {
        fail("Expecting property name enclosed in double quotes");
      }
      pos++;
      const key = parseString();
      ws();
      if (text[pos] !== ":") fail("Expecting ':' delimiter");
      pos++;
      ws();
      const value = parseValue(depth + 1);
      d.set(key, value);
      ws();
      if (text[pos] === "}") {
        pos++;
        return d;
      }
      if (text[pos] !== ",") fail("Expecting ',' delimiter");
      pos++;
      ws();
    }
  };

  const parseArray = (depth: number): unknown[] => {
    pos++;
    const out: unknown[] = [];
    ws();
    if (text[pos] === "]") {
      pos++;
      return out;
    }
    for (;;) {
      out.push(parseValue(depth + 1));
      ws();
      if (text[pos] === "]") {
        pos++;
        return out;
      }
      if (text[pos] !== ",") fail("Expecting ',' delimiter");
      pos++;
      ws();
    }
  };

  try {
    ws();
    const value = parseValue(0);
    ws();
    if (pos !== text.length) fail("Extra data");
    return { ok: true, value };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, error: e.message };
    throw e;
  }
}

/** `json.dumps` string encoding with ensure_ascii: everything outside space..tilde is escaped. */
function dumpString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i] as string;
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c >= 0x20 && c <= 0x7e) out += ch;
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c === 0x08) out += "\\b";
    else if (c === 0x0c) out += "\\f";
    // UTF-16 code units are exactly what Python writes for astral characters (surrogate pairs).
    else out += `\\u${c.toString(16).padStart(4, "0")}`;
  }
  return `${out}"`;
}

function dumpFloat(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Number.POSITIVE_INFINITY) return "Infinity";
  if (x === Number.NEGATIVE_INFINITY) return "-Infinity";
  return floatRepr(x);
}

function dumpKey(k: unknown): string {
  if (typeof k === "string") return dumpString(k);
  if (k instanceof Markup) return dumpString(k.value);
  if (k === null || k === undefined) return '"null"';
  if (typeof k === "boolean") return k ? '"true"' : '"false"';
  if (typeof k === "bigint") return `"${k.toString()}"`;
  if (typeof k === "number") return `"${Number.isInteger(k) ? intStr(k) : dumpFloat(k)}"`;
  if (k instanceof PyFloat) return `"${dumpFloat(k.value)}"`;
  throw new TypeError(`keys must be str, int, float, bool or None, not ${typeof k}`);
}

/** Python `json.dumps(value)` with default settings: separators ", " and ": ", ASCII escaping. */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      return Number.isInteger(value) ? intStr(value) : dumpFloat(value);
    case "bigint":
      return value.toString();
    case "string":
      return dumpString(value);
    default:
      break;
  }
  if (value instanceof PyFloat) return dumpFloat(value.value);
  if (value instanceof Markup) return dumpString(value.value);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(", ")}]`;
  let entries: [unknown, unknown][];
  if (value instanceof PyDict) entries = value.items().map((kv) => [kv[0], kv[1]]);
  else if (value instanceof Map) entries = [...value.entries()];
  else if (typeof value === "object") entries = Object.entries(value as Record<string, unknown>);
  else throw new TypeError(`Object of type ${typeof value} is not JSON serializable`);
  return `{${entries.map(([k, v]) => `${dumpKey(k)}: ${pythonJsonDumps(v)}`).join(", ")}}`;
}

/** A Python value as plain JSON-able JS (for the store's value column): floats become numbers, dicts objects. */
export function toPlain(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (value instanceof PyFloat) return Number.isFinite(value.value) ? value.value : null;
  if (value instanceof Markup) return value.value;
  if (Array.isArray(value)) return value.map(toPlain);
  if (value instanceof PyDict) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value.items()) out[String(k)] = toPlain(v);
    return out;
  }
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value.entries()) out[String(k)] = toPlain(v);
    return out;
  }
  if (typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = toPlain(v);
    return out;
  }
  return value;
}
