// bots.seats on a real oTree devserver: two models in the same groups, each answering its own seats,
// recorded per participant in the store, the data rows and oTree's joined export.
// Needs oTree 6.0 (SILICO_TEST_OTREE or .venv-test-otree/).
import { rmSync } from "node:fs";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "../index.js";
import { parseCsv } from "../stimuli/csv-reader.js";
import type { OtreeRunState } from "./otree-session.js";
import { writeOtreeWide } from "./otree-export.js";
import {
  otreeStudyText,
  pageResponder,
  projectCopy,
  requireOtree,
  runOtreeStudy,
  tidyRowsOf,
} from "./test-helpers.js";

const otree = requireOtree();

let llm: TestServer;
const dirs: string[] = [];
/** Which model was asked with which system prompt (the prompt names the seat). */
const asked: { model: string; system: string }[] = [];
beforeAll(async () => {
  // Each model contributes its own amount, so the rows show which model answered which seat.
  const byModel: Record<string, number> = { "model-a": 2, "model-b": 8 };
  llm = await startOpenAITestServer({
    responder: (req) => {
      const system = req.messages.find((m) => m.role === "system");
      asked.push({ model: req.model, system: typeof system?.content === "string" ? system.content : "" });
      return pageResponder({ contribution: () => byModel[req.model] ?? 5 })(req);
    },
  });
});
afterAll(async () => {
  await llm?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("bots.seats on a real devserver", () => {
  it("plays seats 1 and 3 with one model and 2 and 4 with another, in the same groups; each seat's model is recorded", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    const text = otreeStudyText({
      name: "two models",
      seed: 11,
      project,
      otree,
      llmUrl: llm.url,
      body: `session: { config: waiting, participants: 4 }
bots:
  model: ts:model-b
  system: "Seat {{ seat }}, default prompt."
  seats:
    - seats: [1, 3]
      model: ts:model-a
      system: "Seat {{ seat }}, prompt A."
      params: { temperature: 0.5 }`,
    });
    const { store, result, notices } = await runOtreeStudy(text, dir);
    try {
      expect(result.status, JSON.stringify(result.totals)).toBe("done");
      // Set-up says which model plays which seat.
      expect(notices).toEqual(
        expect.arrayContaining(["  ts:model-a: bot seats 1, 3", "  ts:model-b: bot seats 2, 4"]),
      );
      const rows = tidyRowsOf(store, result.runId).filter((r) => r.name === "contribution");
      expect(rows).toHaveLength(12);
      for (const seat of [1, 2, 3, 4]) {
        const mine = rows.filter((r) => r.seat === seat);
        const model = seat % 2 === 1 ? "ts:model-a" : "ts:model-b";
        expect(mine.map((r) => r.model)).toEqual([model, model, model]);
        expect(mine.map((r) => r.value)).toEqual(seat % 2 === 1 ? [2, 2, 2] : [8, 8, 8]);
      }
      // The server saw each model with its seats' own prompt (and nothing else).
      const seatsOf = (model: string) =>
        [...new Set(asked.filter((a) => a.model === model).map((a) => a.system))].sort();
      expect(seatsOf("model-a")).toEqual(["Seat 1, prompt A.", "Seat 3, prompt A."]);
      expect(seatsOf("model-b")).toEqual(["Seat 2, default prompt.", "Seat 4, default prompt."]);
      // Recorded per participant: the design state's seats and the plan's participants.
      const state = store.designState(result.runId, "").get() as OtreeRunState;
      expect(state.seats.map((s) => [s.seat, s.model])).toEqual([
        [1, "ts:model-a"],
        [2, "ts:model-b"],
        [3, "ts:model-a"],
        [4, "ts:model-b"],
      ]);
      // oTree's own export with silico's columns: each participant's model, next to oTree's data.
      let csv = "";
      await writeOtreeWide(store, store.getRun(result.runId), undefined, {
        write: (chunk) => {
          csv += chunk;
        },
        end: async () => {},
      });
      const [header, ...lines] = parseCsv(csv).records.map((r) => r.fields);
      const at = (name: string) => (header as string[]).indexOf(name);
      const wide = lines
        .filter((l) => l.length > 1)
        .map((l) => ({
          seat: Number(l[at("participant.id_in_session")]),
          model: l[at("silico.model")],
          contribution: l[at("waiting.2.player.contribution")],
        }))
        .sort((a, b) => a.seat - b.seat);
      expect(wide).toEqual([
        { seat: 1, model: "ts:model-a", contribution: "2" },
        { seat: 2, model: "ts:model-b", contribution: "8" },
        { seat: 3, model: "ts:model-a", contribution: "2" },
        { seat: 4, model: "ts:model-b", contribution: "8" },
      ]);
    } finally {
      store.close();
    }
  }, 240_000);
});
