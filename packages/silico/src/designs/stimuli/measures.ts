import type { TokenLogprob } from "../../models/types.js";
import { optionProbabilities, targetProbabilities } from "../../parse/index.js";

/** A probability measure read from the first answer token's log probabilities. */
export interface ProbabilityMeasure {
  /** "targets": `measure: {targets}`; "options": the options of a choice parser. */
  source: "targets" | "options";
  keys: string[];
  caseSensitive: boolean;
  /** Observation name per key: `p_<key>` with non-word characters as `_`. */
  names: string[];
}

export function measureName(key: string): string {
  return `p_${key.trim().replace(/[^\p{L}\p{N}_]+/gu, "_")}`;
}

export function makeMeasure(
  source: ProbabilityMeasure["source"],
  keys: string[],
  caseSensitive: boolean,
): ProbabilityMeasure {
  return { source, keys, caseSensitive, names: keys.map(measureName) };
}

export interface MeasuredValue {
  name: string;
  value: number | null;
}

/**
 * The observations a measure yields for one answer: `p_<key>` for each key (normalised over the
 * keys; null when no alternative matched any key) and `covered`, the raw probability mass of the
 * alternatives that matched (how much of the distribution the normalisation rests on).
 */
export function measureValues(measure: ProbabilityMeasure, tokens: readonly TokenLogprob[]): MeasuredValue[] {
  const opts = { caseSensitive: measure.caseSensitive };
  const r =
    measure.source === "targets"
      ? targetProbabilities(tokens, measure.keys, opts)
      : optionProbabilities(tokens, measure.keys, opts);
  const out: MeasuredValue[] = measure.keys.map((k, i) => ({
    name: measure.names[i] as string,
    value: r.covered > 0 ? (r.probabilities[k] ?? 0) : null,
  }));
  out.push({ name: "covered", value: r.covered });
  return out;
}
