import { z } from "zod";
import { describe } from "../../study/common.js";
import {
  IDENT,
  mapping,
  modelId,
  namedRecord,
  num,
  oneOf,
  paramsSchema,
  parserField,
  providersSchema,
  reaskMessage,
  seedSchema,
  settingsSchema,
  text,
} from "../../study/schema-parts.js";

const IDENT_RULE = "must be an identifier (letters, digits, _; not starting with a digit)";
/** A key that names a role or a variable: a template and expression name. */
const nameOf = (what: string) =>
  z.string().regex(IDENT, { error: (iss) => `${what} "${String(iss.input)}" ${IDENT_RULE}` });

const wholeNumber = (what: string, min: number) =>
  num({ int: true, min, message: (v) => `${what} must be a whole number ≥ ${min}, got ${describe(v)}` });

const template = (what: string) =>
  z
    .string({ error: `${what} must be a non-empty text (a template)` })
    .regex(/\S/, { error: `${what} must be a non-empty text (a template)` });

const nonEmpty = { minProperties: 1 };
const hasEntries = (o: object) => Object.keys(o).length > 0;

export const roleSchema = mapping(
  {
    count: wholeNumber("count", 1).describe("Participants with this role in each group.").optional(),
    model: modelId.optional(),
    params: paramsSchema.optional(),
    system: template("system").describe("System prompt template of this role.").optional(),
  },
  (v) => `must be a mapping {count, model, params, system}, got ${describe(v)}`,
);

const ROLES_MESSAGE = "must be a non-empty mapping of role names to {count, model, params, system}";

const PROMPT_MESSAGE = "needs a prompt (a template, or a mapping role → template)";

export const stageSchema = mapping(
  {
    name: z
      .string({
        error: (iss) => `a stage needs a name (an identifier such as "offer"), got ${describe(iss.input)}`,
      })
      .regex(IDENT, {
        error: (iss) => `a stage needs a name (an identifier such as "offer"), got ${describe(iss.input)}`,
      })
      .describe("Stage name (also the choice name unless `as` is given)."),
    roles: z
      .union(
        [
          z.string(),
          z
            .array(z.string({ error: (iss) => `unknown role ${describe(iss.input)}` }))
            .min(1, { error: "must be a non-empty list of role names" }),
        ],
        { error: "must be a non-empty list of role names" },
      )
      .describe("Roles that act in this stage, in move order (default: every role).")
      .optional(),
    mode: oneOf(
      ["simultaneous", "sequential"],
      (v) => `must be "simultaneous" or "sequential", got ${describe(v)}`,
    )
      .describe(
        "simultaneous: nobody sees this stage's choices while deciding; sequential: later movers see the earlier movers' choices.",
      )
      .optional(),
    prompt: z
      .union([template("prompt"), z.record(z.string(), template("prompt"))], {
        error: (iss) =>
          iss.input === undefined ? PROMPT_MESSAGE : "prompt must be a non-empty text (a template)",
      })
      .describe("Prompt template (Jinja2), or role → template."),
    parse: parserField.optional(),
    as: z
      .string({ error: "must be a name for the choice" })
      .regex(IDENT, { error: (iss) => `choice "${String(iss.input)}" ${IDENT_RULE}` })
      .describe("Name of the choice in data, templates and payoffs (default: the stage name).")
      .optional(),
    params: paramsSchema.optional(),
    when: z
      .union([z.string(), z.number(), z.boolean()], {
        error: (iss) => `when must be an expression (text) or a number, got ${describe(iss.input)}`,
      })
      .describe("Expression; only participants for whom it is true act (e.g. `round > 1`).")
      .optional(),
  },
  (v) => `must be a mapping {name, roles, prompt, parse, …}, got ${describe(v)}`,
);

const MATCHING_MESSAGE = (v: unknown) =>
  `must be "partner", "stranger" or {type: stranger, pool_size: N}, got ${describe(v)}`;

export const matchingSchema = z
  .union(
    [
      z.enum(["partner", "stranger"]),
      mapping({
        type: oneOf(["partner", "stranger"], (v) => `must be "partner" or "stranger", got ${describe(v)}`),
        pool_size: wholeNumber("pool_size", 2)
          .describe("Participants per matching pool: a multiple of the group size, at least two groups.")
          .optional(),
      }),
    ],
    { error: (iss) => MATCHING_MESSAGE(iss.input) },
  )
  .describe(
    "partner: fixed groups for all rounds; stranger: participants re-matched within pools of pool_size every round.",
  );

