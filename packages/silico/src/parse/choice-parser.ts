import { invalid, valid } from "./results.js";
import { escapeRegExp, WORD_CHAR } from "./text-utils.js";
import type { ParseResult, Parser, ParserSpec } from "./types.js";

export type ChoiceSpec = Extract<ParserSpec, { type: "choice" }>;

/** One option found in the answer text. */
export interface ChoiceMatch {
  /** The option as spelled in the spec. */
  option: string;
  /** Its position in the spec's option list. */
  optionIndex: number;
  /** The text that matched, and where (indices refer to the NFC-normalised text). */
  text: string;
  index: number;
}

const STARTS_WITH_WORD_CHAR = new RegExp(`^${WORD_CHAR}`, "u");
const ENDS_WITH_WORD_CHAR = new RegExp(`${WORD_CHAR}$`, "u");

/**
 * Returns a function that finds the options in a text, left to right. An option matches only
 * as a whole word: not glued to further letters, digits or marks (so "UNACCEPTABLE" does not
 * contain "ACCEPT", and "OPTION 10" does not contain "OPTION 1"); punctuation around it is fine
 * ("ACCEPT.", "**NO**"). Spaces inside an option match any run of whitespace. Where two options
 * start at the same place ("NO" and "NO WAY") the longer one wins. Text and options are compared
 * in Unicode NFC form; indices in the result refer to the NFC form of the text.
 */
export function createChoiceMatcher(
  options: readonly string[],
  caseSensitive = false,
): (text: string) => ChoiceMatch[] {
  const alternatives: { index: number; source: string; length: number }[] = [];
  const seen = new Set<string>();
  options.forEach((raw, index) => {
    const option = raw.normalize("NFC").trim();
    const key = caseSensitive ? option : option.toLowerCase();
    if (option === "" || seen.has(key)) return; // empty or duplicate: never matched (validation reports them)
    seen.add(key);
    const body = option.split(/\s+/u).map(escapeRegExp).join("\\s+");
    const before = STARTS_WITH_WORD_CHAR.test(option) ? `(?<!${WORD_CHAR})` : "";
    const after = ENDS_WITH_WORD_CHAR.test(option) ? `(?!${WORD_CHAR})` : "";
    alternatives.push({ index, source: `${before}(${body})${after}`, length: option.length });
  });
  if (alternatives.length === 0) return () => [];
  // Longest first, so that the regex prefers the longer option at the same position.
  // Capture group k + 1 belongs to alternatives[k].
  alternatives.sort((a, b) => b.length - a.length || a.index - b.index);
  const regex = new RegExp(alternatives.map((a) => a.source).join("|"), caseSensitive ? "gu" : "giu");
  return (text) => {
    const found: ChoiceMatch[] = [];
    for (const m of text.normalize("NFC").matchAll(regex)) {
      const group = m.findIndex((g, i) => i > 0 && g !== undefined);
      const optionIndex = alternatives[group - 1]?.index;
      if (optionIndex === undefined) continue;
      found.push({ option: options[optionIndex]!, optionIndex, text: m[0], index: m.index });
    }
    return found;
  };
}

/** The correction sentence for a choice parser, e.g. "Answer with exactly one of: ACCEPT, REJECT." */
export function describeChoice(options: readonly string[]): string {
  return `Answer with exactly one of: ${options.join(", ")}.`;
}

/**
 * A parser for answers that name one option of a fixed list. The same option may be repeated;
 * two different options make the answer invalid. The value is the option as spelled in the spec.
 */
export function createChoiceParser(spec: ChoiceSpec): Parser {
  const options = [...spec.options];
  const find = createChoiceMatcher(options, spec.caseSensitive === true);
  const parse = (text: string): ParseResult => {
    const matches = find(text);
    if (matches.length === 0)
      return invalid(`none of the options found (expected one of: ${options.join(", ")})`);
    const distinct: string[] = [];
    for (const m of matches) if (!distinct.includes(m.option)) distinct.push(m.option);
    if (distinct.length > 1)
      return invalid(`found ${distinct.length} different options: ${distinct.join(", ")}`);
    return valid(distinct[0]);
  };
  return {
    spec,
    constraint: { type: "choice", options },
    parse,
    describe: () => describeChoice(options),
  };
}
