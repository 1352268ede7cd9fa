// The live handler on a real devserver (app `live_bargain`: split 100 points by offers/accept).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { liveAdaptersSchema, toLiveAdapter } from "../designs/otree/live-adapter-schema.js";
import type { LoadedPage } from "./bot-contract.js";
import { LiveHandler, type LiveHook, livePageName, liveSocketPath, loadLiveHook } from "./live-handler.js";
import { connectSocket, type SocketConnection, socketUrl } from "./socket-connection.js";
import {
  openStart,
  reload,
  startTestServer,
  submit,
  type TestServer,
  testContext,
} from "../test-support/otree-sockets.js";

/** The adapter a study file would have for the Bargain page, through the study schema. */
function bargainAdapter(overrides: Record<string, unknown> = {}) {
  const parsed = liveAdaptersSchema.parse({
    Bargain: {
      send: {
        anyOf: [
          {
            type: "object",
            properties: { type: { const: "offer" }, keep: { type: "integer", minimum: 0, maximum: 100 } },
            required: ["type", "keep"],
            additionalProperties: false,
          },
          {
            type: "object",
            properties: { type: { const: "accept" } },
            required: ["type"],
            additionalProperties: false,
          },
        ],
      },
      instructions:
        "keep is how many of the 100 points you keep; accept takes the other player's standing offer.",
      on_connect: { type: "load" },
      show: ["standing_offer", "offers_left", "deal", "finished", "error"],
      record: ["standing_offer", "deal", "finished", "payoff"],
      done: { when: { finished: true }, max_messages: 4, wait_s: 5 },
      ...overrides,
    },
  });
  const input = parsed.Bargain;
  if (!input) throw new Error("no adapter");
  return toLiveAdapter(input);
}

interface State {
  standing_offer: { by: string; you_get: number; other_gets: number } | null;
  finished: boolean;
  deal: boolean;
  payoff: number | null;
}

/** The next payload of a scripted client's socket that passes `test`. */
async function payloadWhere(
  socket: SocketConnection,
  test: (s: State) => boolean,
  ms = 20_000,
): Promise<State> {
  const deadline = Date.now() + ms;
  for (;;) {
    const frame = (await socket.next(deadline - Date.now())) as { live_method_payload?: State } | undefined;
    if (frame === undefined) throw new Error(`no such payload within ${ms} ms`);
    if (frame.live_method_payload && test(frame.live_method_payload)) return frame.live_method_payload;
  }
}

function lastState(prompt: string): State | undefined {
  const lines = prompt.split("\n").filter((l) => l.startsWith("- {"));
  const last = lines.at(-1);
  return last ? (JSON.parse(last.slice(2)) as State) : undefined;
}

