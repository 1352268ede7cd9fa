import { SilicoError } from "../errors.js";
import { type CompiledSchema, compileSchema, formatSchemaErrors } from "./json-schema.js";
import { invalid, valid } from "./results.js";
import type { ParseResult, Parser, ParserSpec } from "./types.js";

export type JsonSpec = Extract<ParserSpec, { type: "json" }>;

/** A JSON value found in an answer, and where it came from. */
export interface JsonCandidate {
  value: unknown;
  source: "whole" | "fence" | "object" | "array";
  /** The text that was parsed. */
  text: string;
}

/** Result of looking for JSON: the candidates that parse, plus the first parse error met, if any. */
export interface JsonSearch {
  candidates: JsonCandidate[];
  firstError?: string;
}

function tryParse(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * The index of the bracket closing the one at `start` ("{" or "["), or -1 when it is never
 * closed or a bracket of the wrong kind closes it. Brackets inside JSON strings (with escapes)
 * are skipped.
 */
export function balancedEnd(text: string, start: number): number {
  const stack: string[] = [];
  let inString = false;
  let escaped = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === "{") {
      stack.push("}");
    } else if (c === "[") {
      stack.push("]");
    } else if (c === "}" || c === "]") {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return i;
    }
  }
  return -1;
}

const FENCE_RE = /```([^\n`]*)\n([\s\S]*?)```/g;

/**
 * Every JSON value in `text`, in order of preference:
 * 1. the whole text, when it parses (then nothing else is looked at);
 * 2. fenced code blocks, those labelled json first, then the others, in text order;
 * 3. balanced `{…}` substrings that parse, in text order, then balanced `[…]` ones (objects
 *    first, so that a citation like "[1]" in the prose does not beat the answer object).
 * Balanced substrings do not overlap: once one parses, the scan continues after it; when one
 * does not parse, the scan tries the next bracket inside it.
 */
export function findJson(text: string): JsonSearch {
  const trimmed = text.replace(/^\uFEFF/, "").trim();
  const whole = tryParse(trimmed);
  if (whole.ok && trimmed !== "")
    return { candidates: [{ value: whole.value, source: "whole", text: trimmed }] };

  let firstError: string | undefined;
  const fenced: { labelled: boolean; candidate: JsonCandidate }[] = [];
  for (const m of trimmed.matchAll(FENCE_RE)) {
    const label = (m[1] ?? "").trim().toLowerCase();
    const body = (m[2] ?? "").trim();
    const parsed = tryParse(body);
    if (parsed.ok) {
      fenced.push({
        labelled: label.startsWith("json"),
        candidate: { value: parsed.value, source: "fence", text: body },
      });
    } else if (label.startsWith("json")) {
      firstError ??= parsed.error;
    }
  }
  const objects: JsonCandidate[] = [];
  const arrays: JsonCandidate[] = [];
  for (let i = 0; i < trimmed.length; i++) {
    const c = trimmed[i];
    if (c !== "{" && c !== "[") continue;
    const end = balancedEnd(trimmed, i);
    if (end < 0) {
      if (c === "{") firstError ??= "unbalanced brackets: a { is not closed";
      continue;
    }
    const slice = trimmed.slice(i, end + 1);
    const parsed = tryParse(slice);
    if (!parsed.ok) {
      if (c === "{") firstError ??= parsed.error;
      continue;
    }
    (c === "{" ? objects : arrays).push({
      value: parsed.value,
      source: c === "{" ? "object" : "array",
      text: slice,
    });
    i = end;
  }
  const candidates = [
    ...fenced.filter((f) => f.labelled).map((f) => f.candidate),
    ...fenced.filter((f) => !f.labelled).map((f) => f.candidate),
    ...objects,
    ...arrays,
  ];
  return firstError === undefined ? { candidates } : { candidates, firstError };
}

/** The correction sentence for a JSON parser, with the schema (compact) when there is one. */
export function describeJson(schema: Record<string, unknown> | undefined): string {
  if (schema === undefined) return "Answer with a JSON object.";
  const { $schema: _dialect, $id: _id, ...rest } = schema;
  const noun = rest.type === "array" ? "a JSON array" : "a JSON object";
  return `Answer with ${noun} matching this schema: ${JSON.stringify(rest)}`;
}

/**
 * A parser for JSON answers, optionally checked against a JSON Schema (compiled once, here).
 * It takes the first candidate (see findJson) that is not null and fits the schema; when none
 * does, the reason describes the first candidate. Throws if the schema does not compile
 * (validateParserSpec reports that case as a study problem first).
 */
export function createJsonParser(spec: JsonSpec): Parser {
  let compiled: CompiledSchema | undefined;
  if (spec.schema !== undefined) {
    compiled = compileSchema(spec.schema);
    if (!compiled.ok)
      throw new SilicoError("parser_invalid", `json parser: invalid JSON Schema: ${compiled.error}`);
  }
  const validate = compiled?.ok === true ? compiled.validate : undefined;
  const check = (value: unknown): ParseResult => {
    if (value === null) return invalid("answer is null");
    if (validate !== undefined && !validate(value)) {
      return invalid(`answer does not match the schema: ${formatSchemaErrors(validate.errors)}`);
    }
    return valid(value);
  };
  const parse = (text: string): ParseResult => {
    const { candidates, firstError } = findJson(text);
    if (candidates.length === 0) {
      return invalid(firstError === undefined ? "no JSON found" : `no valid JSON found (${firstError})`);
    }
    let first: ParseResult | undefined;
    for (const candidate of candidates) {
      const result = check(candidate.value);
      if (result.valid) return result;
      first ??= result;
    }
    return first!;
  };
  return {
    spec,
    constraint: spec.schema === undefined ? { type: "json" } : { type: "json", schema: spec.schema },
    parse,
    describe: () => describeJson(spec.schema),
  };
}
