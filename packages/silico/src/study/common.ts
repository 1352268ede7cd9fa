import type { Limits } from "../engine/limiter.js";
import type { ReaskPolicy } from "../engine/plan.js";
import { type ProblemList, TemplateError } from "../errors.js";
import { type CompiledTemplate, type CompileOptions, compileTemplate } from "@silico/jinja";
import type { ProviderConfig } from "../models/registry.js";
import type { ModelParams } from "../models/types.js";
import type { PathPart, StudySource } from "./source.js";
import { closestWord } from "../did-you-mean.js";

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
}

export function checkKeys(
  obj: Obj,
  allowed: readonly string[],
  path: PathPart[],
  src: StudySource,
  problems: ProblemList,
) {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      const close = closestWord(k, allowed);
      problems.add(
        src.where([...path, k]),
        `unknown key "${k}"${close ? ` (did you mean "${close}"?)` : ""}; allowed here: ${allowed.join(", ")}`,
      );
    }
  }
}

function num(
  v: unknown,
  path: PathPart[],
  src: StudySource,
  problems: ProblemList,
  opts: { min?: number; max?: number; int?: boolean } = {},
): number | undefined {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    problems.add(src.where(path), `must be a number, got ${describe(v)}`);
    return undefined;
  }
  if (opts.int && !Number.isInteger(v)) problems.add(src.where(path), `must be a whole number, got ${v}`);
  else if (opts.min !== undefined && v < opts.min)
    problems.add(src.where(path), `must be at least ${opts.min}, got ${v}`);
  else if (opts.max !== undefined && v > opts.max)
    problems.add(src.where(path), `must be at most ${opts.max}, got ${v}`);
  else return v;
  return undefined;
}

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the text "${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  return `${typeof v} ${String(v)}`;
}

const PARAM_KEYS = [
  "temperature",
  "top_p",
  "max_tokens",
  "seed",
  "stop",
  "n",
  "logprobs",
  "top_logprobs",
  "response_schema",
  "timeout_ms",
] as const;

/** Model parameters as written in study files (snake_case, like the OpenAI API). */
export function readParams(
  raw: unknown,
  path: PathPart[],
  src: StudySource,
  problems: ProblemList,
): ModelParams {
  const out: ModelParams = {};
  if (raw === undefined) return out;
  if (!isObj(raw)) {
    problems.add(src.where(path), `must be a mapping of parameters (${PARAM_KEYS.join(", ")})`);
    return out;
  }
  checkKeys(raw, PARAM_KEYS, path, src, problems);
  const at = (k: string) => [...path, k];
  if (raw.temperature !== undefined) {
    const v = num(raw.temperature, at("temperature"), src, problems, { min: 0, max: 2 });
    if (v !== undefined) out.temperature = v;
  }
  if (raw.top_p !== undefined) {
    const v = num(raw.top_p, at("top_p"), src, problems, { min: 0, max: 1 });
    if (v !== undefined) out.topP = v;
  }
  if (raw.max_tokens !== undefined) {
    const v = num(raw.max_tokens, at("max_tokens"), src, problems, { min: 1, int: true });
    if (v !== undefined) out.maxTokens = v;
  }
  if (raw.seed !== undefined) {
    const v = num(raw.seed, at("seed"), src, problems, { int: true });
    if (v !== undefined) out.seed = v;
  }
  if (raw.n !== undefined) {
    const v = num(raw.n, at("n"), src, problems, { min: 1, max: 128, int: true });
    if (v !== undefined) out.n = v;
  }
  if (raw.top_logprobs !== undefined) {
    const v = num(raw.top_logprobs, at("top_logprobs"), src, problems, { min: 0, max: 20, int: true });
    if (v !== undefined) out.topLogprobs = v;
  }
  if (raw.timeout_ms !== undefined) {
    const v = num(raw.timeout_ms, at("timeout_ms"), src, problems, { min: 1, int: true });
    if (v !== undefined) out.timeoutMs = v;
  }
  if (raw.logprobs !== undefined) {
    if (typeof raw.logprobs !== "boolean") problems.add(src.where(at("logprobs")), "must be true or false");
    else out.logprobs = raw.logprobs;
  }
  if (raw.stop !== undefined) {
    const stop = typeof raw.stop === "string" ? [raw.stop] : raw.stop;
    if (!Array.isArray(stop) || stop.some((s) => typeof s !== "string")) {
      problems.add(src.where(at("stop")), "must be a text or a list of texts");
    } else out.stop = stop as string[];
  }
  if (raw.response_schema !== undefined) {
    if (!isObj(raw.response_schema))
      problems.add(src.where(at("response_schema")), "must be a JSON Schema object");
    else out.responseSchema = raw.response_schema;
  }
  return out;
}

export function readReask(
  raw: unknown,
  path: PathPart[],
  src: StudySource,
  problems: ProblemList,
): ReaskPolicy | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === "number") {
    const v = num(raw, path, src, problems, { min: 0, max: 10, int: true });
    return v === undefined ? undefined : { max: v };
  }
  if (!isObj(raw)) {
    problems.add(src.where(path), "must be a number of re-asks or a mapping {max, message}");
    return undefined;
  }
  checkKeys(raw, ["max", "message"], path, src, problems);
  const max = num(raw.max ?? 1, [...path, "max"], src, problems, { min: 0, max: 10, int: true });
  if (raw.message !== undefined && typeof raw.message !== "string") {
    problems.add(src.where([...path, "message"]), "must be a text");
  }
  return max === undefined
    ? undefined
    : { max, ...(typeof raw.message === "string" ? { message: raw.message } : {}) };
}

