import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resumeRun, startRun } from "../../engine/run-study.js";
import { registerDesign } from "../index.js";
import { TidyExport, type TidyRow } from "../../export/tidy-rows.js";
import { createHumanModel } from "../../models/human-model.js";
import { registerMockModel } from "../../models/mock-model.js";
import type { ModelRequest } from "../../models/types.js";
import { RunStore } from "../../store/run-store.js";
import { parseStudyText } from "../../study/source.js";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { gameDesign } from "./index.js";
import { testSql } from "../../store/test-sql.js";

const EXAMPLES = join(import.meta.dirname, "..", "..", "..", "..", "..", "examples");

const textOf = (m: ModelRequest["messages"][number] | undefined) =>
  typeof m?.content === "string" ? m.content : "";
const lastUser = (req: ModelRequest) => textOf(req.messages.filter((m) => m.role === "user").at(-1));

let dir: string;
let store: RunStore;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "silico-game-"));
  store = RunStore.open(join(dir, "silico.db"));
});
afterAll(() => store.close());

function compile(text: string, file = "game.yaml") {
  return gameDesign.compile(parseStudyText(text, join(dir, file)), {});
}

interface Msg {
  session_key: string;
  pid: string;
  role: string;
  content: string;
}
function messagesOf(runId: string): Msg[] {
  return testSql(store)
    .prepare("SELECT session_key, pid, role, content FROM messages WHERE run_id = ? ORDER BY id")
    .all(runId) as Msg[];
}
function rowsOf(runId: string): TidyRow[] {
  return [...new TidyExport(store, store.getRun(runId)).rows()];
}

const UG = `kind: game
name: ug-test
seed: 3
groups: 3
rounds: 2
model: mock:ug-proposer
variables: { endowment: 10 }
treatments:
  give: { verb: give }
  take: { verb: take }
  split: { verb: split }
roles:
  proposer:
    system: "You are the proposer ({{ me.id }}) in treatment {{ treatment }}."
  responder:
    model: mock:ug-responder
    system: "You are the responder."
stages:
  - name: offer
    roles: [proposer]
    prompt: |
      Round {{ round }} of {{ rounds }}.{% if history %} Last round the responder answered {{ history[-1].responder.respond }} and you earned {{ me.payoffs[-1] }} (total {{ me.total }}).{% endif %} You can {{ verb }} money. How much of {{ endowment }} do you keep?
    parse: { type: number, min: 0, max: 10 }
    as: keep
  - name: respond
    roles: [responder]
    prompt: "Round {{ round }}. The proposer keeps {{ keep }} of {{ endowment }}. ACCEPT or REJECT?"
    parse: { type: choice, options: [ACCEPT, REJECT] }
payoffs:
  proposer: "keep if respond == 'ACCEPT' else 0"
  responder: "endowment - keep if respond == 'ACCEPT' else 0"
`;

