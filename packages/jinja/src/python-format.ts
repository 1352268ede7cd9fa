/** Python string formatting: `fmt % args`, `str.format(...)` and the format-spec mini-language. */
import { checkSequenceSize } from "./limits.js";
import { PyException, overflowError, typeError, valueError } from "./python-errors.js";
import { floatRepr, formatExp, formatFixed, formatGeneral } from "./python-float.js";
import {
  codePoints,
  type DictLike,
  dictGet,
  floatVal,
  intVal,
  isStr,
  isTuple,
  type Kwargs,
  kind,
  MISSING,
  mustBeDefined,
  numKind,
  pyRepr,
  pyStr,
  strLen,
  strOf,
  strRepr,
  typeName,
} from "./python-values.js";

/** Python `ascii(v)`: repr with every non-ASCII character escaped. */
export function asciiRepr(v: unknown): string {
  let out = "";
  for (const ch of pyRepr(v)) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x80) out += ch;
    else if (cp < 0x100) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, "0")}`;
    else out += `\\U${cp.toString(16).padStart(8, "0")}`;
  }
  return out;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

function truncateChars(s: string, n: number): string {
  return strLen(s) <= n ? s : codePoints(s).slice(0, n).join("");
}

/** Integer value of a number for %d: floats are truncated. */
function toIntForD(v: unknown, conv: string): number | bigint {
  const k = numKind(v);
  if (k === 1) return intVal(v);
  if (k === 2) {
    const x = floatVal(v);
    if (Number.isNaN(x)) throw valueError("cannot convert float NaN to integer");
    if (!Number.isFinite(x)) throw overflowError("cannot convert float infinity to integer");
    const t = Math.trunc(x) || 0;
    return Math.abs(t) <= Number.MAX_SAFE_INTEGER ? t : BigInt(t);
  }
  throw typeError(`%${conv} format: a real number is required, not ${typeName(v)}`);
}

function isNegative(x: number | bigint): boolean {
  return typeof x === "bigint" ? x < 0n : x < 0 || Object.is(x, -0);
}

function absDigits(n: number | bigint, radix: number): string {
  const s = typeof n === "bigint" ? n.toString(radix) : n.toString(radix);
  return s.startsWith("-") ? s.slice(1) : s;
}

/** `fmt % arg` (printf-style formatting). */
export function percentFormat(fmt: string, arg: unknown): string {
  let args: readonly unknown[];
  let mapping: unknown = null;
  if (isTuple(arg)) args = arg;
  else {
    args = [arg];
    const k = kind(arg);
    if (k === "dict" || k === "list" || k === "undef") mapping = arg;
  }
  let argi = 0;
  const next = (): unknown => {
    if (argi >= args.length) throw typeError("not enough arguments for format string");
    return args[argi++];
  };
  let out = "";
  let i = 0;
  const n = fmt.length;
  while (i < n) {
    const pct = fmt.indexOf("%", i);
    if (pct < 0) {
      out += fmt.slice(i);
      break;
    }
    out += fmt.slice(i, pct);
    i = pct + 1;
    if (i >= n) throw valueError("incomplete format");
    let value: unknown = MISSING;
    if (fmt[i] === "(") {
      let depth = 1;
      let j = i + 1;
      while (j < n && depth > 0) {
        if (fmt[j] === "(") depth++;
        else if (fmt[j] === ")") depth--;
        j++;
      }
      if (depth > 0) throw valueError("incomplete format key");
      const key = fmt.slice(i + 1, j - 1);
      if (mapping === null) throw typeError("format requires a mapping");
      mustBeDefined(mapping);
      if (kind(mapping) !== "dict") throw typeError("format requires a mapping");
      value = dictGet(mapping as DictLike, key);
      if (value === MISSING) throw new PyException("KeyError", strRepr(key));
      i = j;
    }
    let flags = "";
    while (i < n && "-+ #0".includes(fmt[i] as string)) flags += fmt[i++];
    let width = 0;
    if (fmt[i] === "*") {
      width = Number(toIntForD(next(), "*"));
      if (width < 0) {
        flags += "-";
        width = -width;
      }
      i++;
    } else {
      const start = i;
      while (i < n && isDigit(fmt.charCodeAt(i))) i++;
      if (i > start) width = Number.parseInt(fmt.slice(start, i), 10);
    }
    let prec: number | undefined;
    if (fmt[i] === ".") {
      i++;
      if (fmt[i] === "*") {
        prec = Number(toIntForD(next(), "*"));
        i++;
      } else {
        const start = i;
        while (i < n && isDigit(fmt.charCodeAt(i))) i++;
        prec = i > start ? Number.parseInt(fmt.slice(start, i), 10) : 0;
      }
    }
    while (i < n && "hlL".includes(fmt[i] as string)) i++;
    if (i >= n) throw valueError("incomplete format");
    const conv = fmt[i++] as string;
    if (conv === "%") {
      out += "%";
      continue;
    }
    if (value === MISSING) value = next();
    out += formatOne(conv, flags, width, prec, value, i - 1);
  }
  if (argi < args.length && mapping === null) {
    throw typeError("not all arguments converted during string formatting");
  }
  return out;
}

function pad(body: string, sign: string, width: number, flags: string, numeric: boolean): string {
  checkSequenceSize(width);
  const len = strLen(body) + sign.length;
  if (len >= width) return sign + body;
  if (flags.includes("-")) return sign + body + " ".repeat(width - len);
  if (numeric && flags.includes("0")) return sign + "0".repeat(width - len) + body;
  return " ".repeat(width - len) + sign + body;
}

function signOf(negative: boolean, flags: string): string {
  if (negative) return "-";
  if (flags.includes("+")) return "+";
  if (flags.includes(" ")) return " ";
  return "";
}

function formatOne(
  conv: string,
  flags: string,
  width: number,
  prec: number | undefined,
  v: unknown,
  at: number,
): string {
  if (conv !== "s" && conv !== "r" && conv !== "a") mustBeDefined(v);
  switch (conv) {
    case "s":
    case "r":
    case "a": {
      let s = conv === "s" ? pyStr(v) : conv === "r" ? pyRepr(v) : asciiRepr(v);
      if (prec !== undefined) s = truncateChars(s, prec);
      return pad(s, "", width, flags, false);
    }
    case "d":
    case "i":
    case "u": {
      const x = toIntForD(v, conv);
      let digits = absDigits(x, 10);
      if (prec !== undefined && digits.length < prec) {
        checkSequenceSize(prec);
        digits = digits.padStart(prec, "0");
      }
      return pad(digits, signOf(isNegative(x), flags), width, flags, true);
    }
    case "o":
    case "x":
    case "X": {
      if (numKind(v) !== 1) {
        if (numKind(v) === 2) throw typeError(`%${conv} format: an integer is required, not float`);
        throw typeError(`%${conv} format: an integer is required, not ${typeName(v)}`);
      }
      const x = intVal(v);
      let digits = absDigits(x, conv === "o" ? 8 : 16);
      if (conv === "X") digits = digits.toUpperCase();
      if (prec !== undefined && digits.length < prec) {
        checkSequenceSize(prec);
        digits = digits.padStart(prec, "0");
      }
      const prefix = flags.includes("#") ? (conv === "o" ? "0o" : conv === "x" ? "0x" : "0X") : "";
      return pad(digits, signOf(isNegative(x), flags) + prefix, width, flags, true);
    }
    case "e":
    case "E":
    case "f":
    case "F":
    case "g":
    case "G": {
      if (!numKind(v)) throw typeError(`must be real number, not ${typeName(v)}`);
      const x = floatVal(v);
      const p = prec ?? 6;
      const upper = conv === "E" || conv === "F" || conv === "G";
      const alt = flags.includes("#");
      const ax = Math.abs(x);
      const body =
        conv === "e" || conv === "E"
          ? formatExp(ax, p, upper, alt)
          : conv === "f" || conv === "F"
            ? formatFixed(ax, p, upper, alt)
            : formatGeneral(ax, p, upper, alt);
      const negative = !Number.isNaN(x) && isNegative(x);
      return pad(body, signOf(negative, flags), width, flags, Number.isFinite(x));
    }
    case "c": {
      let s: string;
      if (numKind(v) === 1) s = String.fromCodePoint(Number(intVal(v)));
      else if (isStr(v) && strLen(strOf(v)) === 1) s = strOf(v);
      else throw typeError("%c requires an int or a unicode character");
      return pad(s, "", width, flags, false);
    }
    default:
      throw valueError(
        `unsupported format character '${conv}' (0x${(conv.codePointAt(0) ?? 0).toString(16)}) at index ${at}`,
      );
  }
}

// ---------------------------------------------------------------------------------------------
// format(value, spec)

interface Spec {
  fill: string;
  align: string | undefined;
  sign: string;
  z: boolean;
  alt: boolean;
  width: number;
  grouping: string;
  precision: number | undefined;
  type: string;
}

function parseSpec(spec: string): Spec {
  const chars = codePoints(spec);
  let i = 0;
  let fill = " ";
  let align: string | undefined;
  if (chars.length >= 2 && "<>=^".includes(chars[1] as string)) {
    fill = chars[0] as string;
    align = chars[1];
    i = 2;
  } else if (chars.length >= 1 && "<>=^".includes(chars[0] as string)) {
    align = chars[0];
    i = 1;
  }
  let sign = "";
  if (chars[i] === "+" || chars[i] === "-" || chars[i] === " ") sign = chars[i++] as string;
  let z = false;
  if (chars[i] === "z") {
    z = true;
    i++;
  }
  let alt = false;
  if (chars[i] === "#") {
    alt = true;
    i++;
  }
  if (chars[i] === "0") {
    if (align === undefined) {
      fill = "0";
      align = "=";
    }
    i++;
  }
  let w = "";
  while (i < chars.length && /[0-9]/.test(chars[i] as string)) w += chars[i++];
  let grouping = "";
  if (chars[i] === "," || chars[i] === "_") grouping = chars[i++] as string;
  let precision: number | undefined;
  if (chars[i] === ".") {
    i++;
    let p = "";
    while (i < chars.length && /[0-9]/.test(chars[i] as string)) p += chars[i++];
    if (p === "") throw valueError("Format specifier missing precision");
    precision = Number.parseInt(p, 10);
  }
  let type = "";
  if (i < chars.length) type = chars[i++] as string;
  if (i < chars.length) throw valueError("Invalid format specifier");
  return {
    fill,
    align,
    sign,
    z,
    alt,
    width: w === "" ? 0 : Number.parseInt(w, 10),
    grouping,
    precision,
    type,
  };
}

function group(intPart: string, sep: string, every: number): string {
  if (sep === "") return intPart;
  let out = "";
  let count = 0;
  for (let i = intPart.length - 1; i >= 0; i--) {
    out = intPart[i] + out;
    count++;
    if (count % every === 0 && i > 0) out = sep + out;
  }
  return out;
}

function align(body: string, sign: string, spec: Spec, defaultAlign: string): string {
  const a = spec.align ?? defaultAlign;
  checkSequenceSize(spec.width);
  const len = strLen(body) + sign.length;
  if (len >= spec.width) return sign + body;
  const padN = spec.width - len;
  switch (a) {
    case "<":
      return sign + body + spec.fill.repeat(padN);
    case "^": {
      const left = Math.floor(padN / 2);
      return spec.fill.repeat(left) + sign + body + spec.fill.repeat(padN - left);
    }
    case "=":
      return sign + spec.fill.repeat(padN) + body;
    default:
      return spec.fill.repeat(padN) + sign + body;
  }
}

function numberSign(negative: boolean, spec: Spec): string {
  if (negative) return "-";
  if (spec.sign === "+") return "+";
  if (spec.sign === " ") return " ";
  return "";
}

/** Python `format(value, spec)`. */
export function formatSpec(value: unknown, specText: string): string {
  if (specText === "") return pyStr(value);
  const spec = parseSpec(specText);
  const k = numKind(value);
  if (isStr(value)) {
    if (spec.type !== "" && spec.type !== "s") {
      throw valueError(`Unknown format code '${spec.type}' for object of type 'str'`);
    }
    if (spec.sign !== "") throw valueError("Sign not allowed in string format specifier");
    if (spec.align === "=") throw valueError("'=' alignment not allowed in string format specifier");
    let s = strOf(value);
    if (spec.precision !== undefined) s = truncateChars(s, spec.precision);
    return align(s, "", spec, "<");
  }
  if (k === 1 && !"eEfFgG%".includes(spec.type || "-")) {
    if (spec.precision !== undefined) throw valueError("Precision not allowed in integer format specifier");
    const x = intVal(value);
    const negative = isNegative(x);
    let body: string;
    let prefix = "";
    switch (spec.type) {
      case "":
      case "d":
      case "n":
        body = group(absDigits(x, 10), spec.grouping, 3);
        break;
      case "b":
      case "o":
      case "x":
      case "X": {
        const radix = spec.type === "b" ? 2 : spec.type === "o" ? 8 : 16;
        body = group(absDigits(x, radix), spec.grouping, 4);
        if (spec.type === "X") body = body.toUpperCase();
        if (spec.alt) prefix = spec.type === "X" ? "0X" : `0${spec.type}`;
        break;
      }
      case "c":
        body = String.fromCodePoint(Number(x));
        return align(body, "", spec, "<");
      default:
        throw valueError(`Unknown format code '${spec.type}' for object of type '${typeName(value)}'`);
    }
    return align(body, numberSign(negative, spec) + prefix, spec, ">");
  }
  if (k !== 0) {
    let x = floatVal(value);
    if (spec.z && x === 0) x = 0;
    const negative = !Number.isNaN(x) && (x < 0 || Object.is(x, -0));
    const ax = Math.abs(x);
    let body: string;
    switch (spec.type) {
      case "":
        body =
          spec.precision === undefined
            ? floatRepr(ax)
            : formatGeneral(ax, spec.precision, false, spec.alt, true);
        break;
      case "e":
      case "E":
        body = formatExp(ax, spec.precision ?? 6, spec.type === "E", spec.alt);
        break;
      case "f":
      case "F":
        body = formatFixed(ax, spec.precision ?? 6, spec.type === "F", spec.alt);
        break;
      case "g":
      case "G":
      case "n":
        body = formatGeneral(ax, spec.precision ?? 6, spec.type === "G", spec.alt);
        break;
      case "%":
        body = `${formatFixed(ax * 100, spec.precision ?? 6, false, spec.alt)}%`;
        break;
      default:
        throw valueError(`Unknown format code '${spec.type}' for object of type 'float'`);
    }
    if (spec.grouping !== "" && Number.isFinite(x)) {
      const m = /^(\d+)(.*)$/s.exec(body);
      if (m) body = group(m[1] as string, spec.grouping, 3) + m[2];
    }
    return align(body, numberSign(negative, spec), spec, ">");
  }
  throw typeError(`unsupported format string passed to ${typeName(value)}.__format__`);
}

// ---------------------------------------------------------------------------------------------
// str.format

/** Looks up `.name` (attribute) or `[key]` (item) on a value while resolving a replacement field. */
export type FieldGetter = (obj: unknown, key: string | number, isItem: boolean) => unknown;

/** Python `fmt.format(*args, **kwargs)`. */
export function strFormat(
  fmt: string,
  args: readonly unknown[],
  kwargs: Kwargs,
  getField: FieldGetter,
): string {
  const state = { auto: 0, mode: "" as "" | "auto" | "manual" };
  return formatInner(fmt, args, kwargs, getField, state, 2);
}

function formatInner(
  fmt: string,
  args: readonly unknown[],
  kwargs: Kwargs,
  getField: FieldGetter,
  state: { auto: number; mode: "" | "auto" | "manual" },
  depth: number,
): string {
  if (depth < 0) throw valueError("Max string recursion exceeded");
  let out = "";
  let i = 0;
  const n = fmt.length;
  while (i < n) {
    const ch = fmt[i] as string;
    if (ch === "}") {
      if (fmt[i + 1] === "}") {
        out += "}";
        i += 2;
        continue;
      }
      throw valueError("Single '}' encountered in format string");
    }
    if (ch !== "{") {
      out += ch;
      i++;
      continue;
    }
    if (fmt[i + 1] === "{") {
      out += "{";
      i += 2;
      continue;
    }
    // find the matching close brace
    let j = i + 1;
    let level = 1;
    let bracket = false;
    while (j < n) {
      const c = fmt[j];
      if (bracket) {
        if (c === "]") bracket = false;
      } else if (c === "[") bracket = true;
      else if (c === "{") level++;
      else if (c === "}") {
        level--;
        if (level === 0) break;
      }
      j++;
    }
    if (j >= n) throw valueError("expected '}' before end of string");
    const field = fmt.slice(i + 1, j);
    i = j + 1;
    // split name / conversion / spec
    let k = 0;
    bracket = false;
    while (k < field.length) {
      const c = field[k];
      if (bracket) {
        if (c === "]") bracket = false;
      } else if (c === "[") bracket = true;
      else if (c === "!" || c === ":") break;
      k++;
    }
    const name = field.slice(0, k);
    let conv = "";
    let spec = "";
    if (field[k] === "!") {
      conv = field[k + 1] ?? "";
      if (field.length > k + 2 && field[k + 2] !== ":") {
        throw valueError("expected ':' after conversion specifier");
      }
      spec = field.slice(k + 3);
    } else if (field[k] === ":") spec = field.slice(k + 1);
    let value = resolveField(name, args, kwargs, getField, state);
    if (conv === "r") value = pyRepr(value);
    else if (conv === "s") value = pyStr(value);
    else if (conv === "a") value = asciiRepr(value);
    else if (conv !== "") throw valueError(`Unknown conversion specifier ${conv}`);
    if (spec.includes("{")) spec = formatInner(spec, args, kwargs, getField, state, depth - 1);
    out += formatSpec(value, spec);
  }
  return out;
}

function resolveField(
  name: string,
  args: readonly unknown[],
  kwargs: Kwargs,
  getField: FieldGetter,
  state: { auto: number; mode: "" | "auto" | "manual" },
): unknown {
  const m = /^[^.[]*/.exec(name);
  const first = m ? m[0] : "";
  let rest = name.slice(first.length);
  let value: unknown;
  if (first === "") {
    if (state.mode === "manual") {
      throw valueError("cannot switch from manual field specification to automatic field numbering");
    }
    state.mode = "auto";
    const idx = state.auto++;
    if (idx >= args.length)
      throw new PyException("IndexError", `Replacement index ${idx} out of range for positional args tuple`);
    value = args[idx];
  } else if (/^\d+$/.test(first)) {
    if (state.mode === "auto") {
      throw valueError("cannot switch from automatic field numbering to manual field specification");
    }
    state.mode = "manual";
    const idx = Number.parseInt(first, 10);
    if (idx >= args.length)
      throw new PyException("IndexError", `Replacement index ${idx} out of range for positional args tuple`);
    value = args[idx];
  } else {
    if (kwargs === null || !kwargs.has(first)) throw new PyException("KeyError", strRepr(first));
    value = kwargs.get(first);
  }
  while (rest !== "") {
    if (rest.startsWith(".")) {
      const a = /^\.([^.[]+)/.exec(rest);
      if (!a) throw valueError("Empty attribute in format string");
      value = getField(value, a[1] as string, false);
      rest = rest.slice(a[0].length);
    } else if (rest.startsWith("[")) {
      const close = rest.indexOf("]");
      if (close < 0) throw valueError("Missing ']' in format string");
      const key = rest.slice(1, close);
      value = getField(value, /^\d+$/.test(key) ? Number.parseInt(key, 10) : key, true);
      rest = rest.slice(close + 1);
    } else {
      throw valueError("Only '.' or '[' may follow ']' in format field specifier");
    }
  }
  return value;
}
