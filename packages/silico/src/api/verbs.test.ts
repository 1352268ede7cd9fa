import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SilicoErrorCode, SilicoError, StudyError } from "../errors.js";
import type { ExecutorEvent } from "../engine/executor.js";
import { factorialStudy, game, stimuli } from "./builders.js";
import { data, resume, run, runs, show, summary } from "./verbs.js";

/** A two-player game whose answers the mock model fixes, so payoffs are known in advance. */
function coordination(model = "mock:fixed:A") {
  return game({
    name: "coordination",
    seed: 7,
    groups: 4,
    rounds: 2,
    model,
    roles: { left: { count: 1 }, right: { count: 1 } },
    treatments: { low: { bonus: 1 }, high: { bonus: 5 } },
    stages: [
      {
        name: "pick",
        prompt: "Round {{ round }}. Pick A or B.",
        parse: { type: "choice", options: ["A", "B"] },
      },
    ],
    payoffs: {
      left: "bonus if me.pick == other.pick else 0",
      right: "bonus if me.pick == other.pick else 0",
    },
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "silico-lib-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("run / data / summary / show / runs / resume from TypeScript", () => {
  let db: string;
  let runId: string;
  const events: ExecutorEvent["type"][] = [];

  beforeAll(async () => {
    db = join(dir, "game.db");
    const outcome = await run(coordination(), { db, concurrency: 2, onEvent: (e) => events.push(e.type) });
    runId = outcome.runId;
    expect(outcome.status).toBe("done");
    // 4 groups (2 per treatment), 2 rounds × 2 players each.
    expect(outcome.totals.sessions).toBe(4);
    expect(outcome.totals.done).toBe(4);
    expect(outcome.totals.calls).toBe(16);
    expect(outcome.warnings).toEqual([]);
  });

  it("reports executor events to onEvent", () => {
    expect(events.filter((t) => t === "call")).toHaveLength(16);
    expect(events.filter((t) => t === "session-end")).toHaveLength(4);
  });

  it("returns tidy rows: one per observation, with the game's coordinates as columns", async () => {
    const out = await data(runId, { db });
    expect(out.runId).toBe(runId);
    expect(out.columns).toEqual(expect.arrayContaining(["treatment", "round", "role", "name", "value"]));
    const picks = out.rows.filter((r) => r.name === "pick");
    expect(picks).toHaveLength(16);
    expect(new Set(picks.map((r) => r.value))).toEqual(new Set(["A"]));
    const payoffs = out.rows.filter((r) => r.name === "payoff");
    expect(payoffs.length).toBe(16);
    // Both pick A, so each earns the treatment's bonus.
    for (const p of payoffs) expect(p.value).toBe(p.treatment === "high" ? 5 : 1);
  });

  it("writes CSV as text when given neither a file nor a sink, and XLSX to a file", async () => {
    const csv = await data("last", { db, format: "csv" });
    expect(csv.count).toBe((await data(runId, { db })).rows.length);
    const lines = (csv.text ?? "").trimEnd().split("\n");
    expect(lines).toHaveLength(csv.count + 1);
    expect(lines[0]).toContain("treatment");
    const out = join(dir, "game.xlsx");
    const xlsx = await data(runId, { db, format: "xlsx", out });
    expect(xlsx).toMatchObject({ format: "xlsx", count: csv.count, out });
    expect(readFileSync(out).subarray(0, 2).toString()).toBe("PK");
  });

  it("summarises per treatment with confidence intervals", async () => {
    const s = await summary(runId, { db, by: ["treatment"], names: ["payoff"] });
    expect(s.by).toEqual(["treatment"]);
    const high = s.rows.find((r) => r.group.treatment === "high");
    expect(high).toMatchObject({ name: "payoff", kind: "mean", n: 8, mean: 5 });
    expect(high?.ci?.[0]).toBeLessThanOrEqual(5);
    expect(high?.ci?.[1]).toBeGreaterThanOrEqual(5);
  });

  it("shows typed transcripts, limited or one session", async () => {
    const some = await show(runId, { db, limit: 1 });
    expect(some.transcripts).toHaveLength(1);
    expect(some.more).toBe(3);
    const first = some.transcripts[0];
    expect(first?.messages.some((m) => m.role === "assistant" && m.content === "A")).toBe(true);
    const one = await show(runId, { db, session: "2" });
    expect(one.transcripts.map((t) => t.session.index)).toEqual([1]);
    await expect(show(runId, { db, session: "99" })).rejects.toMatchObject({ code: "bad_flag" });
  });

  it("lists runs as `silico runs --json` does", async () => {
    const list = await runs({ db });
    expect(list.map((r) => [r.id, r.kind, r.status, r.sessions])).toEqual([[runId, "game", "done", 4]]);
    expect(list[0]?.study).toBeNull(); // a built study has no file
  });

  it("resumes a built study from its stored text (nothing left to run)", async () => {
    const again = await resume(runId, { db });
    expect(again).toMatchObject({ runId, status: "done" });
    expect(again.totals.skipped).toBe(4);
    expect(again.totals.calls).toBe(0);
  });

  it("errors carry typed codes", async () => {
    const err = await data("nosuch", { db }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SilicoError);
    const code: SilicoErrorCode = (err as SilicoError).code;
    expect(code).toBe("run_missing");
    await expect(data(runId, { db, format: "nosuch" })).rejects.toMatchObject({ code: "bad_flag" });
    await expect(summary(runId, { db, by: ["nosuch"] })).rejects.toMatchObject({ code: "bad_flag" });
  });
});

describe("builders", () => {
  it("locate problems by key path, all of them, and nothing is written", async () => {
    let err: unknown;
    try {
      game({
        model: "mock:fixed:A",
        roles: { left: { count: 1 } },
        stages: [{ name: "pick", prompt: "Pick.", parse: { type: "choice", options: "A" } }],
        payoffs: { nobody: "1" },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StudyError);
    const problems = (err as StudyError).problems;
    expect((err as StudyError).code).toBe("study_invalid");
    expect(problems.length).toBeGreaterThanOrEqual(2);
    for (const p of problems) expect(p.where).toMatch(/^game(: |$)/);
    expect(problems.map((p) => p.where)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^game: stages\[0\]\.parse/),
        expect.stringMatching(/^game: payoffs/),
      ]),
    );
  });

  it("refuses values a study file could not hold, naming the key", () => {
    expect(() =>
      factorialStudy({ prompt: "Hi", model: "mock:echo", levels: { x: [1, Number.NaN] } }),
    ).toThrow(/factorial: levels\.x\[1\]: must be a finite number/);
    expect(() =>
      factorialStudy({ prompt: "Hi", model: "mock:echo", params: { seed: (() => 1) as never } }),
    ).toThrow(/factorial: params\.seed: must be plain data/);
  });

  it("run stimulus rows given inline, and locate a bad row by its index", async () => {
    const rows = [
      { Run: 1, Item: 1, Condition: "a", Prompt: "Say yes." },
      { Run: 2, Item: 1, Condition: "b", Prompt: "Say no." },
    ];
    const built = stimuli({ rows, design: "one-trial-per-run", model: "mock:echo", seed: 1 });
    const db = join(dir, "stimuli.db");
    const outcome = await run(built, { db });
    expect(outcome.status).toBe("done");
    const out = await data(outcome.runId, { db });
    expect(out.rows.map((r) => [r.condition, r.value])).toEqual([
      ["a", "Say yes."],
      ["b", "Say no."],
    ]);
    expect(() =>
      stimuli({
        rows: [...rows, { Run: 3, Item: 1, Condition: "c", Prompt: ["x"] as never }],
        model: "mock:echo",
      }),
    ).toThrow(/stimuli: stimuli\[2\]\.Prompt: must be a text, number or true\/false/);
    expect(() => stimuli({ rows, file: "stimuli.csv", model: "mock:echo" })).toThrow(
      /give "rows" or "file", not both/,
    );
  });
});