export function readProviders(
  raw: unknown,
  path: PathPart[],
  src: StudySource,
  problems: ProblemList,
): Record<string, ProviderConfig> {
  const out: Record<string, ProviderConfig> = {};
  if (raw === undefined) return out;
  if (!isObj(raw)) {
    problems.add(src.where(path), "must be a mapping of provider names to {type, base_url, key_env}");
    return out;
  }
  for (const [name, cfg] of Object.entries(raw)) {
    const p = [...path, name];
    if (!/^[a-z][a-z0-9-]*$/.test(name))
      problems.add(src.where(p), "provider names are lower-case letters, digits and -");
    if (!isObj(cfg)) {
      problems.add(src.where(p), "must be a mapping {type, base_url, key_env}");
      continue;
    }
    checkKeys(cfg, ["type", "base_url", "key_env"], p, src, problems);
    const type = cfg.type ?? "openai-compatible";
    if (!["openai", "anthropic", "google", "openrouter", "openai-compatible"].includes(type as string)) {
      problems.add(src.where([...p, "type"]), `unknown provider type "${String(type)}"`);
      continue;
    }
    // Invalid entries are still registered (after reporting), so models naming them are not
    // reported a second time as "unknown provider".
    if (typeof cfg.base_url !== "string" || !/^https?:\/\//.test(cfg.base_url)) {
      problems.add(src.where([...p, "base_url"]), "must be an http(s) URL such as http://127.0.0.1:8000/v1");
    }
    if (
      cfg.key_env !== undefined &&
      (typeof cfg.key_env !== "string" || !/^[A-Z_][A-Z0-9_]*$/.test(cfg.key_env))
    ) {
      problems.add(
        src.where([...p, "key_env"]),
        "must be the NAME of an environment variable (never the key itself)",
      );
    }
    out[name] = {
      type: type as ProviderConfig["type"],
      ...(typeof cfg.base_url === "string" ? { baseURL: cfg.base_url } : {}),
      ...(typeof cfg.key_env === "string" ? { keyEnv: cfg.key_env } : {}),
    };
  }
  return out;
}

export function readSettings(
  raw: unknown,
  path: PathPart[],
  src: StudySource,
  problems: ProblemList,
): StudySettings {
  const out: StudySettings = {};
  if (raw === undefined) return out;
  if (!isObj(raw)) {
    problems.add(src.where(path), "must be a mapping");
    return out;
  }
  checkKeys(
    raw,
    ["concurrency", "max_in_flight", "rpm", "tpm", "max_cost", "max_attempts", "timeout_ms", "max_calls"],
    path,
    src,
    problems,
  );
  const at = (k: string) => [...path, k];
  if (raw.concurrency !== undefined) {
    const v = num(raw.concurrency, at("concurrency"), src, problems, { min: 1, int: true });
    if (v !== undefined) out.concurrency = v;
  }
  const limits: Partial<Limits> = {};
  if (raw.max_in_flight !== undefined) {
    const v = num(raw.max_in_flight, at("max_in_flight"), src, problems, { min: 1, int: true });
    if (v !== undefined) limits.maxInFlight = v;
  }
  if (raw.rpm !== undefined) {
    const v = num(raw.rpm, at("rpm"), src, problems, { min: 1 });
    if (v !== undefined) limits.rpm = v;
  }
  if (raw.tpm !== undefined) {
    const v = num(raw.tpm, at("tpm"), src, problems, { min: 1 });
    if (v !== undefined) limits.tpm = v;
  }
  if (Object.keys(limits).length > 0) out.limits = limits;
  if (raw.max_cost !== undefined) {
    const v = num(raw.max_cost, at("max_cost"), src, problems, { min: 0 });
    if (v !== undefined) out.maxCostUsd = v;
  }
  if (raw.max_attempts !== undefined) {
    const v = num(raw.max_attempts, at("max_attempts"), src, problems, { min: 1, max: 20, int: true });
    if (v !== undefined) out.maxAttempts = v;
  }
  if (raw.timeout_ms !== undefined) {
    const v = num(raw.timeout_ms, at("timeout_ms"), src, problems, { min: 1, int: true });
    if (v !== undefined) out.timeoutMs = v;
  }
  if (raw.max_calls !== undefined) {
    const v = num(raw.max_calls, at("max_calls"), src, problems, { min: 1, int: true });
    if (v !== undefined) out.maxCalls = v;
  }
  return out;
}

export function readSeed(
  raw: unknown,
  path: PathPart[],
  src: StudySource,
  problems: ProblemList,
): number | undefined {
  if (raw === undefined) return undefined;
  return num(raw, path, src, problems, { int: true, min: 0, max: 2 ** 32 - 1 });
}

/** A list of model ids (`models:`) or a single one (`model:`). */
export function readModels(
  obj: Obj,
  src: StudySource,
  problems: ProblemList,
): { ids: string[]; paths: PathPart[][] } {
  if (obj.model !== undefined && obj.models !== undefined) {
    problems.add(src.where(["models"]), 'give either "model" or "models", not both');
  }
  if (obj.models !== undefined) {
    if (!Array.isArray(obj.models) || obj.models.length === 0) {
      problems.add(src.where(["models"]), "must be a non-empty list of model ids");
      return { ids: [], paths: [] };
    }
    return { ids: obj.models as string[], paths: obj.models.map((_, i) => ["models", i]) };
  }
  if (obj.model !== undefined) return { ids: [obj.model as string], paths: [["model"]] };
  return { ids: [], paths: [] };
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