export const invalidSchema = mapping(
  {
    reask: wholeNumber("reask", 0)
      .max(10, { error: "at most 10 re-asks" })
      .describe("Re-asks with a correction message.")
      .optional(),
    message: reaskMessage(
      z
        .string({ error: "must be a text ({reason} and {expected} are filled in)" })
        .regex(/\S/, { error: "must be a text ({reason} and {expected} are filled in)" }),
    )
      .describe("Correction message; {reason} and {expected} are filled in.")
      .optional(),
    // biome-ignore lint/suspicious/noThenProperty: "then" is the study file's key, not a thenable
    then: oneOf(
      ["taint", "continue"],
      (v) =>
        `must be "taint" (stop the group) or "continue" (record the invalid answer and go on), got ${describe(v)}`,
    )
      .describe(
        "taint: stop the group (session marked invalid); continue: record the invalid answer (payoffs that need it become invalid) and go on.",
      )
      .optional(),
  },
  "must be a mapping {reask, message, then}",
).describe("What happens when an answer cannot be parsed.");

/** `kind: game`: roles, treatments assigned to groups, rounds of stages, payoffs. */
export const gameSchema = mapping({
  kind: z.literal("game").describe("Marks the file as a game study."),
  name: text().describe("A name for the run list and exports.").optional(),
  description: text().optional(),
  seed: seedSchema.optional(),
  groups: num({
    int: true,
    min: 1,
    message: (v) =>
      v === undefined
        ? 'needs "groups": the number of groups to play (e.g. groups: 30)'
        : `groups must be a whole number ≥ 1, got ${describe(v)}`,
  }).describe(
    "Number of groups. With stranger matching, a multiple of the groups per pool (pool_size / group size).",
  ),
  rounds: wholeNumber("rounds", 1).describe("Rounds each group plays.").optional(),
  roles: namedRecord(nameOf("role"), roleSchema.nullable(), {
    error: (v: unknown) =>
      v === undefined ? 'needs "roles": a mapping of role names to {count, model, system}' : ROLES_MESSAGE,
  })
    .refine(hasEntries, { error: ROLES_MESSAGE })
    .meta(nonEmpty)
    .describe(
      "Role name → settings. Group size is the sum of the counts. The order of the roles is the order of moves within sequential stages.",
    ),
  treatments: namedRecord(
    z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, {
      error: (iss) => `treatment name "${String(iss.input)}" may use letters, digits, _, - and . only`,
    }),
    z
      .record(z.string(), z.unknown(), {
        error: (iss) => `must be a mapping of variable names to values, got ${describe(iss.input)}`,
      })
      .nullable(),
    {
      error:
        "must be a non-empty mapping of treatment names to their variables (leave it out for a single treatment)",
    },
  )
    .refine(hasEntries, {
      error:
        "must be a non-empty mapping of treatment names to their variables (leave it out for a single treatment)",
    })
    .meta(nonEmpty)
    .describe("Treatment name → the variables it sets; groups are assigned to treatments.")
    .optional(),
  variables: namedRecord(nameOf("variable"), z.unknown(), {
    error: "must be a mapping of variable names to values",
  })
    .describe(
      "Variables shared by every treatment (a treatment may override them). Each is a template and expression name.",
    )
    .optional(),
  assignment: oneOf(
    ["balanced", "random"],
    (v) => `must be "balanced" (equal counts, shuffled) or "random" (independent draws), got ${describe(v)}`,
  )
    .describe("How groups get treatments: balanced (equal counts, shuffled) or random (independent draws).")
    .optional(),
  matching: matchingSchema.optional(),
  stages: z
    .array(stageSchema, {
      error: (iss) =>
        iss.input === undefined
          ? 'needs "stages": the list of decisions in each round'
          : "must be a non-empty list of stages",
    })
    .min(1, { error: "must be a non-empty list of stages" })
    .describe("The decisions of each round, in order."),
  payoffs: z
    .record(
      z.string(),
      z.union([z.string(), z.number(), z.boolean()], {
        error: (iss) => `a payoff must be an expression (text) or a number, got ${describe(iss.input)}`,
      }),
      { error: "must be a mapping of role names to payoff expressions" },
    )
    .describe(
      "Role → payoff expression (Python syntax: `offer.keep if respond == 'ACCEPT' else 0`), computed every round and recorded as the observation `payoff`.",
    )
    .optional(),
  invalid: invalidSchema.optional(),
  model: modelId.describe("Default model for roles that name none.").optional(),
  params: paramsSchema.describe("Default model parameters for every role.").optional(),
  system: template("system")
    .describe(
      "Default system prompt template for roles without their own (rendered once per participant; names: role, rounds, treatment, variables, me, group_size, and the variables).",
    )
    .optional(),
  settings: settingsSchema.optional(),
  providers: providersSchema.optional(),
});

export type GameStudy = z.output<typeof gameSchema>;
export type StageInput = z.output<typeof stageSchema>;
export type RoleInput = z.output<typeof roleSchema>;
