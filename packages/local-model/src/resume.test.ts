import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { compileStudyText, RunReader, RunStore, resumeRun, startRun } from "silico";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureModel } from "./pull.js";

// silico runs the real local model through its registry (which imports this package on demand):
// a run killed mid-way (the built CLI in a child process) and resumed at another concurrency, with
// other decode options given, answers exactly as the uninterrupted run, because the resume decodes
// with the recorded settings.

const CLI = resolve(createRequire(import.meta.url).resolve("silico"), "../../bin/silico.js");

let dir: string;

beforeAll(async () => {
  await ensureModel("smollm2-135m");
  dir = mkdtempSync(join(tmpdir(), "silico-local-resume-"));
}, 600_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const STUDY = `kind: factorial
name: local-resume
seed: 20240101
prompt: |
  Give an approval rating for {{ politician }} at the {{ time }} of their presidency,
  on a scale from 0 (strongly disapprove) to 100 (strongly approve).
  Respond only with a number.
levels:
  politician: [Joe Biden, Donald Trump, Barack Obama]
  time: [beginning, end]
model: local:smollm2-135m
times: 2
parse: { type: number, min: 0, max: 100, integer: true }
params: { temperature: 1.0, max_tokens: 8 }
`;

function answers(store: RunStore, runId: string): Record<string, string> {
  const calls = new RunReader(store).calls(runId, { status: "ok", includeBodies: false }, { limit: 10_000 });
  return Object.fromEntries(calls.items.map((c) => [c.sessionKey, c.text ?? ""]));
}

function study() {
  return compileStudyText(STUDY, join(dir, "study.yaml"));
}

describe("local model: resume decodes with the recorded settings", () => {
  it("an interrupted run resumed at another concurrency answers as the uninterrupted one", async () => {
    const whole = RunStore.open(join(dir, "whole.sqlite"));
    const partsPath = join(dir, "parts.sqlite");
    const parts = RunStore.open(partsPath);
    try {
      const a = await startRun(study(), { store: whole, concurrency: 1 });
      expect(a.status).toBe("done");
      const expected = answers(whole, a.runId);
      expect(Object.keys(expected)).toHaveLength(12);

      // Killed after 3 answers, at concurrency 4.
      const file = join(dir, "study.yaml");
      writeFileSync(file, STUDY);
      const child = spawn(
        process.execPath,
        [CLI, "--db", partsPath, "run", file, "--concurrency", "4", "--quiet"],
        {
          stdio: "ignore",
        },
      );
      const exited = once(child, "exit");
      const reader = new RunReader(parts);
      const answered = () => {
        const [started] = parts.listRuns();
        return started ? reader.countCalls(started.id, { status: "ok" }) : 0;
      };
      while (answered() < 3) {
        if (child.exitCode !== null) throw new Error("the run ended before it could be killed");
        await new Promise((r) => setTimeout(r, 20));
      }
      child.kill("SIGKILL");
      await exited;
      const [run] = parts.listRuns();
      const b = { runId: run!.id };
      const before = Object.keys(answers(parts, b.runId)).length;
      expect(before).toBeGreaterThanOrEqual(3);
      expect(before).toBeLessThan(12);
      const recorded = parts.getRun(b.runId).manifest.models as Record<
        string,
        { manifest: { decode: Record<string, number> } }
      >;
      expect(recorded["local:smollm2-135m"]!.manifest.decode).toEqual({
        sequences: 8,
        promptBlock: 8,
        contextSize: 2048,
        batchSize: 512,
      });

      // Resumed at concurrency 6 with other decode options: the recorded ones win.
      const c = await resumeRun(b.runId, {
        store: parts,
        concurrency: 6,
        models: { local: { promptBlock: 128, sequences: 2 } },
      });
      expect(c.status).toBe("done");
      expect(answers(parts, b.runId)).toEqual(expected);

      // A new run with those options decodes differently, so it must not reuse the cached answers.
      const d = await startRun(study(), {
        store: whole,
        concurrency: 2,
        models: { local: { promptBlock: 128 } },
      });
      expect(d.status).toBe("done");
      // (Its answers may still coincide: other numerics need not change a short sampled number.)
      expect(d.totals.cacheHits).toBe(0);
      // ...while a re-run with the recorded settings is answered from the cache.
      const e = await startRun(study(), { store: whole, concurrency: 3 });
      expect(e.totals.cacheHits).toBe(12);
      expect(answers(whole, e.runId)).toEqual(expected);
    } finally {
      whole.close();
      parts.close();
    }
  }, 600_000);
});
