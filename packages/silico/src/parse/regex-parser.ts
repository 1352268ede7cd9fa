import { SilicoError } from "../errors.js";
import { clip, invalid, valid } from "./results.js";
import type { ParseResult, Parser, ParserSpec } from "./types.js";

export type RegexSpec = Extract<ParserSpec, { type: "regex" }>;

/** What a pattern offers: its capture group count and group names. */
export interface PatternInfo {
  groupCount: number;
  groupNames: string[];
}

/**
 * Compiles `pattern` with `flags`, dropping "g" and "y" (the parser always takes the first match
 * from the start). Returns the error message when the pattern or flags are invalid.
 */
export function compilePattern(
  pattern: string,
  flags = "",
): { ok: true; regex: RegExp; info: PatternInfo } | { ok: false; error: string } {
  try {
    const regex = new RegExp(pattern, flags.replace(/[gy]/g, ""));
    // An empty alternative always matches, exposing every group of the pattern.
    const probe = new RegExp(`(?:${pattern})|`, regex.flags).exec("");
    const groupCount = probe === null ? 0 : probe.length - 1;
    const groupNames = Object.keys(probe?.groups ?? {});
    return { ok: true, regex, info: { groupCount, groupNames } };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * A parser that takes the first match of a regular expression. The value is the group named by
 * `group` (a number or a group name); without `group`, it is the first capture group when the
 * pattern has one, else the whole match. No match, or a chosen group that did not take part in
 * the match, makes the answer invalid.
 */
export function createRegexParser(spec: RegexSpec): Parser {
  const compiled = compilePattern(spec.pattern, spec.flags);
  if (!compiled.ok) throw new SilicoError("parser_invalid", `regex parser: ${compiled.error}`);
  const { regex, info } = compiled;
  const group = spec.group ?? (info.groupCount > 0 ? 1 : 0);
  const shown = `/${spec.pattern}/${regex.flags}`;
  const parse = (text: string): ParseResult => {
    const m = regex.exec(text);
    if (m === null) return invalid(`answer does not match ${clip(shown, 80)}`);
    const value = typeof group === "number" ? m[group] : m.groups?.[group];
    if (value === undefined) return invalid(`group ${group} of ${clip(shown, 80)} did not match`);
    return valid(value);
  };
  return {
    spec,
    parse,
    describe: () => `Answer in a form that matches the regular expression ${shown}.`,
  };
}
