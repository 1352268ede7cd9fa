// Bots on a real oTree devserver (integrations/otree/test_project) answering through the project's
// OpenAI-compatible test server. Needs oTree 6.0 (SILICO_TEST_OTREE or .venv-test-otree/).
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupAlive } from "../../otree/devserver.js";
import { testSql } from "../../store/test-sql.js";
import { HttpTransport } from "../../otree/http-transport.js";
import { pollWaitForPage } from "../../otree/poll-wait.js";
import "../index.js";
import { parseCsv } from "../stimuli/csv-reader.js";
import { createOtreeDesign } from "./index.js";
import { writeOtreeWide } from "./otree-export.js";
import type { OtreeRunState } from "./otree-session.js";
import {
  pageResponder,
  projectCopy,
  requireOtree,
  WIDGETS_OK,
  otreeStudyText,
  runOtreeStudy,
  tidyRowsOf,
} from "./test-helpers.js";

const otree = requireOtree();

let llm: TestServer;
const dirs: string[] = [];
beforeAll(async () => {
  llm = await startOpenAITestServer({ responder: pageResponder(WIDGETS_OK) });
});
afterAll(async () => {
  await llm?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function study(project: string, body: string): string {
  return otreeStudyText({ name: "t", seed: 7, project, otree, llmUrl: llm.url, body });
}

describe("kind: otree on a real devserver", () => {
  it("plays the widgets app: every widget answered, one row per field, the devserver stopped", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    const { store, result, notices } = await runOtreeStudy(
      study(
        project,
        `session: { config: widgets, participants: 1 }
bots:
  model: ts:page-bot
  system: "You are a participant in seat {{ seat }} ({{ participant_code }})."`,
      ),
      dir,
    );
    try {
      expect(result.status, JSON.stringify(result.totals)).toBe("done");
      const state = store.designState(result.runId, "").get() as OtreeRunState;
      expect(state.session_code).toMatch(/^[a-z0-9]+$/);
      expect(state.seats).toHaveLength(1);
      expect(state.seats[0]?.human).toBe(false);
      expect(notices.some((n) => n.includes(`/SessionStartLinks/${state.session_code}`))).toBe(true);
      const data = tidyRowsOf(store, result.runId);
      const byField = Object.fromEntries(data.map((r) => [r.name as string, r]));
      expect(Object.keys(byField).sort()).toEqual(
        [
          "accepted",
          "age",
          "agree",
          "bid",
          "color",
          "essay",
          "fruit",
          "guess",
          "height",
          "likes_tea",
          "name",
          "rating",
          "share_a",
          "share_b",
          "temperature",
        ].sort(),
      );
      expect(byField.age?.value).toBe(69);
      expect(byField.age?.page).toBe("Widgets");
      expect(byField.age?.app).toBe("widgets");
      expect(byField.age?.round).toBe(1);
      expect(byField.age?.participant_code).toBe(state.seats[0]?.code);
      expect(byField.guess?.value).toBe(4);
      expect(byField.accepted?.raw).toBe("True");
      expect(byField.agree?.raw).toBe("y");
      expect(byField.age?.reason).toBe("it seems sensible");
      expect(byField.age?.timeout).toBe(false);
      expect(byField.age?.input_tokens).toBeGreaterThan(0);
      // The system prompt was rendered with the seat's participant code.
      const system = testSql(store)
        .prepare("SELECT content FROM messages WHERE run_id = ? AND role = 'system'")
        .get(result.runId) as { content: string };
      expect(system.content).toContain(state.seats[0]?.code);
      expect(groupAlive(state.devserver?.pgid as number)).toBe(false);
      // oTree has the bot's answers (the devserver saved its database on SIGTERM).
    } finally {
      store.close();
    }
  }, 180_000);

  it("plays a two-app session (a 2-player game over 3 rounds with wait pages, then every widget) with two bots at once", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    const { store, result } = await runOtreeStudy(
      study(
        project,
        `session: { config: two_apps, participants: 2, label: pilot }
bots:
  model: ts:page-bot
  personas: [{ name: Ada }, { name: Ben }]
  system: "You are {{ persona.name }}."
settings: { concurrency: 1 }`,
      ),
      dir,
    );
    try {
      // concurrency 1 would deadlock two bots that wait for each other: the plan runs them at once.
      expect(result.status, JSON.stringify(result.totals)).toBe("done");
      const data = tidyRowsOf(store, result.runId);
      for (const seat of [1, 2]) {
        const mine = data.filter((r) => r.seat === seat && r.name === "contribution");
        expect(mine.map((r) => r.round)).toEqual([1, 2, 3]);
        expect(mine.map((r) => r.app)).toEqual(["waiting", "waiting", "waiting"]);
        expect(
          data.filter((r) => r.seat === seat && r.app === "widgets" && r.name === "share_a"),
        ).toHaveLength(1);
      }
      // Personas: dealt with the run's seed and recorded, one each.
      const personas = data
        .filter((r) => r.name === "persona")
        .map((r) => (r.value as { name: string }).name);
      expect(personas.sort()).toEqual(["Ada", "Ben"]);
      const state = store.designState(result.runId, "").get() as OtreeRunState;
      expect(state.seats.map((x) => x.persona).sort()).toEqual([0, 1]);
      // No page answered twice: one row per participant, page and field.
      const keys = data
        .filter((r) => r.name !== "persona")
        .map((r) => `${r.participant_code}/${r.page_index}/${r.name}`);
      expect(new Set(keys).size).toBe(keys.length);
    } finally {
      store.close();
    }
  }, 240_000);

  it("re-asks a page oTree rejected with the server's own messages, within the budget", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    const corrected = (prompt: string) => prompt.includes("did not accept");
    llm.setOptions({
      responder: pageResponder({
        guess: (p) => (corrected(p) ? 4 : 3),
        // oTree checks the page's error_message only once every field is valid: a second rejection.
        share_a: (p) => (p.includes("The shares must add up to 100") ? 60 : 30),
        share_b: () => 40,
      }),
    });
    try {
      const { store, result } = await runOtreeStudy(
        study(
          project,
          `session: { config: widgets, participants: 1 }\nbots: { model: ts:page-bot, rejections: 2 }`,
        ),
        dir,
      );
      try {
        expect(result.status, JSON.stringify(result.totals)).toBe("done");
        const data = tidyRowsOf(store, result.runId);
        const guess = data.find((r) => r.name === "guess");
        expect(guess?.value).toBe(4);
        expect(guess?.attempts).toBe(3);
        expect(data.find((r) => r.name === "share_a")?.value).toBe(60);
        const prompts = testSql(store)
          .prepare("SELECT content FROM messages WHERE run_id = ? AND role = 'user' ORDER BY id")
          .all(result.runId) as { content: string }[];
        const reasks = prompts.filter((m) => m.content.includes("did not accept"));
        expect(reasks).toHaveLength(2);
        expect(reasks[0]?.content).toContain("guess (Guess an even number): The guess must be even");
        expect(reasks[1]?.content).toContain("- The shares must add up to 100");
        const turns = testSql(store)
          .prepare("SELECT call_key FROM calls WHERE run_id = ?")
          .all(result.runId) as { call_key: string }[];
        expect(turns.some((t) => t.call_key.includes("widgets/Split/3/rejected-1"))).toBe(true);
        expect(turns.some((t) => t.call_key.includes("widgets/Split/3/rejected-2"))).toBe(true);
      } finally {
        store.close();
      }
    } finally {
      llm.setOptions({ responder: pageResponder(WIDGETS_OK) });
    }
  }, 180_000);

  it("stops a bot on a live page it has no handler for, with a recorded reason, while the other bot finishes", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    const { store, result } = await runOtreeStudy(
      study(project, `session: { config: unsupported, participants: 2 }\nbots: { model: ts:page-bot }`),
      dir,
    );
    try {
      expect(result.status).toBe("partial");
      const sessions = testSql(store)
        .prepare("SELECT key, status, error FROM sessions WHERE run_id = ? ORDER BY key")
        .all(result.runId) as { key: string; status: string; error: string | null }[];
      expect(sessions.map((x) => [x.key, x.status])).toEqual([
        ["seat-1", "failed"],
        ["seat-2", "done"],
      ]);
      expect(sessions[0]?.error).toMatch(/unsupported\/LivePing is a live page/);
      const data = tidyRowsOf(store, result.runId);
      expect(data.filter((r) => r.seat === 2 && r.name === "mood")).toHaveLength(1);
      expect(data.filter((r) => r.seat === 2 && r.name === "share_b")).toHaveLength(1);
    } finally {
      store.close();
    }
  }, 180_000);

  it("lets bots wait for a human and keeps the devserver up until the human has finished", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    const design = createOtreeDesign({
      waitForPage: pollWaitForPage({ reportEveryMs: 300 }),
      waitNoticeEveryMs: 0,
      humanPollMs: 300,
      humanNoticeEveryMs: 500,
    });
    let human: Promise<HumanPlay> | undefined;
    let link: string | undefined;
    let botsDone!: () => void;
    const botsDoneSaid = new Promise<void>((r) => {
      botsDone = r;
    });
    const { store, result, notices } = await runOtreeStudy(
      study(
        project,
        `session: { config: waiting, participants: 2 }\nhumans: [1]\nbots: { model: ts:page-bot }`,
      ),
      dir,
      {
        design,
        onEvent: (e) => {
          if (e.type !== "notice") return;
          link ??= /human seat 1: (\S+)/.exec(e.message)?.[1];
          // The human comes only once the bot says it is waiting for humans.
          if (link && !human && /waiting for humans/.test(e.message)) {
            // … and leaves its last page only once silico says the bots are done: the bot has
            // finished while the human is still on a page.
            human = playHuman(link, 0, () =>
              botsDoneSaid.then(() => new Promise((r) => setTimeout(r, 1500))),
            );
          }
          if (/^bots done; 1 human still playing — the oTree server stays up/.test(e.message)) botsDone();
        },
      },
    );
    try {
      expect(result.status, JSON.stringify(result.totals)).toBe("done");
      // The human's session stayed alive after the bot finished: it submitted its last page too.
      expect(await human).toEqual({ contributed: 3, ended: true });
      expect(notices.some((n) => /^1 bot waiting for humans on wait pages \(longest \d+ s\)$/.test(n))).toBe(
        true,
      );
      expect(
        notices.some((n) =>
          /^humans: 1 playing \(seat 1 on waiting\/Results\), 0 not started, 0 finished; waited/.test(n),
        ),
        notices.join("\n"),
      ).toBe(true);
      expect(
        notices.some((n) =>
          /^every human who started has finished \(after \d+ s\): stopping the oTree server$/.test(n),
        ),
      ).toBe(true);
      const state = store.designState(result.runId, "").get() as OtreeRunState;
      expect(state.humans).toMatchObject({
        outcome: "finished",
        finished: [1],
        playing: [],
        not_started: [],
      });
      expect(groupAlive(state.devserver?.pgid as number)).toBe(false);
      const data = tidyRowsOf(store, result.runId);
      expect(data.filter((r) => r.name === "contribution").map((r) => r.seat)).toEqual([2, 2, 2]);
      // oTree saved the human's answers when silico stopped it: the joined export has them.
      const out = join(dir, "otree.csv");
      await writeOtreeWide(store, store.getRun(result.runId), out);
      const [header, ...rows] = parseCsv(readFileSync(out, "utf8")).records.map((r) => r.fields);
      const col = (name: string) => header?.indexOf(name) as number;
      const humanRow = rows.find((r) => r[col("participant.id_in_session")] === "1");
      expect([1, 2, 3].map((n) => humanRow?.[col(`waiting.${n}.player.contribution`)])).toEqual([
        "5",
        "5",
        "5",
      ]);
      expect(humanRow?.[col("participant._index_in_pages")]).toBe(
        String(Number(humanRow?.[col("participant._max_page_index")]) + 1),
      );
    } finally {
      store.close();
    }
  }, 180_000);

  it("stops the devserver after otree.humans_limit_s when a human never finishes, and records it", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    const design = createOtreeDesign({ humanPollMs: 300, humanNoticeEveryMs: 500 });
    let opened: Promise<void> | undefined;
    const text = study(
      project,
      "session: { config: widgets, participants: 3 }\nhumans: [1, 2]\nbots: { model: ts:page-bot }",
    ).replace("otree:\n", "otree:\n  humans_limit_s: 3\n");
    const started = Date.now();
    let stoppedAt = 0;
    const { store, result, notices } = await runOtreeStudy(text, dir, {
      design,
      onEvent: (e) => {
        if (e.type !== "notice") return;
        // Seat 1 opens its first page and stays there; seat 2 never comes.
        const link = /human seat 1: (\S+)/.exec(e.message)?.[1];
        if (link) opened = new HttpTransport().open(link).then(() => undefined);
        if (/humans' limit has passed/.test(e.message)) stoppedAt = Date.now();
      },
    });
    try {
      await opened;
      expect(result.status, JSON.stringify(result.totals)).toBe("done");
      expect(
        notices.some((n) =>
          /^bots done; 1 human still playing \(1 more never started: not waited for\) — the oTree server stays up until they finish \(at most 3 s: otree.humans_limit_s\); Ctrl-C stops it \(their data so far is saved\)$/.test(
            n,
          ),
        ),
        notices.join("\n"),
      ).toBe(true);
      expect(
        notices.some((n) =>
          /^the humans' limit has passed \(otree.humans_limit_s: 3 s\); humans: 1 playing \(seat 1 on widgets\/\w+\), 1 not started, 0 finished: stopping the oTree server/.test(
            n,
          ),
        ),
        notices.join("\n"),
      ).toBe(true);
      expect(stoppedAt - started).toBeGreaterThan(3000);
      const state = store.designState(result.runId, "").get() as OtreeRunState;
      expect(state.humans).toMatchObject({
        outcome: "limit",
        limit_s: 3,
        finished: [],
        playing: [1],
        not_started: [2],
      });
      expect(state.humans?.waited_s).toBeGreaterThanOrEqual(3);
      expect(groupAlive(state.devserver?.pgid as number)).toBe(false);
    } finally {
      store.close();
    }
  }, 180_000);

  it("tells the model the time left on a timed page and records a late answer as a timeout", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    // The test server's own default answers: it fills the schema written in the page prompt.
    const slow = await startOpenAITestServer({ latencyMs: 2600 });
    try {
      const text = study(
        project,
        "session: { config: timing, participants: 1 }\nbots: { model: ts:page-bot }",
      ).replace(llm.url, slow.url);
      const { store, result } = await runOtreeStudy(text, dir);
      try {
        expect(result.status, JSON.stringify(result.totals)).toBe("done");
        const quick = tidyRowsOf(store, result.runId).find((r) => r.name === "quick");
        expect(quick).toMatchObject({ page: "Quick", timeout: true });
        expect([1, 2, 3, 4, 5]).toContain(quick?.value);
        const prompt = testSql(store)
          .prepare("SELECT content FROM messages WHERE run_id = ? AND role = 'user' ORDER BY id LIMIT 1")
          .get(result.runId) as { content: string };
        expect(prompt.content).toMatch(/Time left on this page: [12] seconds\./);
      } finally {
        store.close();
      }
    } finally {
      await slow.close();
    }
  }, 180_000);

  it("memory: summary starts each page from the system prompt and the bot's running notes", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    const { store, result } = await runOtreeStudy(
      study(
        project,
        "session: { config: widgets, participants: 1 }\nbots: { model: ts:page-bot, memory: summary, system: Be brief. }",
      ),
      dir,
    );
    try {
      expect(result.status, JSON.stringify(result.totals)).toBe("done");
      const calls = testSql(store)
        .prepare("SELECT call_key, request FROM calls WHERE run_id = ? ORDER BY id")
        .all(result.runId) as { call_key: string; request: string }[];
      const split = calls.find(
        (c) => c.call_key.includes("widgets/Split/3") && !c.call_key.includes("summary"),
      );
      const messages = (
        JSON.parse(split?.request as string) as { messages: { role: string; content: string }[] }
      ).messages;
      expect(messages.map((m) => m.role)).toEqual(["system", "user", "user"]);
      expect(messages[1]?.content).toContain("your own notes");
      expect(calls.filter((c) => c.call_key.endsWith("/summary/1"))).toHaveLength(3);
      // The notes are not data: one row per field only.
      expect(tidyRowsOf(store, result.runId).map((r) => r.name)).not.toContain("summary");
    } finally {
      store.close();
    }
  }, 180_000);
});

/** A person on the `waiting` app: starts late, contributes 5 each round, waits like a browser. */
interface HumanPlay {
  contributed: number;
  ended: boolean;
}

/** A scripted human on the waiting app; `beforeLast` is awaited before it submits its last page. */
async function playHuman(
  startLink: string,
  delayMs: number,
  beforeLast?: () => Promise<void>,
): Promise<HumanPlay> {
  await new Promise((r) => setTimeout(r, delayMs));
  const t = new HttpTransport();
  let page = await t.open(startLink);
  let contributed = 0;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (page.page.kind === "end") return { contributed, ended: true };
    if (page.page.kind === "wait") {
      await new Promise((r) => setTimeout(r, 300));
      page = await t.reload();
    } else if (page.page.fields.some((f) => f.name === "contribution")) {
      page = await t.submit({ fields: { contribution: "5" }, button: { role: "next" } });
      contributed++;
    } else {
      if (contributed === 3) await beforeLast?.();
      page = await t.submit({ fields: {}, button: { role: "next" } });
    }
  }
  return { contributed, ended: false };
}