describe("a two-round ultimatum game through the executor and a SQLite store", () => {
  let runId: string;
  beforeAll(async () => {
    // The proposer keeps 6 in round 1 and 8 in round 2; the responder accepts up to 7.
    registerMockModel("ug-proposer", (req) => (lastUser(req).startsWith("Round 1") ? "I keep 6" : "8"));
    registerMockModel("ug-responder", (req) => {
      const keep = Number(/keeps (\d+)/.exec(lastUser(req))?.[1]);
      return keep <= 7 ? "ACCEPT" : "I REJECT this.";
    });
    const result = await startRun(compile(UG), { store });
    runId = result.runId;
    expect(result.status).toBe("done");
    expect(result.totals.calls).toBe(3 * 2 * 2);
  });

  it("gives each participant its own conversation: system once, then prompt/answer per round", () => {
    const msgs = messagesOf(runId);
    const sessions = [...new Set(msgs.map((m) => m.session_key))];
    expect(sessions).toHaveLength(3);
    for (const s of sessions) {
      const proposer = msgs.filter((m) => m.session_key === s && m.pid === "proposer");
      const responder = msgs.filter((m) => m.session_key === s && m.pid === "responder");
      expect(proposer.map((m) => m.role)).toEqual(["system", "user", "assistant", "user", "assistant"]);
      expect(responder.map((m) => m.role)).toEqual(["system", "user", "assistant", "user", "assistant"]);
      expect(proposer[0]?.content).toMatch(
        /^You are the proposer \(proposer\) in treatment (give|take|split)\.$/,
      );
      expect(proposer.map((m) => m.content).slice(1)).toEqual([
        expect.stringMatching(/^Round 1 of 2\. You can (give|take|split) money/),
        "I keep 6",
        expect.stringMatching(
          /^Round 2 of 2\. Last round the responder answered ACCEPT and you earned 6 \(total 6\)\./,
        ),
        "8",
      ]);
      // The responder sees this round's offer, never the proposer's prompt.
      expect(responder[1]?.content).toBe("Round 1. The proposer keeps 6 of 10. ACCEPT or REJECT?");
      expect(responder[3]?.content).toBe("Round 2. The proposer keeps 8 of 10. ACCEPT or REJECT?");
      expect(responder.some((m) => m.content.includes("You can"))).toBe(false);
    }
  });

  it("asks in turn order: proposer, responder, proposer, responder", () => {
    const calls = testSql(store)
      .prepare("SELECT session_key, pid FROM calls WHERE run_id = ? ORDER BY id")
      .all(runId) as { session_key: string; pid: string }[];
    const bySession = new Map<string, string[]>();
    for (const c of calls) bySession.set(c.session_key, [...(bySession.get(c.session_key) ?? []), c.pid]);
    for (const order of bySession.values())
      expect(order).toEqual(["proposer", "responder", "proposer", "responder"]);
  });

  it("records choices and payoffs with clean coordinate columns", () => {
    const ex = new TidyExport(store, store.getRun(runId));
    expect(ex.columns.slice(0, 7)).toEqual([
      "run",
      "session",
      "treatment",
      "group",
      "round",
      "stage",
      "role",
    ]);
    const rows = rowsOf(runId);
    expect(rows).toHaveLength(3 * 2 * 4);
    const treatments = new Set(rows.map((r) => r.treatment));
    expect(treatments).toEqual(new Set(["give", "take", "split"]));
    const pick = (name: string, role: string, round: number) =>
      rows.filter((r) => r.name === name && r.role === role && r.round === round).map((r) => r.value);
    expect(pick("keep", "proposer", 1)).toEqual([6, 6, 6]);
    expect(pick("respond", "responder", 2)).toEqual(["REJECT", "REJECT", "REJECT"]);
    expect(pick("payoff", "proposer", 1)).toEqual([6, 6, 6]);
    expect(pick("payoff", "responder", 1)).toEqual([4, 4, 4]);
    expect(pick("payoff", "proposer", 2)).toEqual([0, 0, 0]);
    expect(pick("payoff", "responder", 2)).toEqual([0, 0, 0]);
    const choiceRow = rows.find((r) => r.name === "keep" && r.round === 1);
    expect(choiceRow).toMatchObject({
      stage: "offer",
      role: "proposer",
      participant: "proposer",
      raw: "I keep 6",
      valid: true,
    });
    expect(
      rows.filter((r) => r.name === "payoff").every((r) => r.stage === null && typeof r.group === "number"),
    ).toBe(true);
  });

  it("records the treatment assignment in the session coordinates, balanced", () => {
    const sessions = testSql(store).prepare("SELECT coords FROM sessions WHERE run_id = ?").all(runId) as {
      coords: string;
    }[];
    const coords = sessions.map((s) => JSON.parse(s.coords) as { treatment: string; group: number });
    expect(coords.map((c) => c.treatment).sort()).toEqual(["give", "split", "take"]);
    expect(coords.map((c) => c.group).sort()).toEqual([1, 2, 3]);
  });

  it("re-running the study answers from the cache, participant by participant", async () => {
    const again = await startRun(compile(UG), { store });
    expect(again.totals.cacheHits).toBe(12);
    const values = (id: string) =>
      rowsOf(id)
        .map((r) => `${r.treatment}/${r.participant}/${r.round}/${r.name}=${JSON.stringify(r.value)}`)
        .sort();
    expect(values(again.runId)).toEqual(values(runId));
  });
});

