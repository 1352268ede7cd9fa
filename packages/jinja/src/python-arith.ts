/** Python arithmetic: int/float distinction, arbitrary precision ints, floor division and modulo signs. */
import { checkSequenceSize } from "./limits.js";
import { overflowError, typeError, valueError, zeroDivision } from "./python-errors.js";
import {
  floatVal,
  intVal,
  isStr,
  isTuple,
  Markup,
  mkFloat,
  mkInt,
  mustBeDefined,
  numKind,
  owned,
  strOf,
  tuple,
  typeName,
} from "./python-values.js";

type Int = number | bigint;

const SAFE = Number.MAX_SAFE_INTEGER;

function intAdd(a: Int, b: Int): Int {
  if (typeof a === "number" && typeof b === "number") {
    const r = a + b;
    if (r <= SAFE && r >= -SAFE) return r === 0 ? 0 : r;
  }
  return mkInt(BigInt(a) + BigInt(b));
}

function intSub(a: Int, b: Int): Int {
  if (typeof a === "number" && typeof b === "number") {
    const r = a - b;
    if (r <= SAFE && r >= -SAFE) return r === 0 ? 0 : r;
  }
  return mkInt(BigInt(a) - BigInt(b));
}

function intMul(a: Int, b: Int): Int {
  if (typeof a === "number" && typeof b === "number") {
    const r = a * b;
    if (r <= SAFE && r >= -SAFE) return r === 0 ? 0 : r;
  }
  return mkInt(BigInt(a) * BigInt(b));
}

function intFloorDiv(a: Int, b: Int): Int {
  if (b === 0 || b === 0n) throw zeroDivision("integer division or modulo by zero");
  if (typeof a === "number" && typeof b === "number" && Math.abs(a) <= SAFE && Math.abs(b) <= SAFE) {
    return mkInt(Math.floor(a / b));
  }
  const x = BigInt(a);
  const y = BigInt(b);
  let q = x / y;
  if (x % y !== 0n && x < 0n !== y < 0n) q -= 1n;
  return mkInt(q);
}

function intMod(a: Int, b: Int): Int {
  if (b === 0 || b === 0n) throw zeroDivision("integer modulo by zero");
  if (typeof a === "number" && typeof b === "number" && Math.abs(a) <= SAFE && Math.abs(b) <= SAFE) {
    let r = a % b;
    if (r !== 0 && r < 0 !== b < 0) r += b;
    return r === 0 ? 0 : r;
  }
  const x = BigInt(a);
  const y = BigInt(b);
  let r = x % y;
  if (r !== 0n && r < 0n !== y < 0n) r += y;
  return mkInt(r);
}

function intPow(a: Int, b: Int): Int | number {
  if (b < 0) {
    const base = Number(a);
    if (base === 0) throw zeroDivision("0.0 cannot be raised to a negative power");
    return base ** Number(b);
  }
  const x = BigInt(a);
  const y = BigInt(b);
  if (x === 0n || x === 1n) return mkInt(y === 0n ? 1n : x);
  if (x === -1n) return y % 2n === 0n ? 1 : -1;
  const bits = Number(y) * Math.log2(Math.abs(Number(x)));
  if (bits > 1_000_000) throw overflowError("integer power result too large for a template");
  return mkInt(x ** y);
}

/** CPython float_divmod. */
function floatDivmod(vx: number, wx: number): [number, number] {
  if (wx === 0) throw zeroDivision("float floor division by zero");
  let mod = vx % wx;
  let div = (vx - mod) / wx;
  if (mod) {
    if (wx < 0 !== mod < 0) {
      mod += wx;
      div -= 1.0;
    }
  } else {
    mod = wx < 0 ? -0 : 0;
  }
  let floordiv: number;
  if (div) {
    floordiv = Math.floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = vx / wx < 0 || Object.is(vx / wx, -0) ? -0 : 0;
  }
  return [floordiv, mod];
}

