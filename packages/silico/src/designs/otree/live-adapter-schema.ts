import { z } from "zod";
import type { LiveAdapter, LiveHook } from "../../otree/live-handler.js";
import { compileSchema } from "../../parse/json-schema.js";
import { mapping, namedRecord, num, text } from "../../study/schema-parts.js";

/*
 * `bots.live` of a `kind: otree` study: page name → how a bot plays that live page. Declarative
 * for the usual page (the messages it may send as JSON Schema, a first message, which payload
 * keys to show and record, when it is done); a hook module for the rare page that needs code.
 *
 *   live:
 *     Bargain:
 *       send:
 *         anyOf:
 *           - { type: object, properties: { type: { const: offer }, keep: { type: integer, minimum: 0, maximum: 100 } }, required: [type, keep], additionalProperties: false }
 *           - { type: object, properties: { type: { const: accept } }, required: [type], additionalProperties: false }
 *       on_connect: { type: load }
 *       show: [standing_offer, offers_left, finished, error]
 *       done: { when: { finished: true }, max_messages: 6 }
 */

const jsonObject = (what: string) => z.record(z.string(), z.unknown(), { error: `must be ${what}` });

const DEFAULT_MAX_MESSAGES = 10;
const DEFAULT_WAIT_S = 30;

export const liveDoneSchema = mapping(
  {
    when: z
      .union(
        [
          jsonObject("a mapping of payload keys to values"),
          z.array(jsonObject("a mapping of payload keys to values")),
        ],
        {
          error: "must be a mapping of payload keys to values (e.g. { finished: true }), or a list of them",
        },
      )
      .optional()
      .describe("A payload with all these key/values ends the page for the bot; a list means any of them."),
    max_messages: num({ int: true, min: 1, max: 1000 })
      .optional()
      .describe(
        `The bot sends at most this many messages (default ${DEFAULT_MAX_MESSAGES}; on_connect not counted).`,
      ),
    max_turns: num({ int: true, min: 1, max: 2000 })
      .optional()
      .describe(
        "The model is asked at most this many times; a turn may send nothing (default 2 × max_messages).",
      ),
    wait_s: num({ min: 0, max: 600 })
      .optional()
      .describe(`How long to wait for the server's next message after a turn (default ${DEFAULT_WAIT_S} s).`),
  },
  "must be a mapping {when, max_messages, max_turns, wait_s}",
).describe("When the bot is done with the page (also when the page moves on, or after two silent turns).");

export const liveAdapterSchema = mapping(
  {
    send: jsonObject("a JSON Schema object")
      .optional()
      .describe(
        "JSON Schema of one message the bot may send (the data of liveSend). Required without a hook.",
      ),
    instructions: text().optional().describe("Shown to the model with every turn: what the messages mean."),
    on_connect: z
      .unknown()
      .optional()
      .describe(
        "Sent at once on connect, without asking the model, e.g. {type: load} (oTree has no history replay). Once per page: a resumed bot does not send it again.",
      ),
    on_resume: z
      .unknown()
      .optional()
      .describe(
        "Sent instead of on_connect when a resumed bot comes back to a page where on_connect went out already, e.g. {type: load}; default: nothing.",
      ),
    show: z
      .array(text("must be a payload key"), { error: "must be a list of payload keys" })
      .optional()
      .describe("Keys of live_method_payload shown to the model (default: the whole payload)."),
    record: z
      .array(text("must be a payload key"), { error: "must be a list of payload keys" })
      .optional()
      .describe("Keys of live_method_payload recorded as observations (default: those shown)."),
    done: liveDoneSchema.optional(),
    hook: text("must be the path of a module (relative to the study file)")
      .optional()
      .describe(
        "A module (relative to the study file) whose default export is a LiveHook: it drives the page instead of the declarative part.",
      ),
  },
  "must be a mapping {send, instructions, on_connect, on_resume, show, record, done, hook}",
).superRefine((adapter, ctx) => {
  if (adapter.send === undefined && adapter.hook === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["send"],
      message: "is required (the messages the bot may send), unless a hook plays the page",
    });
  }
  if (adapter.send !== undefined) {
    const compiled = compileSchema(adapter.send);
    if (!compiled.ok)
      ctx.addIssue({
        code: "custom",
        path: ["send"],
        message: `is not a valid JSON Schema: ${compiled.error}`,
      });
  }
});

/** `bots.live`: oTree page (class) names → adapters. */
export const liveAdaptersSchema = namedRecord(
  z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "must be the name of an oTree page class, e.g. Bargain" }),
  liveAdapterSchema,
  { error: "must be a mapping of oTree page names to live adapters" },
).describe("Live pages (live_method) the bots play: page class name → adapter.");

export type LiveAdapterInput = z.output<typeof liveAdapterSchema>;

/**
 * The handler's adapter from the study's. `hook` is loaded by the caller (it resolves the path
 * against the study file: see `loadLiveHook`) and passed in.
 */
export function toLiveAdapter(input: LiveAdapterInput, hook?: LiveHook): LiveAdapter {
  const maxMessages = input.done?.max_messages ?? DEFAULT_MAX_MESSAGES;
  const when = input.done?.when;
  const adapter: LiveAdapter = {
    maxMessages,
    maxTurns: input.done?.max_turns ?? 2 * maxMessages,
    waitMs: Math.round((input.done?.wait_s ?? DEFAULT_WAIT_S) * 1000),
    settleMs: 300,
  };
  if (input.send !== undefined) adapter.send = input.send;
  if (input.instructions !== undefined) adapter.instructions = input.instructions;
  if (input.on_connect !== undefined) adapter.onConnect = input.on_connect;
  if (input.on_resume !== undefined) adapter.onResume = input.on_resume;
  if (input.show !== undefined) adapter.show = input.show;
  if (input.record !== undefined) adapter.record = input.record;
  if (when !== undefined) adapter.doneWhen = Array.isArray(when) ? when : [when];
  if (hook !== undefined) adapter.hook = hook;
  return adapter;
}
