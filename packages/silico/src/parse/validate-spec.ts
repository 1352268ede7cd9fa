import { closestWord } from "../did-you-mean.js";
import type { ProblemList } from "../errors.js";
import { compileSchema, schemaProblems } from "./json-schema.js";
import { compilePattern } from "./regex-parser.js";
import type { ParserSpec } from "./types.js";

export type ParserType = ParserSpec["type"];

export const PARSER_TYPES: readonly ParserType[] = ["number", "choice", "json", "regex", "text"];

/** Parser types that need no settings and so may be written as a bare name. */
export const SHORTHAND_TYPES: readonly ParserType[] = ["number", "text", "json"];

const ALLOWED_KEYS: Record<ParserType, readonly string[]> = {
  number: ["type", "min", "max", "integer"],
  choice: ["type", "options", "caseSensitive"],
  json: ["type", "schema"],
  regex: ["type", "pattern", "flags", "group"],
  text: ["type", "allowEmpty"],
};

/**
 * Where a spec is: a fixed place ("study.yaml:12: parse"; a problem about a key gets ".key"
 * appended) or a function that names the place of a path inside the spec, so that a problem about
 * `parse.max` names the line of `max` in a study file.
 */
export type SpecWhere = string | ((sub: (string | number)[]) => string);

/** `at(...sub)`: the place of a path inside the spec. */
type At = (...sub: (string | number)[]) => string;

function placeOf(where: SpecWhere): At {
  if (typeof where === "function") return (...sub) => where(sub);
  return (...sub) => where + sub.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("");
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "object") return "an object";
  return String(value);
}

/** JavaScript's own prefix, which the message around it already says. */
function withoutPrefix(error: string): string {
  return error.replace(/^Invalid regular expression: /, "");
}

/** " (did you mean "number"?) (expected one of: …)" for an unknown type. */
function typeHint(type: unknown): string {
  const hint = typeof type === "string" ? closestWord(type.trim(), PARSER_TYPES) : undefined;
  return `${hint ? ` (did you mean "${hint}"?)` : ""} (expected one of: ${PARSER_TYPES.join(", ")})`;
}

/** A close allowed key ("option" → "options", "case_sensitive" → "caseSensitive"), if any. */
function suggestKey(key: string, allowed: readonly string[]): string | undefined {
  const simple = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");
  const k = simple(key);
  if (k === "") return undefined;
  return allowed.find((a) => {
    const s = simple(a);
    return s === k || (k.length >= 3 && (s.startsWith(k) || k.startsWith(s)));
  });
}

function checkBoolean(spec: Record<string, unknown>, key: string, at: At, problems: ProblemList): void {
  if (spec[key] !== undefined && typeof spec[key] !== "boolean") {
    problems.add(at(key), `must be true or false, not ${describeValue(spec[key])}`);
  }
}

function checkNumber(spec: Record<string, unknown>, at: At, problems: ProblemList): void {
  for (const key of ["min", "max"]) {
    const value = spec[key];
    if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value))) {
      problems.add(at(key), `must be a number, not ${describeValue(value)}`);
    }
  }
  checkBoolean(spec, "integer", at, problems);
  const { min, max } = spec;
  if (typeof min === "number" && typeof max === "number" && Number.isFinite(min) && Number.isFinite(max)) {
    if (min > max) problems.add(at("min"), `min (${min}) is greater than max (${max})`);
    else if (spec.integer === true && Math.ceil(min) > Math.floor(max)) {
      problems.add(at("min"), `no whole number lies between min (${min}) and max (${max})`);
    }
  }
}

function checkChoice(spec: Record<string, unknown>, at: At, problems: ProblemList): void {
  checkBoolean(spec, "caseSensitive", at, problems);
  const options = spec.options;
  if (options === undefined) {
    problems.add(at(), "a choice parser needs options (a list of the allowed answers)");
    return;
  }
  if (!Array.isArray(options)) {
    problems.add(at("options"), `must be a list of strings, not ${describeValue(options)}`);
    return;
  }
  if (options.length === 0) {
    problems.add(at("options"), "must list at least one option");
    return;
  }
  const caseSensitive = spec.caseSensitive === true;
  const seen = new Map<string, number>();
  options.forEach((option: unknown, i) => {
    const here = at("options", i);
    if (typeof option !== "string") {
      problems.add(here, `must be a string, not ${describeValue(option)} (put it in quotes)`);
      return;
    }
    if (option.trim() === "") {
      problems.add(here, "must not be empty");
      return;
    }
    if (option !== option.trim())
      problems.add(here, `has leading or trailing spaces: ${JSON.stringify(option)}`);
    const norm = option.normalize("NFC").trim().replace(/\s+/gu, " ");
    const key = caseSensitive ? norm : norm.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) {
      const how = caseSensitive || options[first] === option ? "" : " (options are compared ignoring case)";
      problems.add(here, `duplicate option ${JSON.stringify(option)}, same as options[${first}]${how}`);
    } else {
      seen.set(key, i);
    }
  });
}

function checkJson(spec: Record<string, unknown>, at: At, problems: ProblemList): void {
  const schema = spec.schema;
  if (schema === undefined) return;
  if (!isPlainObject(schema)) {
    problems.add(at("schema"), `must be a JSON Schema object, not ${describeValue(schema)}`);
    return;
  }
  // Each problem at its place in the schema (`parse.schema.properties.keep.type`).
  const found = schemaProblems(schema);
  for (const p of found) problems.add(at("schema", ...p.path), p.message);
  if (found.length > 0) return;
  const compiled = compileSchema(schema);
  if (!compiled.ok) problems.add(at("schema"), `invalid JSON Schema: ${compiled.error}`);
}

