import type { TokenLogprob } from "../models/types.js";
import { charAt, isWordChar } from "./text-utils.js";

/** A first-token alternative that was credited to an option (or target). */
export interface MatchedToken {
  token: string;
  logprob: number;
  /** exp(logprob). */
  probability: number;
  option: string;
}

export interface OptionProbabilities {
  /** Probabilities normalised over the options (sum 1). Empty when no mass was covered. */
  probabilities: Record<string, number>;
  /** Raw probability mass (0-1) of the alternatives credited to some option. */
  covered: number;
  /** Raw probability mass of alternatives that could start several options, and were left out. */
  ambiguous: number;
  /** Unnormalised mass per option (0 for options no alternative maps to). */
  raw: Record<string, number>;
  /** The alternatives that were credited, in the order they were considered. */
  matchedTokens: MatchedToken[];
  /** Index in `tokens` of the answer token whose alternatives were used; -1 when there is none. */
  position: number;
}

export interface ProbabilityOptions {
  /** Compare letter case too. Default false: "accept", "Accept" and "ACCEPT" are the same. */
  caseSensitive?: boolean;
}

/** Leading space markers of tokenisers: SentencePiece "▁", and GPT-2 byte-level "Ġ" (space), "Ċ" (newline), "ĉ" (tab). */
const LEADING_SPACE = /^[\s\u2581\u0120\u010a\u0109]+/u;

/**
 * A token's text as compared with options: NFC, without leading whitespace or space markers,
 * without trailing whitespace, inner whitespace runs as one space, lower-cased unless
 * `caseSensitive`.
 */
export function normaliseToken(token: string, caseSensitive = false): string {
  const text = token.normalize("NFC").replace(LEADING_SPACE, "").trimEnd().replace(/\s+/gu, " ");
  return caseSensitive ? text : text.toLowerCase();
}

/** An option's or target's text as compared with tokens (same normalisation as tokens, and trimmed). */
function normaliseOption(option: string, caseSensitive: boolean): string {
  const text = option.normalize("NFC").trim().replace(/\s+/gu, " ");
  return caseSensitive ? text : text.toLowerCase();
}

/**
 * The alternatives at the answer's first token: `tokens[i].top`, plus `tokens[i]` itself when
 * no alternative has its text. `i` is the first token that is not only whitespace (or space
 * markers); leading whitespace-only tokens such as "\n" are skipped, because their alternatives
 * cannot name an option on their own.
 */
export function firstTokenAlternatives(tokens: readonly TokenLogprob[]): {
  position: number;
  alternatives: { token: string; logprob: number }[];
} {
  const position = tokens.findIndex((t) => normaliseToken(t.token) !== "");
  const chosen = tokens[position];
  if (chosen === undefined) return { position: -1, alternatives: [] };
  const alternatives = (chosen.top ?? []).map((a) => ({ token: a.token, logprob: a.logprob }));
  if (!alternatives.some((a) => a.token === chosen.token)) {
    alternatives.push({ token: chosen.token, logprob: chosen.logprob });
  }
  return { position, alternatives };
}

type Mapping = { kind: "option"; index: number } | { kind: "ambiguous" } | { kind: "none" };

/** Shared arithmetic: sum exp(logprob) per key as `map` assigns alternatives, then normalise. */
function measure(
  tokens: readonly TokenLogprob[],
  keys: readonly string[],
  map: (token: string) => Mapping,
): OptionProbabilities {
  const raw: Record<string, number> = {};
  for (const key of keys) raw[key] = 0;
  const { position, alternatives } = firstTokenAlternatives(tokens);
  const matchedTokens: MatchedToken[] = [];
  let covered = 0;
  let ambiguous = 0;
  for (const alternative of alternatives) {
    if (Number.isNaN(alternative.logprob)) continue;
    const probability = Math.exp(alternative.logprob);
    const mapping = map(alternative.token);
    if (mapping.kind === "ambiguous") {
      ambiguous += probability;
    } else if (mapping.kind === "option") {
      const option = keys[mapping.index]!;
      raw[option] = (raw[option] ?? 0) + probability;
      covered += probability;
      matchedTokens.push({ token: alternative.token, logprob: alternative.logprob, probability, option });
    }
  }
  const probabilities: Record<string, number> = {};
  if (covered > 0) for (const key of keys) probabilities[key] = (raw[key] ?? 0) / covered;
  return {
    probabilities,
    covered: Math.min(1, covered),
    ambiguous: Math.min(1, ambiguous),
    raw,
    matchedTokens,
    position,
  };
}

