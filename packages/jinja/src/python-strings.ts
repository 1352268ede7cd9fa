/** Python str methods on JS strings (indexes count code points, whitespace is Python's). */
import { CASEFOLD_EXCEPTIONS } from "./casefold-table.js";
import { checkSequenceSize } from "./limits.js";
import { valueError } from "./python-errors.js";
import { codePoints, hasSurrogates, strLen } from "./python-values.js";

/** The characters Python's str.isspace() and `\\s` accept, as a regex character class body. */
export const WS =
  "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const WS_CHAR = new RegExp(`[${WS}]`);
export const LEADING_WS = new RegExp(`^[${WS}]+`);
export const TRAILING_WS = new RegExp(`[${WS}]+$`);
const WS_RUN = new RegExp(`[${WS}]+`);

export function isPySpace(ch: string): boolean {
  return WS_CHAR.test(ch);
}

function charSet(chars: string): Set<string> {
  return new Set(codePoints(chars));
}

export function pyStrip(s: string, chars: string | null = null, left = true, right = true): string {
  if (chars === null) {
    let r = s;
    if (left) r = r.replace(LEADING_WS, "");
    if (right) r = r.replace(TRAILING_WS, "");
    return r;
  }
  const set = charSet(chars);
  const cps = codePoints(s);
  let i = 0;
  let j = cps.length;
  if (left) while (i < j && set.has(cps[i] as string)) i++;
  if (right) while (j > i && set.has(cps[j - 1] as string)) j--;
  return cps.slice(i, j).join("");
}

/** str.split(sep=None, maxsplit=-1). */
export function pySplit(s: string, sep: string | null, maxsplit: number): string[] {
  if (sep === null) {
    const out: string[] = [];
    let rest = s.replace(LEADING_WS, "");
    while (rest !== "") {
      if (maxsplit >= 0 && out.length >= maxsplit) {
        out.push(rest);
        break;
      }
      const m = WS_RUN.exec(rest);
      if (!m) {
        out.push(rest);
        break;
      }
      out.push(rest.slice(0, m.index));
      rest = rest.slice(m.index + m[0].length);
    }
    return out;
  }
  if (sep === "") throw valueError("empty separator");
  const out: string[] = [];
  let start = 0;
  while (maxsplit < 0 || out.length < maxsplit) {
    const idx = s.indexOf(sep, start);
    if (idx < 0) break;
    out.push(s.slice(start, idx));
    start = idx + sep.length;
  }
  out.push(s.slice(start));
  return out;
}

/** str.rsplit(sep=None, maxsplit=-1). */
export function pyRsplit(s: string, sep: string | null, maxsplit: number): string[] {
  if (maxsplit < 0) return pySplit(s, sep, -1);
  if (sep === null) {
    const out: string[] = [];
    let rest = s.replace(TRAILING_WS, "");
    while (rest !== "") {
      if (out.length >= maxsplit) {
        out.unshift(rest);
        break;
      }
      const m = new RegExp(`[${WS}]+(?=[^${WS}]*$)`).exec(rest);
      if (!m) {
        out.unshift(rest);
        break;
      }
      out.unshift(rest.slice(m.index + m[0].length));
      rest = rest.slice(0, m.index);
    }
    return out;
  }
  if (sep === "") throw valueError("empty separator");
  const out: string[] = [];
  let end = s.length;
  while (out.length < maxsplit) {
    const idx = end - sep.length >= 0 ? s.lastIndexOf(sep, end - sep.length) : -1;
    if (idx < 0) break;
    out.unshift(s.slice(idx + sep.length, end));
    end = idx;
  }
  out.unshift(s.slice(0, end));
  return out;
}

/** Line boundaries of str.splitlines (\r\n counts as one). */
const LINE_BREAKS = new Set([0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029]);

/** str.splitlines(keepends=False). */
export function pySplitlines(s: string, keepends = false): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!LINE_BREAKS.has(c)) continue;
    const end = c === 0x0d && s.charCodeAt(i + 1) === 0x0a ? i + 2 : i + 1;
    out.push(s.slice(start, keepends ? end : i));
    start = end;
    i = end - 1;
  }
  if (start < s.length) out.push(s.slice(start));
  return out;
}

const LOWER_RE = /\p{Lowercase}/u;
const UPPER_RE = /\p{Uppercase}/u;
const TITLE_RE = /\p{Lt}/u;
const isLowerCh = (ch: string): boolean => LOWER_RE.test(ch);
const isUpperCh = (ch: string): boolean => UPPER_RE.test(ch);
const isTitleCh = (ch: string): boolean => TITLE_RE.test(ch);
const isCased = (ch: string): boolean => isLowerCh(ch) || isUpperCh(ch) || isTitleCh(ch);

