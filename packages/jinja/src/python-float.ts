/**
 * Python float printing and decimal rounding on plain JS numbers: `repr(float)`, `round(x, n)`
 * and the `%f` / `%e` / `%g` conversions. Rounding works on the exact binary value of the double
 * with round-half-even, as CPython does (so `round(2.675, 2)` is 2.67 and `'%.0f' % 2.5` is `2`).
 */

/** `repr(x)` for a Python float: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function floatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Number.POSITIVE_INFINITY) return "inf";
  if (x === Number.NEGATIVE_INFINITY) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mant = "", expText = "0"] = Math.abs(x).toExponential().split("e");
  const exp = Number.parseInt(expText, 10);
  const digits = mant.replace(".", "");
  if (exp < -4 || exp >= 16) {
    const m = digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  if (exp >= 0) {
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
    const frac = digits.slice(exp + 1) || "0";
    return `${sign}${intPart}.${frac}`;
  }
  return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
}

/** The exact value of a finite double as `n / 10**scale` with `n >= 0` (sign returned apart). */
interface ExactDecimal {
  negative: boolean;
  n: bigint;
  scale: number;
}

function exactDecimal(x: number): ExactDecimal {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const negative = hi >>> 31 === 1;
  const expBits = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp: number;
  if (expBits === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = expBits - 1075;
  }
  if (exp >= 0) return { negative, n: mant << BigInt(exp), scale: 0 };
  return { negative, n: mant * 5n ** BigInt(-exp), scale: -exp };
}

const pow10 = (k: number): bigint => 10n ** BigInt(k);

/** Rounds `n / 10**scale` to `places` decimals (may be negative), half to even; returns q with value q / 10**places. */
function roundExact(n: bigint, scale: number, places: number): bigint {
  if (places >= scale) return n * pow10(places - scale);
  const div = pow10(scale - places);
  let q = n / div;
  const r = n % div;
  const twice = r * 2n;
  if (twice > div || (twice === div && q % 2n === 1n)) q += 1n;
  return q;
}

/** Places the decimal point in the digits of q (value q / 10**places, places >= 0). */
function placePoint(q: bigint, places: number): string {
  const s = q.toString();
  if (places <= 0) return s + "0".repeat(-places);
  const padded = s.padStart(places + 1, "0");
  return `${padded.slice(0, padded.length - places)}.${padded.slice(padded.length - places)}`;
}

/** Number of decimal digits of a positive bigint. */
const digitCount = (n: bigint): number => n.toString().length;

/**
 * Whether toFixed(places) of |x| is safe: |x| * 10**places is small enough for the float product
 * to be accurate to 1e-3, and far from a .5 fraction, so that no exact tie (where JS rounds up and
 * Python rounds half to even) is possible.
 */
function fixedIsSafe(ax: number, places: number): boolean {
  if (places < 0 || places > 20) return false;
  const y = ax * 10 ** places;
  if (!(y < 1e12)) return false;
  return Math.abs(y - Math.floor(y) - 0.5) > 1e-3;
}

/** `round(x, ndigits)` for a Python float (correctly rounded, half to even). */
export function roundFloat(x: number, ndigits: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  if (fixedIsSafe(Math.abs(x), ndigits)) return Number(x.toFixed(ndigits));
  if (ndigits > 330) return x;
  if (ndigits < -330) return x < 0 ? -0 : 0;
  const { negative, n, scale } = exactDecimal(x);
  const q = roundExact(n, scale, ndigits);
  const value = Number(`${negative ? "-" : ""}${q.toString()}e${-ndigits}`);
  if (value === 0 && negative) return -0;
  return value;
}

/** Fixed-point digits of |x| with `prec` decimals (no sign), for finite x. */
export function fixedDigits(x: number, prec: number): string {
  const ax = Math.abs(x);
  if (fixedIsSafe(ax, prec)) return ax.toFixed(prec);
  const { n, scale } = exactDecimal(x);
  return placePoint(roundExact(n, scale, prec), prec);
}

/** Scientific digits of |x| with `prec` digits after the point: mantissa and decimal exponent. */
export function expDigits(x: number, prec: number): { mantissa: string; exponent: number } {
  if (x === 0) return { mantissa: prec > 0 ? `0.${"0".repeat(prec)}` : "0", exponent: 0 };
  const { n, scale } = exactDecimal(x);
  let exponent = digitCount(n) - 1 - scale;
  let q = roundExact(n, scale, prec - exponent);
  if (digitCount(q) > prec + 1) {
    exponent += 1;
    q = roundExact(n, scale, prec - exponent);
  }
  const s = q.toString();
  return { mantissa: prec > 0 ? `${s[0]}.${s.slice(1)}` : s, exponent };
}

const expSuffix = (exponent: number, upper: boolean): string =>
  `${upper ? "E" : "e"}${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;

function nonFinite(x: number, upper: boolean): string | undefined {
  if (Number.isNaN(x)) return upper ? "NAN" : "nan";
  if (!Number.isFinite(x)) return upper ? "INF" : "inf";
  return undefined;
}

/** `%.{prec}f` of |x| (no sign). */
export function formatFixed(x: number, prec: number, upper = false, alt = false): string {
  const bad = nonFinite(x, upper);
  if (bad !== undefined) return bad;
  const s = fixedDigits(x, prec);
  return alt && prec === 0 ? `${s}.` : s;
}

/** `%.{prec}e` of |x| (no sign). */
export function formatExp(x: number, prec: number, upper = false, alt = false): string {
  const bad = nonFinite(x, upper);
  if (bad !== undefined) return bad;
  const { mantissa, exponent } = expDigits(x, prec);
  return `${alt && prec === 0 ? `${mantissa}.` : mantissa}${expSuffix(exponent, upper)}`;
}

function stripZeros(s: string): string {
  if (!s.includes(".")) return s;
  return s.replace(/0+$/, "").replace(/\.$/, "");
}

/**
 * `%.{prec}g` of |x| (no sign). With `reprStyle` it is the format-spec presentation without a type
 * letter: scientific from exponent prec-1 on, and at least one digit after the point otherwise.
 */
export function formatGeneral(
  x: number,
  prec: number,
  upper = false,
  alt = false,
  reprStyle = false,
): string {
  const bad = nonFinite(x, upper);
  if (bad !== undefined) return bad;
  const p = prec === 0 ? 1 : prec;
  const exponent = x === 0 ? 0 : expDigits(x, p - 1).exponent;
  const useExp = exponent < -4 || exponent >= (reprStyle ? p - 1 : p);
  if (useExp) {
    const { mantissa } = expDigits(x, p - 1);
    const m = alt ? mantissa : stripZeros(mantissa);
    return `${m}${expSuffix(exponent, upper)}`;
  }
  const s = fixedDigits(x, Math.max(p - 1 - exponent, 0));
  if (alt) return s.includes(".") ? s : `${s}.`;
  const stripped = stripZeros(s);
  return reprStyle && !stripped.includes(".") ? `${stripped}.0` : stripped;
}
