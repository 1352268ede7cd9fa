import type { Limits } from "../engine/limiter.js";
import { type ProblemList, TemplateError } from "../errors.js";
import { type CompiledTemplate, type CompileOptions, compileTemplate } from "@silico/jinja";
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
  /** Largest plan (sessions or expected calls) a run accepts (settings.max_calls). */
  maxCalls?: number;
  /** Send calls through the provider's batch API (settings.batch, --batch). */
  batch?: boolean;
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
  options?: CompileOptions,
): CompiledTemplate | undefined {
  if (typeof text !== "string" || text.trim() === "") {
    problems.add(src.where(path), `${what} must be a non-empty text (a template)`);
    return undefined;
  }
  try {
    return compileTemplate(text, src.templateOrigin(path), options);
  } catch (e) {
    if (e instanceof TemplateError) {
      problems.add(e.where, e.detail);
      return undefined;
    }
    if (isStackOverflow(e)) {
      problems.add(src.where(path), `${what} is nested too deeply to compile`);
      return undefined;
    }
    throw e;
  }
}

/** The engine's RangeError for runaway recursion, which absurdly nested input can provoke. */
export function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /Maximum call stack/i.test(e.message);
}