/** Title case mappings that are not "first letter of the uppercase, rest lowercase". */
const TITLE_SPECIAL: Record<string, string> = {
  "\u01c4": "\u01c5",
  "\u01c5": "\u01c5",
  "\u01c6": "\u01c5",
  "\u01c7": "\u01c8",
  "\u01c8": "\u01c8",
  "\u01c9": "\u01c8",
  "\u01ca": "\u01cb",
  "\u01cb": "\u01cb",
  "\u01cc": "\u01cb",
  "\u01f1": "\u01f2",
  "\u01f2": "\u01f2",
  "\u01f3": "\u01f2",
  "\u0149": "\u02bcN",
  "\u1fb3": "\u1fbc",
  "\u1fbc": "\u1fbc",
  "\u1fc3": "\u1fcc",
  "\u1fcc": "\u1fcc",
  "\u1ff3": "\u1ffc",
  "\u1ffc": "\u1ffc",
};

/** Python's title-case mapping of one character (str.title / str.capitalize). */
function titleChar(ch: string): string {
  const special = TITLE_SPECIAL[ch];
  if (special !== undefined) return special;
  const cp = ch.codePointAt(0) ?? 0;
  if (cp >= 0x1f80 && cp <= 0x1faf) return String.fromCodePoint((cp & ~0xf) | 0x8 | (cp & 0x7));
  const upper = ch.toUpperCase();
  const cps = codePoints(upper);
  if (cps.length <= 1) return upper;
  return cps[0] + cps.slice(1).join("").toLowerCase();
}

/** str.title(). */
export function pyTitle(s: string): string {
  let out = "";
  let prevCased = false;
  for (const ch of s) {
    out += prevCased ? ch.toLowerCase() : titleChar(ch);
    prevCased = isCased(ch);
  }
  return out;
}

/** str.capitalize(). */
export function pyCapitalize(s: string): string {
  if (s === "") return s;
  const cps = codePoints(s);
  return titleChar(cps[0] as string) + cps.slice(1).join("").toLowerCase();
}

export function pySwapcase(s: string): string {
  let out = "";
  for (const ch of s) out += isUpperCh(ch) ? ch.toLowerCase() : isLowerCh(ch) ? ch.toUpperCase() : ch;
  return out;
}

export function pyIsLower(s: string): boolean {
  let cased = false;
  for (const ch of s) {
    if (isUpperCh(ch) || isTitleCh(ch)) return false;
    if (isLowerCh(ch)) cased = true;
  }
  return cased;
}

export function pyIsUpper(s: string): boolean {
  let cased = false;
  for (const ch of s) {
    if (isLowerCh(ch) || isTitleCh(ch)) return false;
    if (isUpperCh(ch)) cased = true;
  }
  return cased;
}

export function pyIsTitle(s: string): boolean {
  let cased = false;
  let prevCased = false;
  for (const ch of s) {
    if (isUpperCh(ch) || isTitleCh(ch)) {
      if (prevCased) return false;
      prevCased = true;
      cased = true;
    } else if (isLowerCh(ch)) {
      if (!prevCased) return false;
      prevCased = true;
      cased = true;
    } else prevCased = false;
  }
  return cased;
}

export function pyCenter(s: string, width: number, fill = " "): string {
  checkSequenceSize(width);
  const len = strLen(s);
  const marg = width - len;
  if (marg <= 0) return s;
  const left = Math.floor(marg / 2) + (marg & width & 1);
  return fill.repeat(left) + s + fill.repeat(marg - left);
}

export function pyLjust(s: string, width: number, fill = " "): string {
  checkSequenceSize(width);
  const len = strLen(s);
  return len >= width ? s : s + fill.repeat(width - len);
}

export function pyRjust(s: string, width: number, fill = " "): string {
  checkSequenceSize(width);
  const len = strLen(s);
  return len >= width ? s : fill.repeat(width - len) + s;
}

export function pyZfill(s: string, width: number): string {
  checkSequenceSize(width);
  const len = strLen(s);
  if (len >= width) return s;
  const pad = "0".repeat(width - len);
  if (s.startsWith("+") || s.startsWith("-")) return s[0] + pad + s.slice(1);
  return pad + s;
}

/** Python slice bounds (start, end may be null or negative) clamped to a length, as str.find uses them. */
export function clampRange(len: number, start: number | null, end: number | null): [number, number] {
  let a = start ?? 0;
  let b = end ?? len;
  if (a < 0) a = Math.max(a + len, 0);
  if (b < 0) b = Math.max(b + len, 0);
  return [Math.min(a, len), Math.min(b, len)];
}

