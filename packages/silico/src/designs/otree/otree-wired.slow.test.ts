// The wired defaults of `kind: otree` on a real devserver with the test LLM server: chat pages,
// a live page played through a declarative adapter from the study file, bots released from wait
// pages by the page's socket, and driver: browser through the library's `run`.
// Needs oTree 6.0 (SILICO_TEST_OTREE or .venv-test-otree/); the browser tests need Chromium.
import diagnostics from "node:diagnostics_channel";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ResponderRequest, startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { data, run } from "../../api/verbs.js";
import type { LoadedPage, PageTransport, SubmitForm } from "../../otree/bot-contract.js";
import { HttpTransport } from "../../otree/http-transport.js";
import { testSql } from "../../store/test-sql.js";
import { createOtreeDesign } from "./index.js";
import {
  lastUserText,
  pageResponder,
  projectCopy,
  requireOtree,
  WIDGETS_OK,
  otreeStudyText,
  runOtreeStudy,
  tidyRowsOf,
} from "./test-helpers.js";

const otree = requireOtree();

/** Pages as the test helpers answer them; chat and live turns by simple rules. */
function responder(): (req: ResponderRequest) => string {
  const pages = pageResponder(WIDGETS_OK);
  return (req) => {
    const prompt = lastUserText(req);
    if (prompt.includes("more chat message")) {
      // The first turn says something; later turns wait (so the chat ends after the replies).
      const first = !/New in the chat|No new messages/.test(prompt);
      return JSON.stringify({ message: first ? "Let us both contribute 10." : null });
    }
    if (prompt.includes("exchanges messages with the server")) {
      const states = [...prompt.matchAll(/^- (\{.*\})$/gm)].map(
        (m) => JSON.parse(m[1] as string) as { standing_offer?: { by: string } | null },
      );
      const last = states.at(-1);
      if (last?.standing_offer?.by === "other") return JSON.stringify({ message: { type: "accept" } });
      if (last && !last.standing_offer) return JSON.stringify({ message: { type: "offer", keep: 60 } });
      return JSON.stringify({ message: null });
    }
    return pages(req);
  };
}

