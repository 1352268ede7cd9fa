// The bot loop's bookkeeping with a scripted transport: what is posted, what is recorded, and
// what a resumed bot does with a page it had answered before the stop. (Real pages: the slow tests.)
import { describe, expect, it } from "vitest";
import type { Answer, Question, SessionContext } from "../../engine/plan.js";
import { Rng } from "../../engine/rng.js";
import type {
  LoadedPage,
  PageHandler,
  PageTransport,
  SubmitForm,
  WaitForPage,
} from "../../otree/bot-contract.js";
import type { OtreePage } from "../../otree/page-model.js";
import { type BotOptions, BotStopped, playBot } from "./bot.js";

const BASE = "http://127.0.0.1:9";
const formPage = (title: string): OtreePage => ({
  kind: "form",
  title,
  text: "",
  fields: [{ name: "x", label: "X", widget: "number", type: "integer", required: true, min: 0, max: 9 }],
  buttons: [{ label: "Next", role: "next" }],
  pageErrors: [],
  live: false,
});
const end: OtreePage = { ...formPage("End"), kind: "end", fields: [], buttons: [] };
const wait: OtreePage = { ...formPage("Wait"), kind: "wait", fields: [], buttons: [] };
const at = (index: number, page: OtreePage, rejected = false): LoadedPage => ({
  url: `${BASE}/p/c1/app/${page.title}/${index}`,
  page,
  rejected,
  html: "",
});

/** A transport that serves `opens` on open and `afterSubmit` in order, recording the posts. */
function scripted(opens: LoadedPage, afterSubmit: LoadedPage[], reloads: LoadedPage[] = []) {
  const posted: SubmitForm[] = [];
  let current = opens;
  const transport: PageTransport = {
    open: async () => (current = opens),
    reload: async () => (current = reloads.shift() ?? current),
    submit: async (form) => {
      posted.push(form);
      const next = afterSubmit.shift();
      if (!next) throw new Error("no more pages scripted");
      current = next;
      return next;
    },
    close: async () => {},
  };
  return { transport, posted };
}

function fakeContext(initialState?: unknown) {
  let state = initialState;
  const asked: Question[] = [];
  const recorded: { name: string; value: unknown; coords: unknown }[] = [];
  const ctx: SessionContext = {
    key: "seat-1",
    index: 0,
    coords: {},
    rng: new Rng(1, "x"),
    ask: async (_pid, q): Promise<Answer> => {
      asked.push(q);
      const value = { x: 4 };
      return {
        valid: true,
        value,
        raw: JSON.stringify(value),
        attempts: 1,
        choices: [],
        callId: asked.length,
        cached: false,
      };
    },
    record: (_pid, name, value, coords) => recorded.push({ name, value, coords }),
    taint: () => {},
    tell: () => {},
    resetConversation: () => {},
    state: { get: () => state, set: (v) => (state = JSON.parse(JSON.stringify(v))) },
  };
  return { ctx, asked, recorded, state: () => state };
}

function options(transport: PageTransport, over: Partial<BotOptions> = {}): BotOptions {
  const neverReady: WaitForPage = async () => "timeout";
  return {
    seat: 1,
    participantCode: "c1",
    startLink: `${BASE}/InitializeParticipant/c1`,
    baseUrl: BASE,
    humans: false,
    memory: "full",
    rejections: 1,
    waitLimitMs: 1000,
    parseReasks: 1,
    transport,
    waitForPage: neverReady,
    handlers: [],
    notice: () => {},
    ...over,
  };
}

