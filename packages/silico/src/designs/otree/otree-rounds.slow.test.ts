// Rounds on a production oTree server (OTREE_PRODUCTION=1: no debug panel on participant pages):
// from the page index and the session's layout read once from oTree's wide export, also for pages
// shown only in some rounds. Needs oTree 6.0 (SILICO_TEST_OTREE or .venv-test-otree/).
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Devserver, startDevserver } from "../../otree/devserver.js";
import { OtreeRestClient } from "../../otree/rest-client.js";
import { runCli } from "../../test-support/cli.js";
import { parseCsv } from "../stimuli/csv-reader.js";
import type { OtreeRunState } from "./otree-session.js";
import { roundFromHtml } from "./page-answer.js";
import { pageResponder, projectCopy, requireOtree, runOtreeStudy, tidyRowsOf } from "./test-helpers.js";

const otree = requireOtree();

let llm: TestServer;
let server: Devserver;
let dir: string;
beforeAll(async () => {
  llm = await startOpenAITestServer({ responder: pageResponder() });
  const copy = projectCopy();
  dir = copy.dir;
  server = await startDevserver({ projectDir: copy.project, otree, production: true });
}, 180_000);
afterAll(async () => {
  await llm?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

function study(config: string, seed: number): string {
  return `kind: otree
otree: { url: "${server.baseUrl}" }
session: { config: ${config}, participants: 2 }
bots: { model: ts:page-bot }
seed: ${seed}
providers:
  ts: { type: openai-compatible, base_url: "${llm.url}" }
`;
}

describe("rounds without oTree's debug panel (production mode)", () => {
  it("the server's pages carry no round", async () => {
    const client = new OtreeRestClient(server.baseUrl);
    const created = await client.createSession({ configName: "waiting", participants: 2 });
    const { participants } = await client.session(created.code);
    const res = await fetch(client.startLink(participants[0]?.code as string));
    const html = await res.text();
    expect(res.url).toMatch(/\/p\/\w+\/waiting\/Contribute\/1$/);
    expect(html).not.toContain("Round number");
    expect(roundFromHtml(html)).toBeUndefined();
  });

  it("gives every row of the waiting app (3 pages a round, a wait page, 3 rounds) its round", async () => {
    const { store, result } = await runOtreeStudy(study("waiting", 1), dir);
    try {
      expect(result.status, JSON.stringify(result.totals)).toBe("done");
      const state = store.designState(result.runId, "").get() as OtreeRunState;
      expect(state.round_layout).toEqual({ apps: [{ name: "waiting", rounds: 3 }], totalPages: 9 });
      const rows = tidyRowsOf(store, result.runId).filter((r) => r.name === "contribution");
      for (const seat of [1, 2]) {
        const mine = rows.filter((r) => r.seat === seat);
        expect(mine.map((r) => [r.round, r.page_index])).toEqual([
          [1, 1],
          [2, 4],
          [3, 7],
        ]);
      }
      // The same through `silico data`.
      const out = await runCli(["--db", join(dir, "silico.db"), "data", result.runId]);
      expect(out.code, out.stderr).toBe(0);
      const [header, ...lines] = parseCsv(out.stdout).records.map((r) => r.fields);
      const col = (name: string) => (header as string[]).indexOf(name);
      const csvRounds = lines
        .filter((l) => l[col("name")] === "contribution")
        .map((l) => `${l[col("seat")]}:${l[col("round")]}`)
        .sort();
      expect(csvRounds).toEqual(["1:1", "1:2", "1:3", "2:1", "2:2", "2:3"]);
    } finally {
      store.close();
    }
  }, 240_000);

  it("gives pages shown only in some rounds their round (counting pages would not), over two apps", async () => {
    const { store, result } = await runOtreeStudy(study("rounds", 2), dir);
    try {
      expect(result.status, JSON.stringify(result.totals)).toBe("done");
      const state = store.designState(result.runId, "").get() as OtreeRunState;
      expect(state.round_layout).toEqual({
        apps: [
          { name: "rounds", rounds: 3 },
          { name: "waiting", rounds: 3 },
        ],
        totalPages: 21,
      });
      const rows = tidyRowsOf(store, result.runId);
      for (const seat of [1, 2]) {
        const of = (name: string) =>
          rows.filter((r) => r.seat === seat && r.name === name).map((r) => `${r.app}:${r.round}`);
        expect(of("age")).toEqual(["rounds:1"]);
        expect(of("guess")).toEqual(["rounds:1", "rounds:2", "rounds:3"]);
        // Shown in rounds 2 and 3 only: a count of Bonus pages seen would say 1 and 2.
        expect(of("bonus")).toEqual(["rounds:2", "rounds:3"]);
        expect(of("contribution")).toEqual(["waiting:1", "waiting:2", "waiting:3"]);
      }
    } finally {
      store.close();
    }
  }, 240_000);
});
