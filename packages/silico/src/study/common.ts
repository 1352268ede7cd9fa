import type { Limits } from "../engine/limiter.js";
import { type ProblemList, TemplateError } from "../errors.js";
import { compileTemplate } from "../prompts/template.js";
import type { CompiledTemplate } from "../prompts/types.js";
import type { PathPart, StudySource } from "./source.js";

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Run-level settings shared by every kind of study. */
export interface StudySettings {
  seed?: number;
  concurrency?: number;
  limits?: Partial<Limits>;
  maxCostUsd?: number;
  maxAttempts?: number;
  timeoutMs?: number;
}

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the text "${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  return `${typeof v} ${String(v)}`;
}

/**
 * Compile the template held at `path`, reporting a missing text or a syntax error as a located
 * problem instead of throwing (so one pass reports every problem in a study).
 */
export function compileTemplateAt(
  text: unknown,
  path: PathPart[],
  src: StudySource,
  problems: ProblemList,
  what = "template",
): CompiledTemplate | undefined {
  if (typeof text !== "string" || text.trim() === "") {
    problems.add(src.where(path), `${what} must be a non-empty text (a template)`);
    return undefined;
  }
  try {
    return compileTemplate(text, src.templateOrigin(path));
  } catch (e) {
    if (e instanceof TemplateError) {
      problems.add(e.where, e.detail);
      return undefined;
    }
    throw e;
  }
}