describe("the bot loop", () => {
  it("posts a page again when oTree shows it unchanged (a lost post), and records its fields once", async () => {
    const { transport, posted } = scripted(at(1, formPage("A")), [at(1, formPage("A")), at(2, end)]);
    const f = fakeContext();
    await playBot(f.ctx, options(transport));
    expect(posted).toHaveLength(2);
    expect(posted[0]).toEqual({ fields: { x: "4" }, button: { role: "next" } });
    expect(f.asked).toHaveLength(1);
    expect(f.recorded.map((r) => r.name)).toEqual(["x"]);
  });

  it("a resumed bot posts the answer it kept for a page it had not got through, without asking", async () => {
    // Recorded by a devserver on another port: a restarted devserver serves the same page elsewhere.
    const url = at(3, formPage("B")).url.replace(":9/", ":12345/");
    const kept = {
      visits: {},
      pages: 2,
      pending: {
        url,
        form: { fields: { x: "7" }, button: { role: "next" } },
        observations: [
          {
            name: "x",
            value: 7,
            raw: "7",
            reason: null,
            coords: { page: "B" },
            callId: 9,
            attempts: 1,
            timeout: false,
          },
        ],
      },
    };
    const { transport, posted } = scripted(at(3, formPage("B")), [at(4, end)]);
    const f = fakeContext(kept);
    await playBot(f.ctx, options(transport));
    expect(f.asked).toHaveLength(0);
    expect(posted).toEqual([{ fields: { x: "7" }, button: { role: "next" } }]);
    expect(f.recorded).toEqual([{ name: "x", value: 7, coords: { page: "B" } }]);
    expect((f.state() as { pending?: unknown; pages: number }).pending).toBeUndefined();
  });

  it("posts the same answer again when a restarted server shows a page it had accepted (no new question, no new row)", async () => {
    const { transport, posted } = scripted(at(1, formPage("A")), [
      at(2, formPage("B")),
      at(1, formPage("A")),
      at(2, formPage("B")),
      at(3, end),
    ]);
    const f = fakeContext();
    await playBot(f.ctx, options(transport));
    expect(posted.map((p) => p.fields.x)).toEqual(["4", "4", "4", "4"]);
    expect(f.asked.map((q) => q.turn)).toEqual(["app/A/1", "app/B/2"]);
    expect(f.recorded.map((r) => r.name)).toEqual(["x", "x"]);
  });

  it("a resumed bot whose post had gone through records the kept answer and posts nothing", async () => {
    const kept = {
      visits: {},
      pages: 2,
      pending: {
        url: at(3, formPage("B")).url,
        form: { fields: { x: "7" } },
        observations: [
          {
            name: "x",
            value: 7,
            raw: "7",
            reason: null,
            coords: { page: "B" },
            callId: 9,
            attempts: 1,
            timeout: false,
          },
        ],
      },
    };
    const { transport, posted } = scripted(at(4, end), []);
    const f = fakeContext(kept);
    await playBot(f.ctx, options(transport));
    expect(posted).toEqual([]);
    expect(f.asked).toHaveLength(0);
    expect(f.recorded.map((r) => r.value)).toEqual([7]);
  });

  it("records a late answer as a timeout and posts nothing when oTree had already moved on", async () => {
    const timed = { ...formPage("T"), timeoutSeconds: -1 };
    const { transport, posted } = scripted(at(1, timed), [], [at(2, end)]);
    const f = fakeContext();
    await playBot(f.ctx, options(transport));
    expect(posted).toEqual([]);
    expect(f.recorded).toEqual([
      { name: "x", value: 4, coords: expect.objectContaining({ timeout: true, page: "T" }) },
    ]);
  });

  it("posts a late answer with timeout_happened when oTree still shows the page", async () => {
    const timed = { ...formPage("T"), timeoutSeconds: -1 };
    const { transport, posted } = scripted(at(1, timed), [at(2, end)]);
    const f = fakeContext();
    await playBot(f.ctx, options(transport));
    expect(posted).toEqual([{ fields: { x: "4" }, button: { role: "next" }, timeoutHappened: true }]);
    expect(f.recorded[0]?.coords).toMatchObject({ timeout: true });
  });

  it("gives up on a wait page at the limit and says it was waiting for humans", async () => {
    const { transport } = scripted(at(2, wait), []);
    const f = fakeContext();
    await expect(playBot(f.ctx, options(transport, { humans: true }))).rejects.toThrow(
      /waited more than 1 s on the wait page Wait \(waiting for humans\)/,
    );
  });

  it("stops with the server's messages when the rejection budget is spent", async () => {
    const rejected = {
      ...formPage("A"),
      fields: [{ ...formPage("A").fields[0], error: "Too big" }],
    } as OtreePage;
    const { transport } = scripted(at(1, formPage("A")), [at(1, rejected, true), at(1, rejected, true)]);
    const f = fakeContext();
    const stopped = playBot(f.ctx, options(transport, { rejections: 1 }));
    await expect(stopped).rejects.toBeInstanceOf(BotStopped);
    await expect(stopped).rejects.toThrow(/rejected the answer 2 time\(s\) \(budget 1\): x: Too big/);
    expect(f.asked.map((q) => q.turn)).toEqual(["app/A/1", "app/A/1/rejected-1"]);
    expect(f.recorded).toEqual([]);
  });
});

