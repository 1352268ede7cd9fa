import { z } from "zod";
import { describe } from "../../study/common.js";
import {
  mapping,
  modelId,
  num,
  oneOf,
  paramsSchema,
  parserField,
  providersSchema,
  reaskSchema,
  seedSchema,
  settingsSchema,
  text,
} from "../../study/schema-parts.js";

export const STIMULUS_DESIGNS = ["one-trial-per-run", "many-trials-per-run"] as const;
export type StimulusDesignName = (typeof STIMULUS_DESIGNS)[number];

/** The spellings of `delimiter:` and the character each means. */
export const DELIMITERS = { ",": ",", ";": ";", "\t": "\t", tab: "\t", comma: ",", semicolon: ";" } as const;

const RANDOMIZE = (v: unknown) => `must be items, events, [items, events] or none, got ${describe(v)}`;
const eventNumber = num({ int: true, min: 0, message: (v) => `must be an Event number, got ${describe(v)}` });
const columnName = z
  .string({ error: "must be a column name (a text)" })
  .regex(/\S/, { error: "must be a column name (a text)" });
const STIMULI_NEEDED =
  'needs "stimuli": the path of a .csv or .xlsx file (relative to the study file), or a list of rows';
/** One stimulus row given in the study itself: column name → cell. */
const stimulusRow = z.record(
  z.string(),
  z.union([z.string(), z.number(), z.boolean(), z.null()], {
    error: "must be a text, number or true/false",
  }),
  { error: "must be a record of column names to values" },
);
const TARGETS = "must list at least two target words, e.g. [he, she]";

/** `kind: stimuli`: a CSV/XLSX stimulus list (MacBehaviour's designs). */
export const stimuliSchema = mapping({
  kind: z.literal("stimuli"),
  name: text().describe("A name for the run list and exports.").optional(),
  description: text().optional(),
  stimuli: z
    .union(
      [
        z.string({ error: STIMULI_NEEDED }).regex(/\S/, { error: STIMULI_NEEDED }),
        z.array(stimulusRow, { error: STIMULI_NEEDED }).min(1, { error: "needs at least one row" }),
      ],
      { error: STIMULI_NEEDED },
    )
    .describe(
      "Path of the .csv or .xlsx stimulus list, relative to the study file; or the rows themselves, a list of records of column names to values.",
    ),
  sheet: text("must be the name of a sheet (a text)")
    .describe("Sheet of an .xlsx file (default: the first).")
    .optional(),
  delimiter: z
    .enum(Object.keys(DELIMITERS) as [keyof typeof DELIMITERS], {
      error: 'must be ",", ";" or tab (default: detected from the header line)',
    })
    .describe("CSV delimiter (default: detected from the header line).")
    .optional(),
  columns: mapping(
    {
      run: columnName.optional(),
      item: columnName.optional(),
      event: columnName.optional(),
      condition: columnName.optional(),
      prompt: columnName.optional(),
    },
    "must map run, item, event, condition, prompt to column names in the file",
  )
    .describe("The file's names of the columns Run, Item, Event, Condition, Prompt, where they differ.")
    .optional(),
  design: oneOf(STIMULUS_DESIGNS, (v) =>
    v === undefined
      ? `needs "design": ${STIMULUS_DESIGNS.join(" or ")}`
      : `must be ${STIMULUS_DESIGNS.join(" or ")}, got ${describe(v)}`,
  ).describe(
    "one-trial-per-run: a fresh conversation per item; many-trials-per-run: one conversation per Run.",
  ),
  sessions: num({
    int: true,
    min: 1,
    message: (v) => `must be a whole number ≥ 1 (repetitions of the whole list), got ${describe(v)}`,
  })
    .describe("Repetitions of the whole list.")
    .optional(),
  randomize: z
    .union(
      [
        z.literal(false),
        z.enum(["items", "events", "none"]),
        z.array(z.enum(["items", "events"], { error: (iss) => RANDOMIZE(iss.input) })),
      ],
      { error: (iss) => RANDOMIZE(iss.input) },
    )
    .describe("Shuffle items, events within items, both, or none (default).")
    .optional(),
  system: text().describe("System prompt (plain text).").optional(),
  model: modelId.optional(),
  models: z
    .array(modelId, { error: "must be a non-empty list of model ids" })
    .min(1, { error: "must be a non-empty list of model ids" })
    .optional(),
  params: paramsSchema.optional(),
  parse: parserField.optional(),
  parse_events: z
    .union([eventNumber, z.array(eventNumber).min(1, { error: "must list at least one Event number" })], {
      error: (iss) => `must be an Event number, got ${describe(iss.input)}`,
    })
    .describe("Event numbers whose answers are parsed (default: every event).")
    .optional(),
  measure: mapping(
    {
      targets: z
        .array(z.string({ error: TARGETS }).regex(/\S/, { error: TARGETS }), { error: TARGETS })
        .min(2, { error: TARGETS }),
      case_sensitive: z.boolean({ error: "must be true or false" }).optional(),
    },
    "must be a mapping {targets: [word, …], case_sensitive: false}",
  )
    .describe("Probabilities of target words from the first answer token (needs logprobs).")
    .optional(),
  mode: oneOf(["chat", "completion"], (v) => `must be chat or completion, got ${describe(v)}`)
    .describe("chat (default) or completion (raw text continuation).")
    .optional(),
  reask: reaskSchema.optional(),
  seed: seedSchema.optional(),
  settings: settingsSchema.optional(),
  providers: providersSchema.optional(),
});

export type StimuliStudy = z.output<typeof stimuliSchema>;
