// kill -9 and `silico resume` on a live page (on_connect is not sent twice, no message is repeated
// or lost) and with driver: browser (no page answered twice, none lost), through the built CLI.
// Needs oTree 6.0 (SILICO_TEST_OTREE or .venv-test-otree/), Chromium for the browser test, and
// `npm run build`.
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ResponderRequest, startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupAlive, startDevserver } from "../../otree/devserver.js";
import { OtreeRestClient } from "../../otree/rest-client.js";
import { RunStore } from "../../store/run-store.js";
import { testSql } from "../../store/test-sql.js";
import { CLI, spawnCli } from "../../test-support/cli.js";
import { parseCsv } from "../stimuli/csv-reader.js";
import { countIn } from "../../test-support/store-rows.js";
import type { OtreeRunState } from "./otree-session.js";
import {
  lastRunState,
  lastUserText,
  pageResponder,
  projectCopy,
  requireOtree,
  stopDevserverGroups,
  WIDGETS_OK,
} from "./test-helpers.js";

const otree = requireOtree();

/**
 * Pages as the helpers answer them; on the live page, offers (keep 60, then 55) until three were
 * made, then the standing offer is accepted — so the bargaining lasts several turns.
 */
function responder(): (req: ResponderRequest) => string {
  const pages = pageResponder(WIDGETS_OK);
  return (req) => {
    const prompt = lastUserText(req);
    if (prompt.includes("exchanges messages with the server")) {
      const states = [...prompt.matchAll(/^- (\{.*\})$/gm)].map(
        (m) => JSON.parse(m[1] as string) as { standing_offer?: { by: string } | null; offers_left?: number },
      );
      const last = states.at(-1);
      if (!last) return JSON.stringify({ message: null });
      if (last.standing_offer?.by === "other" && (last.offers_left ?? 6) <= 3) {
        return JSON.stringify({ message: { type: "accept" } });
      }
      if (last.standing_offer?.by === "you") return JSON.stringify({ message: null });
      return JSON.stringify({ message: { type: "offer", keep: last.standing_offer ? 55 : 60 } });
    }
    return pages(req);
  };
}

