import type { z } from "zod";
import { closestWord } from "../did-you-mean.js";
import type { ProblemList } from "../errors.js";
import type { PathPart, StudySource } from "./source.js";

type Issue = z.core.$ZodIssue;

/**
 * The message a strict mapping gives for unknown keys (see `mapping` in schema-parts.ts). The
 * translator reads the allowed keys back from it to name each unknown key at its own line with
 * a "did you mean" hint.
 */
export const ALLOWED_PREFIX = "allowed here: ";

/**
 * Turns zod issues into located problems (`study.yaml:8: params.temperature: must be …`), every
 * issue at once. Messages come from the schemas' own `error` functions; this only places them.
 */
export function reportIssues(
  issues: readonly Issue[],
  src: StudySource,
  problems: ProblemList,
  base: PathPart[] = [],
): void {
  for (const issue of issues) {
    const path: PathPart[] = [...base, ...(issue.path as PathPart[])];
    switch (issue.code) {
      case "unrecognized_keys": {
        const allowed = issue.message.startsWith(ALLOWED_PREFIX)
          ? issue.message.slice(ALLOWED_PREFIX.length).split(", ")
          : [];
        for (const key of issue.keys) {
          const close = closestWord(key, allowed);
          problems.add(
            src.where([...path, key]),
            `unknown key "${key}"${close ? ` (did you mean "${close}"?)` : ""}; ${issue.message}`,
          );
        }
        break;
      }
      case "invalid_key":
        // A record's key failed its pattern: the key schema's message names the rule.
        problems.add(src.where(path), issue.issues[0]?.message ?? issue.message);
        break;
      case "invalid_union": {
        // When exactly one alternative got past the type check (e.g. a mapping where a number
        // or a mapping is allowed), its own issues say more than the union's summary.
        const near = issue.errors.filter((branch) => !branch.every((b) => isShallowTypeMiss(b)));
        if (near.length === 1) reportIssues(near[0] as Issue[], src, problems, path);
        else problems.add(src.where(placeOf(issue, path)), issue.message);
        break;
      }
      case "invalid_type":
      case "invalid_value":
        problems.add(src.where(placeOf(issue, path)), plainMessage(issue));
        break;
      default:
        problems.add(src.where(path), plainMessage(issue));
    }
  }
}

/**
 * A missing key whose message speaks for its mapping ("needs …", "missing key …") is placed at
 * the mapping, as a hand-written reader would.
 */
function placeOf(issue: Issue, path: PathPart[]): PathPart[] {
  const missing =
    issue.input === undefined &&
    path.length > 0 &&
    (issue.message.startsWith("needs ") || issue.message.startsWith("missing key "));
  return missing ? path.slice(0, -1) : path;
}

const WORDS: Record<string, string> = {
  string: "a text",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "a mapping",
  array: "a list",
  record: "a mapping",
};

/** zod's own wording ("Invalid input: expected string") for parts a schema gave no message. */
function plainMessage(issue: Issue): string {
  if (issue.code === "invalid_type" && issue.message.startsWith("Invalid input")) {
    return `must be ${WORDS[issue.expected] ?? issue.expected}`;
  }
  return issue.message;
}

function isShallowTypeMiss(issue: Issue): boolean {
  return (
    issue.path.length === 0 &&
    (issue.code === "invalid_type" || issue.code === "invalid_value" || issue.code === "invalid_union")
  );
}

/**
 * Validates a study's top-level mapping and reports every issue. Returns what is valid: the whole
 * study, or on failure each top-level field that is valid on its own, so that the semantic checks
 * (cross-references, templates) still run on the sound parts and every problem is reported at once.
 */
export function parseLocated<S extends z.ZodObject>(
  schema: S,
  src: StudySource,
  problems: ProblemList,
): { ok: boolean; data: Partial<z.output<S>> } {
  const result = schema.safeParse(src.data, { reportInput: true });
  if (result.success) return { ok: true, data: result.data };
  reportIssues(result.error.issues, src, problems);
  return { ok: false, data: salvage(schema, src.data) };
}

/**
 * The fields of a mapping that are valid on their own (nothing when it is no mapping). For
 * semantic checks after a failed validation, whose issues have been reported already.
 */
export function salvage<S extends z.ZodObject>(schema: S, raw: unknown): Partial<z.output<S>> {
  const data: Record<string, unknown> = {};
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return data as Partial<z.output<S>>;
  for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    const one = field.safeParse((raw as Record<string, unknown>)[key]);
    if (one.success && one.data !== undefined) data[key] = one.data;
  }
  return data as Partial<z.output<S>>;
}
