import { z } from "zod";
import { describe } from "../../study/common.js";
import {
  IDENT,
  mapping,
  modelId,
  namedRecord,
  num,
  paramsSchema,
  parserField,
  providersSchema,
  reaskSchema,
  seedSchema,
  settingsSchema,
  text,
} from "../../study/schema-parts.js";

/** Names that would collide with the columns every record has. */
export const RESERVED_FACTORS = ["draw", "model", "value", "valid", "reason", "raw", "run", "session"];

const level = z.union([z.string(), z.number(), z.boolean()], {
  error: (iss) => `a level must be a text, number or true/false, got ${describe(iss.input)}`,
});

const factorName = z
  .string()
  .regex(IDENT, {
    error: (iss) => `factor name "${String(iss.input)}" must be a template identifier (letters, digits, _)`,
    abort: true,
  })
  .refine((name) => !RESERVED_FACTORS.includes(name), {
    error: (iss) => `"${String(iss.input)}" is reserved for a data column; choose another factor name`,
  });

const PROMPT_NEEDED = "a factorial study needs a prompt template (a non-empty text)";

/** `kind: factorial`: one prompt template crossed with every combination of factor levels. */
export const factorialSchema = mapping({
  kind: z.literal("factorial"),
  name: text().describe("A name for the run list and exports.").optional(),
  description: text().optional(),
  prompt: z
    .string({ error: PROMPT_NEEDED })
    .regex(/\S/, { error: PROMPT_NEEDED })
    .describe("Prompt template (Jinja2); the factor names are its variables."),
  system: text().describe("System prompt template.").optional(),
  levels: namedRecord(
    factorName,
    z.union([level, z.array(level).min(1, { error: "must list at least one level" })]),
    { error: "must be a mapping of factor names to lists of levels" },
  )
    .describe("Factor name → its levels; every combination is a cell.")
    .optional(),
  model: modelId.optional(),
  models: z
    .array(modelId, { error: "must be a non-empty list of model ids" })
    .min(1, { error: "must be a non-empty list of model ids" })
    .describe("Several models, each run on every cell (instead of model).")
    .optional(),
  times: num({
    int: true,
    min: 1,
    message: (v) => `must be a whole number ≥ 1 (draws per cell), got ${describe(v)}`,
  })
    .describe("Draws per cell and model.")
    .optional(),
  parse: parserField.optional(),
  params: paramsSchema.optional(),
  reask: reaskSchema.optional(),
  seed: seedSchema.optional(),
  settings: settingsSchema.optional(),
  providers: providersSchema.optional(),
});

export type FactorialStudy = z.output<typeof factorialSchema>;
