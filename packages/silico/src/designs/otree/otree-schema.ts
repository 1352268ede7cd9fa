import { z } from "zod";
import { describe } from "../../study/common.js";
import {
  mapping,
  modelId,
  num,
  oneOf,
  paramsSchema,
  providersSchema,
  seedSchema,
  settingsSchema,
  text,
} from "../../study/schema-parts.js";
import { liveAdaptersSchema } from "./live-adapter-schema.js";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const serverSchema = mapping(
  {
    project: z
      .string({ error: "must be the path of an oTree project folder (the one with settings.py)" })
      .regex(/\S/, { error: "must be the path of an oTree project folder (the one with settings.py)" })
      .describe(
        "oTree project folder: silico starts `otree devserver` there on a free loopback port and stops it (SIGTERM to its process group) at the end.",
      )
      .optional(),
    url: z
      .string({ error: "must be the http(s) URL of a running oTree server, e.g. http://127.0.0.1:8000" })
      .regex(/^https?:\/\/[^\s/]+/, {
        error: "must be the http(s) URL of a running oTree server, e.g. http://127.0.0.1:8000",
      })
      .describe("A running oTree server (instead of project).")
      .optional(),
    // The message never repeats the value: it may be a key pasted by mistake.
    rest_key_env: z
      .string({ error: "must be the NAME of an environment variable (never the key itself)" })
      .regex(ENV_NAME, { error: "must be the NAME of an environment variable (never the key itself)" })
      .describe("NAME of the environment variable holding oTree's REST key (with url).")
      .optional(),
    command: text("must be the otree executable (a path or a name on PATH)")
      .describe('The otree executable (default: env SILICO_OTREE, else "otree" on PATH).')
      .optional(),
    humans_limit_s: num({ min: 0, message: (v) => `must be a number of seconds ≥ 0, got ${describe(v)}` })
      .describe(
        "With project and human seats: once the bots are done, the devserver stays up while humans who started are still playing, at most this long (default 3600; 0: stop it at once). Seats never opened are not waited for. Ctrl-C stops it earlier; oTree saves what the humans answered so far.",
      )
      .optional(),
  },
  (v) => `must be a mapping {project | url, rest_key_env, command, humans_limit_s}, got ${describe(v)}`,
).describe("Where the oTree server is: a project folder silico starts, or the URL of a running server.");

const sessionSchema = mapping(
  {
    config: z
      .string({ error: "must be the name of a session config (SESSION_CONFIGS in settings.py)" })
      .regex(/\S/, { error: "must be the name of a session config (SESSION_CONFIGS in settings.py)" })
      .describe("A name in the project's SESSION_CONFIGS."),
    participants: num({
      int: true,
      min: 1,
      max: 10_000,
      message: (v) => `must be a whole number of participants ≥ 1, got ${describe(v)}`,
    }).describe("Participants in the session (humans and bots)."),
    modified_config: z
      .record(z.string(), z.unknown(), { error: "must be a mapping of session config fields to values" })
      .describe("Sent as modified_session_config_fields.")
      .optional(),
    label: text().describe("The session's label in oTree's admin.").optional(),
  },
  (v) => `must be a mapping {config, participants, modified_config, label}, got ${describe(v)}`,
);

const seatList = z
  .array(
    num({
      int: true,
      min: 1,
      message: (v) => `a seat is a position ≥ 1 (id_in_session), got ${describe(v)}`,
    }),
    {
      error: "must be a number of human seats or a list of seat positions",
    },
  )
  .describe("Seat positions (id_in_session) taken by humans.");

export const MEMORY_POLICIES = ["full", "summary"] as const;
export const DRIVERS = ["http", "browser"] as const;

const systemSchema = text("must be a text (a template)").describe(
  "System prompt (Jinja); variables: persona, seat, participant_code, session_config.",
);

const personasSchema = z
  .union(
    [
      z.array(z.record(z.string(), z.unknown(), { error: "a persona must be a mapping" }), {
        error: "must be a list of persona mappings or the path of a CSV file",
      }),
      z.string(),
    ],
    { error: "must be a list of persona mappings or the path of a CSV file" },
  )
  .describe("Persona variables assigned to bots (seeded, recorded): a list of mappings or a CSV file.");

const memorySchema = oneOf(MEMORY_POLICIES, (v) => `must be full or summary, got ${describe(v)}`).describe(
  "full: the bot sees every earlier page; summary: a running summary (botex-style).",
);