function checkRegex(spec: Record<string, unknown>, at: At, problems: ProblemList): void {
  const { pattern, flags, group } = spec;
  let ok = true;
  if (pattern === undefined) {
    problems.add(at(), "a regex parser needs a pattern");
    ok = false;
  } else if (typeof pattern !== "string" || pattern === "") {
    problems.add(at("pattern"), `must be a non-empty string, not ${describeValue(pattern)}`);
    ok = false;
  }
  if (flags !== undefined && typeof flags !== "string") {
    problems.add(at("flags"), `must be a string of regex flags, not ${describeValue(flags)}`);
    ok = false;
  }
  if (
    group !== undefined &&
    typeof group !== "string" &&
    !(typeof group === "number" && Number.isInteger(group))
  ) {
    problems.add(at("group"), `must be a group number or name, not ${describeValue(group)}`);
    ok = false;
  }
  if (!ok) return;
  const badFlags = compilePattern("", flags as string | undefined);
  if (!badFlags.ok) {
    problems.add(at("flags"), `invalid regex flags: ${withoutPrefix(badFlags.error)}`);
    return;
  }
  const compiled = compilePattern(pattern as string, flags as string | undefined);
  if (!compiled.ok) {
    problems.add(at("pattern"), `invalid regular expression: ${withoutPrefix(compiled.error)}`);
    return;
  }
  const { groupCount, groupNames } = compiled.info;
  if (typeof group === "number" && (group < 0 || group > groupCount)) {
    problems.add(
      at("group"),
      `the pattern has ${groupCount} capture group${groupCount === 1 ? "" : "s"}, so there is no group ${group}`,
    );
  } else if (typeof group === "string" && !groupNames.includes(group)) {
    const names = groupNames.length === 0 ? "none" : groupNames.join(", ");
    problems.add(
      at("group"),
      `the pattern has no group named ${JSON.stringify(group)} (named groups: ${names})`,
    );
  }
}

/**
 * Checks a parser spec read from a study file, adding located problems (`where` is the spec's
 * place, e.g. "study.yaml: threads[0].parser"; problems about a key get ".key" appended).
 * Reports everything found, not just the first problem. Bare names are not accepted here; see
 * normalizeParserSpec.
 */
export function validateParserSpec(
  spec: unknown,
  where: SpecWhere,
  problems: ProblemList,
): spec is ParserSpec {
  const before = problems.items.length;
  const at = placeOf(where);
  if (!isPlainObject(spec)) {
    problems.add(
      at(),
      `expected a parser: an object with a type (${PARSER_TYPES.join(", ")}), not ${describeValue(spec)}`,
    );
    return false;
  }
  const type = spec.type;
  if (type === undefined) {
    problems.add(at(), `missing parser type (one of: ${PARSER_TYPES.join(", ")})`);
    return false;
  }
  if (typeof type !== "string" || !(PARSER_TYPES as readonly string[]).includes(type)) {
    problems.add(at("type"), `unknown parser type ${describeValue(type)}${typeHint(type)}`);
    return false;
  }
  const parserType = type as ParserType;
  const allowed = ALLOWED_KEYS[parserType];
  for (const key of Object.keys(spec)) {
    if (allowed.includes(key)) continue;
    const hint = suggestKey(key, allowed);
    problems.add(
      at(key),
      `unknown key ${JSON.stringify(key)} for a ${parserType} parser` +
        (hint === undefined
          ? ` (allowed: ${allowed.join(", ")})`
          : ` (did you mean ${JSON.stringify(hint)}?)`),
    );
  }
  if (parserType === "number") checkNumber(spec, at, problems);
  else if (parserType === "choice") checkChoice(spec, at, problems);
  else if (parserType === "json") checkJson(spec, at, problems);
  else if (parserType === "regex") checkRegex(spec, at, problems);
  else checkBoolean(spec, "allowEmpty", at, problems);
  return problems.items.length === before;
}

/**
 * Reads a parser as written in a study: a spec object, or a bare name for the types that need no
 * settings ("number", "text", "json" → `{ type }`). Returns a copy of the valid spec, or
 * undefined after adding the problems to `problems`.
 */
export function normalizeParserSpec(
  raw: unknown,
  where: SpecWhere,
  problems: ProblemList,
): ParserSpec | undefined {
  const at = placeOf(where);
  if (typeof raw === "string") {
    const name = raw.trim();
    if ((SHORTHAND_TYPES as readonly string[]).includes(name)) return { type: name } as ParserSpec;
    if (name === "choice") {
      problems.add(at(), "a choice parser needs options: write it as { type: choice, options: [...] }");
    } else if (name === "regex") {
      problems.add(at(), "a regex parser needs a pattern: write it as { type: regex, pattern: ... }");
    } else {
      const hint = closestWord(name, PARSER_TYPES);
      problems.add(
        at(),
        `unknown parser ${JSON.stringify(raw)}${hint ? ` (did you mean "${hint}"?)` : ""} (expected one of: ${PARSER_TYPES.join(", ")}, or an object with a type)`,
      );
    }
    return undefined;
  }
  if (!validateParserSpec(raw, where, problems)) return undefined;
  return { ...raw } as ParserSpec;
}
