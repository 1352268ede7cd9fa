/**
 * alter_ego's four answer filters with silico's semantics where alter_ego 1.6 is buggy.
 *
 * - `JSON`: Python `json.loads` on the whole answer (as alter_ego; JSON inside prose or a code
 *   fence is invalid there too, and keeping that keeps old data comparable). `null` is invalid.
 * - `extract_number`: silico's number reader (src/parse/number-parser) finds the numbers, so
 *   decimals, grouped and exponent numbers work ("3.5" → 3.5; alter_ego raises on them). Exactly one
 *   number is required, as in alter_ego: "OPTION 1 … OPTION 1" (two matches) is invalid in both.
 *   Integral text without a point or exponent gives an int, anything else a float ("5.0" → 5.0).
 * - `exclusive_response`: silico's choice matcher (src/parse/choice-parser), so tokens match whole
 *   words ("UNACCEPTABLE" is not ACCEPT; alter_ego matches substrings), case-insensitively.
 * - `As is`: the text itself, never invalid.
 *
 * Invalid outcomes say whether alter_ego's filter would have *returned None* (it then appends
 * None to `choices`, so `ego data` has a `choice=null` row) or *raised* (nothing appended).
 */
import { extractNumbers } from "../../parse/number-parser.js";
import { createChoiceMatcher, describeChoice } from "../../parse/choice-parser.js";
import type { Parser } from "../../parse/types.js";
import { mkFloat, mkInt } from "@silico/jinja";
import { pyJsonLoads, toPlain } from "./python-json.js";

export const FILTER_NAMES = ["JSON", "extract_number", "exclusive_response", "As is"] as const;
export type FilterName = (typeof FILTER_NAMES)[number];

export interface FilterSpec {
  name: FilterName;
  /** exclusive_response only: the tokens, split at `;`. */
  tokens?: string[];
}

export type FilterOutcome =
  | { ok: true; value: unknown }
  | {
      ok: false;
      reason: string /** alter_ego's filter returns None here (a null choice is recorded). */;
      none: boolean;
    };

const clip = (s: string, max = 60) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

function extractNumber(text: string): FilterOutcome {
  const found = extractNumbers(text);
  if (found.length === 0) return { ok: false, none: true, reason: "no number found" };
  if (found.length > 1) {
    const listed = found
      .slice(0, 5)
      .map((m) => m.text)
      .join(", ");
    return {
      ok: false,
      none: true,
      reason: `found ${found.length} numbers (${listed}${found.length > 5 ? ", …" : ""}); exactly one is needed`,
    };
  }
  const m = found[0] as (typeof found)[number];
  if (!Number.isFinite(m.value)) return { ok: false, none: false, reason: `number too large: ${m.text}` };
  // The digits without currency, sign and grouping commas decide int versus float, as Python's int()/float() would.
  const body = m.text.replace(/^[^\d.]+/u, "").replace(/,/g, "");
  if (/^\d+$/.test(body)) {
    const negative = /^[^\d.]*[-\u2212]/u.test(m.text);
    const n = BigInt(body);
    return { ok: true, value: mkInt(negative && n !== 0n ? -n : n) };
  }
  return { ok: true, value: mkFloat(m.value) };
}

/** Applies a filter to an answer text, giving Python values (PyDict, PyFloat, bigint …) for templates. */
export function applyFilter(spec: FilterSpec, text: string): FilterOutcome {
  switch (spec.name) {
    case "As is":
      return { ok: true, value: text };
    case "JSON": {
      const r = pyJsonLoads(text);
      if (!r.ok) return { ok: false, none: false, reason: `not JSON (${r.error})` };
      if (r.value === null) return { ok: false, none: true, reason: "the answer is JSON null" };
      return { ok: true, value: r.value };
    }
    case "extract_number":
      return extractNumber(text);
    case "exclusive_response": {
      const tokens = spec.tokens ?? [];
      const matches = createChoiceMatcher(tokens, false)(text);
      const distinct: string[] = [];
      for (const m of matches) if (!distinct.includes(m.option)) distinct.push(m.option);
      if (distinct.length === 0) {
        return { ok: false, none: true, reason: `none of ${tokens.join(", ")} found in "${clip(text)}"` };
      }
      if (distinct.length > 1) {
        return {
          ok: false,
          none: false,
          reason: `the answer contains ${distinct.map((d) => `'${d}'`).join(" and ")}`,
        };
      }
      return { ok: true, value: distinct[0] };
    }
  }
}

/** The filter as a silico parser (plain JSON values for the store; no output constraint, as alter_ego sends none). */
export function filterParser(spec: FilterSpec): Parser {
  const parserSpec =
    spec.name === "JSON"
      ? ({ type: "json" } as const)
      : spec.name === "extract_number"
        ? ({ type: "number" } as const)
        : spec.name === "exclusive_response"
          ? ({ type: "choice", options: spec.tokens ?? [] } as const)
          : ({ type: "text", allowEmpty: true } as const);
  return {
    spec: parserSpec,
    parse(text) {
      const r = applyFilter(spec, text);
      return r.ok
        ? { valid: true, value: toPlain(r.value) }
        : { valid: false, value: null, reason: r.reason };
    },
    describe() {
      if (spec.name === "JSON") return "Answer with JSON only.";
      if (spec.name === "extract_number") return "Answer with exactly one number.";
      if (spec.name === "exclusive_response") return describeChoice(spec.tokens ?? []);
      return "Any answer is accepted.";
    },
  };
}
