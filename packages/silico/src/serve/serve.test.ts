import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { data, show, summary } from "../api/verbs.js";
import { SILICO_VERSION } from "../data-files.js";
import { RunStore } from "../store/run-store.js";
import { testSql } from "../store/test-sql.js";
import { type ServeHandle, startServe } from "./serve.js";

// silico serve end to end on loopback: the project's test server as the model, real HTTP, a real
// SQLite store.

let dir: string;
let llm: TestServer;
let delayMs = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-serve-"));
  llm = await startOpenAITestServer({
    responder: async (req) => {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      const last = req.messages.at(-1);
      const text = typeof last?.content === "string" ? last.content : "";
      if (text.includes("Round")) return "I choose COOPERATE";
      return `echo ${req.messages.length}: ${text}`;
    },
  });
});
afterAll(async () => {
  await llm.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  delayMs = 0;
  llm.reset();
});

let n = 0;
function agentsFile(): string {
  const path = join(dir, `agents-${++n}.yaml`);
  writeFileSync(
    path,
    `kind: agents
name: test agents
model: ts:silico-test
providers:
  ts: {type: openai-compatible, base_url: "${llm.url}"}
agents:
  chat:
    system: "You chat with a participant in treatment {{ treatment }}."
  partner:
    owner: group
    system: "Repeated prisoner's dilemma."
    prompt: "Round {{ round }}. Earlier: {{ history | join(', ') }}. COOPERATE or DEFECT?"
    parse: {type: choice, options: [COOPERATE, DEFECT]}
`,
  );
  return path;
}