const PD = (mode: string) => `kind: game
groups: 1
rounds: 2
model: mock:pd-counter
roles:
  player: { count: 2 }
stages:
  - name: move
    mode: ${mode}
    prompt: "Round {{ round }}. {% if other.move is defined %}The other played {{ other.move }}.{% else %}The other has not moved yet.{% endif %} A or B?"
    parse: { type: choice, options: [A, B] }
payoffs:
  player: "3 if me.move == 'A' and other.move == 'A' else 1"
`;

describe("simultaneous and sequential stages", () => {
  beforeAll(() => {
    // Answers alternate A, B, A, B … over the calls of the whole run.
    registerMockModel("pd-counter", (_req, i) => (i % 2 === 0 ? "A" : "B"));
  });

  it("simultaneous: nobody sees the other's move of the same stage", async () => {
    const r = await startRun(compile(PD("simultaneous")), { store });
    expect(r.status).toBe("done");
    const prompts = messagesOf(r.runId).filter((m) => m.role === "user");
    expect(prompts).toHaveLength(4);
    for (const p of prompts) expect(p.content).toMatch(/The other has not moved yet/);
    // Two players with identical conversations are two calls, two draws.
    expect(r.totals.calls).toBe(4);
    const moves = rowsOf(r.runId).filter((x) => x.name === "move" && x.round === 1);
    expect(new Set(moves.map((m) => m.value))).toEqual(new Set(["A", "B"]));
  });

  it("sequential: the second mover sees the first mover's move of this round", async () => {
    const r = await startRun(compile(PD("sequential")), { store });
    const msgs = messagesOf(r.runId);
    const p1 = msgs.filter((m) => m.pid === "player1" && m.role === "user").map((m) => m.content);
    const p2 = msgs.filter((m) => m.pid === "player2" && m.role === "user").map((m) => m.content);
    const a1 = msgs.filter((m) => m.pid === "player1" && m.role === "assistant").map((m) => m.content);
    expect(p1.every((t) => t.includes("has not moved yet"))).toBe(true);
    expect(p2[0]).toBe(`Round 1. The other played ${a1[0]}. A or B?`);
    expect(p2[1]).toBe(`Round 2. The other played ${a1[1]}. A or B?`);
  });
});

const BAD_RESPONDER = (policy: string) =>
  UG.replace("groups: 3", "groups: 1")
    .replace(
      "treatments:\n  give: { verb: give }\n  take: { verb: take }\n  split: { verb: split }\n",
      "treatments:\n  give: { verb: give }\n",
    )
    .replace("model: mock:ug-responder", "model: mock:fixed:perhaps")
    .replace(
      'prompt: "Round {{ round }}. The proposer keeps {{ keep }} of {{ endowment }}. ACCEPT or REJECT?"',
      'prompt: "Round {{ round }}. The proposer keeps {{ keep }}. You answered {{ me.choices.respond }} before. ACCEPT or REJECT?"',
    )
    .concat(`invalid: ${policy}\n`);

