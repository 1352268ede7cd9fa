import { invalid, valid } from "./results.js";
import { charBefore, isWordChar } from "./text-utils.js";
import type { ParseResult, Parser, ParserSpec } from "./types.js";

export type NumberSpec = Extract<ParserSpec, { type: "number" }>;

/** One number found in free text. */
export interface NumberMatch {
  /** The number as a JS number (never -0). */
  value: number;
  /** The text it was read from, including any sign and currency symbol. */
  text: string;
  /** Where `text` starts in the input. */
  index: number;
}

const SIGN = "[-+\\u2212]";
const CURRENCY = "[$€£¥₹]";
/*
 * Groups: 1 sign before currency/digits, 2 currency after that sign, 3 currency first,
 * 4 sign after that currency, 5 integer part (plain digits, or 1-3 digits followed by groups of
 * a comma and exactly three digits), 6 fraction ".ddd", 7 leading-dot number ".5", 8 exponent.
 * A "." not followed by a digit ("2." at the end of a sentence) is punctuation, not a fraction.
 */
const NUMBER_RE = new RegExp(
  `(?:(${SIGN})(${CURRENCY})?|(${CURRENCY})(${SIGN})?)?` +
    "(?:(\\d{1,3}(?:,\\d{3})+(?!\\d)|\\d+)(\\.\\d+)?|(\\.\\d+))" +
    "(?:[eE]([-+]?\\d+))?",
  "gu",
);

/**
 * Finds every number in `text`, in order. Rules:
 * - ASCII digits; a decimal point needs a digit after it (".5" is 0.5, "2." is 2).
 * - A comma is a thousands separator only between a 1-3 digit group and exactly three digits
 *   ("1,000", "1,234.5"); otherwise it separates numbers ("1,5" is 1 and 5).
 * - "-", "+" and the Unicode minus "−" are signs only when they are not glued to a preceding
 *   letter or digit, so "2023-08-11" is 2023, 8 and 11 and "COVID-19" is 19.
 * - A currency symbol ($ € £ ¥ ₹) may precede the number, before or after the sign.
 * - An exponent ("3e8", "1.5E-3") belongs to the number. A trailing "%" is ignored.
 * - Digits inside words count ("OPTION 1" and "OPTION1" are both 1).
 */
export function extractNumbers(text: string): NumberMatch[] {
  const found: NumberMatch[] = [];
  for (const m of text.matchAll(NUMBER_RE)) {
    let start = m.index;
    let sign = m[4] ?? "";
    if (m[1] !== undefined) {
      if (isWordChar(charBefore(text, start))) {
        // A hyphen between word characters joins them; it is not a minus sign.
        start += m[1].length;
      } else {
        sign = m[1];
      }
    }
    const prefixLength =
      (m[1]?.length ?? 0) + (m[2]?.length ?? 0) + (m[3]?.length ?? 0) + (m[4]?.length ?? 0);
    let mantissa: string;
    if (m[7] !== undefined) {
      // "1.2.3" or "v.5": a dot glued to a word is punctuation, so read only the digits after it.
      const glued = prefixLength === 0 && isWordChar(charBefore(text, m.index));
      mantissa = glued ? m[7].slice(1) : `0${m[7]}`;
      if (glued) start += 1;
    } else {
      mantissa = (m[5] ?? "").replace(/,/g, "") + (m[6] ?? "");
    }
    const exponent = m[8] === undefined ? "" : `e${m[8]}`;
    let value = Number(mantissa + exponent);
    if (sign === "-" || sign === "\u2212") value = -value;
    if (value === 0) value = 0; // no -0
    found.push({ value, text: text.slice(start, m.index + m[0].length), index: start });
  }
  return found;
}

/** Formats a number for a reason or description. */
function show(value: number): string {
  return String(value);
}

/** The distinct values among `matches`, in order of first appearance. */
function distinctValues(matches: NumberMatch[]): number[] {
  const seen: number[] = [];
  for (const match of matches) if (!seen.includes(match.value)) seen.push(match.value);
  return seen;
}

/**
 * Parses an answer that should contain exactly one number. The same number may be repeated
 * ("5 ... 5.0" is 5); two different numbers make the answer invalid, as does none.
 */
export function parseNumberAnswer(text: string, spec: Omit<NumberSpec, "type"> = {}): ParseResult {
  const matches = extractNumbers(text);
  if (matches.length === 0) return invalid("no number found");
  const tooBig = matches.find((m) => !Number.isFinite(m.value));
  if (tooBig !== undefined) return invalid(`number too large: ${tooBig.text}`);
  const values = distinctValues(matches);
  if (values.length > 1) {
    const listed = values.slice(0, 5).map(show).join(", ");
    return invalid(`found ${values.length} different numbers: ${listed}${values.length > 5 ? ", …" : ""}`);
  }
  const value = values[0]!;
  if (spec.integer === true && !Number.isInteger(value))
    return invalid(`expected a whole number, got ${show(value)}`);
  if (spec.min !== undefined && value < spec.min)
    return invalid(`${show(value)} is below the minimum of ${show(spec.min)}`);
  if (spec.max !== undefined && value > spec.max)
    return invalid(`${show(value)} is above the maximum of ${show(spec.max)}`);
  return valid(value);
}

/** The correction sentence for a number parser, e.g. "Answer with a single whole number from 1 to 7." */
export function describeNumber(spec: Omit<NumberSpec, "type">): string {
  const noun = spec.integer === true ? "a single whole number" : "a single number";
  let range = "";
  if (spec.min !== undefined && spec.max !== undefined)
    range = ` from ${show(spec.min)} to ${show(spec.max)}`;
  else if (spec.min !== undefined) range = ` of at least ${show(spec.min)}`;
  else if (spec.max !== undefined) range = ` of at most ${show(spec.max)}`;
  return `Answer with ${noun}${range}.`;
}

/** A parser for numeric answers. The spec is assumed valid (see validateParserSpec). */
export function createNumberParser(spec: NumberSpec): Parser {
  const options = { min: spec.min, max: spec.max, integer: spec.integer };
  return {
    spec,
    constraint: {
      type: "number",
      integer: spec.integer === true,
      ...(spec.min !== undefined ? { min: spec.min } : {}),
      ...(spec.max !== undefined ? { max: spec.max } : {}),
    },
    parse: (text) => parseNumberAnswer(text, options),
    describe: () => describeNumber(options),
  };
}
