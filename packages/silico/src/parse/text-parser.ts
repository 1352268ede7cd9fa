import { invalid, valid } from "./results.js";
import type { ParseResult, Parser, ParserSpec } from "./types.js";

export type TextSpec = Extract<ParserSpec, { type: "text" }>;

/** A parser that keeps the answer as trimmed text. An empty answer is invalid unless `allowEmpty`. */
export function createTextParser(spec: TextSpec): Parser {
  const parse = (text: string): ParseResult => {
    const trimmed = text.trim();
    if (trimmed === "" && spec.allowEmpty !== true) return invalid("empty answer");
    return valid(trimmed);
  };
  return {
    spec,
    parse,
    describe: () =>
      spec.allowEmpty === true
        ? "Answer in plain text."
        : "Answer in plain text (the answer must not be empty).",
  };
}
