import { z } from "zod";
import {
  IDENT,
  mapping,
  modelId,
  namedRecord,
  oneOf,
  paramsSchema,
  parserField,
  providersSchema,
  reaskSchema,
  seedSchema,
  settingsSchema,
  text,
} from "../../study/schema-parts.js";

/** Template variables every turn has; an app's `vars` may not use these names. */
export const TURN_VARIABLES = [
  "message",
  "agent",
  "session",
  "participant",
  "group",
  "app",
  "round",
  "page",
  "turn",
] as const;

const agentName = z.string().regex(IDENT, {
  error: (iss) => `agent name "${String(iss.input)}" must be an identifier (letters, digits, _)`,
});

/** One LLM agent that `silico serve` answers for. */
export const agentSchema = mapping({
  model: modelId.optional(),
  owner: oneOf(
    ["participant", "group"],
    "must be participant (one agent per oTree participant) or group (one per oTree group)",
  )
    .describe("Whose agent it is: each participant, or each group, gets its own agent and memory.")
    .optional(),
  system: text().describe("System prompt template (Jinja2) over the turn's variables.").optional(),
  prompt: text()
    .describe("Template of the user message sent to the model; default {{ message }}.")
    .optional(),
  parse: parserField.optional(),
  params: paramsSchema.optional(),
  reask: reaskSchema.optional(),
});

/** `kind: agents`: LLM agents answering turns for human participants (silico serve). */
export const agentsSchema = mapping({
  kind: z.literal("agents"),
  name: text().describe("A name for the run list and exports.").optional(),
  description: text().optional(),
  model: modelId.describe("Default model of every agent.").optional(),
  params: paramsSchema.optional(),
  agents: namedRecord(agentName, agentSchema, { error: "must be a mapping of agent names to agents" }),
  seed: seedSchema.optional(),
  settings: settingsSchema.optional(),
  providers: providersSchema.optional(),
});

export type AgentsFile = z.output<typeof agentsSchema>;
