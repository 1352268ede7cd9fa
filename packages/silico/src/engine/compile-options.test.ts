import { rmSync } from "node:fs";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  fixture,
  tempDir,
  ULTIMATUM,
  withGptThreads,
  writeScenario,
} from "../designs/alter-ego/test-helpers.js";
import { compileStudyFile, compileStudyText } from "../designs/index.js";
import { RunStore } from "../store/run-store.js";
import type { Recompile } from "./compiled-study.js";
import { resumeRun, startRun } from "./run-study.js";

// A study compiled with options beside its file (alter_ego's -n) is resumed with the same
// options: they travel inside the compiled study and the run manifest.

let server: TestServer;
let dir: string;
const saved = { url: process.env.OPENAI_BASE_URL, key: process.env.OPENAI_API_KEY };

beforeAll(async () => {
  server = await startOpenAITestServer({});
  process.env.OPENAI_BASE_URL = server.url;
  process.env.OPENAI_API_KEY = "sk-test-compile-options";
  dir = tempDir("silico-compile-options-");
});
afterAll(async () => {
  await server.close();
  process.env.OPENAI_BASE_URL = saved.url;
  process.env.OPENAI_API_KEY = saved.key;
  rmSync(dir, { recursive: true, force: true });
});

describe("compile options", () => {
  it("a library run of a built.json with replications, stopped by a 401, resumes and finishes", async () => {
    const path = writeScenario(dir, withGptThreads(fixture(ULTIMATUM), "gpt-4o-mini"));
    const study = compileStudyFile(path, { replications: 3 });
    expect(study.compileOptions).toEqual({ replications: 3 });
    const store = RunStore.open(join(dir, "runs.db"));
    try {
      server.setOptions({ failFirst: { count: 1, status: 401, message: "bad key" } });
      const first = await startRun(study, { store, seed: 4, concurrency: 1 });
      expect(first.status).toBe("failed");
      expect(first.totals.done).toBe(0);
      const run = store.getRun(first.runId);
      expect(run.manifest.compile_options).toEqual({ replications: 3 });
      expect(run.total_sessions).toBe(3);

      const seen: unknown[] = [];
      const recompile: Recompile = (text, p, options) => {
        seen.push(options);
        return compileStudyText(text, p, options);
      };
      const resumed = await resumeRun(first.runId, { store, recompile });
      expect(seen).toEqual([{ replications: 3 }]);
      expect(resumed.status).toBe("done");
      expect(resumed.totals.done).toBe(3);
    } finally {
      store.close();
    }
  });

  it("resume without a recompile function uses the compiler the designs registered", async () => {
    const path = writeScenario(dir, withGptThreads(fixture(ULTIMATUM), "gpt-4o-mini"), "two.json");
    const store = RunStore.open(join(dir, "runs2.db"));
    try {
      server.setOptions({ failFirst: { count: 1, status: 401, message: "bad key" } });
      const first = await startRun(compileStudyFile(path, { replications: 2 }), { store, seed: 4 });
      expect(first.status).toBe("failed");
      const resumed = await resumeRun(first.runId, { store });
      expect(resumed.totals.done).toBe(2);
    } finally {
      store.close();
    }
  });
});