describe("invalid answers", () => {
  it("taint: re-asks with the correction message, then stops the group and marks it invalid", async () => {
    const r = await startRun(
      compile(
        BAD_RESPONDER('{ reask: 1, message: "Please answer ACCEPT or REJECT ({reason}).", then: taint }'),
      ),
      { store },
    );
    expect(r.status).toBe("failed");
    const session = testSql(store)
      .prepare("SELECT status, error FROM sessions WHERE run_id = ?")
      .get(r.runId) as {
      status: string;
      error: string;
    };
    expect(session.status).toBe("invalid");
    expect(session.error).toMatch(/responder gave no valid answer to "respond" in round 1/);
    const responder = messagesOf(r.runId).filter((m) => m.pid === "responder");
    expect(responder.map((m) => m.role)).toEqual(["system", "user", "assistant", "user", "assistant"]);
    expect(responder[3]?.content).toMatch(/^Please answer ACCEPT or REJECT \(.+\)\.$/);
    // The group stopped: no second round, no payoffs.
    const calls = testSql(store)
      .prepare("SELECT pid FROM calls WHERE run_id = ? ORDER BY id")
      .pluck()
      .all(r.runId);
    expect(calls).toEqual(["proposer", "responder", "responder"]);
    const rows = rowsOf(r.runId);
    expect(rows.some((x) => x.name === "payoff")).toBe(false);
    expect(rows.find((x) => x.name === "respond")).toMatchObject({
      valid: false,
      value: null,
      raw: "perhaps",
      attempts: 2,
    });
  });

  it("continue: records the invalid answer, plays on, and marks payoffs that need it invalid", async () => {
    const r = await startRun(compile(BAD_RESPONDER("{ reask: 0, then: continue }")), { store });
    const rows = rowsOf(r.runId);
    const payoffs = rows.filter((x) => x.name === "payoff");
    expect(payoffs).toHaveLength(4);
    for (const p of payoffs) {
      expect(p.valid).toBe(false);
      expect(p.value).toBeNull();
      expect(p.reason).toMatch(
        /depends on an invalid choice \(responder gave no valid answer to "respond" in round \d/,
      );
    }
    // Round 2 was played, and the invalid answer shows as None in templates.
    const responder = messagesOf(r.runId).filter((m) => m.pid === "responder" && m.role === "user");
    expect(responder).toHaveLength(2);
    expect(responder[1]?.content).toBe(
      "Round 2. The proposer keeps 8. You answered [None] before. ACCEPT or REJECT?",
    );
    expect(r.totals.invalidAnswers).toBe(2);
  });
});

describe("a 3-player public-goods game with stranger matching", () => {
  let runId: string;
  let rows: TidyRow[];
  beforeAll(async () => {
    // Each player contributes 2 × its number: player1 → 2, …, player9 → 18.
    registerMockModel("pg-fixed", (req) =>
      String(2 * Number(/\d+$/.exec(req.participant?.id ?? "")?.[0] ?? 0)),
    );
    const text = readFileSync(join(EXAMPLES, "public-goods", "study.yaml"), "utf8").replace(
      "model: local:smollm2-135m",
      "model: mock:pg-fixed",
    );
    const r = await startRun(compile(text, "pg.yaml"), { store });
    expect(r.status).toBe("done");
    runId = r.runId;
    rows = rowsOf(runId);
  });

  it("has one contribution and one payoff row for every participant in every round", () => {
    // 12 groups × 3 players × 5 rounds × (contribution + payoff)
    expect(rows).toHaveLength(12 * 3 * 5 * 2);
    for (const row of rows) {
      expect(row).toMatchObject({ role: "player" });
      expect(["low_mpcr", "high_mpcr"]).toContain(row.treatment);
      expect(typeof row.pool).toBe("number");
      expect(typeof row.group).toBe("number");
      expect(typeof row.round).toBe("number");
      expect(["contribution", "payoff"]).toContain(row.name);
    }
    const ex = new TidyExport(store, store.getRun(runId));
    expect(ex.columns.slice(0, 8)).toEqual([
      "run",
      "session",
      "treatment",
      "pool",
      "group",
      "round",
      "stage",
      "role",
    ]);
  });

  it("re-matches groups of 3 within each pool of 9, every round", () => {
    const contributions = rows.filter((r) => r.name === "contribution");
    const groups = new Map<string, string[]>();
    for (const r of contributions) {
      const k = `${r.round}/${r.group}`;
      groups.set(k, [...(groups.get(k) ?? []), `${r.pool}/${r.participant}`]);
    }
    expect(groups.size).toBe(5 * 12);
    for (const [k, members] of groups) {
      expect(members, k).toHaveLength(3);
      expect(new Set(members.map((m) => m.split("/")[0])).size, k).toBe(1);
      const [, group] = k.split("/").map(Number);
      expect(Math.ceil((group as number) / 3)).toBe(Number(members[0]?.split("/")[0]));
    }
    const compositions = (round: number) =>
      [...groups.entries()]
        .filter(([k]) => k.startsWith(`${round}/`))
        .map(([, m]) => m.slice().sort().join(","))
        .sort();
    expect(compositions(1)).not.toEqual(compositions(2));
  });

  it("pays endowment − own contribution + MPCR × group total", () => {
    const contributions = rows.filter((r) => r.name === "contribution");
    for (const p of rows.filter((r) => r.name === "payoff")) {
      const group = contributions.filter((c) => c.round === p.round && c.group === p.group);
      const own = contributions.find(
        (c) => c.round === p.round && c.participant === p.participant && c.session === p.session,
      );
      const mpcr = p.treatment === "high_mpcr" ? 0.75 : 0.4;
      const total = group.reduce((n, c) => n + (c.value as number), 0);
      expect(p.value).toBeCloseTo(20 - (own?.value as number) + mpcr * total, 10);
      expect(own?.value).toBe(2 * Number(/\d+$/.exec(String(p.participant))?.[0]));
    }
  });

  it("shows last round's group result to each player through history", () => {
    const msgs = messagesOf(runId).filter((m) => m.role === "user" && m.content.startsWith("Last round"));
    expect(msgs.length).toBe(4 * 9 * 4);
    expect(msgs[0]?.content).toMatch(
      /^Last round your group put \d+ tokens into the group account\. You put in \d+ and earned [\d.]+ tokens\./,
    );
  });
});

describe("the framed PD example against the OpenAI-compatible test server", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startOpenAITestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it("plays 10 framings × 10 rounds with a sequential first/second mover", async () => {
    const text = readFileSync(join(EXAMPLES, "framed-pd", "study.yaml"), "utf8")
      .replace("groups: 20", "groups: 10")
      .replace(
        "model: local:smollm2-135m",
        `model: ts:pd\nproviders:\n  ts: { type: openai-compatible, base_url: "${server.url}" }`,
      );
    const r = await startRun(compile(text, "pd.yaml"), { store, backoffMs: 1 });
    expect(r.status).toBe("done");
    expect(r.totals.calls).toBe(10 * 10 * 2);
    const rows = rowsOf(r.runId);
    expect(new Set(rows.map((x) => x.treatment)).size).toBe(10);
    const moves = rows.filter((x) => x.name === "move");
    expect(moves.every((m) => m.value === "OPTION 1" || m.value === "OPTION 2")).toBe(true);
    const pay = rows.filter((x) => x.name === "payoff");
    expect(pay).toHaveLength(200);
    for (const p of pay) {
      const mine = moves.find(
        (m) => m.session === p.session && m.round === p.round && m.role === p.role,
      )?.value;
      const theirs = moves.find(
        (m) => m.session === p.session && m.round === p.round && m.role !== p.role,
      )?.value;
      const expected =
        mine === "OPTION 1" ? (theirs === "OPTION 1" ? 20 : 0) : theirs === "OPTION 1" ? 28 : 8;
      expect(p.value).toBe(expected);
    }
    // What the server received: the second mover's prompt names the first mover's move of the round.
    const bodies = server.requests.map((q) => q.body as { messages: { role: string; content: string }[] });
    const second = bodies.filter((b) => b.messages[0]?.content.startsWith("You are Sam."));
    expect(second).toHaveLength(100);
    for (const b of second) {
      const last = b.messages.at(-1)?.content ?? "";
      expect(last).toMatch(/In this round, Alex has just played OPTION [12]\./);
    }
  });
});