describe("API keys and fetch given to run()", () => {
  let server: TestServer;
  const KEY = "sk-libface-given-0123456789";
  beforeAll(async () => {
    server = await startOpenAITestServer({ models: ["test-model"], apiKey: KEY, responder: () => "7" });
  });
  afterAll(() => server.close());

  const study = () =>
    factorialStudy({
      prompt: "A number, please.",
      levels: { x: [1, 2] },
      model: "openai:test-model",
      parse: "number",
    });

  it("reach the provider through the given fetch, and the key is in neither the store nor the result", async () => {
    const saved = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    try {
      const seen: string[] = [];
      const db = join(dir, "keys.db");
      const outcome = await run(study(), {
        db,
        apiKeys: { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: server.url },
        fetch: (input, init) => {
          seen.push(String(input instanceof Request ? input.url : input));
          return fetch(input, init);
        },
      });
      expect(outcome.status).toBe("done");
      expect(seen.filter((u) => u.endsWith("/chat/completions"))).toHaveLength(2);
      expect(seen.some((u) => u.endsWith("/models"))).toBe(true); // the model check used it too
      expect(server.requests.filter((r) => r.path === "/v1/chat/completions")).toHaveLength(2);
      expect((await data(outcome.runId, { db })).rows.map((r) => r.value)).toEqual([7, 7]);
      expect(readFileSync(db).includes(KEY)).toBe(false);
      expect(JSON.stringify(outcome)).not.toContain(KEY);
      expect(process.env.OPENAI_API_KEY).toBeUndefined();
    } finally {
      if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
    }
  });

  it("when apiKeys are given, a key in the environment is not used: missing_credentials, nothing written", async () => {
    const saved = process.env.OPENAI_API_KEY;
    process.env.OPENAI_API_KEY = KEY;
    try {
      const db = join(dir, "never.db");
      await expect(run(study(), { db, apiKeys: { OPENAI_BASE_URL: server.url } })).rejects.toMatchObject({
        code: "missing_credentials",
      });
      expect(existsSync(db)).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = saved;
    }
  });

  it("a rejected key fails the run without ever naming the key", async () => {
    const db = join(dir, "wrong.db");
    const wrong = "sk-libface-wrong-9876543210";
    const outcome = await run(study(), {
      db,
      apiKeys: { OPENAI_API_KEY: wrong, OPENAI_BASE_URL: server.url },
      modelCheck: false,
    });
    expect(outcome.status).toBe("failed");
    expect(JSON.stringify(outcome)).not.toContain(wrong);
    expect(readFileSync(db).includes(wrong)).toBe(false);
  });
});