/** Substring by code point indexes. */
export function cpSlice(s: string, start: number, end: number): string {
  if (!hasSurrogates(s)) return s.slice(start, end);
  return codePoints(s).slice(start, end).join("");
}

/** Code point index of a code unit index. */
export function cpIndex(s: string, unitIndex: number): number {
  return hasSurrogates(s) ? strLen(s.slice(0, unitIndex)) : unitIndex;
}

/** str.find / rfind with optional start and end. */
export function pyFind(
  s: string,
  sub: string,
  start: number | null,
  end: number | null,
  reverse: boolean,
): number {
  const len = strLen(s);
  const [a, b] = clampRange(len, start, end);
  if (a > b || (start !== null && start > len)) return -1;
  const part = cpSlice(s, a, b);
  const idx = reverse ? part.lastIndexOf(sub) : part.indexOf(sub);
  return idx < 0 ? -1 : a + cpIndex(part, idx);
}

/** str.count(sub, start, end). */
export function pyCount(s: string, sub: string, start: number | null, end: number | null): number {
  const len = strLen(s);
  const [a, b] = clampRange(len, start, end);
  if (a > b) return 0;
  const part = cpSlice(s, a, b);
  if (sub === "") return strLen(part) + 1;
  let n = 0;
  let i = part.indexOf(sub);
  while (i >= 0) {
    n++;
    i = part.indexOf(sub, i + sub.length);
  }
  return n;
}

/** str.replace(old, new, count=-1). */
export function pyReplace(s: string, old: string, repl: string, count = -1): string {
  if (repl.length > old.length) {
    const n = pyCount(s, old, null, null);
    checkSequenceSize(s.length + Math.min(n, count < 0 ? n : count) * (repl.length - old.length));
  }
  if (count < 0) {
    if (old === "") {
      const cps = codePoints(s);
      return repl + cps.join(repl) + (cps.length > 0 ? repl : "");
    }
    return s.split(old).join(repl);
  }
  if (old === "") {
    const cps = codePoints(s);
    let out = "";
    let n = 0;
    for (let i = 0; i <= cps.length; i++) {
      if (n < count) {
        out += repl;
        n++;
      }
      if (i < cps.length) out += cps[i];
    }
    return out;
  }
  let out = "";
  let start = 0;
  let n = 0;
  while (n < count) {
    const idx = s.indexOf(old, start);
    if (idx < 0) break;
    out += s.slice(start, idx) + repl;
    start = idx + old.length;
    n++;
  }
  return out + s.slice(start);
}

export const isDigitStr = (s: string): boolean => s !== "" && /^[\p{Nd}\p{No}]+$/u.test(s);
export const isDecimalStr = (s: string): boolean => s !== "" && /^\p{Nd}+$/u.test(s);
export const isNumericStr = (s: string): boolean => s !== "" && /^\p{N}+$/u.test(s);
export const isAlphaStr = (s: string): boolean => s !== "" && /^\p{L}+$/u.test(s);
export const isAlnumStr = (s: string): boolean => s !== "" && /^[\p{L}\p{N}]+$/u.test(s);
export const isSpaceStr = (s: string): boolean => s !== "" && new RegExp(`^[${WS}]+$`).test(s);

const ND = /\p{Nd}/u;
const NON_ASCII_ND = /(?![0-9])\p{Nd}/gu;

/**
 * Any Unicode decimal digit as its ASCII digit, as Python's int() and float() read them ('٣' is 3).
 * Unicode encodes each decimal digit set as ten consecutive code points 0..9, so a digit's value
 * is its distance from the start of its run of digits, modulo 10.
 */
export function asciiDigits(s: string): string {
  if (!NON_ASCII_ND.test(s)) return s;
  NON_ASCII_ND.lastIndex = 0;
  return s.replace(NON_ASCII_ND, (d) => {
    const cp = d.codePointAt(0) as number;
    let start = cp;
    while (ND.test(String.fromCodePoint(start - 1))) start--;
    return String((cp - start) % 10);
  });
}

let casefoldTable: Map<number, string> | undefined;

/** Python's str.casefold(): full Unicode case folding (ß → ss), without lower()'s final-sigma rule. */
export function pyCasefold(s: string): string {
  if (casefoldTable === undefined) {
    casefoldTable = new Map();
    for (const entry of CASEFOLD_EXCEPTIONS.split(",")) {
      const [cp, folded] = entry.split(":") as [string, string];
      casefoldTable.set(
        Number.parseInt(cp, 16),
        String.fromCodePoint(...folded.split(" ").map((x) => Number.parseInt(x, 16))),
      );
    }
  }
  const table = casefoldTable;
  let out = "";
  for (const ch of s) out += table.get(ch.codePointAt(0) as number) ?? ch.toLowerCase();
  return out;
}