describe("pages that are not what they seem", () => {
  const broken: OtreePage = {
    ...end,
    title: "",
    text: "Traceback (most recent call last)",
    unrecognized: true,
  };
  const brokenAt: LoadedPage = {
    url: `${BASE}/p/c1/app/Q/1`,
    page: broken,
    rejected: false,
    html: "Traceback",
  };

  it("a 500 page (not an oTree page) is no end: the bot re-opens its start link and goes on", async () => {
    const f = fakeContext();
    const opens = [brokenAt, at(1, formPage("Q"))];
    const { transport, posted } = scripted(at(1, formPage("Q")), [at(2, end)]);
    transport.open = async () => opens.shift() ?? at(1, formPage("Q"));
    const notices: string[] = [];
    await playBot(f.ctx, options(transport, { unrecognizedBackoffMs: 1, notice: (m) => notices.push(m) }));
    expect(posted).toHaveLength(1);
    expect(f.recorded.map((r) => r.name)).toEqual(["x"]);
    expect(notices.some((n) => /not a participant page.*opening the start link again/.test(n))).toBe(true);
  });

  it("stops with a reason when such pages keep coming (bounded)", async () => {
    const f = fakeContext();
    const { transport } = scripted(brokenAt, []);
    let opened = 0;
    transport.open = async () => {
      opened++;
      return brokenAt;
    };
    await expect(
      playBot(f.ctx, options(transport, { unrecognizedRetries: 2, unrecognizedBackoffMs: 1 })),
    ).rejects.toThrow(/not a participant page .*3 times/);
    expect(opened).toBe(3);
  });

  it("a page with only unnamed controls is not the end: the bot stops with a reason", async () => {
    const f = fakeContext();
    const html =
      '<form class="otree-form" method="post"><input type="range" id="give_slider" min="0" max="9"><button type="button">Go</button></form>';
    const page: OtreePage = { ...end, title: "Slide", endReason: "nothing_to_submit" };
    const { transport } = scripted({ url: `${BASE}/p/c1/app/Slide/1`, page, rejected: false, html }, []);
    const err = await playBot(f.ctx, options(transport)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BotStopped);
    expect((err as Error).message).toMatch(
      /app\/Slide has only controls without a name \(input#give_slider, button\[type=button\]\)/,
    );
    // A last page with nothing but text is the end.
    const g = fakeContext();
    const last = scripted(
      {
        url: `${BASE}/p/c1/app/Thanks/2`,
        page: { ...end, endReason: "nothing_to_submit" },
        rejected: false,
        html: '<form class="otree-form"><p>Thanks</p></form>',
      },
      [],
    );
    await expect(playBot(g.ctx, options(last.transport))).resolves.toBeUndefined();
  });

  it("a page with nothing to answer that oTree refuses stops the bot with oTree's message", async () => {
    const f = fakeContext();
    const next: OtreePage = { ...formPage("Slide"), fields: [] };
    const refused: OtreePage = {
      ...next,
      pageErrors: ["Please fix the errors."],
      fieldErrors: { give: "This field is required." },
    };
    const html =
      '<form class="otree-form"><input type="range" id="s"><input type="hidden" name="give"></form>';
    const { transport, posted } = scripted(
      { url: `${BASE}/p/c1/app/Slide/1`, page: next, rejected: false, html },
      [{ url: `${BASE}/p/c1/app/Slide/1`, page: refused, rejected: true, html }],
    );
    const err = await playBot(f.ctx, options(transport)).catch((e: unknown) => e);
    expect(posted).toHaveLength(1);
    expect(err).toBeInstanceOf(BotStopped);
    expect((err as Error).message).toMatch(
      /app\/Slide: oTree refused to go on .*Please fix the errors.*need driver: browser/,
    );
    expect(f.recorded).toEqual([]);
  });
});

describe("page handlers", () => {
  it("a handler's turns are asked under the page's own turn (unique in the session, not only in the page)", async () => {
    const f = fakeContext();
    const live: OtreePage = { ...formPage("Chat"), fields: [], buttons: [{ label: "Next", role: "next" }] };
    const pages = [at(1, live), at(4, live)];
    const { transport } = scripted(pages[0] as LoadedPage, [pages[1] as LoadedPage, at(5, end)]);
    transport.reload = async () => pages.shift() ?? at(5, end);
    const handler = {
      name: "t",
      matches: () => true,
      run: async (hctx: Parameters<PageHandler["run"]>[0]) => {
        await hctx.ask({ prompt: "say", schema: { type: "object" }, turn: "chat/1" });
      },
    };
    await playBot(f.ctx, options(transport, { handlers: [handler] }));
    expect(f.asked.map((q) => q.turn)).toEqual(["app/Chat/1/chat/1", "app/Chat/4/chat/1"]);
  });
});