/** Distinct non-empty keys (first spelling wins) with their normalised forms. */
function prepare(items: readonly string[], caseSensitive: boolean): { keys: string[]; norms: string[] } {
  const keys: string[] = [];
  const norms: string[] = [];
  for (const item of items) {
    const norm = normaliseOption(item, caseSensitive);
    if (norm === "" || norms.includes(norm)) continue;
    keys.push(item);
    norms.push(norm);
  }
  return { keys, norms };
}

/**
 * Probability of each option as the answer, read from the first answer token's alternatives.
 *
 * An alternative is credited to an option when, after normalisation (see normaliseToken), it is
 * a prefix of exactly one option ("ACC" → ACCEPT, " Reject" → REJECT). When it is a prefix of
 * several options ("OP" for "OPTION 1"/"OPTION 2", or "NO" for "NO"/"NOT SURE") it is left out
 * and its mass counted in `ambiguous`. A token longer than an option also counts when the option
 * is followed by a non-word character in it ("Yes," → Yes); if it covers several options that way
 * and is a prefix of none, the longest is credited. Alternatives credited to the same option add
 * up. Options that are the same after normalisation count once, under the first spelling.
 */
export function optionProbabilities(
  tokens: readonly TokenLogprob[],
  options: readonly string[],
  opts: ProbabilityOptions = {},
): OptionProbabilities {
  const caseSensitive = opts.caseSensitive === true;
  const { keys, norms } = prepare(options, caseSensitive);
  return measure(tokens, keys, (token) => {
    const t = normaliseToken(token, caseSensitive);
    if (t === "") return { kind: "none" };
    const prefixOf: number[] = [];
    const covers: number[] = [];
    norms.forEach((o, i) => {
      if (o.startsWith(t)) prefixOf.push(i);
      else if (t.startsWith(o) && !isWordChar(charAt(t, o.length))) covers.push(i);
    });
    if (prefixOf.length + covers.length === 0) return { kind: "none" };
    if (prefixOf.length + covers.length === 1) return { kind: "option", index: (prefixOf[0] ?? covers[0])! };
    if (prefixOf.length > 0) return { kind: "ambiguous" };
    const longest = covers.reduce((best, i) => (norms[i]!.length > norms[best]!.length ? i : best));
    return { kind: "option", index: longest };
  });
}

/**
 * Probability of each target word as the first word of the answer (e.g. "he" vs "she"), read from
 * the first answer token's alternatives.
 *
 * Rule: after normalisation (see normaliseToken; case-insensitive unless `caseSensitive`), an
 * alternative is credited to a target when it equals that target, or else when it is a prefix of
 * exactly one target. An alternative that equals no target and is a prefix of several is
 * ambiguous (its mass is reported in `ambiguous`); anything else is ignored. So with targets
 * "he" and "her", the token "he" counts for "he" (exact match wins), "h" is ambiguous and "hers"
 * counts for neither.
 */
export function targetProbabilities(
  tokens: readonly TokenLogprob[],
  targets: readonly string[],
  opts: ProbabilityOptions = {},
): OptionProbabilities {
  const caseSensitive = opts.caseSensitive === true;
  const { keys, norms } = prepare(targets, caseSensitive);
  return measure(tokens, keys, (token) => {
    const t = normaliseToken(token, caseSensitive);
    if (t === "") return { kind: "none" };
    const exact = norms.indexOf(t);
    if (exact >= 0) return { kind: "option", index: exact };
    const prefixOf = norms.flatMap((g, i) => (g.startsWith(t) ? [i] : []));
    if (prefixOf.length === 1) return { kind: "option", index: prefixOf[0]! };
    return prefixOf.length > 1 ? { kind: "ambiguous" } : { kind: "none" };
  });
}
