import { z } from "zod";
import { PyDict, PyFloat } from "@silico/jinja";
import { checkedElsewhere, num } from "../../study/schema-parts.js";
import { FILTER_NAMES } from "./filters.js";

export const BUILT_KEYS = ["threads", "treatments", "rounds", "variables", "prompts", "filters"] as const;

/** A value as alter_ego's Python would name it (4.0 stays a float). */
export function describePy(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (v instanceof PyDict) return "a mapping";
  if (v instanceof PyFloat) return `the number ${v.toString()}`;
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (v === undefined) return "nothing";
  return `${typeof v === "number" || typeof v === "bigint" ? "the number" : typeof v} ${String(v)}`;
}

/** Every key is required; its absence is reported at the file, naming the six keys. */
const missing = (key: string) => `missing key "${key}" (a built.json has ${BUILT_KEYS.join(", ")})`;
const or = (key: string, message: (v: unknown) => string) => (iss: { input: unknown }) =>
  iss.input === undefined ? missing(key) : message(iss.input);

/** `threads[k][1]`: checked by the thread grammar (parseThreadDef), which knows the legacy names. */
export const threadDefField = checkedElsewhere(
  {
    anyOf: [{ type: "string" }, { type: "array", minItems: 1, maxItems: 2, items: { type: "string" } }],
  },
  'Thread type and model: ["GPTThread", "gpt-4o"], ["OpenRouterThread", "<model id>"], "CLIThread", or a legacy name such as "GPTThread (GPT-4o)".',
);

export const threadEntrySchema = z.tuple(
  [
    num({
      int: true,
      message: (v) => `the thread index i must be a whole number, got ${describePy(v)}`,
    }).describe("The thread's `i` in templates."),
    threadDefField,
  ],
  {
    error: (iss) =>
      `must be a pair [i, thread] such as [1, ["GPTThread", "gpt-4o"]], got ${describePy(iss.input)}${Array.isArray(iss.input) ? ` of ${iss.input.length} elements` : ""}`,
  },
);

/** `filters[k]`: checked by readFilter, and only for the first threads.length entries (alter_ego ignores the rest). */
export const filterField = checkedElsewhere(
  {
    anyOf: [
      {
        type: "array",
        minItems: 1,
        maxItems: 1,
        items: [{ enum: FILTER_NAMES.filter((f) => f !== "exclusive_response") }],
      },
      {
        type: "array",
        minItems: 2,
        maxItems: 2,
        items: [{ const: "exclusive_response" }, { type: "string", description: 'The tokens, "A;B".' }],
      },
    ],
  },
  'One filter: ["JSON"], ["extract_number"], ["As is"] or ["exclusive_response", "A;B"].',
);

const ROUNDS = (v: unknown) => `must be a whole number of rounds (≥ 1), got ${describePy(v)}`;
const PROMPT = (which: string) =>
  z
    .string({
      error: (iss) =>
        iss.input === undefined
          ? `missing the ${which} prompt`
          : `must be a text (a Jinja2 template), got ${describePy(iss.input)}`,
    })
    .describe(`The ${which} prompt (Jinja2, homogenized as alter_ego does).`);

/**
 * An alter_ego `built.json` scenario. Keys beyond the six are allowed (alter_ego ignores them;
 * silico warns).
 */
export const builtSchema = z.looseObject({
  threads: z
    .array(threadEntrySchema, {
      error: or("threads", () => 'must be a list of [i, thread] pairs, e.g. [[1, ["GPTThread", "gpt-4o"]]]'),
    })
    .min(1, { error: "lists no threads; a conversation needs at least one" })
    .describe("[i, thread] pairs: one participant (conversation partner) each."),
  treatments: z
    .array(
      z
        .string({ error: (iss) => `a treatment name must be a non-empty text, got ${describePy(iss.input)}` })
        .min(1, {
          error: (iss) => `a treatment name must be a non-empty text, got ${describePy(iss.input)}`,
        }),
      { error: or("treatments", () => 'must be a non-empty list of treatment names, e.g. ["give", "take"]') },
    )
    .min(1, { error: 'must be a non-empty list of treatment names, e.g. ["give", "take"]' })
    .describe("Treatment names; each conversation gets one."),
  rounds: z
    .number({ error: or("rounds", ROUNDS) })
    .int({ error: (iss) => ROUNDS(iss.input), abort: true })
    .min(1, {
      error: (iss) => `must be at least 1, got ${String(iss.input)} (alter_ego would run no rounds at all)`,
      abort: true,
    })
    .max(10_000, {
      error: (iss) => `${String(iss.input)} rounds is more than silico runs in one conversation (10000)`,
    })
    .describe("Rounds of the conversation."),
  variables: z
    .record(
      z.string(),
      z.record(z.string(), z.unknown(), {
        error: (iss) => `must be a mapping {treatment: value}, got ${describePy(iss.input)}`,
      }),
      { error: or("variables", () => "must be a mapping {variable: {treatment: value}}") },
    )
    .describe("Variable name → (treatment → value)."),
  prompts: z
    .looseObject(
      { system: PROMPT("system"), user: PROMPT("user") },
      { error: or("prompts", () => 'must be a mapping {"system": …, "user": …}') },
    )
    .describe("The system and user prompt templates."),
  filters: z
    .array(filterField, {
      error: or(
        "filters",
        () =>
          'must be a list with one filter per thread, e.g. [["JSON"], ["exclusive_response", "ACCEPT;REJECT"]]',
      ),
    })
    .describe("One answer filter per thread, by position: filters[k] belongs to threads[k]."),
});

export type BuiltScenario = z.output<typeof builtSchema>;