describe("a human responder answering from piped input", () => {
  it("plays the ultimatum game against a scripted proposer, the dialogue on the output stream", async () => {
    registerMockModel("ug-proposer", (req) => (lastUser(req).startsWith("Round 1") ? "I keep 6" : "8"));
    const input = new PassThrough();
    const output = new PassThrough();
    let dialogue = "";
    output.on("data", (d) => {
      dialogue += String(d);
    });
    // The first answer is unusable: the human gets the correction message and answers again.
    input.end("maybe\nACCEPT\nREJECT\n");
    const text = UG.replace("groups: 3", "groups: 1")
      .replace(
        "treatments:\n  give: { verb: give }\n  take: { verb: take }\n  split: { verb: split }\n",
        "treatments:\n  give: { verb: give }\n",
      )
      .replace("model: mock:ug-responder", "model: human");
    const r = await startRun(compile(text), {
      store,
      models: { human: (id) => createHumanModel(id, { input, output }) },
    });
    expect(r.status).toBe("done");
    const rows = rowsOf(r.runId);
    expect(rows.filter((x) => x.name === "respond").map((x) => [x.round, x.value, x.attempts])).toEqual([
      [1, "ACCEPT", 2],
      [2, "REJECT", 1],
    ]);
    expect(rows.filter((x) => x.name === "payoff" && x.role === "responder").map((x) => x.value)).toEqual([
      4, 0,
    ]);
    expect(dialogue.match(/You are the responder\./g)).toHaveLength(1);
    expect(dialogue).toContain("you are responder");
    expect(dialogue).toContain("Round 1. The proposer keeps 6 of 10. ACCEPT or REJECT?");
    expect(dialogue).toMatch(/Your answer could not be used/);
    expect(dialogue).toContain("Round 2. The proposer keeps 8 of 10. ACCEPT or REJECT?");
    // The proposer's prompts are not shown to the human.
    expect(dialogue).not.toContain("How much of");
  });

  it("fails the run with a clear message when the input ends too early", async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    input.end("ACCEPT\n");
    const text = UG.replace("groups: 3", "groups: 1")
      .replace(
        "treatments:\n  give: { verb: give }\n  take: { verb: take }\n  split: { verb: split }\n",
        "treatments:\n  give: { verb: give }\n",
      )
      .replace("model: mock:ug-responder", "model: human");
    const r = await startRun(compile(text), {
      store,
      models: { human: (id) => createHumanModel(id, { input, output }) },
    });
    expect(r.status).toBe("failed");
    expect(r.totals.fatalError).toMatch(/EOF on standard input/);
  });
});

