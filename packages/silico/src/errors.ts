/**
 * Every `code` a SilicoError can carry, so library users can `switch` on it exhaustively. A new
 * code is added here first (the compiler then refuses a code that is not listed).
 */
export type SilicoErrorCode =
  // the study and the command line (exit code 2)
  | "study_invalid"
  | "study_changed"
  | "no_compiler"
  | "setup_failed"
  | "design_state"
  | "bad_flag"
  | "env_invalid"
  | "bad_column"
  | "bad_page"
  | "bad_cursor"
  | "parser_invalid"
  | "template_error"
  | "game_condition"
  | "game_internal"
  | "unknown_participant"
  // models and credentials
  | "model_id"
  | "unknown_model"
  | "missing_credentials"
  | "provider_auth"
  | "provider_transient"
  | "provider_error"
  | "provider_name"
  | "batch_unsupported"
  // the local model
  | "local_catalog_invalid"
  | "local_catalog_missing"
  | "local_model_checksum"
  | "local_model_load"
  | "local_model_missing"
  | "local_model_not_installed"
  | "local_model_options"
  | "local_model_unknown"
  | "local_pip_missing"
  | "local_pull_failed"
  | "local_runtime"
  | "zip_invalid"
  // oTree servers
  | "otree_server"
  | "otree_rest"
  // the store
  | "run_missing"
  | "run_ambiguous"
  | "session_missing"
  | "call_missing"
  | "store_missing"
  | "store_not_silico"
  | "store_open"
  | "store_busy"
  | "store_corrupt"
  | "store_readonly"
  | "store_schema"
  | "store_version"
  | "store_write"
  | "store_full"
  | "run_busy"
  | "lease_lost";

/**
 * One error base class for everything silico raises on purpose. `code` is stable (scripts and
 * tests match on it), `message` is for humans and names the place, `isRetryable` tells the
 * executor whether trying again can help.
 */
export class SilicoError extends Error {
  readonly code: SilicoErrorCode;
  readonly isRetryable: boolean;
  constructor(
    code: SilicoErrorCode,
    message: string,
    options: { retryable?: boolean; cause?: unknown } = {},
  ) {
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
  constructor(code: SilicoErrorCode, message: string) {
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
