import type { OutputConstraint } from "../models/types.js";

/** How a study names a parser. Plain objects so that they can live in YAML/JSON study files. */
export type ParserSpec =
  | { type: "number"; min?: number; max?: number; integer?: boolean }
  | { type: "choice"; options: string[]; caseSensitive?: boolean }
  | { type: "json"; schema?: Record<string, unknown> }
  | { type: "regex"; pattern: string; flags?: string; group?: number | string }
  | { type: "text"; allowEmpty?: boolean };

/** An invalid answer is a result, never an exception: raw text is kept by the caller. */
export type ParseResult = { valid: true; value: unknown } | { valid: false; value: null; reason: string };

export interface Parser {
  readonly spec: ParserSpec;
  parse(text: string): ParseResult;
  /** Shape a constraining provider can enforce, when there is one. */
  readonly constraint?: OutputConstraint;
  /** One sentence telling a participant what a valid answer looks like (used in correction messages). */
  describe(): string;
}
