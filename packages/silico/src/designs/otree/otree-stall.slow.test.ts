// A bot that stops leaves its partners on a wait page: without human seats they stop too, soon and
// with a reason naming the partner; with human seats they keep waiting (up to wait_limit_s).
// Needs oTree 6.0 (SILICO_TEST_OTREE or .venv-test-otree/).
import { rmSync } from "node:fs";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testSql } from "../../store/test-sql.js";
import type { OtreeRunState } from "./otree-session.js";
import { otreeStudyText, pageResponder, projectCopy, requireOtree, runOtreeStudy } from "./test-helpers.js";

const otree = requireOtree();

let llm: TestServer;
const dirs: string[] = [];
beforeAll(async () => {
  // The "stubborn" model contributes more than the page allows, every time.
  llm = await startOpenAITestServer({
    responder: (req) => pageResponder({ contribution: () => (req.model === "stubborn" ? 99 : 5) })(req),
  });
});
afterAll(async () => {
  await llm?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function sessionsOf(store: Parameters<typeof testSql>[0], runId: string) {
  return testSql(store)
    .prepare("SELECT key, status, error FROM sessions WHERE run_id = ? ORDER BY key")
    .all(runId) as { key: string; status: string; error: string | null }[];
}

describe("a bot that stops leaves its partners waiting", () => {
  it("without human seats, its partner stops once nothing moves for stall_s, naming it (not after wait_limit_s)", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    const started = Date.now();
    const { store, result } = await runOtreeStudy(
      otreeStudyText({
        name: "stall",
        seed: 4,
        project,
        otree,
        llmUrl: llm.url,
        body: `session: { config: waiting, participants: 2 }
bots:
  model: ts:page-bot
  wait_limit_s: 300
  stall_s: 2
  seats:
    - { seats: [1], model: ts:stubborn }`,
      }),
      dir,
    );
    try {
      expect(Date.now() - started).toBeLessThan(120_000);
      const sessions = sessionsOf(store, result.runId);
      expect(sessions.map((s) => [s.key, s.status])).toEqual([
        ["seat-1", "failed"],
        ["seat-2", "failed"],
      ]);
      // 99 does not fit the page's bounds: the answer cannot be used and the bot stops.
      expect(sessions[0]?.error).toMatch(/^waiting\/Contribute: the model's answer could not be used/);
      expect(sessions[1]?.error).toMatch(
        /waiting\/ResultsWaitPage: every bot still playing has been on a wait page for \d+ s with no page progress, and the session has no human seats/,
      );
      expect(sessions[1]?.error).toMatch(
        /\(seat 1 stopped: waiting\/Contribute: the model's answer could not be used/,
      );
    } finally {
      store.close();
    }
  }, 240_000);

  it("with a human seat, the bot keeps waiting for the human (up to wait_limit_s)", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    const { store, result, notices } = await runOtreeStudy(
      otreeStudyText({
        name: "stall-humans",
        seed: 4,
        project,
        otree,
        llmUrl: llm.url,
        body: `session: { config: waiting, participants: 2 }
humans: [1]
bots:
  model: ts:page-bot
  wait_limit_s: 6
  stall_s: 1`,
      }),
      dir,
    );
    try {
      const sessions = sessionsOf(store, result.runId);
      expect(sessions.map((s) => [s.key, s.status])).toEqual([["seat-2", "failed"]]);
      expect(sessions[0]?.error).toMatch(
        /waited more than 6 s on the wait page ResultsWaitPage \(waiting for humans\)/,
      );
      // The human never came: the seat does not hold the devserver once the bot is done.
      expect(notices).toContain("bots done; human seat 1 never started: stopping the oTree server");
      const state = store.designState(result.runId, "").get() as OtreeRunState;
      expect(state.humans).toMatchObject({ outcome: "finished", waited_s: 0, not_started: [1], playing: [] });
    } finally {
      store.close();
    }
  }, 240_000);
});
