import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { alterEgoDesign } from "../designs/alter-ego/alter-ego-design.js";
import { fixture, STAG_HUNT, withGptThreads } from "../designs/alter-ego/test-helpers.js";
import { compileStudyFile } from "../designs/index.js";
import { RunStore } from "../store/run-store.js";
import { parseStudyText } from "../study/source.js";
import { defaultResponder, startOpenAITestServer, type TestServer } from "@silico/test-server";
import { resumeRun, startRun } from "./run-study.js";
import { testSql } from "../store/test-sql.js";

// Every participant's every turn is its own draw: units of one design never share an answer
// through the cache, whatever the concurrency; the cache only serves a re-run of the same seed or
// a resume. Runs go over HTTP to the project's test server, whose default answer depends on the
// messages and (when sampling) the seed sent, as a real provider's does.

let dir: string;
let server: TestServer;
const stores: RunStore[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-independence-"));
  server = await startOpenAITestServer();
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  server.setOptions({ responder: undefined, failFirst: { count: 0, status: 500 } });
  server.reset();
});

let storeNo = 0;
function newStore(): RunStore {
  const store = RunStore.open(join(dir, `runs-${++storeNo}.db`));
  stores.push(store);
  return store;
}

const ASK = "Pick a number from 0 to 1000000.";
const header = (kind: string) => `kind: ${kind}
seed: 11
model: ts:m
params: { temperature: 1, seed: 77 }
providers:
  ts: { type: openai-compatible, base_url: "${server.url}" }
`;

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Six lists that all start with the same practice item, then two items of their own. */
function manyTrials(runSeed = true): string {
  const rows = [["Run", "Item", "Condition", "Prompt"]];
  for (let list = 1; list <= 6; list++) {
    rows.push([String(list), "1", "practice", `Practice. ${ASK}`]);
    for (let item = 2; item <= 3; item++)
      rows.push([String(list), String(item), "test", `List ${list} item ${item}. ${ASK}`]);
  }
  write("many.csv", `${rows.map((r) => r.join(",")).join("\n")}\n`);
  const text = `${header("stimuli")}stimuli: many.csv\ndesign: many-trials-per-run\nparse: { type: number }\n`;
  return write("many.yaml", runSeed ? text : text.replace("seed: 11\n", ""));
}

/**
 * One trial per conversation: a prime shared by every list, then the list's own target; two
 * sessions (repetitions) of every list, two choices per call.
 */
function sharedPrime(): string {
  const rows = [["Run", "Item", "Event", "Condition", "Prompt"]];
  for (let list = 1; list <= 4; list++) {
    for (let item = 1; item <= 2; item++) {
      rows.push([String(list), String(item), "1", "prime", `Prime. ${ASK}`]);
      rows.push([String(list), String(item), "2", "target", `Target ${list}-${item}. ${ASK}`]);
    }
  }
  write("prime.csv", `${rows.map((r) => r.join(",")).join("\n")}\n`);
  return write(
    "prime.yaml",
    `${header("stimuli")}stimuli: prime.csv\ndesign: one-trial-per-run\nsessions: 2\nparse: { type: number }\n`.replace(
      "seed: 77 }",
      "seed: 77, n: 2 }",
    ),
  );
}

/** The prompt does not use `unused`, so its three levels are three identical conversations. */
function unusedLevel(): string {
  return write(
    "factorial.yaml",
    `${header("factorial")}prompt: "Frame {{ frame }}. ${ASK}"
levels:
  frame: [a, b]
  unused: [x, y, z]
times: 2
parse: { type: number }
`.replace("params: { temperature: 1, seed: 77 }", "params: { temperature: 1, seed: 77, n: 2 }"),
  );
}

/** Four groups of two players with identical prompts in every group. */
function game(): string {
  return write(
    "game.yaml",
    `${header("game")}groups: 4
rounds: 2
roles:
  player: { count: 2 }
stages:
  - name: pick
    prompt: "Round {{ round }}. ${ASK}"
    parse: { type: number }
payoffs:
  player: "0"
`,
  );
}

interface Facts {
  runId: string;
  cacheHits: number;
  calls: number;
  /** Seeds of the requests the server received during the run. */
  seeds: unknown[];
  requests: number;
  /** Every stored answer, choice by choice, in a concurrency-independent order. */
  answers: string[];
}

async function runStudy(
  path: string,
  store: RunStore,
  opts: { concurrency?: number; seed?: number } = {},
): Promise<Facts> {
  server.reset();
  const result = await startRun(compileStudyFile(path), {
    store,
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
  });
  expect(result.totals.failed, JSON.stringify(result.totals)).toBe(0);
  return facts(store, result.runId, result.totals);
}

function facts(store: RunStore, runId: string, totals: { cacheHits: number; calls: number }): Facts {
  const chats = server.requests.filter((r) => r.path === "/v1/chat/completions");
  const answers = testSql(store)
    .prepare(
      `SELECT session_key || ' ' || pid || ' ' || name || ' ' || coords || ' #' || choice_index || ' = ' || raw
       FROM observations WHERE run_id = ? AND raw IS NOT NULL`,
    )
    .pluck()
    .all(runId) as string[];
  return {
    runId,
    cacheHits: totals.cacheHits,
    calls: totals.calls,
    seeds: chats.map((r) => (r.body as { seed?: unknown }).seed),
    requests: chats.length,
    answers: answers.sort(),
  };
}

