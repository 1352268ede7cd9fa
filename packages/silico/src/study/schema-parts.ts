import { z } from "zod";
import { closestWord } from "../did-you-mean.js";
import type { Limits } from "../engine/limiter.js";
import type { ReaskPolicy } from "../engine/plan.js";
import type { ProviderConfig } from "../models/registry.js";
import type { ModelParams } from "../models/types.js";
import { schemaProblems } from "../parse/json-schema.js";
import { PARSER_TYPES, SHORTHAND_TYPES } from "../parse/validate-spec.js";
import { describe, isObj, type StudySettings } from "./common.js";
import { ALLOWED_PREFIX } from "./located-issues.js";

/*
 * Building blocks of the study-file schemas. Each carries the message users get when a value
 * does not fit, so that one description gives the types, the located errors and the JSON Schema.
 */

type Message = string | ((input: unknown) => string);
const say = (m: Message, input: unknown) => (typeof m === "string" ? m : m(input));

/** A mapping with a fixed set of keys; unknown keys are reported one by one with "did you mean". */
export function mapping<T extends z.core.$ZodLooseShape>(
  shape: T,
  notMapping: Message = (v) => `must be a mapping, got ${describe(v)}`,
) {
  const allowed = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (iss) =>
      iss.code === "unrecognized_keys" ? `${ALLOWED_PREFIX}${allowed}` : say(notMapping, iss.input),
  });
}

/** A finite number; `message` (when given) replaces every message, for fields with one wording. */
export function num(opts: { min?: number; max?: number; int?: boolean; message?: Message } = {}) {
  const m = opts.message;
  let s = z.number({
    error: (iss) => (m ? say(m, iss.input) : `must be a number, got ${describe(iss.input)}`),
  });
  if (opts.int)
    s = s.int({
      error: (iss) => (m ? say(m, iss.input) : `must be a whole number, got ${String(iss.input)}`),
      abort: true,
    });
  if (opts.min !== undefined) {
    const min = opts.min;
    s = s.min(min, {
      error: (iss) => (m ? say(m, iss.input) : `must be at least ${min}, got ${String(iss.input)}`),
      abort: true,
    });
  }
  if (opts.max !== undefined) {
    const max = opts.max;
    s = s.max(max, {
      error: (iss) => (m ? say(m, iss.input) : `must be at most ${max}, got ${String(iss.input)}`),
    });
  }
  return s;
}

export const text = (message: Message = "must be a text") =>
  z.string({ error: (iss) => say(message, iss.input) });

/** One of a few words; a near miss gets "did you mean". */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T, message: Message) {
  return z.enum(values, {
    error: (iss) => {
      const close = typeof iss.input === "string" ? closestWord(iss.input, values) : undefined;
      return `${say(message, iss.input)}${close ? ` (did you mean "${close}"?)` : ""}`;
    },
  });
}

/**
 * A mapping from names to values. Unlike a zod record with a key schema, a bad name does not
 * hide the problems of its value: both are reported. Editors get the name rule as propertyNames.
 */
export function namedRecord<V extends z.ZodType>(name: z.ZodString, value: V, params?: { error: Message }) {
  const { $schema: _, ...names } = z.toJSONSchema(name, { target: "draft-7" }) as Record<string, unknown>;
  const error = params?.error;
  return z
    .record(z.string(), value, error === undefined ? undefined : { error: (iss) => say(error, iss.input) })
    .superRefine(
      (obj, ctx) => {
        for (const key of Object.keys(obj)) {
          const r = name.safeParse(key);
          if (!r.success)
            ctx.addIssue({ code: "custom", path: [key], input: key, message: r.error.issues[0]?.message });
        }
      },
      // Also when a value has problems: the names are checked whenever this is a mapping.
      { when: (payload) => isObj(payload.value) },
    )
    .meta({ propertyNames: names });
}

/** A name usable as a template variable. */
export const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

// ---- model ids, parameters, re-asks, providers, settings, seed: shared by every kind ----

export const modelId = z
  .string({ error: 'must be a model id like "openai:gpt-4o-mini" or "local:smollm2-135m"' })
  .regex(/^(human|[^:]+:[\s\S]+)$/, {
    error: (iss) => `"${String(iss.input)}" is not of the form provider:model (e.g. "openai:gpt-4o-mini")`,
  })
  .describe(
    "provider:model, e.g. local:smollm2-135m, openai:gpt-4o-mini, mock:random, or human (a person at the terminal).",
  );

/**
 * A response schema the provider would refuse on every call (a 400 each, after the run started)
 * or that no answer can meet is a problem of the study, at its place in the schema. Unknown
 * keywords stay allowed: providers have their own (Google's `nullable`).
 */
function checkResponseSchema(schema: Record<string, unknown>, ctx: z.RefinementCtx): void {
  for (const p of schemaProblems(schema)) ctx.addIssue({ code: "custom", message: p.message, path: p.path });
}

const PARAM_KEYS =
  "temperature, top_p, max_tokens, seed, stop, n, logprobs, top_logprobs, response_schema, timeout_ms";

