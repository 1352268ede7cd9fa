/**
 * One error base class for everything silico raises on purpose. `code` is stable (scripts and
 * tests match on it), `message` is for humans and names the place, `isRetryable` tells the
 * executor whether trying again can help.
 */
export class SilicoError extends Error {
  readonly code: string;
  readonly isRetryable: boolean;
  constructor(code: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SilicoError";
    this.code = code;
    this.isRetryable = options.retryable ?? false;
  }
}

/** One located problem in a study: `where` is like `study.yaml: threads[2].model` or `prompt (line 3)`. */
export interface StudyProblem {
  where: string;
  message: string;
}

/** A study that cannot run. Carries every problem found, not just the first. CLI exit code 2. */
export class StudyError extends SilicoError {
  readonly problems: StudyProblem[];
  constructor(problems: StudyProblem[]) {
    super("study_invalid", StudyError.format(problems));
    this.name = "StudyError";
    this.problems = problems;
  }
  static format(problems: StudyProblem[]): string {
    const lines = problems.map((p) => `  ${p.where}: ${p.message}`);
    return `${problems.length === 1 ? "1 problem" : `${problems.length} problems`} in the study:\n${lines.join("\n")}`;
  }
}

/** Collects problems while validating, so that one pass reports all of them. */
export class ProblemList {
  readonly items: StudyProblem[] = [];
  add(where: string, message: string): void {
    this.items.push({ where, message });
  }
  get ok(): boolean {
    return this.items.length === 0;
  }
  throwIfAny(): void {
    if (this.items.length > 0) throw new StudyError(this.items);
  }
}

/** A configuration problem outside the study file (missing key, bad flag). CLI exit code 2. */
export class ConfigError extends SilicoError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = "ConfigError";
  }
}

/**
 * A template or expression that does not compile or render (`where` names file, field and line).
 * It is the template engine's own error (the engine is a separate package that imports nothing
 * from silico); it has the same `code` / `isRetryable` shape but is not a SilicoError.
 */
export { TemplateError } from "@silico/jinja";
