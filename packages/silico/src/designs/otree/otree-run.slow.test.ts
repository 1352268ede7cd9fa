// Bots on a real oTree devserver (integrations/otree/test_project) answering through the project's
// OpenAI-compatible test server. Needs oTree 6.0 (SILICO_TEST_OTREE or .venv-test-otree/).
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExecutorEvent } from "../../engine/executor.js";
import { startRun } from "../../engine/run-study.js";
import { TidyExport, type TidyRow } from "../../export/tidy-rows.js";
import { groupAlive } from "../../otree/devserver.js";
import { RunStore } from "../../store/run-store.js";
import { testSql } from "../../store/test-sql.js";
import { parseStudyText } from "../../study/source.js";
import { otreeDesign } from "./index.js";
import type { OtreeRunState } from "./otree-session.js";
import { pageResponder, projectCopy, requireOtree, WIDGETS_OK } from "./test-helpers.js";

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
  return `kind: otree
name: t
otree:
  project: ${JSON.stringify(project)}
  command: ${JSON.stringify(otree)}
${body}
seed: 7
providers:
  ts: { type: openai-compatible, base_url: "${llm.url}" }
`;
}

async function runStudy(text: string, dir: string) {
  const store = RunStore.open(join(dir, "silico.db"));
  const events: ExecutorEvent[] = [];
  const compiled = otreeDesign.compile(parseStudyText(text, join(dir, "study.yaml")), {});
  const result = await startRun(compiled, { store, onEvent: (e) => events.push(e) });
  return { store, result, events, notices: events.filter((e) => e.type === "notice").map((e) => e.message) };
}

function rows(store: RunStore, runId: string): TidyRow[] {
  return [...new TidyExport(store, store.getRun(runId)).rows()];
}

describe("kind: otree on a real devserver", () => {
  it("plays the widgets app: every widget answered, one row per field, the devserver stopped", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    const { store, result, notices } = await runStudy(
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
      const data = rows(store, result.runId);
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
});