export const paramsSchema = mapping(
  {
    temperature: num({ min: 0, max: 2 }).optional(),
    top_p: num({ min: 0, max: 1 }).optional(),
    max_tokens: num({ min: 1, int: true }).optional(),
    seed: num({ int: true }).optional(),
    stop: z
      .union([z.string(), z.array(z.string({ error: "must be a text" }))], {
        error: "must be a text or a list of texts",
      })
      .optional(),
    n: num({ min: 1, max: 128, int: true }).optional(),
    logprobs: z.boolean({ error: "must be true or false" }).optional(),
    top_logprobs: num({ min: 0, max: 20, int: true }).optional(),
    response_schema: z
      .record(z.string(), z.unknown(), { error: "must be a JSON Schema object" })
      .superRefine(checkResponseSchema)
      .optional(),
    timeout_ms: num({ min: 1, int: true }).optional(),
  },
  `must be a mapping of parameters (${PARAM_KEYS})`,
).describe("Model parameters (snake_case, like the OpenAI API).");
export type ParamsInput = z.output<typeof paramsSchema>;

export function toModelParams(p: ParamsInput | undefined): ModelParams {
  const out: ModelParams = {};
  if (!p) return out;
  if (p.temperature !== undefined) out.temperature = p.temperature;
  if (p.top_p !== undefined) out.topP = p.top_p;
  if (p.max_tokens !== undefined) out.maxTokens = p.max_tokens;
  if (p.seed !== undefined) out.seed = p.seed;
  if (p.n !== undefined) out.n = p.n;
  if (p.top_logprobs !== undefined) out.topLogprobs = p.top_logprobs;
  if (p.timeout_ms !== undefined) out.timeoutMs = p.timeout_ms;
  if (p.logprobs !== undefined) out.logprobs = p.logprobs;
  if (p.stop !== undefined) out.stop = typeof p.stop === "string" ? [p.stop] : p.stop;
  if (p.response_schema !== undefined) out.responseSchema = p.response_schema;
  return out;
}

/**
 * Why a re-ask message would not say what its author meant, if it would not: it is plain text in
 * which only {reason} and {expected} are filled in, so a Jinja `{{ reason }}` or a mistyped
 * `{reasons}` would reach the model as written.
 */
