import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { factorial } from "../api/factorial.js";
import { compileStudyText } from "../designs/index.js";
import { sha256 } from "../engine/hash.js";
import { resumeRun, startRun } from "../engine/run-study.js";
import { registerMockModel } from "../models/mock-model.js";
import type { ObservationInfo, Page, SessionInfo } from "./read-types.js";
import { RunReader } from "./run-reader.js";
import { RunStore } from "./run-store.js";
import { createTestRun } from "./test-run.js";

// A real store file holding three small runs on mock models: a factorial with invalid answers,
// re-asks and two models; a public-goods game (participants, rounds, payoffs); a factorial of JSON
// answers. Every expectation about a page, filter or aggregate is checked against the full rows.

let dir: string;
let store: RunStore;
let reader: RunReader;
let factorialId: string;
let gameId: string;
let jsonId: string;

/** Every item, page by page. */
function allPages<T>(fetch: (offset: number) => Page<T>): { items: T[]; pages: number } {
  const items: T[] = [];
  let offset: number | null = 0;
  let pages = 0;
  while (offset !== null) {
    const page: Page<T> = fetch(offset);
    items.push(...page.items);
    pages++;
    offset = page.nextOffset;
  }
  return { items, pages };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-reader-"));
  // By the question: a quarter never answer with a number (invalid after the re-ask), a quarter
  // only when asked again, the rest at once.
  registerMockModel("reader-numbers", (req) => {
    const first = String(req.messages.find((m) => m.role === "user")?.content);
    const h = Number.parseInt(sha256(`${first}|${req.params.seed}`).slice(0, 8), 16);
    const asked = req.messages.filter((m) => m.role === "user").length;
    if (h % 4 === 0) return "no idea";
    if (h % 4 === 1 && asked === 1) return "let me think";
    return `I say ${h % 50}`;
  });
  store = RunStore.open(join(dir, "runs.db"));
  reader = new RunReader(store);
  const study = {
    kind: "factorial",
    name: "reader-factorial",
    seed: 3,
    prompt: "Treatment {{ treatment }}, framing {{ framing }}: a number from 0 to 49?",
    levels: { treatment: ["a", "b", "c"], framing: ["x", "y"] },
    models: ["mock:reader-numbers", "mock:random"],
    times: 5,
    parse: { type: "number" },
    reask: 1,
  };
  factorialId = (await startRun(compileStudyText(JSON.stringify(study), "f.json"), { store })).runId;
  const game = `kind: game
name: reader-game
seed: 5
groups: 2
rounds: 2
model: mock:random
roles:
  player: { count: 2 }
variables: { endowment: 10 }
treatments:
  only: { mpcr: 0.5 }
system: "You play a public-goods game."
stages:
  - name: contribute
    as: contribution
    prompt: "Round {{ round }}: how many tokens (0 to 10) do you put in? Respond with a number only."
    parse: { type: number, min: 0, max: 10, integer: true }
payoffs:
  player: "endowment - me.contribution + mpcr * sum(players.contribution)"
`;
  gameId = (await startRun(compileStudyText(game, "g.yaml"), { store })).runId;
  registerMockModel("reader-json", (req) => {
    const text = String(req.messages.at(-1)?.content);
    const h = Number.parseInt(sha256(`${text}|${req.params.seed}`).slice(0, 8), 16);
    return `{"keep": ${h % 10}, "note": "ok"}`;
  });
  await factorial("cell {{ c }}", { c: ["p", "q"] }).run({
    model: "mock:reader-json",
    parse: "json",
    times: 4,
    store: join(dir, "runs.db"),
  });
  jsonId = reader.run("last").id;
});

