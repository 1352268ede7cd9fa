import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRun } from "../../engine/run-study.js";
import { TidyExport } from "../../export/tidy-rows.js";
import { RunStore } from "../../store/run-store.js";
import { readStudyFile } from "../../study/source.js";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { checkStudy } from "../../tokens/check.js";
import { registerDesign } from "../index.js";
import { stimuliDesign } from "./index.js";

registerDesign(stimuliDesign);

const EXAMPLE = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../../examples/pronoun-gender");
const MALE = ["Corlak", "Bremmon", "Tovert", "Daskon", "Mellor", "Gravek", "Stilbert", "Pontrik"];

let server: TestServer;
let dir: string;
beforeAll(async () => {
  // Answers "he …" to a male-ish name and "she …" to a female-ish one (last user message).
  server = await startOpenAITestServer({
    responder: ({ messages }) => {
      const last = JSON.stringify(messages.filter((m) => m.role === "user").at(-1));
      return MALE.some((n) => last.includes(`After ${n} `)) ? "he fell asleep." : "she fell asleep.";
    },
  });
  dir = mkdtempSync(join(tmpdir(), "silico-pronoun-"));
  copyFileSync(join(EXAMPLE, "stimuli.csv"), join(dir, "stimuli.csv"));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The example study with its model pointed at the test server instead of the local model. */
function onTestServer(name: string): string {
  const text = readFileSync(join(EXAMPLE, name), "utf8");
  expect(text).toContain("model: local:smollm2-135m");
  const out = join(dir, name);
  writeFileSync(
    out,
    `${text.replace("model: local:smollm2-135m", "model: ts:m")}providers:\n  ts: { type: openai-compatible, base_url: "${server.url}" }\n`,
  );
  return out;
}

describe("examples/pronoun-gender", () => {
  for (const [file, sessions] of [
    ["one-trial.yaml", 48],
    ["many-trials.yaml", 6],
  ] as const) {
    it(`${file} runs, and every observation carries its condition`, async () => {
      const store = RunStore.open(join(dir, "runs.db"));
      try {
        const result = await startRun(stimuliDesign.compile(readStudyFile(onTestServer(file)), {}), {
          store,
        });
        expect(result.status).toBe("done");
        expect(result.totals.sessions).toBe(sessions);
        const rows = [...new TidyExport(store, store.getRun(result.runId)).rows()];
        expect(rows).toHaveLength(48 * 4); // answer, p_he, p_she, covered per trial
        const by = (name: string, condition: string) =>
          rows.filter((r) => r.name === name && r.condition === condition).map((r) => r.value);
        expect(new Set(by("answer", "male-ending"))).toEqual(new Set(["he"]));
        expect(new Set(by("answer", "female-ending"))).toEqual(new Set(["she"]));
        expect(new Set(by("p_he", "male-ending"))).toEqual(new Set([1]));
        expect(new Set(by("p_she", "female-ending"))).toEqual(new Set([1]));
        expect(rows.every((r) => typeof r.Stem === "string" && typeof r.Form === "string")).toBe(true);
      } finally {
        store.close();
      }
    });
  }

  it("fits the local model's context window", async () => {
    const r = await checkStudy(join(EXAMPLE, "many-trials.yaml"));
    expect(r.ok).toBe(true);
    expect(r.groups.map((g) => [g.label, g.window, g.fits])).toEqual([
      ["Run 1", 2048, true],
      ["Run 2", 2048, true],
    ]);
  });
});