export function reaskMessageProblem(message: string): string | undefined {
  if (/\{\{|\{%/.test(message))
    return "is not a template: write {reason} and {expected} (single braces), which are filled in; {{ … }} would be sent as written";
  for (const m of message.matchAll(/\{(\w+)\}/g)) {
    const word = m[1] as string;
    if (word === "reason" || word === "expected") continue;
    const close = closestWord(word, ["reason", "expected"]);
    if (close)
      return `{${word}} is not filled in (did you mean {${close}}?); only {reason} and {expected} are`;
  }
  return undefined;
}

/** A correction message (see reaskMessageProblem). */
export const reaskMessage = <T extends z.ZodType<string>>(schema: T) =>
  schema.superRefine((s, ctx) => {
    const problem = reaskMessageProblem(s);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

const reaskCount = num({ min: 0, max: 10, int: true });
export const reaskSchema = z
  .union(
    [
      reaskCount,
      mapping(
        { max: reaskCount.optional(), message: reaskMessage(text()).optional() },
        "must be a mapping {max, message}",
      ),
    ],
    { error: "must be a number of re-asks or a mapping {max, message}" },
  )
  .describe("Re-asks after an answer that cannot be parsed: a number, or {max, message}.");

export function toReask(r: z.output<typeof reaskSchema> | undefined): ReaskPolicy | undefined {
  if (r === undefined) return undefined;
  if (typeof r === "number") return { max: r };
  return { max: r.max ?? 1, ...(r.message !== undefined ? { message: r.message } : {}) };
}

const PROVIDER_TYPES = ["openai", "anthropic", "google", "openrouter", "openai-compatible"] as const;

export const providersSchema = namedRecord(
  z.string().regex(/^[a-z][a-z0-9-]*$/, { error: "provider names are lower-case letters, digits and -" }),
  mapping(
    {
      type: oneOf(PROVIDER_TYPES, (v) => `unknown provider type "${String(v)}"`).optional(),
      base_url: z
        .string({ error: "must be an http(s) URL such as http://127.0.0.1:8000/v1" })
        .regex(/^https?:\/\//, { error: "must be an http(s) URL such as http://127.0.0.1:8000/v1" }),
      // The message never repeats the value: it may be a key pasted by mistake.
      key_env: z
        .string({ error: "must be the NAME of an environment variable (never the key itself)" })
        .regex(/^[A-Z_][A-Z0-9_]*$/, {
          error: "must be the NAME of an environment variable (never the key itself)",
        })
        .describe("NAME of the environment variable holding the key.")
        .optional(),
    },
    "must be a mapping {type, base_url, key_env}",
  ),
  { error: "must be a mapping of provider names to {type, base_url, key_env}" },
).describe("Named endpoints (vLLM, Ollama, …): use them as name:model.");

/**
 * Providers from the raw file, leniently: an entry with a bad URL is still registered (after its
 * problem was reported), so models naming it are not reported a second time as "unknown provider".
 */
export function toProviders(raw: unknown): Record<string, ProviderConfig> {
  const out: Record<string, ProviderConfig> = {};
  if (!isObj(raw)) return out;
  for (const [name, cfg] of Object.entries(raw)) {
    if (!isObj(cfg)) continue;
    const type = cfg.type ?? "openai-compatible";
    if (!(PROVIDER_TYPES as readonly unknown[]).includes(type)) continue;
    out[name] = {
      type: type as ProviderConfig["type"],
      ...(typeof cfg.base_url === "string" ? { baseURL: cfg.base_url } : {}),
      ...(typeof cfg.key_env === "string" ? { keyEnv: cfg.key_env } : {}),
    };
  }
  return out;
}

export const settingsSchema = mapping({
  concurrency: num({ min: 1, int: true }).optional(),
  max_in_flight: num({ min: 1, int: true }).optional(),
  rpm: num({ min: 1 }).optional(),
  tpm: num({ min: 1 }).optional(),
  max_cost: num({ min: 0 }).optional(),
  max_attempts: num({ min: 1, max: 20, int: true }).optional(),
  timeout_ms: num({ min: 1, int: true }).optional(),
  max_calls: num({ min: 1, int: true })
    .optional()
    .describe("Largest plan a run accepts, in sessions or expected calls (default 1,000,000)."),
  batch: z
    .boolean({ error: "must be true or false" })
    .optional()
    .describe(
      "Send calls through the provider's batch API at its discount (OpenAI, Anthropic); like --batch.",
    ),
}).describe("Run settings: concurrency, rate limits, budget, attempts, timeout, plan size limit, batch.");

export function toSettings(s: z.output<typeof settingsSchema> | undefined): StudySettings {
  const out: StudySettings = {};
  if (!s) return out;
  if (s.concurrency !== undefined) out.concurrency = s.concurrency;
  const limits: Partial<Limits> = {};
  if (s.max_in_flight !== undefined) limits.maxInFlight = s.max_in_flight;
  if (s.rpm !== undefined) limits.rpm = s.rpm;
  if (s.tpm !== undefined) limits.tpm = s.tpm;
  if (Object.keys(limits).length > 0) out.limits = limits;
  if (s.max_cost !== undefined) out.maxCostUsd = s.max_cost;
  if (s.max_attempts !== undefined) out.maxAttempts = s.max_attempts;
  if (s.timeout_ms !== undefined) out.timeoutMs = s.timeout_ms;
  if (s.max_calls !== undefined) out.maxCalls = s.max_calls;
  if (s.batch !== undefined) out.batch = s.batch;
  return out;
}

export const seedSchema = num({ int: true, min: 0, max: 2 ** 32 - 1 }).describe(
  "Run seed: every random choice derives from it. Without it, a seed is drawn and recorded.",
);

/** JSON Schema shown for values whose validation is left to a check with its own messages. */
const shownAs = new Map<z.ZodType, Record<string, unknown>>();

/**
 * A value the schema lets through for a semantic check to validate (with messages that need
 * context, such as the parser module's or alter_ego's thread grammar); editors still get `json`.
 */
export function checkedElsewhere(json: Record<string, unknown>, description: string): z.ZodUnknown {
  const s = z.unknown().describe(description);
  shownAs.set(s, json);
  return s;
}

/**
 * `parse:` is validated by the parser module itself (normalizeParserSpec, shared with the API).
 */
export const parserField = checkedElsewhere(
  {
    anyOf: [
      { enum: [...SHORTHAND_TYPES] },
      {
        type: "object",
        required: ["type"],
        properties: {
          type: { enum: [...PARSER_TYPES] },
          min: { type: "number" },
          max: { type: "number" },
          integer: { type: "boolean" },
          options: { type: "array", minItems: 1, items: { type: "string" } },
          caseSensitive: { type: "boolean" },
          schema: { type: "object" },
          pattern: { type: "string" },
          flags: { type: "string" },
          group: { type: ["integer", "string"] },
          allowEmpty: { type: "boolean" },
        },
      },
    ],
  },
  "How an answer is read.",
);

/** The published JSON Schema (draft-07, for editors) of a study schema. */
export function toStudyJsonSchema(
  schema: z.ZodType,
  title: string,
  description: string,
): Record<string, unknown> {
  const json = z.toJSONSchema(schema, {
    target: "draft-7",
    io: "input",
    override: (ctx) => {
      const shown = shownAs.get(ctx.zodSchema as unknown as z.ZodType);
      if (shown) Object.assign(ctx.jsonSchema, shown);
      // zod bounds every integer by the safe range; that says nothing to a reader of the schema.
      if (ctx.jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete ctx.jsonSchema.maximum;
      if (ctx.jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete ctx.jsonSchema.minimum;
    },
  }) as Record<string, unknown>;
  const { $schema, ...rest } = json;
  return { $schema, title, description, ...rest };
}