/** One entry of `bots.seats`: settings for some bot seats, the block's own settings for the rest. */
const seatOverrideSchema = mapping(
  {
    seats: z
      .array(
        num({
          int: true,
          min: 1,
          message: (v) => `a seat is a position ≥ 1 (id_in_session), got ${describe(v)}`,
        }),
        { error: "must be a list of seat positions (id_in_session), e.g. [1, 3]" },
      )
      .min(1, { error: "must name at least one seat" })
      .describe("The bot seats (id_in_session) these settings are for."),
    model: modelId.optional(),
    system: systemSchema.optional(),
    params: paramsSchema
      .describe("Model parameters for these seats, over the block's params (key by key).")
      .optional(),
    personas: personasSchema
      .describe("Personas dealt to these seats only (seeded, recorded), instead of the block's.")
      .optional(),
    memory: memorySchema.optional(),
  },
  (v) => `must be a mapping {seats, model, system, params, personas, memory}, got ${describe(v)}`,
);

const botsSchema = mapping(
  {
    model: modelId,
    system: systemSchema.optional(),
    personas: personasSchema.optional(),
    memory: memorySchema.optional(),
    rejections: num({
      int: true,
      min: 0,
      max: 20,
      message: (v) => `must be a whole number from 0 to 20, got ${describe(v)}`,
    })
      .describe("Per page: how often a page oTree rejected is asked again with the server's messages.")
      .optional(),
    wait_limit_s: num({ min: 1, message: (v) => `must be a number of seconds ≥ 1, got ${describe(v)}` })
      .describe("Give up waiting on a wait page after this long (default 3600).")
      .optional(),
    stall_s: num({ min: 0, message: (v) => `must be a number of seconds ≥ 0, got ${describe(v)}` })
      .describe(
        "Sessions without human seats: when every bot still playing has been on a wait page with no page progress this long, they stop with a reason naming the partners that stopped (default 60; 0: wait up to wait_limit_s).",
      )
      .optional(),
    driver: oneOf(DRIVERS, (v) => `must be http or browser, got ${describe(v)}`).optional(),
    params: paramsSchema.optional(),
    browser_pages: num({
      int: true,
      min: 1,
      max: 64,
      message: (v) => `must be a whole number from 1 to 64, got ${describe(v)}`,
    })
      .describe("driver: browser: at most this many browser pages open at once over all bots (default 8).")
      .optional(),
    chat: mapping({
      max_messages: num({
        int: true,
        min: 0,
        message: (v) => `must be a whole number ≥ 0, got ${describe(v)}`,
      })
        .describe("How many messages a bot sends at most on one chat (default 3).")
        .optional(),
      reply_wait_s: num({
        min: 0,
        max: 60,
        message: (v) => `must be a number of seconds from 0 to 60, got ${describe(v)}`,
      })
        .describe("How long a bot waits for replies after each of its chat turns (default 5).")
        .optional(),
    })
      .describe("{{ chat }} pages: how many messages a bot sends, how long it waits for replies.")
      .optional(),
    // LIVE ADAPTER: page name → declarative adapter (otree/live-handler.ts plays it).
    live: liveAdaptersSchema.optional(),
    seats: z
      .array(seatOverrideSchema, { error: "must be a list of {seats: [...], model, system, params, …}" })
      .describe(
        "Per-seat settings: each entry gives some bot seats their own model, system prompt, params, personas or memory (the rest of the block applies to them otherwise).",
      )
      .optional(),
  },
  (v) => `must be a mapping {model, system, personas, memory, rejections, …}, got ${describe(v)}`,
);

/** `kind: otree`: LLM bots in a real oTree session, alone or alongside humans. */
export const otreeSchema = mapping({
  kind: z.literal("otree"),
  name: text().describe("A name for the run list and exports.").optional(),
  description: text().optional(),
  otree: serverSchema,
  session: sessionSchema,
  humans: z
    .union(
      [
        num({ int: true, min: 0, message: (v) => `must be a whole number ≥ 0, got ${describe(v)}` }),
        seatList,
      ],
      { error: "must be a number of human seats (the first N) or a list of seat positions" },
    )
    .describe("Seats taken by humans: a count (the first N seats) or positions [1, 3].")
    .optional(),
  bots: botsSchema,
  seed: seedSchema.optional(),
  settings: settingsSchema.optional(),
  providers: providersSchema.optional(),
});

export type OtreeStudy = z.output<typeof otreeSchema>;