let llm: TestServer;
const dirs: string[] = [];
beforeAll(async () => {
  llm = await startOpenAITestServer({ responder: responder() });
});
afterAll(async () => {
  await llm?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function study(project: string, body: string): string {
  return otreeStudyText({ name: "wired", seed: 3, project, otree, llmUrl: llm.url, body });
}

describe("kind: otree, wired defaults, on a real devserver", () => {
  it("plays a {{ chat }} page: two bots chat, then answer the form; messages sent and received are recorded", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    const { store, result } = await runOtreeStudy(
      study(
        project,
        "session: { config: chat, participants: 2 }\nbots: { model: ts:page-bot, chat: { max_messages: 2, reply_wait_s: 2 } }",
      ),
      dir,
    );
    try {
      expect(result.status, JSON.stringify(result.totals)).toBe("done");
      const data = tidyRowsOf(store, result.runId);
      for (const seat of [1, 2]) {
        const mine = data.filter((r) => r.seat === seat);
        expect(mine.filter((r) => r.name === "chat_sent").map((r) => r.value)).toEqual([
          "Let us both contribute 10.",
        ]);
        // The partner's message reached this bot (live or from the history it joined with).
        expect(mine.filter((r) => r.name === "chat_received").map((r) => r.value)).toContain(
          "Let us both contribute 10.",
        );
        expect(mine.filter((r) => r.name === "contribution")).toHaveLength(1);
        expect(mine.find((r) => r.name === "chat_sent")?.page).toBe("Chat");
      }
    } finally {
      store.close();
    }
  }, 180_000);

  it("plays a live page through the study's declarative adapter: a deal is struck and recorded", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    const { store, result } = await runOtreeStudy(
      study(
        project,
        `session: { config: live_bargain, participants: 2 }
bots:
  model: ts:page-bot
  live:
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
      instructions: keep is how many of the 100 points you keep; accept takes the other's offer.
      on_connect: { type: load }
      show: [standing_offer, offers_left, finished, error]
      record: [standing_offer, deal, finished, payoff]
      done: { when: { finished: true }, max_messages: 6, wait_s: 10 }`,
      ),
      dir,
    );
    try {
      expect(result.status, JSON.stringify(result.totals)).toBe("done");
      const data = tidyRowsOf(store, result.runId);
      const sent = data.filter((r) => r.name === "live_sent").map((r) => r.value as Record<string, unknown>);
      expect(sent.some((m) => m.type === "accept")).toBe(true);
      expect(sent.some((m) => m.type === "offer" && m.keep === 60)).toBe(true);
      const received = data
        .filter((r) => r.name === "live_received")
        .map((r) => r.value as Record<string, unknown>);
      const deals = received.filter((p) => p.deal === true && p.finished === true);
      // Both bots got the final state: one keeps 60, the other gets 40.
      expect(deals.map((p) => p.payoff).sort()).toEqual([40, 60]);
      const ends = data.filter((r) => r.name === "live_end");
      expect(ends.map((r) => r.seat).sort()).toEqual([1, 2]);
      expect(ends.every((r) => r.value === "finished")).toBe(true);
      expect(ends[0]?.page).toBe("Bargain");
      // The model decided each message (turns live/N of the page).
      const keys = (
        testSql(store).prepare("SELECT call_key FROM calls WHERE run_id = ?").all(result.runId) as {
          call_key: string;
        }[]
      ).map((c) => c.call_key);
      expect(
        keys.filter((k) => /\/live_bargain\/Bargain\/1\/live\/\d+\/\d+$/.test(k)).length,
        keys.join(" "),
      ).toBeGreaterThanOrEqual(2);
    } finally {
      store.close();
    }
  }, 180_000);

  it("plays a live page through a hook module named in the study file (path relative to it)", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    // A LiveHook: offer to keep 70 when nothing stands, accept the other's offer, stop when finished.
    writeFileSync(
      join(dir, "bargain-hook.mjs"),
      `export default async function bargain(session) {
  for (let i = 0; i < 40; i++) {
    const m = await session.receive(5000);
    if (!m) return;
    const p = m.payload ?? {};
    if (p.finished) return;
    if (p.standing_offer && p.standing_offer.by === "other") session.send({ type: "accept" });
    else if (!p.standing_offer) session.send({ type: "offer", keep: 70 });
  }
}
`,
    );
    const { store, result } = await runOtreeStudy(
      study(
        project,
        `session: { config: live_bargain, participants: 2 }
bots:
  model: ts:page-bot
  live:
    Bargain: { hook: ./bargain-hook.mjs, on_connect: { type: load } }`,
      ),
      dir,
    );
    try {
      expect(result.status, JSON.stringify(result.totals)).toBe("done");
      const data = tidyRowsOf(store, result.runId);
      const received = data
        .filter((r) => r.name === "live_received")
        .map((r) => r.value as Record<string, unknown>);
      expect(
        received
          .filter((p) => p.deal === true)
          .map((p) => p.payoff)
          .sort(),
      ).toEqual([30, 70]);
      expect(data.filter((r) => r.name === "live_end").map((r) => r.value)).toEqual(["hook", "hook"]);
      // The hook decided: no model call on the live page.
      const keys = (
        testSql(store).prepare("SELECT call_key FROM calls WHERE run_id = ?").all(result.runId) as {
          call_key: string;
        }[]
      ).map((c) => c.call_key);
      expect(keys.filter((k) => /\/live\/\d+\/\d+$/.test(k))).toEqual([]);
      expect(data.filter((r) => r.name === "live_sent").length).toBeGreaterThanOrEqual(3);
    } finally {
      store.close();
    }
  }, 180_000);

  it("releases bots from wait pages through the page's socket, without polling the page", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    // Every GET of a participant's wait page made in this process, by participant code (seen on
    // undici's diagnostics channel: the HTTP transport's requests and fetch's alike).
    const waitGets: { code: string; at: number }[] = [];
    const onRequest = (message: unknown) => {
      const { request } = message as { request: { method: string; path: string } };
      const m = /^\/p\/([^/]+)\/waiting\/ResultsWaitPage\//.exec(request.path);
      if (m && request.method === "GET") waitGets.push({ code: m[1] as string, at: Date.now() });
    };
    diagnostics.subscribe("undici:request:create", onRequest);
    // The bot's reloads after a wait, timed (the waiter said "ready" just before).
    const reloads: number[] = [];
    const design = createOtreeDesign({
      transport: (_driver, signal) => new TimedReloads(new HttpTransport(signal ? { signal } : {}), reloads),
    });
    let link: string | undefined;
    let human: Promise<number[]> | undefined;
    try {
      const { store, result } = await runOtreeStudy(
        study(
          project,
          "session: { config: waiting, participants: 2 }\nhumans: [1]\nbots: { model: ts:page-bot }",
        ),
        dir,
        {
          design,
          onEvent: (e) => {
            if (e.type !== "notice") return;
            link ??= /human seat 1: (\S+)/.exec(e.message)?.[1];
            if (link && !human) human = slowHuman(link, 2_500);
          },
        },
      );
      try {
        expect(result.status, JSON.stringify(result.totals)).toBe("done");
        const released = (await human) as number[];
        expect(released).toHaveLength(3);
        const botCode = (
          store.designState(result.runId, "").get() as { seats: { seat: number; code: string }[] }
        ).seats.find((s) => s.seat === 2)?.code;
        const botGets = waitGets.filter((g) => g.code === botCode);
        // Per round: the GET that arrives on the wait page, and the reload once released. A GET poll
        // (every 2 s) over the human's 2.5 s would add at least one more per round.
        expect(botGets.length).toBeLessThanOrEqual(6);
        for (const [round, at] of released.entries()) {
          // The bot did wait this round (it was there before the human submitted) …
          const arrived = botGets.find((g) => g.at < at && g.at > at - 10_000);
          expect(arrived, `round ${round + 1}: the bot was not waiting`).toBeDefined();
          expect(at - (arrived?.at ?? at)).toBeGreaterThan(1_500);
          // … and went on within a second of the human's submit.
          const next = reloads.find((r) => r >= at);
          expect(next, `round ${round + 1}: no reload after the human came`).toBeDefined();
          expect((next as number) - at).toBeLessThan(1_000);
        }
      } finally {
        store.close();
      }
    } finally {
      diagnostics.unsubscribe("undici:request:create", onRequest);
    }
  }, 180_000);
});