function opError(op: string, a: unknown, b: unknown): never {
  throw typeError(`unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);
}

export function pyAdd(a: unknown, b: unknown): unknown {
  mustBeDefined(a);
  mustBeDefined(b);
  const ka = numKind(a);
  const kb = numKind(b);
  if (ka && kb) {
    if (ka === 1 && kb === 1) return intAdd(intVal(a), intVal(b));
    return mkFloat(floatVal(a) + floatVal(b));
  }
  if (isStr(a)) {
    if (!isStr(b)) throw typeError(`can only concatenate str (not "${typeName(b)}") to str`);
    checkSequenceSize(strOf(a).length + strOf(b).length);
    if (a instanceof Markup) return new Markup(a.value + (b instanceof Markup ? b.value : escapeHtml(b)));
    if (b instanceof Markup) return new Markup(escapeHtml(a) + b.value);
    return a + strOf(b);
  }
  if (Array.isArray(a)) {
    const at = isTuple(a);
    if (!Array.isArray(b) || isTuple(b) !== at) {
      throw typeError(
        `can only concatenate ${at ? "tuple" : "list"} (not "${typeName(b)}") to ${at ? "tuple" : "list"}`,
      );
    }
    checkSequenceSize(a.length + b.length);
    const r = a.concat(b);
    return at ? tuple(r) : owned(r);
  }
  return opError("+", a, b);
}

export function pySub(a: unknown, b: unknown): unknown {
  mustBeDefined(a);
  mustBeDefined(b);
  const ka = numKind(a);
  const kb = numKind(b);
  if (ka && kb) {
    if (ka === 1 && kb === 1) return intSub(intVal(a), intVal(b));
    return mkFloat(floatVal(a) - floatVal(b));
  }
  return opError("-", a, b);
}

function repeat(seq: unknown, times: unknown): unknown {
  const n = Number(intVal(times));
  const unit = isStr(seq) ? strOf(seq).length : (seq as unknown[]).length;
  if (n > 0 && unit > 0) checkSequenceSize(unit * n);
  if (isStr(seq)) return n > 0 ? strOf(seq).repeat(n) : "";
  const arr = seq as unknown[];
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) for (const x of arr) out.push(x);
  return isTuple(arr) ? tuple(out) : owned(out);
}

export function pyMul(a: unknown, b: unknown): unknown {
  mustBeDefined(a);
  mustBeDefined(b);
  const ka = numKind(a);
  const kb = numKind(b);
  if (ka && kb) {
    if (ka === 1 && kb === 1) return intMul(intVal(a), intVal(b));
    return mkFloat(floatVal(a) * floatVal(b));
  }
  const aSeq = isStr(a) || Array.isArray(a);
  const bSeq = isStr(b) || Array.isArray(b);
  if (aSeq && kb === 1) return repeat(a, b);
  if (bSeq && ka === 1) return repeat(b, a);
  if (aSeq && kb === 2) throw typeError("can't multiply sequence by non-int of type 'float'");
  if (bSeq && ka === 2) throw typeError("can't multiply sequence by non-int of type 'float'");
  return opError("*", a, b);
}

/** int / int, correctly rounded like CPython even when the operands exceed 2**53. */
function intTrueDiv(a: Int, b: Int): number {
  if (typeof a === "number" && typeof b === "number" && Math.abs(a) <= SAFE && Math.abs(b) <= SAFE)
    return a / b;
  let x = BigInt(a);
  let y = BigInt(b);
  const negative = x < 0n !== y < 0n;
  if (x < 0n) x = -x;
  if (y < 0n) y = -y;
  if (x === 0n) return negative ? -0 : 0;
  const shift = 55 - (x.toString(2).length - y.toString(2).length);
  if (shift > 0) x <<= BigInt(shift);
  else y <<= BigInt(-shift);
  const q = x / y;
  const sticky = x % y !== 0n ? 1n : 0n;
  const r = Number(q | sticky) * 2 ** -shift;
  return negative ? -r : r;
}

export function pyTrueDiv(a: unknown, b: unknown): unknown {
  mustBeDefined(a);
  mustBeDefined(b);
  const ka = numKind(a);
  const kb = numKind(b);
  if (!ka || !kb) return opError("/", a, b);
  if (ka === 1 && kb === 1) {
    const y = intVal(b);
    if (y === 0 || y === 0n) throw zeroDivision("division by zero");
    const r = intTrueDiv(intVal(a), y);
    if (!Number.isFinite(r)) throw overflowError("integer division result too large for a float");
    return mkFloat(r);
  }
  const y = floatVal(b);
  const x = floatVal(a);
  if (y === 0) throw zeroDivision("float division by zero");
  return mkFloat(x / y);
}

export function pyFloorDiv(a: unknown, b: unknown): unknown {
  mustBeDefined(a);
  mustBeDefined(b);
  const ka = numKind(a);
  const kb = numKind(b);
  if (!ka || !kb) return opError("//", a, b);
  if (ka === 1 && kb === 1) return intFloorDiv(intVal(a), intVal(b));
  return mkFloat(floatDivmod(floatVal(a), floatVal(b))[0]);
}

export function pyMod(a: unknown, b: unknown): unknown {
  mustBeDefined(a);
  mustBeDefined(b);
  const ka = numKind(a);
  const kb = numKind(b);
  if (!ka || !kb) return opError("%", a, b);
  if (ka === 1 && kb === 1) return intMod(intVal(a), intVal(b));
  const y = floatVal(b);
  if (y === 0) throw zeroDivision("float modulo");
  return mkFloat(floatDivmod(floatVal(a), y)[1]);
}

export function pyPow(a: unknown, b: unknown): unknown {
  mustBeDefined(a);
  mustBeDefined(b);
  const ka = numKind(a);
  const kb = numKind(b);
  if (!ka || !kb) return opError("** or pow()", a, b);
  if (ka === 1 && kb === 1) {
    const r = intPow(intVal(a), intVal(b));
    return intVal(b) < 0 ? mkFloat(r as number) : r;
  }
  const x = floatVal(a);
  const y = floatVal(b);
  if (x === 0 && y < 0) throw zeroDivision("0.0 cannot be raised to a negative power");
  if (x < 0 && !Number.isInteger(y) && Number.isFinite(y)) {
    throw valueError("negative number cannot be raised to a fractional power (complex result)");
  }
  const r = x ** y;
  if (!Number.isFinite(r) && Number.isFinite(x) && Number.isFinite(y))
    throw overflowError("(34, 'Numerical result out of range')");
  return mkFloat(r);
}

export function pyNeg(a: unknown): unknown {
  mustBeDefined(a);
  const k = numKind(a);
  if (k === 1) {
    const v = intVal(a);
    return typeof v === "bigint" ? mkInt(-v) : v === 0 ? 0 : -v;
  }
  if (k === 2) return mkFloat(-floatVal(a));
  throw typeError(`bad operand type for unary -: '${typeName(a)}'`);
}

export function pyPos(a: unknown): unknown {
  mustBeDefined(a);
  const k = numKind(a);
  if (k === 1) return intVal(a);
  if (k === 2) return a;
  throw typeError(`bad operand type for unary +: '${typeName(a)}'`);
}

/** Python abs(). */
export function pyAbs(a: unknown): unknown {
  mustBeDefined(a);
  const k = numKind(a);
  if (k === 1) {
    const v = intVal(a);
    return typeof v === "bigint" ? (v < 0n ? -v : v) : Math.abs(v);
  }
  if (k === 2) return mkFloat(Math.abs(floatVal(a)));
  throw typeError(`bad operand type for abs(): '${typeName(a)}'`);
}

/** markupsafe.escape on plain text. */
export function escapeHtml(s: string): string {
  if (!/[&<>"']/.test(s)) return s;
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&#34;")
    .replace(/'/g, "&#39;");
}