describe("replications and resume", () => {
  it("-n 2 plays the design twice with distinct sessions and a replication column", () => {
    const study = gameDesign.compile(parseStudyText(UG, join(dir, "rep.yaml")), { replications: 2 });
    const plan = study.plan(5);
    const sessions = [...plan.sessions()];
    expect(plan.total).toBe(6);
    expect(sessions).toHaveLength(6);
    expect(new Set(sessions.map((s) => s.key)).size).toBe(6);
    expect(sessions.map((s) => s.coords.replication)).toEqual([1, 1, 1, 2, 2, 2]);
    expect(sessions.map((s) => s.coords.group)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Set(sessions.map((s) => s.draw)).size).toBe(6);
    expect(plan.coordinateColumns).toEqual(["treatment", "replication", "group", "round", "stage", "role"]);
    // The same seed gives the same plan (what resume relies on).
    expect([...study.plan(5).sessions()].map((s) => [s.key, s.coords.treatment])).toEqual(
      sessions.map((s) => [s.key, s.coords.treatment]),
    );
  });

  it("resume --retry-failed replays a failed group and keeps the finished ones", async () => {
    registerDesign(gameDesign);
    let broken = true;
    registerMockModel("flaky-responder", (req) => {
      if (broken && req.participant?.session && lastUser(req).startsWith("Round 2")) {
        broken = false;
        throw new Error("connection reset by a test");
      }
      return "ACCEPT";
    });
    const text = UG.replace("model: mock:ug-responder", "model: mock:flaky-responder");
    const first = await startRun(compile(text, "flaky.yaml"), { store, maxAttempts: 1 });
    expect(first.status).toBe("partial");
    expect(first.totals.failed).toBe(1);
    const before = rowsOf(first.runId).length;
    // The failed group left round 1 (keep, respond, two payoffs) and round 2's offer.
    expect(before).toBe(2 * 8 + 5);
    const resumed = await resumeRun(first.runId, { store, retryFailed: true });
    expect(resumed.status).toBe("done");
    const rows = rowsOf(first.runId);
    expect(rows).toHaveLength(3 * 8);
    const perSession = new Map<string, number>();
    for (const r of rows) perSession.set(String(r.session), (perSession.get(String(r.session)) ?? 0) + 1);
    expect([...perSession.values()]).toEqual([8, 8, 8]);
  });
});
