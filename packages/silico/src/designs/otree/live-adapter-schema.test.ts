import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { isDone, messageSchema, pick } from "../../otree/live-handler.js";
import { compileSchema } from "../../parse/json-schema.js";
import { liveAdaptersSchema, toLiveAdapter } from "./live-adapter-schema.js";

const EXAMPLE = `
Bargain:
  send:
    anyOf:
      - type: object
        properties: { type: { const: offer }, keep: { type: integer, minimum: 0, maximum: 100 } }
        required: [type, keep]
        additionalProperties: false
      - type: object
        properties: { type: { const: accept } }
        required: [type]
        additionalProperties: false
  instructions: keep is what you keep of 100 points.
  on_connect: { type: load }
  on_resume: { type: load, again: true }
  show: [standing_offer, offers_left, finished, error]
  record: [standing_offer, deal, payoff]
  done: { when: { finished: true }, max_messages: 6, wait_s: 20 }
`;

function issues(value: unknown): string[] {
  const r = liveAdaptersSchema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("the live adapter of a study file", () => {
  it("reads the README example into the handler's adapter, with defaults", () => {
    const parsed = liveAdaptersSchema.parse(parseYaml(EXAMPLE));
    const adapter = toLiveAdapter(parsed.Bargain ?? {});
    expect(adapter).toMatchObject({
      instructions: "keep is what you keep of 100 points.",
      onConnect: { type: "load" },
      onResume: { type: "load", again: true },
      show: ["standing_offer", "offers_left", "finished", "error"],
      record: ["standing_offer", "deal", "payoff"],
      doneWhen: [{ finished: true }],
      maxMessages: 6,
      maxTurns: 12,
      waitMs: 20_000,
    });
    const bare = toLiveAdapter(liveAdaptersSchema.parse({ P: { send: { type: "object" } } }).P ?? {});
    expect(bare).toEqual({
      send: { type: "object" },
      maxMessages: 10,
      maxTurns: 20,
      waitMs: 30_000,
      settleMs: 300,
    });
    // The answer schema wraps the message schema with null ("send nothing now") and compiles.
    const answer = compileSchema(messageSchema(adapter.send ?? {}));
    if (!answer.ok) throw new Error(answer.error);
    expect(answer.validate({ message: { type: "offer", keep: 40 } })).toBe(true);
    expect(answer.validate({ message: null })).toBe(true);
    expect(answer.validate({ message: { type: "offer", keep: 400 } })).toBe(false);
    expect(answer.validate({ message: { type: "shout" } })).toBe(false);
  });

  it("locates what is wrong", () => {
    expect(issues({ Bargain: {} })).toEqual([
      "Bargain.send: is required (the messages the bot may send), unless a hook plays the page",
    ]);
    expect(issues({ Bargain: { send: { type: "intgr" } } })[0]).toMatch(
      /^Bargain\.send: is not a valid JSON Schema/,
    );
    expect(issues({ Bargain: { send: { type: "object" }, shwo: ["x"] } })).toEqual([
      "Bargain: allowed here: send, instructions, on_connect, on_resume, show, record, done, hook",
    ]);
    expect(issues({ "Bar gain": { send: { type: "object" } } })).toEqual([
      "Bar gain: must be the name of an oTree page class, e.g. Bargain",
    ]);
    expect(
      issues({ B: { send: { type: "object" }, done: { when: 3, max_messages: 0, wait_s: 601 } } }),
    ).toEqual([
      "B.done.when: must be a mapping of payload keys to values (e.g. { finished: true }), or a list of them",
      "B.done.max_messages: must be at least 1, got 0",
      "B.done.wait_s: must be at most 600, got 601",
    ]);
    expect(issues({ B: { hook: "./bargain.js" } })).toEqual([]);
    expect(issues([])).toEqual([": must be a mapping of oTree page names to live adapters"]);
  });
});

describe("reading live payloads", () => {
  it("shows and records the listed keys of an object payload, anything else as it is", () => {
    expect(pick({ a: 1, b: 2, c: 3 }, ["a", "c", "zz"])).toEqual({ a: 1, c: 3 });
    expect(pick({ a: 1 }, undefined)).toEqual({ a: 1 });
    expect(pick([1, 2], ["a"])).toEqual([1, 2]);
    expect(pick("hello", ["a"])).toBe("hello");
  });

  it("a payload is done when it has every key/value of one `when` entry", () => {
    const when = [{ finished: true }, { phase: "over", round: 3 }];
    expect(isDone({ finished: true, x: 1 }, when)).toBe(true);
    expect(isDone({ finished: false }, when)).toBe(false);
    expect(isDone({ phase: "over", round: 3 }, when)).toBe(true);
    expect(isDone({ phase: "over", round: 2 }, when)).toBe(false);
    expect(isDone({ finished: true }, undefined)).toBe(false);
    expect(isDone(null, when)).toBe(false);
    expect(isDone({ state: { done: true } }, [{ state: { done: true } }])).toBe(true);
  });
});