describe("driver: browser through the library's run", () => {
  it("plays the widgets app and the js_slider app (a hidden field set by a slider's script) in one shared Chromium", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    for (const config of ["widgets", "js_slider"]) {
      const path = join(dir, `${config}.yaml`);
      writeFileSync(
        path,
        study(
          project,
          `session: { config: ${config}, participants: 1 }\nbots: { model: ts:page-bot, driver: browser, browser_pages: 2 }`,
        ),
      );
      const db = join(dir, `${config}.db`);
      const outcome = await run(path, { db, modelCheck: false });
      expect(outcome.status, JSON.stringify(outcome.totals)).toBe("done");
      const { rows: got } = await data(outcome.runId, { db });
      const byName = Object.fromEntries(got.map((r) => [r.name as string, r]));
      if (config === "widgets") {
        expect(byName.age?.value).toBe(69);
        expect(byName.guess?.value).toBe(4);
        expect(byName.share_a?.value).toBe(60);
      } else {
        // The slider (unnamed, id give_slider) was slid; oTree took the page only with `give` set.
        expect(byName.give_slider?.value).toBe(50);
        expect(byName.note?.page).toBe("Timed");
      }
    }
    // No Chromium of this run is left.
    const { execFileSync } = await import("node:child_process");
    const left = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.includes("silico-chromium-"));
    expect(left).toEqual([]);
  }, 240_000);
});

/** Times each reload of the bot (the waiter's "ready" is followed by one). */
class TimedReloads implements PageTransport {
  constructor(
    private readonly inner: PageTransport,
    private readonly times: number[],
  ) {}
  open(startLink: string): Promise<LoadedPage> {
    return this.inner.open(startLink);
  }
  reload(): Promise<LoadedPage> {
    this.times.push(Date.now());
    return this.inner.reload();
  }
  submit(form: SubmitForm): Promise<LoadedPage> {
    return this.inner.submit(form);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * A person on the `waiting` app who thinks `thinkMs` over each contribution, so the bot waits
 * for them each round. Returns when each of the human's contributions was submitted.
 */
async function slowHuman(startLink: string, thinkMs: number): Promise<number[]> {
  const t = new HttpTransport();
  let page = await t.open(startLink);
  const submitted: number[] = [];
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (page.page.kind === "end") break;
    if (page.page.kind === "wait") {
      await new Promise((r) => setTimeout(r, 200));
      page = await t.reload();
    } else if (page.page.fields.some((f) => f.name === "contribution")) {
      await new Promise((r) => setTimeout(r, thinkMs));
      submitted.push(Date.now());
      page = await t.submit({ fields: { contribution: "5" }, button: { role: "next" } });
    } else {
      page = await t.submit({ fields: {}, button: { role: "next" } });
    }
  }
  return submitted;
}
