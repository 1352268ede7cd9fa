import { afterEach, describe, expect, it } from "vitest";
import { registerMockModel } from "../models/mock-model.js";
import { ModelPool } from "../models/registry.js";
import { ProviderError } from "../models/types.js";
import { createParser } from "../parse/index.js";
import { SessionQueue } from "../serve/session-queue.js";
import { RunStore } from "../store/run-store.js";
import { Executor } from "./executor.js";
import type { Plan, SessionPlan } from "./plan.js";
import { createTestRun } from "../store/test-run.js";

// An open plan (silico serve): sessions arrive while the run goes on, from `arrivals`.

const text = createParser({ type: "text" });

function session(key: string, model: string): SessionPlan {
  return {
    key,
    index: 0,
    coords: {},
    draw: 1,
    expectedCalls: 1,
    participants: [{ id: "a", model, params: {} }],
    procedure: async (ctx) => {
      await ctx.ask("a", { prompt: `hello ${key}`, parser: text, turn: "t" });
    },
  };
}

function openPlan(queue: SessionQueue, model: string): Plan {
  return {
    kind: "test",
    total: 0,
    models: [model],
    warnings: [],
    coordinateColumns: [],
    sessions: () => [],
    arrivals: queue,
  };
}

function newRun(store: RunStore): string {
  return createTestRun(store);
}

describe("an open plan", () => {
  let store: RunStore;
  afterEach(() => store?.close());

  it("runs sessions as they arrive, several at once, and ends when the source closes", async () => {
    store = RunStore.open(":memory:");
    const runId = newRun(store);
    let inFlight = 0;
    let most = 0;
    registerMockModel("open-slow", async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 50));
      inFlight--;
      return "hi";
    });
    const queue = new SessionQueue();
    const executor = new Executor({ store, runId, seed: 1, models: new ModelPool(), concurrency: 8 });
    const done = executor.run(openPlan(queue, "mock:open-slow"));
    for (let i = 0; i < 5; i++) queue.push(session(`s${i}`, "mock:open-slow"));
    await new Promise((r) => setTimeout(r, 20));
    queue.push(session("late", "mock:open-slow"));
    await new Promise((r) => setTimeout(r, 150));
    expect(queue.close()).toEqual([]);
    const totals = await done;
    expect(totals).toMatchObject({ sessions: 6, done: 6, calls: 6, pending: 0 });
    expect(most).toBeGreaterThan(1);
    expect([...store.sessionStatuses(runId).values()]).toEqual(Array(6).fill("done"));
  });

  it("writes nothing of a session before its model call is sent; afterwards all of it, in order", async () => {
    store = RunStore.open(":memory:");
    const runId = newRun(store);
    const seenAtCall: boolean[] = [];
    registerMockModel("open-first-write", () => {
      // The store's own connection sees its uncommitted writes too: none for this session yet.
      seenAtCall.push(store.sessionStatuses(runId).has("s1"));
      return "fine";
    });
    const queue = new SessionQueue();
    const executor = new Executor({ store, runId, seed: 1, models: new ModelPool(), concurrency: 2 });
    const done = executor.run(openPlan(queue, "mock:open-first-write"));
    queue.push({
      ...session("s1", "mock:open-first-write"),
      participants: [{ id: "a", model: "mock:open-first-write", params: {}, system: "You chat." }],
      procedure: async (ctx) => {
        ctx.tell("a", "user", "earlier");
        ctx.tell("a", "assistant", "reply");
        await ctx.ask("a", { prompt: "now", parser: text, turn: "t" });
      },
    });
    await new Promise((r) => setTimeout(r, 50));
    queue.close();
    await done;
    expect(seenAtCall).toEqual([false]);
    expect(store.sessionStatuses(runId).get("s1")).toBe("done");
    expect(store.sessionMessages(runId, "s1").map((m) => `${m.role}:${m.content}`)).toEqual([
      "system:You chat.",
      "user:earlier",
      "assistant:reply",
      "user:now",
      "assistant:fine",
    ]);
  });

  it("a run that stops (a rejected key) releases the workers waiting for sessions", async () => {
    store = RunStore.open(":memory:");
    const runId = newRun(store);
    registerMockModel("open-401", () => {
      throw new ProviderError("bad key", { status: 401, retryable: false, fatal: true });
    });
    const queue = new SessionQueue();
    const executor = new Executor({ store, runId, seed: 1, models: new ModelPool(), concurrency: 4 });
    const done = executor.run(openPlan(queue, "mock:open-401"));
    queue.push(session("s1", "mock:open-401"));
    // Nothing closes the queue: the stop alone must end the run.
    const totals = await done;
    expect(totals.fatalError).toMatch(/bad key/);
    expect(totals.sessions).toBe(1);
  });
});