afterAll(() => {
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("runs", () => {
  it("lists runs newest first with kind, name, models and totals, paged", () => {
    const all = reader.runs().items;
    expect(all.map((r) => r.id)).toEqual([jsonId, gameId, factorialId]);
    expect(reader.runs({ order: "oldest" }).items.map((r) => r.id)).toEqual([factorialId, gameId, jsonId]);
    const f = all[2];
    expect(f).toMatchObject({ kind: "factorial", name: "reader-factorial", seed: 3, totalSessions: 60 });
    expect(f?.models).toEqual(["mock:reader-numbers", "mock:random"]);
    expect(f?.finishedAt).toBe(f?.updatedAt);
    expect(f?.totals?.calls).toBe(reader.countCalls(factorialId));
    expect(f?.costUsd).toBe(f?.totals?.costUsd);
    const first = reader.runs({ limit: 2 });
    expect(first.items).toHaveLength(2);
    expect(first.nextOffset).toBe(2);
    const last = reader.runs({ limit: 2, offset: 2 });
    expect(last.items.map((r) => r.id)).toEqual([factorialId]);
    expect(last.nextOffset).toBeNull();
    expect(reader.runs({ kind: "game" }).items.map((r) => r.id)).toEqual([gameId]);
    expect(reader.runs({ status: "running" }).items).toEqual([]);
  });

  it("gets a run by id, prefix or last, with its manifest and study", () => {
    const g = reader.run(gameId);
    expect(g.kind).toBe("game");
    expect(g.studyText).toContain("public-goods");
    expect(g.manifest.coordinate_columns).toBeDefined();
    expect(reader.run("last").id).toBe(jsonId);
    expect(reader.run(factorialId.slice(0, factorialId.length - 1)).id).toBe(factorialId);
    expect(() => reader.run("nope")).toThrow(/no run "nope"/);
  });

  it("rejects bad paging with a clear error", () => {
    expect(() => reader.runs({ limit: 0 })).toThrow(/limit must be a whole number from 1 to 10000/);
    expect(() => reader.sessions(factorialId, {}, { offset: -1 })).toThrow(/offset must be/);
    expect(() => reader.observations(factorialId, {}, { limit: 1.5 })).toThrow(/limit must be/);
  });
});

describe("sessions", () => {
  it("pages through a run in plan order across page boundaries", () => {
    const full = [...reader.iterateSessions(factorialId)];
    expect(full).toHaveLength(60);
    expect(full.map((s) => s.index)).toEqual(full.map((_, i) => i));
    for (const limit of [7, 10, 60, 61]) {
      const { items, pages } = allPages((offset) => reader.sessions(factorialId, {}, { offset, limit }));
      expect(items).toEqual(full);
      expect(pages).toBe(Math.max(1, Math.ceil(60 / limit)));
    }
    expect(reader.sessions(factorialId, {}, { offset: 60 }).items).toEqual([]);
    expect(reader.countSessions(factorialId)).toBe(60);
  });

  it("filters by status (valid, invalid, tainted), model, coordinates and reference", () => {
    const full = [...reader.iterateSessions(factorialId)];
    const keys = (xs: SessionInfo[]) => xs.map((s) => s.key);
    const byStatus = (st: string[]) => keys(full.filter((s) => st.includes(s.status)));
    const invalid = byStatus(["invalid"]);
    expect(invalid.length).toBeGreaterThan(0);
    expect(invalid.length).toBeLessThan(60);
    expect(keys([...reader.iterateSessions(factorialId, { status: "valid" })])).toEqual(byStatus(["done"]));
    expect(keys([...reader.iterateSessions(factorialId, { status: "invalid" })])).toEqual(invalid);
    expect(keys([...reader.iterateSessions(factorialId, { status: "tainted" })])).toEqual(
      byStatus(["invalid", "failed"]),
    );
    expect(reader.countSessions(factorialId, { status: "failed" })).toBe(0);
    const counts = reader.sessionStatusCounts(factorialId);
    expect(counts.done + counts.invalid).toBe(60);
    expect(counts.invalid).toBe(invalid.length);
    expect(counts.superseded).toBe(0);

    const random = [...reader.iterateSessions(factorialId, { model: "mock:random" })];
    expect(keys(random)).toEqual(keys(full.filter((s) => s.coords.model === "mock:random")));
    expect(random).toHaveLength(30);
    const a = [...reader.iterateSessions(factorialId, { coords: { treatment: "a" } })];
    expect(keys(a)).toEqual(keys(full.filter((s) => s.coords.treatment === "a")));
    expect(a).toHaveLength(20);
    const ay = reader.sessions(factorialId, {
      coords: { treatment: ["a", "b"], framing: "y" },
      status: "valid",
    });
    expect(keys(ay.items)).toEqual(
      keys(
        full.filter(
          (s) =>
            ["a", "b"].includes(String(s.coords.treatment)) &&
            s.coords.framing === "y" &&
            s.status === "done",
        ),
      ),
    );
    expect(reader.countSessions(factorialId, { coords: { treatment: "z" } })).toBe(0);
    expect(reader.sessions(factorialId, { ref: "3" }).items.map((s) => s.index)).toEqual([2]);
    expect(reader.sessions(factorialId, { ref: full[5]?.key }).items.map((s) => s.index)).toEqual([5]);
    // Numbers and draws compare as numbers.
    expect(reader.countSessions(factorialId, { coords: { draw: 1 } })).toBe(12);
    expect(reader.countSessions(factorialId, { coords: { draw: "1" } })).toBe(0);
  });
});

describe("observations", () => {
  it("streams from SQLite: an iterator that holds its statement open, not an array", () => {
    const it = reader.iterateObservations(factorialId);
    expect(Array.isArray(it)).toBe(false);
    const first = it.next();
    expect(first.done).toBe(false);
    // The query is still running (rows not yet read stay in SQLite), so this connection
    // cannot write until the iterator is finished.
    expect(() => store.flush()).not.toThrow();
    expect(() => createTestRun(store, { kind: "x", seed: 0 })).toThrow(/busy/);
    it.return(undefined);
    expect(reader.runs().items).toHaveLength(3);
  });

  it("pages agree with the stream at every boundary, and filters agree with the full rows", () => {
    const full = [...reader.iterateObservations(factorialId)];
    expect(full.length).toBe(60);
    expect(full.map((o) => o.sessionIndex)).toEqual(full.map((_, i) => i));
    for (const limit of [1, 8, 60]) {
      const { items } = allPages((offset) => reader.observations(factorialId, {}, { offset, limit }));
      expect(items).toEqual(full);
    }
    expect(reader.countObservations(factorialId)).toBe(60);
    const valid = full.filter((o) => o.valid);
    expect([...reader.iterateObservations(factorialId, { valid: true })]).toEqual(valid);
    expect(reader.countObservations(factorialId, { valid: false })).toBe(60 - valid.length);
    for (const o of valid) expect(typeof o.value).toBe("number");
    const one = full[7] as ObservationInfo;
    expect([...reader.iterateObservations(factorialId, { sessionKey: one.sessionKey })]).toEqual([one]);
    expect(one.call).not.toBeNull();
    expect(one.call?.request).toBeUndefined();
    const withBodies = reader.observations(factorialId, {
      sessionKey: one.sessionKey,
      includeCallBodies: true,
    });
    const request = withBodies.items[0]?.call?.request as { messages: { content: string }[] };
    expect(request.messages.at(-1)?.content).toContain(`Treatment ${one.sessionCoords.treatment}`);
    // Answers asked again say so.
    expect(full.some((o) => o.attempts === 2)).toBe(true);
  });

  it("knows a game's names, coordinate columns and values, and filters by name and participant", () => {
    const full = [...reader.iterateObservations(gameId)];
    expect(reader.observationNames(gameId)).toEqual([...new Set(full.map((o) => o.name))].sort());
    expect(reader.observationNames(gameId, { fromCall: false })).toEqual(["payoff"]);
    expect(reader.observationNames(gameId, { fromCall: true })).toEqual(["contribution"]);
    const contributions = full.filter((o) => o.name === "contribution");
    expect(contributions).toHaveLength(2 * 2 * 2); // groups × players × rounds
    expect([...reader.iterateObservations(gameId, { name: "contribution" })]).toEqual(contributions);
    expect(reader.countObservations(gameId, { name: ["contribution", "payoff"] })).toBe(full.length);
    const p = contributions[0]?.participant as string;
    expect(reader.countObservations(gameId, { participant: p, name: "contribution" })).toBe(
      contributions.filter((o) => o.participant === p).length,
    );
    const columns = reader.coordinateColumns(gameId);
    expect(columns).toContain("round");
    expect(columns).toEqual([...new Set(columns)]);
    for (const k of new Set(full.flatMap((o) => [...Object.keys(o.sessionCoords), ...Object.keys(o.coords)])))
      if (
        (reader.run(gameId).manifest.coordinate_columns as string[]).includes(k) ||
        full.some((o) => k in o.coords)
      )
        expect(columns).toContain(k);
    expect(reader.coordinateValues(gameId, "round")).toEqual([1, 2]);
    const round2 = [...reader.iterateObservations(gameId, { coords: { round: 2 }, name: "contribution" })];
    expect(round2).toEqual(contributions.filter((o) => o.coords.round === 2));
    expect(round2).toHaveLength(4);
    // A session coordinate works the same way.
    expect(reader.countObservations(factorialId, { coords: { treatment: ["a", "c"], framing: "x" } })).toBe(
      [...reader.iterateObservations(factorialId)].filter(
        (o) => ["a", "c"].includes(String(o.sessionCoords.treatment)) && o.sessionCoords.framing === "x",
      ).length,
    );
    expect(reader.coordinateValues(factorialId, "treatment")).toEqual(["a", "b", "c"]);
  });
});

describe("calls", () => {
  it("pages a run's or a session's calls with request, response, usage, attempts and warnings", () => {
    const full = [...reader.iterateCalls(factorialId)];
    expect(full.length).toBe(reader.countCalls(factorialId));
    // One call per session, plus one per re-ask.
    const reasked = [...reader.iterateObservations(factorialId)].filter((o) => o.attempts === 2).length;
    expect(full.length).toBe(60 + reasked);
    expect(full.map((c) => c.id)).toEqual([...full.map((c) => c.id)].sort((a, b) => a - b));
    for (const limit of [5, 13]) {
      const { items } = allPages((offset) => reader.calls(factorialId, {}, { offset, limit }));
      expect(items).toEqual(full);
    }
    const c = full[0];
    expect(c?.request).toMatchObject({ messages: expect.any(Array), params: expect.any(Object) });
    expect(c?.response).not.toBeNull();
    expect(Array.isArray(c?.attempts)).toBe(true);
    expect(Array.isArray(c?.warnings)).toBe(true);
    expect(reader.call(c?.id as number)).toEqual(c);
    const session = full.find((x) => x.status === "invalid")?.sessionKey as string;
    const ofSession = reader.calls(factorialId, { sessionKey: session }).items;
    expect(ofSession).toEqual(full.filter((x) => x.sessionKey === session));
    expect(ofSession.map((x) => x.callKey.split("/").at(-1))).toEqual(["1", "2"]);
    const light = reader.calls(factorialId, { includeBodies: false }, { limit: 3 }).items;
    expect(light.map((x) => x.request)).toEqual([null, null, null]);
    expect(light.map((x) => x.id)).toEqual(full.slice(0, 3).map((x) => x.id));
    expect(reader.countCalls(factorialId, { status: "invalid" })).toBe(
      full.filter((x) => x.status === "invalid").length,
    );
    expect(reader.countCalls(factorialId, { model: "mock:random" })).toBe(30);
    expect(() => reader.call(999_999)).toThrow(/no call 999999/);
  });
});

describe("transcripts", () => {
  it("gives each participant's messages in order with the answers attached to the replies", () => {
    const session = reader.sessions(gameId).items[0] as SessionInfo;
    const t = reader.transcript(gameId, session.key);
    expect(t.session).toEqual(session);
    expect(t.participants.map((p) => p.id)).toHaveLength(2);
    for (const p of t.participants) {
      // The system prompt, then question and reply (answers out of range are asked again).
      const roles = p.messages.map((m) => m.role);
      expect(roles[0]).toBe("system");
      expect(roles.slice(1)).toEqual(roles.slice(1).map((_, i) => (i % 2 === 0 ? "user" : "assistant")));
      expect(p.messages[0]?.content).toBe("You play a public-goods game.");
      expect(p.messages.map((m) => m.reask)).toEqual(
        p.messages.map((m) => m.content.startsWith("Your answer could not be used")),
      );
      const answers = p.messages.flatMap((m) => m.observations);
      expect(answers.map((o) => [o.name, o.participant])).toEqual([
        ["contribution", p.id],
        ["contribution", p.id],
      ]);
    }
    expect(t.messages.map((m) => m.seq)).toEqual([...t.messages.map((m) => m.seq)].sort((a, b) => a - b));
    expect(t.messages).toHaveLength(t.participants.reduce((n, p) => n + p.messages.length, 0));
    expect(t.loose.map((o) => o.name)).toEqual(["payoff", "payoff", "payoff", "payoff"]);
    const observations = [...reader.iterateObservations(gameId, { sessionKey: session.key })];
    expect([...t.messages.flatMap((m) => m.observations), ...t.loose].sort((a, b) => a.seq - b.seq)).toEqual(
      observations,
    );
    expect(() => reader.transcript(gameId, "nope")).toThrow(/no session "nope"/);
  });

  it("marks the question asked again after an invalid answer", () => {
    const reaskedSession = [...reader.iterateObservations(factorialId)].find((o) => o.attempts === 2)
      ?.sessionKey as string;
    const t = reader.transcript(factorialId, reaskedSession);
    expect(t.messages.map((m) => [m.role, m.reask])).toEqual([
      ["user", false],
      ["assistant", false],
      ["user", true],
      ["assistant", false],
    ]);
    expect(t.messages[1]?.observations).toEqual([]);
    expect(t.messages[3]?.observations.map((o) => o.attempts)).toEqual([2]);
    const all = [...reader.iterateTranscripts(factorialId)];
    expect(all.map((x) => x.session.key)).toEqual([...reader.iterateSessions(factorialId)].map((s) => s.key));
  });
});

describe("aggregates", () => {
  const numeric = (rows: ObservationInfo[]) =>
    rows.filter((o) => o.valid && typeof o.value === "number").map((o) => o.value as number);

  it("per-cell n, mean, sd over coordinates agree with the full rows", () => {
    const full = [...reader.iterateObservations(factorialId, { name: "answer" })];
    const cells = reader.numericSummary(factorialId, { name: "answer", by: ["treatment", "model"] });
    expect(cells.map((c) => [c.group.treatment, c.group.model])).toEqual([
      ["a", "mock:random"],
      ["a", "mock:reader-numbers"],
      ["b", "mock:random"],
      ["b", "mock:reader-numbers"],
      ["c", "mock:random"],
      ["c", "mock:reader-numbers"],
    ]);
    for (const c of cells) {
      const rows = full.filter(
        (o) => o.sessionCoords.treatment === c.group.treatment && o.sessionCoords.model === c.group.model,
      );
      const xs = numeric(rows);
      expect(c.n).toBe(xs.length);
      expect(c.invalid).toBe(rows.filter((o) => !o.valid).length);
      expect(c.nonNumeric).toBe(0);
      if (xs.length > 0) {
        expect(c.mean).toBeCloseTo(mean(xs), 9);
        expect(c.min).toBe(Math.min(...xs));
        expect(c.max).toBe(Math.max(...xs));
      }
      if (xs.length > 1) expect(c.sd).toBeCloseTo(sd(xs), 9);
      else expect(c.sd).toBeNull();
    }
    expect(cells.reduce((n, c) => n + c.n + c.invalid, 0)).toBe(60);
    const [all] = reader.numericSummary(factorialId, { name: "answer" });
    expect(all?.n).toBe(numeric(full).length);
    expect(all?.mean).toBeCloseTo(mean(numeric(full)), 9);
    expect(all?.sd).toBeCloseTo(sd(numeric(full)), 9);
    expect(reader.numericSummary(factorialId, { name: "nothing" })).toEqual([]);
    const valid = reader.numericSummary(factorialId, { name: "answer", sessionStatus: "valid" });
    expect(valid[0]?.invalid).toBe(0);
    expect(valid[0]?.n).toBe(all?.n);
    expect(() => reader.numericSummary(factorialId, { name: "answer", by: ["nope"] })).toThrow(
      /no column "nope" in run .*; columns: .*treatment/,
    );
  });

  it("groups by an observation's own coordinates and summarises a field of JSON answers", () => {
    const full = [...reader.iterateObservations(gameId, { name: "contribution" })];
    const cells = reader.numericSummary(gameId, { name: "contribution", by: ["round", "participant"] });
    // Participants are named per group (player1, player2): 2 rounds × 2 names.
    expect(cells.map((c) => [c.group.round, c.group.participant])).toEqual([
      [1, "player1"],
      [1, "player2"],
      [2, "player1"],
      [2, "player2"],
    ]);
    for (const c of cells) {
      const xs = numeric(
        full.filter((o) => o.coords.round === c.group.round && o.participant === c.group.participant),
      );
      expect([c.n, c.mean]).toEqual([xs.length, xs.length ? mean(xs) : null]);
    }
    const keep = reader.numericSummary(jsonId, { name: "answer", field: "keep", by: ["c"] });
    const answers = [...reader.iterateObservations(jsonId, { name: "answer" })];
    expect(keep.map((c) => c.group.c)).toEqual(["p", "q"]);
    for (const c of keep) {
      const xs = answers
        .filter((o) => o.sessionCoords.c === c.group.c)
        .map((o) => (o.value as { keep: number }).keep);
      expect(c.n).toBe(4);
      expect(c.mean).toBeCloseTo(mean(xs), 9);
      expect(c.sd).toBeCloseTo(sd(xs), 9);
    }
    // The whole JSON answer is not a number: counted as valid but not numeric.
    const whole = reader.numericSummary(jsonId, { name: "answer" });
    expect(whole[0]).toMatchObject({ n: 0, mean: null, nonNumeric: 8, invalid: 0 });
  });

  it("counts each value per cell, for categorical answers and JSON fields", () => {
    const full = [...reader.iterateObservations(gameId, { name: "contribution" })];
    const counts = reader.valueCounts(gameId, { name: "contribution", by: ["round"] });
    const expected = new Map<string, number>();
    for (const o of full.filter((x) => x.valid))
      expected.set(
        JSON.stringify([o.coords.round, o.value]),
        (expected.get(JSON.stringify([o.coords.round, o.value])) ?? 0) + 1,
      );
    expect(new Map(counts.map((c) => [JSON.stringify([c.group.round, c.value]), c.count]))).toEqual(expected);
    expect(counts.map((c) => [c.group.round, c.value])).toEqual(
      [...counts.map((c) => [c.group.round, c.value] as [number, number])].sort(
        (a, b) => a[0] - b[0] || a[1] - b[1],
      ),
    );
    const notes = reader.valueCounts(jsonId, { name: "answer", field: "note" });
    expect(notes).toEqual([{ group: {}, value: "ok", count: 8 }]);
    expect(reader.valueCounts(jsonId, { name: "answer", field: "missing" })).toEqual([]);
  });

  it("counts sessions, calls, tokens, cost and observations per model", () => {
    const counts = reader.modelCounts(factorialId);
    expect(counts.map((c) => c.model)).toEqual(["mock:random", "mock:reader-numbers"]);
    const calls = [...reader.iterateCalls(factorialId)];
    const observations = [...reader.iterateObservations(factorialId)];
    for (const c of counts) {
      const mine = calls.filter((x) => x.model === c.model && x.cachedFrom === null);
      expect(c.sessions).toBe(reader.countSessions(factorialId, { model: c.model }));
      expect(c.calls).toBe(calls.filter((x) => x.model === c.model).length);
      expect(c.inputTokens).toBe(mine.reduce((n, x) => n + (x.inputTokens ?? 0), 0));
      expect(c.outputTokens).toBe(mine.reduce((n, x) => n + (x.outputTokens ?? 0), 0));
      expect(c.observations).toBe(observations.filter((o) => o.model === c.model).length);
      expect(c.validObservations).toBe(observations.filter((o) => o.model === c.model && o.valid).length);
    }
  });
});

describe("superseded attempts", () => {
  it("are left out of sessions, observations and aggregates unless asked for; transcripts keep them", async () => {
    const own = RunStore.open(join(dir, "retry.db"));
    try {
      const r = new RunReader(own);
      const study = {
        kind: "factorial",
        seed: 9,
        prompt: "Item {{ item }}: a number?",
        levels: { item: [1, 2, 3, 4, 5, 6, 7, 8] },
        model: "mock:reader-numbers",
        parse: { type: "number" },
      };
      const { runId } = await startRun(compileStudyText(JSON.stringify(study), "r.json"), { store: own });
      const invalidBefore = r.countSessions(runId, { status: "invalid" });
      expect(invalidBefore).toBeGreaterThan(0);
      await resumeRun(runId, { store: own, retryFailed: true });
      const counts = r.sessionStatusCounts(runId);
      expect(counts.superseded).toBe(invalidBefore);
      expect(r.countSessions(runId)).toBe(8);
      expect(r.countSessions(runId, { status: "superseded" })).toBe(invalidBefore);
      expect(r.countSessions(runId, { includeSuperseded: true })).toBe(8 + invalidBefore);
      const everything = [...r.iterateObservations(runId, { includeSuperseded: true })];
      const current = [...r.iterateObservations(runId)];
      expect(current).toEqual(everything.filter((o) => o.sessionStatus !== "superseded"));
      expect(current).toHaveLength(8);
      const [cell] = r.numericSummary(runId, { name: "answer" });
      expect((cell?.n ?? 0) + (cell?.invalid ?? 0)).toBe(8);
      expect([...r.iterateTranscripts(runId)]).toHaveLength(8 + invalidBefore);
      expect(r.modelCounts(runId)[0]?.sessions).toBe(8);
    } finally {
      own.close();
    }
  });
});

describe("the store's surface", () => {
  it("keeps the connection private", () => {
    // @ts-expect-error the SQLite connection is not part of RunStore's public surface
    expect(store.db).toBeDefined();
  });

  it("opens a store file by path for reading and closes it", () => {
    const own = RunReader.open(join(dir, "runs.db"));
    try {
      expect(own.runs().items.map((r) => r.id)).toEqual([jsonId, gameId, factorialId]);
    } finally {
      own.close();
    }
    expect(() => RunReader.open(join(dir, "missing.db"))).toThrow(/no store at/);
  });
});
