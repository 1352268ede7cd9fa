import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { TidyExport } from "../export/tidy-rows.js";
import { registerProvider, unregisterProvider } from "../models/providers.js";
import { type ModelRequest, ProviderError } from "../models/types.js";
import { createParser } from "../parse/index.js";
import { RunStore } from "../store/run-store.js";
import { parseStudyText } from "../study/source.js";
import type { CompiledStudy } from "./compiled-study.js";
import type { ExecutorEvent } from "./executor.js";
import type { Plan, SessionPlan } from "./plan.js";
import { resumeRun, startRun } from "./run-study.js";

// The plan hooks a design that drives an outside server (oTree) needs: checks before the run is
// recorded, notices for the person running it, sessions that must all be in flight at once,
// observations recorded once the outside world accepted an answer, and sessions resumed in place.

const dir = mkdtempSync(join(tmpdir(), "silico-plan-hooks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => unregisterProvider("hooks"));

const model = { failOn: undefined as string | undefined, requests: [] as ModelRequest[] };
function hooksModel(_name: string, id: string) {
  return {
    info: { id, provider: "hooks" },
    async generate(req: ModelRequest) {
      model.requests.push(req);
      const prompt = String(req.messages.at(-1)?.content ?? "");
      if (prompt === model.failOn)
        throw new ProviderError("HTTP 401: bad key", { status: 401, retryable: false, fatal: true });
      return {
        choices: [{ text: `ok ${prompt}`, finishReason: "stop" }],
        warnings: [],
        usage: { inputTokens: 3, outputTokens: 2 },
      };
    },
  };
}

function study(plan: Plan): CompiledStudy {
  const source = parseStudyText(JSON.stringify({ kind: "hooks" }), join(dir, "hooks.json"));
  return { kind: "hooks", source, settings: {}, providers: {}, models: ["hooks:m"], plan: () => plan };
}

const parser = createParser({ type: "text" });

function basePlan(sessions: SessionPlan[], extra: Partial<Plan> = {}): Plan {
  return {
    kind: "hooks",
    total: sessions.length,
    sessions: () => sessions,
    models: ["hooks:m"],
    warnings: [],
    coordinateColumns: ["n"],
    ...extra,
  };
}

function session(n: number, procedure: SessionPlan["procedure"], system?: string): SessionPlan {
  return {
    key: `s${n}`,
    index: n,
    coords: { n },
    draw: 0,
    expectedCalls: 1,
    participants: [{ id: "p", model: "hooks:m", params: {}, ...(system ? { system } : {}) }],
    procedure,
  };
}

describe("plan hooks", () => {
  it("a prepare that refuses the run leaves no store; its notices reach the caller", async () => {
    registerProvider("hooks", hooksModel, { free: true });
    const path = join(dir, "refused.db");
    const events: ExecutorEvent[] = [];
    const plan = basePlan([session(0, async () => {})], {
      async prepare(ctx) {
        ctx.notice("checking the outside server");
        throw new Error("the outside server says no");
      },
    });
    await expect(
      startRun(study(plan), { store: () => RunStore.open(path), onEvent: (e) => events.push(e) }),
    ).rejects.toThrow(/says no/);
    expect(existsSync(path)).toBe(false);
    expect(events).toEqual([{ type: "notice", message: "checking the outside server" }]);
  });

  it("runs every session of an allAtOnce plan at once, whatever the concurrency", async () => {
    registerProvider("hooks", hooksModel, { free: true });
    let arrived = 0;
    const barrier = async () => {
      arrived++;
      for (let i = 0; arrived < 3 && i < 100; i++) await new Promise((r) => setTimeout(r, 10));
      if (arrived < 3) throw new Error("the others never came");
    };
    const store = RunStore.open(join(dir, "at-once.db"));
    try {
      const plan = basePlan(
        [0, 1, 2].map((n) => session(n, barrier)),
        { allAtOnce: true },
      );
      const result = await startRun(study(plan), { store, concurrency: 1 });
      expect(result.status).toBe("done");
    } finally {
      store.close();
    }
  });

  it("records a procedure's own observations linked to the call, and resets a conversation", async () => {
    registerProvider("hooks", hooksModel, { free: true });
    model.requests = [];
    const store = RunStore.open(join(dir, "observe.db"));
    try {
      const plan = basePlan([
        session(
          0,
          async (ctx) => {
            const a = await ctx.ask("p", { prompt: "page 1", parser, turn: "one", observe: false });
            ctx.record(
              "p",
              "field",
              "accepted",
              { page: 1 },
              { callId: a.callId, raw: "posted", attempts: 2 },
            );
            ctx.resetConversation("p", [{ role: "user", content: "notes: page 1 done" }]);
            await ctx.ask("p", { prompt: "page 2", parser, turn: "two" });
          },
          "You are a bot.",
        ),
      ]);
      const result = await startRun(study(plan), { store });
      expect(result.status).toBe("done");
      const rows = [...new TidyExport(store, store.getRun(result.runId)).rows()];
      expect(rows.map((r) => r.name)).toEqual(["field", "answer"]);
      expect(rows[0]).toMatchObject({
        value: "accepted",
        raw: "posted",
        attempts: 2,
        input_tokens: 3,
        page: 1,
      });
      expect(model.requests[1]?.messages.map((m) => m.content)).toEqual([
        "You are a bot.",
        "notes: page 1 done",
        "page 2",
      ]);
    } finally {
      store.close();
    }
  });

  it("a session resumed in place keeps its earlier observations and goes on from its state", async () => {
    registerProvider("hooks", hooksModel, { free: true });
    const path = join(dir, "in-place.db");
    const procedure: SessionPlan["procedure"] = async (ctx) => {
      const done = (ctx.state.get() as number | undefined) ?? 0;
      for (let page = done + 1; page <= 3; page++) {
        await ctx.ask("p", { prompt: `page ${page}`, parser, turn: `page-${page}` });
        ctx.state.set(page);
      }
    };
    const plan = () => basePlan([session(0, procedure, "sys")], { resumeInPlace: true });
    model.failOn = "page 2";
    let store = RunStore.open(path);
    const first = await startRun(study(plan()), { store });
    store.close();
    expect(first.status).toBe("failed");
    model.failOn = undefined;
    model.requests = [];
    store = RunStore.open(path);
    try {
      const resumed = await resumeRun(first.runId, { store, recompile: () => study(plan()) });
      expect(resumed.status).toBe("done");
      const rows = [...new TidyExport(store, store.getRun(first.runId)).rows()];
      expect(rows.map((r) => r.value)).toEqual(["ok page 1", "ok page 2", "ok page 3"]);
      // The continued session got its conversation back from the record (one system prompt).
      expect(model.requests.at(-1)?.messages.map((m) => m.content)).toEqual([
        "sys",
        "page 1",
        "ok page 1",
        "page 2",
        "ok page 2",
        "page 3",
      ]);
    } finally {
      store.close();
    }
  });

  it("retries a failed session of a resumeInPlace plan in place: its earlier rows stay", async () => {
    registerProvider("hooks", hooksModel, { free: true });
    const path = join(dir, "retry-in-place.db");
    let broken = true;
    const procedure: SessionPlan["procedure"] = async (ctx) => {
      const done = (ctx.state.get() as number | undefined) ?? 0;
      for (let page = done + 1; page <= 2; page++) {
        if (page === 2 && broken) throw new Error("the outside server refused page 2");
        await ctx.ask("p", { prompt: `page ${page}`, parser, turn: `page-${page}` });
        ctx.state.set(page);
      }
    };
    const plan = () => basePlan([session(0, procedure)], { resumeInPlace: true });
    let store = RunStore.open(path);
    const first = await startRun(study(plan()), { store });
    store.close();
    expect(first.status).toBe("failed");
    broken = false;
    store = RunStore.open(path);
    try {
      const retried = await resumeRun(first.runId, {
        store,
        retryFailed: true,
        recompile: () => study(plan()),
      });
      expect(retried.status).toBe("done");
      const rows = [...new TidyExport(store, store.getRun(first.runId)).rows()];
      expect(rows.map((r) => r.value)).toEqual(["ok page 1", "ok page 2"]);
    } finally {
      store.close();
    }
  });
});