let llm: TestServer;
const dirs: string[] = [];
beforeAll(async () => {
  // Slow answers, so the kill lands mid-session.
  llm = await startOpenAITestServer({ responder: responder(), latencyMs: 500 });
});
afterAll(async () => {
  await llm?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs the study in a child process, kills it with SIGKILL once `ready` holds, then resumes it. */
async function killAndResume(file: string, db: string, ready: () => boolean): Promise<OtreeRunState> {
  const child = spawn(process.execPath, [CLI, "--db", db, "run", file, "--quiet"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  const deadline = Date.now() + 120_000;
  while (!ready()) {
    if (Date.now() > deadline || exited) {
      child.kill("SIGKILL");
      throw new Error(`the run never got to the point of the kill: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  const resumed = await spawnCli(["--db", db, "resume", "last", "--quiet"], { timeoutMs: 240_000 });
  expect(resumed.code, resumed.stderr).toBe(0);
  const store = RunStore.open(db);
  try {
    return store.designState(store.getRun("last").id, "").get() as OtreeRunState;
  } finally {
    store.close();
  }
}

function stopLeftovers(db: string): void {
  stopDevserverGroups(lastRunState(db)?.devserver?.pgid);
}

describe("silico resume after kill -9", () => {
  it("on a live page: on_connect is not sent again, and every offer the server counted is recorded once", async () => {
    const { dir, project } = projectCopy("silico-otree-live-resume-");
    dirs.push(dir);
    const file = join(dir, "study.yaml");
    writeFileSync(
      file,
      `kind: otree
otree: { project: ${JSON.stringify(project)}, command: ${JSON.stringify(otree)} }
session: { config: live_bargain, participants: 2 }
bots:
  model: ts:silico-test
  live:
    Bargain:
      send:
        anyOf:
          - { type: object, properties: { type: { const: offer }, keep: { type: integer } }, required: [type, keep] }
          - { type: object, properties: { type: { const: accept } }, required: [type] }
      on_connect: { type: load }
      on_resume: { type: load }
      show: [standing_offer, offers_left, finished, error]
      record: [standing_offer, offers_made, deal, finished, payoff]
      done: { when: { finished: true }, max_messages: 6, wait_s: 3 }
seed: 8
providers:
  ts: { type: openai-compatible, base_url: "${llm.url}" }
`,
    );
    const db = join(dir, "silico.db");
    const sent = (what: string) =>
      countIn(
        db,
        `SELECT COUNT(*) AS n FROM observations WHERE name = 'live_sent' AND json_extract(value, '$.type') = '${what}'`,
      );
    try {
      // Killed once both bots sent on_connect and an offer went out, before the bargaining ended.
      const state = await killAndResume(
        file,
        db,
        () =>
          countIn(
            db,
            "SELECT COUNT(*) AS n FROM observations WHERE name = 'live_sent' AND meta LIKE '%on_connect%'",
          ) >= 2 &&
          sent("offer") >= 1 &&
          countIn(db, "SELECT COUNT(*) AS n FROM observations WHERE name = 'live_end'") === 0,
      );
      const store = RunStore.open(db);
      try {
        const runId = store.getRun("last").id;
        expect(store.getRun(runId).status).toBe("done");
        const rows = (
          testSql(store)
            .prepare(
              "SELECT name, value, meta, coords FROM observations WHERE run_id = ? AND name LIKE 'live_%'",
            )
            .all(runId) as { name: string; value: string; meta: string | null; coords: string }[]
        ).map((r) => ({
          name: r.name,
          value: JSON.parse(r.value) as Record<string, unknown> | string,
          meta: JSON.parse(r.meta ?? "{}") as Record<string, unknown>,
          seat: (JSON.parse(r.coords) as { seat: number }).seat,
        }));
        for (const seat of [1, 2]) {
          const mine = rows.filter((r) => r.seat === seat);
          // Once on_connect, once on_resume (the bot came back to the page), one end.
          expect(mine.filter((r) => r.name === "live_sent" && r.meta.on_connect === true)).toHaveLength(1);
          expect(mine.filter((r) => r.name === "live_sent" && r.meta.on_resume === true)).toHaveLength(1);
          expect(mine.filter((r) => r.name === "live_end").map((r) => r.value)).toEqual(["finished"]);
        }
        // The server counted exactly the offers silico recorded as sent: none twice, none lost.
        const recordedOffers = rows.filter(
          (r) => r.name === "live_sent" && (r.value as Record<string, unknown>)?.type === "offer",
        ).length;
        expect(recordedOffers).toBeGreaterThanOrEqual(2);
        expect(groupAlive(state.devserver?.pgid as number)).toBe(false);
        // The devserver was stopped (SIGTERM, db saved): read the server's count from a fresh one.
        const server = await startDevserver({ projectDir: project, otree });
        try {
          const csv = await new OtreeRestClient(server.baseUrl).exportApp("live_bargain", state.session_code);
          const [header, ...lines] = parseCsv(csv).records.map((r) => r.fields);
          const at = (header as string[]).indexOf("group.num_offers");
          const counted = [...new Set(lines.filter((l) => l.length > 1).map((l) => Number(l[at])))];
          expect(counted).toHaveLength(1);
          // A frame sent just before kill -9 may never reach the live_method (the dying socket can
          // be reset): such a message must be flagged live_unconfirmed, never silently counted.
          const unconfirmed = rows.filter((r) => r.name === "live_unconfirmed").length;
          expect(counted[0]).toBeLessThanOrEqual(recordedOffers);
          expect(recordedOffers - (counted[0] as number)).toBeLessThanOrEqual(unconfirmed);
        } finally {
          await server.stop();
        }
      } finally {
        store.close();
      }
    } finally {
      stopLeftovers(db);
    }
  }, 400_000);

  it("with driver: browser: the same session, no page answered twice and none lost", async () => {
    const { dir, project } = projectCopy("silico-otree-browser-resume-");
    dirs.push(dir);
    const file = join(dir, "study.yaml");
    writeFileSync(
      file,
      `kind: otree
otree: { project: ${JSON.stringify(project)}, command: ${JSON.stringify(otree)} }
session: { config: two_apps, participants: 2 }
bots: { model: ts:silico-test, driver: browser, browser_pages: 2 }
seed: 9
providers:
  ts: { type: openai-compatible, base_url: "${llm.url}" }
`,
    );
    const db = join(dir, "silico.db");
    const observations = () => countIn(db, "SELECT COUNT(*) AS n FROM observations WHERE name != 'persona'");
    try {
      let before = 0;
      const state = await killAndResume(file, db, () => {
        // Killed mid-session: some pages answered and recorded, not all.
        before = observations();
        return countIn(db, "SELECT COUNT(*) AS n FROM calls") >= 4 && before > 0;
      });
      expect(before).toBeLessThan(2 * 18);
      const store = RunStore.open(db);
      try {
        const runId = store.getRun("last").id;
        expect(store.getRun(runId).status).toBe("done");
        const obs = testSql(store)
          .prepare("SELECT name, coords FROM observations WHERE run_id = ? AND name != 'persona'")
          .all(runId) as { name: string; coords: string }[];
        const keys = obs.map((o) => {
          const c = JSON.parse(o.coords) as Record<string, unknown>;
          return `${c.participant_code}/${c.page_index}/${o.name}`;
        });
        // Each bot: 3 contributions, then 15 widget fields: 18 rows, none twice.
        expect(new Set(keys).size).toBe(keys.length);
        expect(keys.length).toBe(2 * 18);
        for (const seat of state.seats) {
          const rounds = obs
            .filter((o) => o.name === "contribution" && JSON.parse(o.coords).participant_code === seat.code)
            .map((o) => JSON.parse(o.coords).round)
            .sort();
          expect(rounds).toEqual([1, 2, 3]);
        }
      } finally {
        store.close();
      }
      // oTree agrees: every widget of both participants was saved once the session ended.
      const server = await startDevserver({ projectDir: project, otree });
      try {
        const csv = await new OtreeRestClient(server.baseUrl).exportApp("widgets", state.session_code);
        const [header, ...lines] = parseCsv(csv).records.map((r) => r.fields);
        const at = (header as string[]).indexOf("player.share_a");
        expect(lines.filter((l) => l.length > 1).map((l) => l[at])).toEqual(["60", "60"]);
      } finally {
        await server.stop();
      }
    } finally {
      stopLeftovers(db);
    }
  }, 400_000);
});
