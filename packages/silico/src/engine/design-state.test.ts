import { rmSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { registerProvider, unregisterProvider } from "../models/providers.js";
import { type ModelRequest, ProviderError } from "../models/types.js";
import { createParser } from "../parse/index.js";
import { RunStore } from "../store/run-store.js";
import { parseStudyText } from "../study/source.js";
import type { CompiledStudy } from "./compiled-study.js";
import type { Plan, SessionPlan, TearDownContext } from "./plan.js";
import { resumeRun, startRun } from "./run-study.js";

// A small design with set-up, tear-down and per-session state, as an oTree bridge will need them:
// set-up records run state, a session records where it is, the run stops, the resume sees both.

const dir = mkdtempSync(join(tmpdir(), "silico-design-state-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => unregisterProvider("flaky"));

/** Answers "ok"; while `failOn` is set, a prompt equal to it gets a 401 (a fatal stop). */
const server = { failOn: undefined as string | undefined, prompts: [] as string[] };
function flakyModel(_name: string, id: string) {
  return {
    info: { id, provider: "flaky" },
    async generate(req: ModelRequest) {
      const prompt = String(req.messages.at(-1)?.content ?? "");
      server.prompts.push(prompt);
      if (prompt === server.failOn)
        throw new ProviderError("HTTP 401: bad key", { status: 401, retryable: false, fatal: true });
      return { choices: [{ text: `ok ${prompt}`, finishReason: "stop" }], warnings: [] };
    },
  };
}

interface Log {
  setUps: { resumed: boolean; found: unknown }[];
  tearDowns: TearDownContext["outcome"][];
  sessions: { key: string; found: unknown }[];
}

function statefulStudy(
  log: Log,
  opts: { setUpThrows?: boolean; tearDownThrows?: boolean } = {},
): CompiledStudy {
  const source = parseStudyText(
    JSON.stringify({ kind: "stateful", sessions: 2 }),
    join(dir, "stateful.json"),
  );
  const parser = createParser({ type: "text" });
  const session = (i: number): SessionPlan => ({
    key: `s${i}`,
    index: i,
    coords: { s: i },
    draw: 0,
    expectedCalls: 2,
    participants: [{ id: "p", model: "flaky:m", params: {} }],
    async procedure(ctx) {
      const found = ctx.state.get() as { step: number } | undefined;
      log.sessions.push({ key: ctx.key, found });
      if (!found) {
        await ctx.ask("p", { prompt: `first ${i}`, parser, turn: "first" });
        ctx.state.set({ step: 1 });
      }
      await ctx.ask("p", { prompt: `second ${i}`, parser, turn: "second" });
      ctx.state.set({ step: 2 });
    },
  });
  const plan: Plan = {
    kind: "stateful",
    total: 2,
    sessions: () => [session(0), session(1)],
    models: ["flaky:m"],
    warnings: [],
    coordinateColumns: ["s"],
    async setUp(ctx) {
      const found = ctx.state.get();
      log.setUps.push({ resumed: ctx.resumed, found });
      ctx.state.set({ remote: "session-abc", setUps: ((found as { setUps?: number })?.setUps ?? 0) + 1 });
      if (opts.setUpThrows) throw new Error("the remote server is down");
    },
    async tearDown(ctx) {
      log.tearDowns.push(ctx.outcome);
      if (opts.tearDownThrows) throw new Error("could not close the remote session");
    },
  };
  return { kind: "stateful", source, settings: {}, providers: {}, models: ["flaky:m"], plan: () => plan };
}

describe("set-up, tear-down and design state", () => {
  it("set-up state and a session's state survive a stop; the resume sees both; tear-down runs each time", async () => {
    registerProvider("flaky", flakyModel, { free: true });
    const log: Log = { setUps: [], tearDowns: [], sessions: [] };
    const study = statefulStudy(log);
    const path = join(dir, "runs.db");
    server.failOn = "second 0";
    let store = RunStore.open(path);
    const first = await startRun(study, { store, seed: 3, concurrency: 1 });
    store.close();
    expect(first.status).toBe("failed");
    expect(log.setUps).toEqual([{ resumed: false, found: undefined }]);
    expect(log.sessions).toEqual([{ key: "s0", found: undefined }]);
    expect(log.tearDowns).toEqual(["failed"]);

    // A later process: a new store connection, the model fixed.
    server.failOn = undefined;
    server.prompts = [];
    store = RunStore.open(path);
    try {
      const resumed = await resumeRun(first.runId, { store, recompile: () => statefulStudy(log) });
      expect(resumed.status).toBe("done");
      expect(resumed.totals.done).toBe(2);
      expect(log.setUps[1]).toEqual({ resumed: true, found: { remote: "session-abc", setUps: 1 } });
      // s0 continues where it was (its first question is not asked again); s1 starts afresh.
      expect(log.sessions.slice(1)).toEqual([
        { key: "s0", found: { step: 1 } },
        { key: "s1", found: undefined },
      ]);
      expect(server.prompts).toEqual(["second 0", "first 1", "second 1"]);
      expect(log.tearDowns).toEqual(["failed", "done"]);
      expect(store.designState(first.runId, "s1").get()).toEqual({ step: 2 });
      expect(store.designState(first.runId, "").get()).toEqual({ remote: "session-abc", setUps: 2 });
    } finally {
      store.close();
    }
  });

  it("a set-up that throws fails the run with a clear error; tear-down still runs", async () => {
    registerProvider("flaky", flakyModel, { free: true });
    const log: Log = { setUps: [], tearDowns: [], sessions: [] };
    const store = RunStore.open(join(dir, "setup.db"));
    try {
      let runId = "";
      await expect(
        startRun(statefulStudy(log, { setUpThrows: true }), {
          store,
          onRunCreated: (id) => {
            runId = id;
          },
        }),
      ).rejects.toThrow(/set-up failed: the remote server is down/);
      expect(log.tearDowns).toEqual(["error"]);
      expect(log.sessions).toEqual([]);
      expect(store.getRun(runId).status).toBe("failed");
    } finally {
      store.close();
    }
  });

  it("a tear-down that throws leaves the run's result alone and becomes a warning", async () => {
    registerProvider("flaky", flakyModel, { free: true });
    server.failOn = undefined;
    const log: Log = { setUps: [], tearDowns: [], sessions: [] };
    const store = RunStore.open(join(dir, "teardown.db"));
    try {
      const result = await startRun(statefulStudy(log, { tearDownThrows: true }), { store });
      expect(result.status).toBe("done");
      expect(result.warnings).toEqual(["tear-down failed: could not close the remote session"]);
      expect(store.getRun(result.runId).status).toBe("done");
    } finally {
      store.close();
    }
  });

  it("design state must be JSON", () => {
    const store = RunStore.open(":memory:");
    try {
      expect(() => store.designState("r", "s").set(undefined)).toThrow(/must be JSON/);
      expect(() => store.designState("r", "s").set(10n)).toThrow(/must be JSON/);
    } finally {
      store.close();
    }
  });
});
