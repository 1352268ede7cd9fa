import type { CompiledStudy, CompileOptions } from "../designs/design.js";
import { compileSource } from "../designs/index.js";
import { StudyError } from "../errors.js";
import { objectSource } from "../study/source.js";

/**
 * Builders: a study as an object instead of a file. Keys are the study format's own (snake_case,
 * as in the YAML: `max_tokens`, `top_logprobs`), so a builder call and a study file read the same.
 * Each goes through the same compiler and validation as `silico run`; a problem comes back as a
 * StudyError whose `problems[].where` names the key path (`game: stages[0].parse`).
 */
export interface BuildOptions extends CompileOptions {
  /** Folder that relative file names in the study (stimulus files) are read from; default the working directory. */
  dir?: string;
}

/** Model parameters as a study file spells them. */
export interface StudyParams {
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  seed?: number;
  stop?: string[];
  logprobs?: boolean;
  top_logprobs?: number;
  [key: string]: unknown;
}

/** A parser: "number", "text", "json", … or a full spec like `{ type: "choice", options: ["A", "B"] }`. */
export type ParseSpec = string | { type: string; [key: string]: unknown };

interface Common {
  name?: string;
  seed?: number;
  /** One model id (`model`) or several (`models`). */
  model?: string;
  models?: string[] | Record<string, unknown>;
  params?: StudyParams;
  settings?: Record<string, unknown>;
  providers?: Record<string, { type: string; base_url?: string; key_env?: string }>;
  [key: string]: unknown;
}

export interface GameStage {
  name: string;
  roles?: string[];
  mode?: "simultaneous" | "sequential" | string;
  prompt: string;
  parse?: ParseSpec;
  [key: string]: unknown;
}

export interface GameSpec extends Common {
  roles: Record<string, { count?: number; [key: string]: unknown }>;
  stages: GameStage[];
  /** Per role: an expression over `me`, `other`, the variables and the treatment. */
  payoffs: Record<string, string>;
  rounds?: number;
  groups?: number;
  treatments?: Record<string, Record<string, unknown>>;
  variables?: Record<string, unknown>;
  system?: string;
  matching?: unknown;
  invalid?: unknown;
}

export interface StimuliSpec extends Common {
  /** The stimulus rows themselves (records with Run, Item, Condition, Prompt … columns), or a .csv/.xlsx file name. */
  rows?: Record<string, string | number | boolean | null>[];
  file?: string;
  design?: "one-trial-per-run" | "many-trials-per-run" | string;
  sessions?: number;
  parse?: ParseSpec;
  measure?: Record<string, unknown>;
}

export interface FactorialSpec extends Common {
  prompt: string;
  levels?: Record<string, unknown>;
  times?: number;
  parse?: ParseSpec;
  system?: string;
}

/** Any kind of study as data (`kind` included), compiled like a study file. */
export function study(
  data: { kind: string; [key: string]: unknown },
  options: BuildOptions = {},
): CompiledStudy {
  const { dir, ...compile } = options;
  const label = typeof data.kind === "string" ? data.kind : "study";
  return compileSource(objectSource(data, { label, ...(dir !== undefined ? { dir } : {}) }), compile);
}

/** A game (roles, treatments, rounds, stages, payoffs), compiled like a `kind: game` study file. */
export function game(spec: GameSpec, options: BuildOptions = {}): CompiledStudy {
  return study({ ...spec, kind: "game" }, options);
}

/** A stimulus study: rows given inline (`rows`) or read from a file (`file`). */
export function stimuli(spec: StimuliSpec, options: BuildOptions = {}): CompiledStudy {
  const { rows, file, ...rest } = spec;
  if (rows !== undefined && file !== undefined)
    throw new StudyError([{ where: "stimuli", message: 'give "rows" or "file", not both' }]);
  return study(
    {
      ...rest,
      kind: "stimuli",
      ...(rows !== undefined ? { stimuli: rows } : file !== undefined ? { stimuli: file } : {}),
    },
    options,
  );
}

/** A factorial study (a prompt crossed with levels), compiled like a `kind: factorial` study file. */
export function factorialStudy(spec: FactorialSpec, options: BuildOptions = {}): CompiledStudy {
  return study({ ...spec, kind: "factorial" }, options);
}
