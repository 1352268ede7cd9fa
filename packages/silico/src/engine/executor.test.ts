import { afterEach, describe, expect, it } from "vitest";
import { registerMockModel } from "../models/mock-model.js";
import { ModelPool } from "../models/registry.js";
import { ProviderError } from "../models/types.js";
import { createParser } from "../parse/index.js";
import { RunStore } from "../store/run-store.js";
import { Executor } from "./executor.js";
import type { Plan, SessionPlan } from "./plan.js";
import { testSql } from "../store/test-sql.js";
import { createTestRun } from "../store/test-run.js";

function planOf(sessions: Omit<SessionPlan, "index" | "expectedCalls">[], models: string[]): Plan {
  return {
    kind: "test",
    total: sessions.length,
    models,
    warnings: [],
    coordinateColumns: ["cell", "draw"],
    sessions: () => sessions.map((s, index) => ({ ...s, index, expectedCalls: 1 })),
  };
}

function newRun(store: RunStore, total: number): string {
  return createTestRun(store, { totalSessions: total });
}

const numberParser = createParser({ type: "number" });

describe("Executor", () => {
  let store: RunStore;
  afterEach(() => store?.close());

  it("records calls, messages and observations, and re-asks on invalid answers", async () => {
    store = RunStore.open(":memory:");
    const runId = newRun(store, 1);
    registerMockModel("t-reask", (_req, i) => (i === 0 ? "no idea" : "I say 42"));
    const plan = planOf(
      [
        {
          key: "s1",
          coords: { cell: "a", draw: 1 },
          draw: 1,
          participants: [{ id: "p1", model: "mock:t-reask", params: {}, system: "Be brief." }],
          procedure: async (ctx) => {
            const a = await ctx.ask("p1", {
              prompt: "A number?",
              parser: numberParser,
              turn: "q",
              reask: { max: 2 },
            });
            expect(a.valid).toBe(true);
            expect(a.value).toBe(42);
            expect(a.attempts).toBe(2);
          },
        },
      ],
      ["mock:t-reask"],
    );
    const ex = new Executor({ store, runId, seed: 1, models: new ModelPool() });
    const totals = await ex.run(plan);
    expect(totals).toMatchObject({ done: 1, calls: 2, invalidAnswers: 1 });
    const calls = testSql(store).prepare("SELECT status, text FROM calls ORDER BY id").all();
    expect(calls).toEqual([
      { status: "invalid", text: "no idea" },
      { status: "ok", text: "I say 42" },
    ]);
    const msgs = testSql(store).prepare("SELECT role, content FROM messages ORDER BY seq").all() as {
      role: string;
      content: string;
    }[];
    expect(msgs.map((m) => m.role)).toEqual(["system", "user", "assistant", "user", "assistant"]);
    expect(msgs[3]?.content).toContain("no number found");
    const obs = testSql(store).prepare("SELECT value, valid, attempts, raw FROM observations").all();
    expect(obs).toEqual([{ value: "42", valid: 1, attempts: 2, raw: "I say 42" }]);
  });

  it("keeps N draws as N calls and answers a re-run from the cache", async () => {
    store = RunStore.open(":memory:");
    let calls = 0;
    registerMockModel("t-count", () => `${++calls}`);
    const sessions = [1, 2, 3].map((draw) => ({
      key: `d${draw}`,
      coords: { cell: "x", draw },
      draw,
      participants: [{ id: "p1", model: "mock:t-count", params: {} }],
      procedure: async (ctx: Parameters<SessionPlan["procedure"]>[0]) => {
        await ctx.ask("p1", { prompt: "same prompt", parser: numberParser, turn: "q" });
      },
    }));
    const run1 = newRun(store, 3);
    await new Executor({ store, runId: run1, seed: 1, models: new ModelPool() }).run(
      planOf(sessions, ["mock:t-count"]),
    );
    expect(calls).toBe(3);
    const values = testSql(store)
      .prepare("SELECT value FROM observations WHERE run_id = ? ORDER BY value")
      .pluck()
      .all(run1);
    expect(values).toEqual(["1", "2", "3"]);
    const run2 = newRun(store, 3);
    const t2 = await new Executor({ store, runId: run2, seed: 1, models: new ModelPool() }).run(
      planOf(sessions, ["mock:t-count"]),
    );
    expect(calls).toBe(3);
    expect(t2.cacheHits).toBe(3);
    const again = testSql(store)
      .prepare("SELECT value FROM observations WHERE run_id = ? ORDER BY value")
      .pluck()
      .all(run2);
    expect(again).toEqual(["1", "2", "3"]);
    const run3 = newRun(store, 3);
    await new Executor({ store, runId: run3, seed: 1, models: new ModelPool(), cache: "off" }).run(
      planOf(sessions, ["mock:t-count"]),
    );
    expect(calls).toBe(6);
  });

  it("gives a turn label repeated for one participant its own call key and seed", async () => {
    store = RunStore.open(":memory:");
    const runId = newRun(store, 1);
    const seeds: unknown[] = [];
    registerMockModel("t-repeat", (req) => {
      seeds.push(req.params.seed);
      return "5";
    });
    const plan = planOf(
      [
        {
          key: "s1",
          coords: { cell: "a", draw: 1 },
          draw: 1,
          participants: [{ id: "p1", model: "mock:t-repeat", params: { seed: 9 } }],
          procedure: async (ctx) => {
            for (let i = 0; i < 3; i++)
              await ctx.ask("p1", { prompt: "n?", parser: numberParser, turn: "q" });
          },
        },
      ],
      ["mock:t-repeat"],
    );
    await new Executor({ store, runId, seed: 1, models: new ModelPool() }).run(plan);
    const keys = testSql(store).prepare("SELECT call_key FROM calls ORDER BY id").pluck().all();
    expect(keys).toEqual(["s1/p1/q/1", "s1/p1/q#2/1", "s1/p1/q#3/1"]);
    expect(new Set(seeds).size).toBe(3);
    const sent = testSql(store).prepare("SELECT request FROM calls ORDER BY id").pluck().all() as string[];
    expect(sent.map((r) => (JSON.parse(r) as { params: { seed: number } }).params.seed)).toEqual(seeds);
  });

  it("retries transient failures, records every attempt, and fails permanent errors at once", async () => {
    store = RunStore.open(":memory:");
    const runId = newRun(store, 2);
    let flaky = 0;
    registerMockModel("t-flaky", () => {
      flaky++;
      if (flaky <= 2) throw new ProviderError("HTTP 500: boom", { status: 500, retryable: true });
      return "7";
    });
    let bad = 0;
    registerMockModel("t-bad", () => {
      bad++;
      throw new ProviderError("HTTP 400: bad request", { status: 400, retryable: false });
    });
    const mk = (key: string, model: string) => ({
      key,
      coords: { cell: key, draw: 1 },
      draw: 1,
      participants: [{ id: "p1", model, params: {} }],
      procedure: async (ctx: Parameters<SessionPlan["procedure"]>[0]) => {
        await ctx.ask("p1", { prompt: "n?", parser: numberParser, turn: "q" });
      },
    });
    const totals = await new Executor({ store, runId, seed: 1, models: new ModelPool(), backoffMs: 1 }).run(
      planOf([mk("a", "mock:t-flaky"), mk("b", "mock:t-bad")], ["mock:t-flaky", "mock:t-bad"]),
    );
    expect(flaky).toBe(3);
    expect(bad).toBe(1);
    expect(totals).toMatchObject({ done: 1, failed: 1, retries: 2 });
    const attempts = JSON.parse(
      testSql(store).prepare("SELECT attempts FROM calls WHERE session_key = 'a'").pluck().get() as string,
    ) as unknown[];
    expect(attempts).toHaveLength(3);
    const err = testSql(store).prepare("SELECT error FROM sessions WHERE key = 'b'").pluck().get() as string;
    expect(err).toContain("HTTP 400");
  });

  it("stops the whole run on an authentication error", async () => {
    store = RunStore.open(":memory:");
    const runId = newRun(store, 5);
    registerMockModel("t-auth", () => {
      throw new ProviderError("HTTP 401: invalid key — check the key in OPENAI_API_KEY", {
        status: 401,
        retryable: false,
        fatal: true,
      });
    });
    const sessions = [1, 2, 3, 4, 5].map((i) => ({
      key: `s${i}`,
      coords: { cell: "c", draw: i },
      draw: i,
      participants: [{ id: "p1", model: "mock:t-auth", params: {} }],
      procedure: async (ctx: Parameters<SessionPlan["procedure"]>[0]) => {
        await ctx.ask("p1", { prompt: "n?", parser: numberParser, turn: "q" });
      },
    }));
    const totals = await new Executor({ store, runId, seed: 1, models: new ModelPool(), concurrency: 1 }).run(
      planOf(sessions, ["mock:t-auth"]),
    );
    expect(totals.fatalError).toContain("OPENAI_API_KEY");
    expect(totals.done).toBe(0);
    expect(testSql(store).prepare("SELECT count(*) FROM calls").pluck().get()).toBe(1);
  });
});
