import { ProblemList } from "../errors.js";
import { createChoiceParser } from "./choice-parser.js";
import { createJsonParser } from "./json-parser.js";
import { createNumberParser } from "./number-parser.js";
import { createRegexParser } from "./regex-parser.js";
import { createTextParser } from "./text-parser.js";
import type { Parser, ParserSpec } from "./types.js";
import { validateParserSpec } from "./validate-spec.js";

export {
  type ChoiceMatch,
  type ChoiceSpec,
  createChoiceMatcher,
  createChoiceParser,
  describeChoice,
} from "./choice-parser.js";
export {
  balancedEnd,
  createJsonParser,
  describeJson,
  findJson,
  type JsonCandidate,
  type JsonSearch,
  type JsonSpec,
} from "./json-parser.js";
export { type CompiledSchema, compileSchema, formatSchemaErrors } from "./json-schema.js";
export {
  createNumberParser,
  describeNumber,
  extractNumbers,
  type NumberMatch,
  type NumberSpec,
  parseNumberAnswer,
} from "./number-parser.js";
export {
  firstTokenAlternatives,
  type MatchedToken,
  normaliseToken,
  type OptionProbabilities,
  optionProbabilities,
  type ProbabilityOptions,
  targetProbabilities,
} from "./option-probabilities.js";
export { compilePattern, createRegexParser, type PatternInfo, type RegexSpec } from "./regex-parser.js";
export { createTextParser, type TextSpec } from "./text-parser.js";
export type { ParseResult, Parser, ParserSpec } from "./types.js";
export {
  normalizeParserSpec,
  PARSER_TYPES,
  type ParserType,
  SHORTHAND_TYPES,
  validateParserSpec,
} from "./validate-spec.js";

/**
 * Builds the parser a spec names. The spec is validated first; an invalid one throws a
 * StudyError listing every problem (located at "parser").
 */
export function createParser(spec: ParserSpec): Parser {
  const problems = new ProblemList();
  validateParserSpec(spec, "parser", problems);
  problems.throwIfAny();
  switch (spec.type) {
    case "number":
      return createNumberParser(spec);
    case "choice":
      return createChoiceParser(spec);
    case "json":
      return createJsonParser(spec);
    case "regex":
      return createRegexParser(spec);
    case "text":
      return createTextParser(spec);
  }
}