describe("the live handler", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  }, 180_000);
  afterAll(async () => {
    await t?.stop();
  }, 60_000);

  async function bargainPages(): Promise<[LoadedPage, LoadedPage]> {
    const [a, b] = await t.session("live_bargain", 2);
    return [await openStart(t.server.baseUrl, a ?? ""), await openStart(t.server.baseUrl, b ?? "")];
  }

  it("reads the live socket and the page name of the real page", async () => {
    const [page] = await bargainPages();
    expect(liveSocketPath(page.html)).toMatch(
      /^\/live\?participant_code=\w+&page_name=Bargain&page_index=1&session_code=\w+$/,
    );
    expect(livePageName(page.html)).toBe("Bargain");
    expect(page.page.live).toBe(true);
    const handler = new LiveHandler({ adapters: { Bargain: bargainAdapter() } });
    expect(handler.matches(page)).toBe(true);
    expect(new LiveHandler({ adapters: { Other: bargainAdapter() } }).matches(page)).toBe(false);
  });

  it("bargains to a deal with a scripted client, then the page lets the bot go on", async () => {
    const [botPage, clientPage] = await bargainPages();
    const client = await connectSocket(socketUrl(t.server.baseUrl, liveSocketPath(clientPage.html) ?? ""));
    // The client counters the bot's first offer and accepts its second.
    const clientDone = (async () => {
      await payloadWhere(
        client,
        (s) => s.standing_offer?.by === "other" && s.standing_offer.other_gets === 70,
      );
      client.send({ type: "offer", keep: 60 });
      await payloadWhere(
        client,
        (s) => s.standing_offer?.by === "other" && s.standing_offer.other_gets === 55,
      );
      client.send({ type: "accept" });
      return payloadWhere(client, (s) => s.finished);
    })();

    const ctx = testContext(botPage, t.server.baseUrl, (q) => {
      const s = lastState(q.prompt);
      if (s?.standing_offer === null) return { message: { type: "offer", keep: 70 } };
      if (s?.standing_offer?.by === "other") return { message: { type: "offer", keep: 55 } };
      return { message: null };
    });
    await new LiveHandler({ adapters: { Bargain: bargainAdapter() } }).run(ctx);
    const final = await clientDone;
    client.close();
    expect(final).toMatchObject({ deal: true, finished: true, payoff: 45 });

    const sent = ctx.recorded.filter((r) => r.name === "live_sent").map((r) => r.value);
    expect(sent).toEqual([{ type: "load" }, { type: "offer", keep: 70 }, { type: "offer", keep: 55 }]);
    expect(ctx.recorded.find((r) => r.name === "live_sent")?.extra?.meta).toEqual({
      page: "Bargain",
      on_connect: true,
    });
    const received = ctx.recorded.filter((r) => r.name === "live_received").map((r) => r.value);
    // Recorded keys only: offers_left is shown to the model but not recorded.
    expect(received.at(-1)).toEqual({
      standing_offer: { by: "you", you_get: 55, other_gets: 45 },
      deal: true,
      finished: true,
      payoff: 55,
    });
    expect(ctx.recorded.at(-1)).toEqual({
      name: "live_end",
      value: "finished",
      extra: { meta: { page: "Bargain", sent: 2 } },
    });
    expect(ctx.asks[0]?.turn).toBe("live/1");
    expect(ctx.asks[0]?.prompt).toContain("keep is how many");
    expect(ctx.asks[0]?.prompt).toContain('"offers_left":6');
    expect(ctx.asks[0]?.prompt).not.toContain('"payoff"');
    expect(JSON.stringify(ctx.asks[0]?.schema)).toContain('"null"');
    expect(ctx.told.at(-1)).toContain('"finished":true');

    const after = await submit(botPage);
    expect(after.url).toContain("/live_bargain/Results/");
    expect(after.page.text).toContain("Deal: you get 55");
  }, 60_000);

  it("two bots strike a deal; without one the page refuses to let them go", async () => {
    const [p1, p2] = await bargainPages();
    const early = await submit(p1);
    expect(early.rejected).toBe(true);
    expect(early.page.pageErrors.join(" ")).toContain("not over yet");

    const offerer = testContext(p1, t.server.baseUrl, (q) =>
      lastState(q.prompt)?.standing_offer === null
        ? { message: { type: "offer", keep: 50 } }
        : { message: null },
    );
    const accepter = testContext(p2, t.server.baseUrl, (q) =>
      lastState(q.prompt)?.standing_offer?.by === "other"
        ? { message: { type: "accept" } }
        : { message: null },
    );
    // The accepter waits for a proposal: it only ever sees "no proposal" until the offerer's comes.
    const handler = new LiveHandler({ adapters: { Bargain: bargainAdapter() } });
    await Promise.all([handler.run(offerer), handler.run(accepter)]);
    for (const ctx of [offerer, accepter]) {
      expect(ctx.recorded.at(-1)?.value).toBe("finished");
      const last = ctx.recorded.filter((r) => r.name === "live_received").at(-1)?.value;
      expect(last).toMatchObject({ deal: true, finished: true, payoff: 50 });
    }
    expect(accepter.recorded.filter((r) => r.name === "live_sent").map((r) => r.value)).toEqual([
      { type: "load" },
      { type: "accept" },
    ]);
    for (const page of [p1, p2]) expect((await submit(page)).url).toContain("/Results/");
  }, 60_000);

  it("stops at the message budget and after silent turns", async () => {
    const [p1] = await bargainPages();
    const keen = testContext(p1, t.server.baseUrl, (_, i) => ({ message: { type: "offer", keep: 90 - i } }));
    await new LiveHandler({
      adapters: {
        Bargain: bargainAdapter({ done: { when: { finished: true }, max_messages: 2, wait_s: 1 } }),
      },
    }).run(keen);
    expect(keen.asks).toHaveLength(2);
    expect(keen.recorded.at(-1)?.value).toBe("max_messages");

    const shy = testContext(p1, t.server.baseUrl, () => ({ message: null }));
    await new LiveHandler({
      adapters: { Bargain: bargainAdapter({ done: { max_messages: 3, wait_s: 0.5 } }) },
    }).run(shy);
    expect(shy.asks).toHaveLength(2);
    expect(shy.recorded.at(-1)?.value).toBe("idle");
    // Still on the page: the bargaining is not over.
    expect((await reload(p1.url)).url).toBe(p1.url);
  }, 60_000);

  it("on a timed page the bot stops a few seconds before the timer", async () => {
    const [p1] = await bargainPages();
    const timed = { ...p1, page: { ...p1.page, timeoutSeconds: 6.5 } };
    const ctx = testContext(timed, t.server.baseUrl, () => ({ message: null }));
    const before = Date.now();
    await new LiveHandler({
      adapters: { Bargain: bargainAdapter({ done: { max_messages: 3, max_turns: 50, wait_s: 30 } }) },
    }).run(ctx);
    expect(Date.now() - before).toBeLessThan(4_000);
    expect(ctx.recorded.at(-1)?.value).toBe("time");
  }, 30_000);

  it("a bot back on the page after a stop (its notes kept): no second on_connect, the hook knows it resumed, a finished page is left alone", async () => {
    const [p1] = await bargainPages();
    let notes: Record<string, unknown> | undefined;
    const withMemo = (answer: () => unknown) =>
      Object.assign(testContext(p1, t.server.baseUrl, answer), {
        memo: {
          get: () => notes,
          set: (value: Record<string, unknown>) => {
            notes = structuredClone(value);
          },
        },
      });
    const seen: { resumed: boolean; sent: number }[] = [];
    const hook: LiveHook = async (session) => {
      seen.push({ resumed: session.resumed, sent: session.sent });
      if (!session.resumed) session.send({ type: "offer", keep: 70 });
      // As if the process were killed here: the hook throws before it is done.
      if (seen.length === 1) throw new Error("killed");
    };
    const adapter = toLiveAdapter(
      liveAdaptersSchema.parse({ Bargain: { hook: "x.mjs", on_connect: { type: "load" } } }).Bargain ?? {},
      hook,
    );
    const first = withMemo(() => null);
    await expect(new LiveHandler({ adapters: { Bargain: adapter } }).run(first)).rejects.toThrow("killed");
    expect(first.recorded.filter((r) => r.name === "live_sent").map((r) => r.value)).toEqual([
      { type: "load" },
      { type: "offer", keep: 70 },
    ]);
    expect(notes).toMatchObject({ on_connect: true, sent: 1 });
    const again = withMemo(() => null);
    await new LiveHandler({ adapters: { Bargain: adapter } }).run(again);
    expect(seen).toEqual([
      { resumed: false, sent: 0 },
      { resumed: true, sent: 1 },
    ]);
    // Nothing sent twice: no on_connect, no offer.
    expect(again.recorded.filter((r) => r.name === "live_sent")).toEqual([]);
    expect(notes).toMatchObject({ end: "hook" });
    const third = withMemo(() => null);
    await new LiveHandler({ adapters: { Bargain: adapter } }).run(third);
    expect(third.recorded).toEqual([]);
    expect(seen).toHaveLength(2);
  });

  it("a hook module drives a page the declarative part cannot", async () => {
    const dir = mkdtempSync(join(tmpdir(), "silico-live-hook-"));
    try {
      // What a study's hook file looks like once built to JavaScript.
      writeFileSync(
        join(dir, "bargain-hook.mjs"),
        `export default async function live(session) {
  const first = await session.receive(5000);
  session.tell("state: " + JSON.stringify(first.payload));
  const answer = await session.ask({ prompt: "How much do you keep?", schema: { type: "integer" }, turn: "hook/keep" });
  session.send({ type: "offer", keep: answer.value });
  const reply = await session.receive(5000);
  session.record("hook_saw", reply.payload.standing_offer);
}
`,
      );
      const hook: LiveHook = await loadLiveHook("bargain-hook.mjs", dir);
      const [p1] = await bargainPages();
      const ctx = testContext(p1, t.server.baseUrl, () => 64);
      const input = liveAdaptersSchema.parse({
        Bargain: { hook: "bargain-hook.mjs", on_connect: { type: "load" } },
      });
      await new LiveHandler({ adapters: { Bargain: toLiveAdapter(input.Bargain ?? {}, hook) } }).run(ctx);
      expect(ctx.asks.map((q) => q.turn)).toEqual(["hook/keep"]);
      expect(ctx.told[0]).toContain('"offers_left":6');
      expect(ctx.recorded.find((r) => r.name === "hook_saw")?.value).toEqual({
        by: "you",
        you_get: 64,
        other_gets: 36,
      });
      expect(ctx.recorded.at(-1)).toMatchObject({ name: "live_end", value: "hook" });

      writeFileSync(join(dir, "not-a-hook.mjs"), "export const x = 1;\n");
      await expect(loadLiveHook("not-a-hook.mjs", dir)).rejects.toThrow(/must export a function.*got x/);
      await expect(loadLiveHook("missing.mjs", dir)).rejects.toThrow(
        /live hook missing.mjs could not be loaded/,
      );
      writeFileSync(join(dir, "typed.ts"), "export default async function live(): Promise<void> {}\n");
      const typed = await loadLiveHook("typed.ts", dir).catch((e: Error) => e);
      // Plain Node 20 cannot import TypeScript (the hint says what to do); vitest and a Node that
      // strips types load it.
      if (typed instanceof Error) expect(typed.message).toMatch(/build the hook to a \.js\/\.mjs file/);
      else expect(typeof typed).toBe("function");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