/** For every replayed call of a run: whether it replays the same call (same key) of an earlier run. */
function replaysOwnCall(store: RunStore, runId: string): boolean[] {
  return (
    testSql(store)
      .prepare(
        `SELECT c.call_key = o.call_key AS same FROM calls c JOIN calls o ON o.id = c.cached_from
         WHERE c.run_id = ?`,
      )
      .all(runId) as { same: number }[]
  ).map((r) => r.same === 1);
}

const STUDIES: [string, () => string, number][] = [
  ["a many-trials list whose lists share a practice item", manyTrials, 18],
  ["a one-trial design with a prime shared by lists, sessions × n", sharedPrime, 32],
  ["a factorial whose prompt does not use one of its levels", unusedLevel, 12],
  ["a game whose groups get identical prompts", game, 16],
];

describe("samples that are really independent", () => {
  for (const [name, make, calls] of STUDIES) {
    it(`${name}: same data at concurrency 1 and 64, no cache hits, no repeated seed`, async () => {
      const path = make();
      const one = await runStudy(path, newStore(), { concurrency: 1 });
      const many = await runStudy(path, newStore(), { concurrency: 64 });
      for (const f of [one, many]) {
        expect(f.calls).toBe(calls);
        expect(f.cacheHits).toBe(0);
        expect(
          f.seeds.every((s) => Number.isInteger(s) && (s as number) >= 0 && (s as number) < 2 ** 31),
        ).toBe(true);
        expect(new Set(f.seeds).size).toBe(f.requests);
      }
      expect(many.answers).toEqual(one.answers);
      expect(new Set(one.seeds)).toEqual(new Set(many.seeds));
      // The shared first prompts were answered as separate draws, not one answer copied.
      expect(new Set(one.answers.map((a) => a.slice(a.indexOf(" = ")))).size).toBeGreaterThan(calls / 2);
    });
  }

  it("a re-run with the same seed is served wholly from the cache, each call from its own earlier answer", async () => {
    const path = sharedPrime();
    const store = newStore();
    const first = await runStudy(path, store, { concurrency: 1 });
    const again = await runStudy(path, store, { concurrency: 64 });
    expect(again.requests).toBe(0);
    expect(again.cacheHits).toBe(first.calls);
    expect(again.answers).toEqual(first.answers);
    const own = replaysOwnCall(store, again.runId);
    expect(own).toHaveLength(first.calls);
    expect(own.every(Boolean)).toBe(true);
  });

  it("a re-run with another seed draws afresh", async () => {
    const path = unusedLevel();
    const store = newStore();
    const first = await runStudy(path, store);
    const other = await runStudy(path, store, { seed: 12 });
    expect(other.cacheHits).toBe(0);
    expect(other.requests).toBe(first.requests);
  });

  it("a study without a seed makes fresh calls when run again (alter_ego -n)", async () => {
    const saved = { url: process.env.OPENAI_BASE_URL, key: process.env.OPENAI_API_KEY };
    process.env.OPENAI_BASE_URL = server.url;
    process.env.OPENAI_API_KEY = "sk-test-independence";
    try {
      const built = JSON.stringify(withGptThreads(fixture(STAG_HUNT)));
      const compile = () =>
        alterEgoDesign.compile(parseStudyText(built, join(dir, "built.json")), { replications: 8 });
      const store = newStore();
      // The test server has no rate limit; OpenAI's default limits would only slow the test down.
      const limits = { rpm: null, tpm: null };
      server.reset();
      const first = await startRun(compile(), { store, concurrency: 1, limits });
      const firstRequests = server.requests.length;
      expect(first.totals.cacheHits).toBe(0);
      expect(firstRequests).toBe(first.totals.calls);
      server.reset();
      const second = await startRun(compile(), { store, concurrency: 1, limits });
      expect(second.totals.cacheHits).toBe(0);
      expect(server.requests.length).toBe(second.totals.calls);
      expect(second.totals.calls).toBeGreaterThanOrEqual(8);
    } finally {
      if (saved.url === undefined) delete process.env.OPENAI_BASE_URL;
      else process.env.OPENAI_BASE_URL = saved.url;
      if (saved.key === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = saved.key;
    }
  });

  it("resume of a run without a study seed reuses the interrupted session's own answered calls", async () => {
    // No `seed:`: the run seed is drawn, recorded, and used again by resume. The answers depend
    // only on params.seed and the coordinates, so an uninterrupted run gives the same data.
    const path = manyTrials(false);
    const clean = await runStudy(path, newStore(), { concurrency: 64 });

    // The 11th request is answered, then the provider starts refusing the key: the run stops
    // with list 4 half done (its practice and first item answered).
    let seen = 0;
    server.setOptions({
      responder: (req) => {
        if (++seen === 11) server.setOptions({ failFirst: { count: 1000, status: 401 } });
        return defaultResponder(req);
      },
    });
    const store = newStore();
    server.reset();
    const stopped = await startRun(compileStudyFile(path), { store, concurrency: 1 });
    expect(stopped.status).toBe("failed");
    expect(stopped.totals.fatalError).toBeDefined();

    server.setOptions({ responder: undefined, failFirst: { count: 0, status: 500 } });
    server.reset();
    const resumed = await resumeRun(stopped.runId, { store });
    expect(resumed.status).toBe("done");
    expect(resumed.totals.cacheHits).toBe(2);
    const own = replaysOwnCall(store, resumed.runId);
    expect(own).toEqual([true, true]);
    const after = facts(store, resumed.runId, resumed.totals);
    expect(after.answers).toEqual(clean.answers);
  });
});