async function post(h: ServeHandle, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${h.url}/v1/turn`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const chat = (turn: string, message: string, extra: Record<string, unknown> = {}) => ({
  agent: "chat",
  session: "s1",
  participant: "p1",
  app: "chat",
  round: 1,
  page: "Chat",
  turn,
  message,
  vars: { treatment: "warm" },
  ...extra,
});

describe("silico serve", () => {
  it("answers turns, keeps each owner's memory, records one run that show, data and summary read", async () => {
    const db = join(dir, "a.db");
    const store = RunStore.open(db);
    const h = await startServe({ file: agentsFile(), store, port: 0 });
    try {
      const first = await post(h, chat("m1", "hello"));
      expect(first.status).toBe(200);
      // system + user
      expect(first.body.text).toBe("echo 2: hello");
      expect(first.body).toMatchObject({ valid: true, replayed: false, turn_index: 1, run: h.runId });
      const second = await post(h, chat("m2", "again"));
      // system + hello + reply + again: the service kept the memory
      expect(second.body.text).toBe("echo 4: again");
      const request = llm.requests.at(-1)?.body as { messages: { role: string; content: string }[] };
      expect(request.messages.map((m) => m.content)).toEqual([
        "You chat with a participant in treatment warm.",
        "hello",
        "echo 2: hello",
        "again",
      ]);
      // Another participant has a memory of its own.
      const other = await post(h, chat("m1", "hi", { participant: "p2" }));
      expect(other.body.text).toBe("echo 2: hi");
      // A group agent: one memory for the group, a parsed choice.
      const pd = await post(h, {
        agent: "partner",
        session: "s1",
        participant: "p1",
        group: "pd-1",
        round: 1,
        turn: "r1",
        message: "",
        vars: { history: [] },
      });
      expect(pd.body).toMatchObject({ text: "I choose COOPERATE", value: "COOPERATE", valid: true });
    } finally {
      await h.close();
    }
    const shown = await show(h.runId, { db });
    expect(shown.transcripts.length).toBe(4);
    // The second turn's session holds what the model saw, in order: the history it was told
    // (written with the call's record), then the new message and the reply.
    const seen = testSql(store)
      .prepare("SELECT role, content FROM messages WHERE run_id = ? AND session_key = ? ORDER BY seq")
      .all(h.runId, "s1/participant:p1/chat/m2") as { role: string; content: string }[];
    expect(seen.map((m) => `${m.role}: ${m.content}`)).toEqual([
      "system: You chat with a participant in treatment warm.",
      "user: hello",
      "assistant: echo 2: hello",
      "user: again",
      "assistant: echo 4: again",
    ]);
    const rows = (await data(h.runId, { db })).rows as Record<string, unknown>[];
    expect(rows.map((r) => [r.participant, r.turn, r.value])).toEqual([
      ["p1", "m1", "echo 2: hello"],
      ["p1", "m2", "echo 4: again"],
      ["p2", "m1", "echo 2: hi"],
      ["p1", "r1", "COOPERATE"],
    ]);
    const table = await summary(h.runId, { db, by: ["agent"], names: ["reply"] });
    expect(table.rows.length).toBeGreaterThan(0);
    store.close();
  });

  it("answers one owner's turns in order, takes an app's transcript instead, and shares a group's agent", async () => {
    const store = RunStore.open(join(dir, "order.db"));
    const h = await startServe({ file: agentsFile(), store, port: 0 });
    try {
      delayMs = 100;
      // Sent together: the second must still see the first turn and its reply.
      const [a, b] = await Promise.all([post(h, chat("o1", "first")), post(h, chat("o2", "second"))]);
      expect(a.body.text).toBe("echo 2: first");
      expect(b.body.text).toBe("echo 4: second");
      // An app keeping its own transcript: sent as is, and not mixed into the service's memory.
      const t = await post(h, {
        ...chat("t1", "x", { participant: "p9" }),
        message: undefined,
        transcript: [
          { role: "user", content: "earlier question" },
          { role: "assistant", content: "earlier answer" },
          { role: "user", content: "now" },
        ],
      });
      expect(t.body.text).toBe("echo 4: now");
      const after = await post(h, chat("m9", "memory", { participant: "p9" }));
      expect(after.body.text).toBe("echo 2: memory");
      // A group's agent: the second member asking for the same turn gets the same decision.
      const pd = (participant: string) =>
        post(h, {
          agent: "partner",
          session: "s1",
          participant,
          group: "g1",
          round: 1,
          turn: "r1",
          message: "",
          vars: { history: [] },
        });
      const first = await pd("p1");
      const second = await pd("p2");
      expect(second.body).toMatchObject({ text: first.body.text, replayed: true });
      expect(llm.stats().completed).toBe(5);
    } finally {
      await h.close();
    }
    store.close();
  });

  it("a retried turn key gets the stored answer; concurrent duplicates make one call", async () => {
    const store = RunStore.open(join(dir, "b.db"));
    const h = await startServe({ file: agentsFile(), store, port: 0 });
    try {
      delayMs = 300;
      const same = await Promise.all([1, 2, 3].map(() => post(h, chat("k1", "once"))));
      expect(llm.stats().completed).toBe(1);
      expect(new Set(same.map((r) => r.body.text)).size).toBe(1);
      expect(same.filter((r) => r.body.replayed === false)).toHaveLength(1);
      const again = await post(h, chat("k1", "once"));
      expect(again.body).toMatchObject({ text: same[0]?.body.text, replayed: true });
      expect(llm.stats().completed).toBe(1);
    } finally {
      await h.close();
    }
    store.close();
  });

  it("a reply is sent only once its answer is committed: another connection reads it at once", async () => {
    const db = join(dir, "commit.db");
    const store = RunStore.open(db);
    const h = await startServe({ file: agentsFile(), store, port: 0 });
    const other = RunStore.openForReading(db);
    try {
      const replies = await Promise.all(
        ["a", "b", "c"].map((p) => post(h, chat("c1", `hi ${p}`, { participant: p }))),
      );
      // Read through a connection of its own, which sees committed rows only; the store's batch
      // window (50 ms) has not passed.
      for (const [i, p] of ["a", "b", "c"].entries()) {
        expect(replies[i]?.status).toBe(200);
        const stored = other.agentTurn(h.runId, `s1/participant:${p}/chat`, "c1");
        expect(stored?.reply).toBe(`echo 2: hi ${p}`);
      }
      const statuses = other.sessionStatuses(h.runId);
      expect([...statuses.values()]).toEqual(["done", "done", "done"]);
    } finally {
      other.close();
      await h.close();
    }
    store.close();
  });

  it("a turn whose model call failed, asked again and answered, leaves the run done, the failure kept as superseded", async () => {
    const db = join(dir, "retry.db");
    const store = RunStore.open(db);
    const h = await startServe({ file: agentsFile(), store, port: 0, maxAttempts: 1 });
    try {
      llm.setOptions({ failFirst: { count: 1, status: 500 } });
      const failed = await post(h, chat("f1", "hello"));
      expect(failed.status).toBe(502);
      const retried = await post(h, chat("f1", "hello"));
      expect(retried.status).toBe(200);
      expect(retried.body).toMatchObject({ text: "echo 2: hello", replayed: false });
      const next = await post(h, chat("f2", "more"));
      expect(next.body.text).toBe("echo 4: more");
    } finally {
      llm.setOptions({ failFirst: undefined }); // reset() would arm it again for the next test
      const result = await h.close();
      expect(result.status).toBe("done");
      expect(result.totals).toMatchObject({ sessions: 2, done: 2, failed: 0 });
      expect(result.totals.failureReasons).toBeUndefined();
    }
    const rows = testSql(store)
      .prepare("SELECT key, status FROM sessions WHERE run_id = ? ORDER BY key")
      .all(h.runId) as { key: string; status: string }[];
    expect(rows.map((r) => r.status)).toEqual(["done", "superseded", "done"]);
    expect(rows[1]?.key).toBe(`${rows[0]?.key}~1`);
    const run = store.getRun(h.runId);
    expect(run.total_sessions).toBe(2);
    store.close();
  });

  it("a malformed request gets a 400 naming the problem, and nothing is stored", async () => {
    const store = RunStore.open(join(dir, "c.db"));
    const h = await startServe({ file: agentsFile(), store, port: 0 });
    try {
      const cases: [unknown, RegExp][] = [
        ["{not json", /not JSON/],
        [[1, 2], /JSON object/],
        [{ ...chat("x", "hi"), agent: "nobody" }, /unknown agent "nobody" \(agents: chat, partner\)/],
        [{ ...chat("x", "hi"), colour: "red" }, /unknown field "colour"/],
        [{ ...chat("x", "hi"), session: undefined }, /missing "session"/],
        [{ ...chat("x", "hi"), transcript: [{ role: "user", content: "a" }] }, /not both/],
        [{ ...chat("x", "hi"), vars: {} }, /treatment/],
        [{ ...chat("x", "hi"), vars: { round: 2 } }, /set by the service/],
        [{ ...chat("x", "hi"), agent: "partner", vars: { history: [] } }, /belongs to a group/],
        [{ ...chat("x", "hi"), round: -1 }, /round/],
      ];
      for (const [body, message] of cases) {
        const r = await post(h, body);
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body.error).toMatch(message);
      }
      expect(llm.stats().completed).toBe(0);
    } finally {
      await h.close();
    }
    const sql = testSql(store);
    for (const table of ["sessions", "calls", "messages", "observations", "agent_turns"])
      expect(sql.prepare(`SELECT count(*) AS n FROM ${table}`).get(), table).toEqual({ n: 0 });
    store.close();
  });

  it("beyond loopback a token is required, and every request is checked against it", async () => {
    const store = RunStore.open(join(dir, "d.db"));
    await expect(
      startServe({ file: agentsFile(), store, port: 0, host: "0.0.0.0", env: {} }),
    ).rejects.toThrow(/SILICO_SERVE_TOKEN/);
    const token = "a-long-enough-secret-token";
    const h = await startServe({
      file: agentsFile(),
      store,
      port: 0,
      host: "0.0.0.0",
      env: { SILICO_SERVE_TOKEN: token },
    });
    try {
      const local = h.url.replace("0.0.0.0", "127.0.0.1");
      const call = (headers: Record<string, string>) => post({ ...h, url: local }, chat("t1", "hi"), headers);
      expect((await call({})).status).toBe(401);
      expect((await call({ authorization: "Bearer wrong" })).status).toBe(401);
      expect((await call({ authorization: `Bearer ${token}` })).status).toBe(200);
      expect(llm.stats().completed).toBe(1);
    } finally {
      await h.close();
    }
    store.close();
  });

  it("tells a helper written by another silico version to be written again", async () => {
    const store = RunStore.open(join(dir, "version.db"));
    const h = await startServe({ file: agentsFile(), store, port: 0 });
    try {
      const old = await post(h, chat("v1", "hi"), { "x-silico-helper": "0.0.1" });
      expect(old.body.helper_warning).toMatch(
        /silico_agents\.py is from silico 0\.0\.1.*silico otree helper/,
      );
      const same = await post(h, chat("v2", "hi"), { "x-silico-helper": SILICO_VERSION });
      expect(same.body.helper_warning).toBeUndefined();
    } finally {
      await h.close();
    }
    store.close();
  });

  it("streams a typing event before the reply", async () => {
    const store = RunStore.open(join(dir, "e.db"));
    const h = await startServe({ file: agentsFile(), store, port: 0 });
    try {
      const res = await fetch(`${h.url}/v1/turn`, {
        method: "POST",
        body: JSON.stringify({ ...chat("s1", "hi"), stream: true }),
      });
      const lines = (await res.text())
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(lines[0]).toEqual({ type: "typing" });
      expect(lines[1]).toMatchObject({ type: "reply", text: "echo 2: hi" });
    } finally {
      await h.close();
    }
    store.close();
  });

  it("a restarted service continues the run: the memory survives and answered turns are not asked again", async () => {
    const db = join(dir, "f.db");
    const file = agentsFile();
    let store = RunStore.open(db);
    let h = await startServe({ file, store, port: 0 });
    const runId = h.runId;
    await post(h, chat("m1", "hello"));
    await h.close();
    store.close();
    store = RunStore.open(db);
    h = await startServe({ file, store, port: 0 });
    try {
      expect(h).toMatchObject({ runId, continued: true });
      expect((await post(h, chat("m1", "hello"))).body.replayed).toBe(true);
      expect((await post(h, chat("m2", "more"))).body.text).toBe("echo 4: more");
      expect(llm.stats().completed).toBe(2);
    } finally {
      // The run's totals cover the turns of both processes.
      const result = await h.close();
      expect(result.status).toBe("done");
      expect(result.totals).toMatchObject({ sessions: 2, done: 2, skipped: 1 });
    }
    expect(store.getRun(runId).total_sessions).toBe(2);
    store.close();
  });
});
