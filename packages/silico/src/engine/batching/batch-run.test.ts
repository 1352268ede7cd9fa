import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ResponderRequest, startOpenAITestServer, type TestServer } from "@silico/test-server";
import { defaultResponder } from "@silico/test-server";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { compileStudyFile } from "../../designs/index.js";
import { RunReader } from "../../store/run-reader.js";
import { RunStore } from "../../store/run-store.js";
import { testSql } from "../../store/test-sql.js";
import type { ExecutorEvent } from "../executor.js";
import { resumeRun, type RunOptions, startRun } from "../run-study.js";

// `--batch` end to end: real HTTP to the project's test server (which speaks both batch
// protocols), real SQLite files.

let dir: string;
let server: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-batch-"));
  server = await startOpenAITestServer({ record: false });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  server.setOptions({ batch: {}, responder: undefined });
  server.reset();
});

let n = 0;
function factorial(items: number, times: number, model = "openai:gpt-4o-mini", extra = ""): string {
  const path = join(dir, `study-${++n}.yaml`);
  writeFileSync(
    path,
    `kind: factorial
prompt: "Item {{ item }}: how much would you pay, from 0 to 100? Answer with a number."
levels:
  item: [${Array.from({ length: items }, (_, i) => i + 1).join(", ")}]
times: ${times}
model: ${model}
parse: {type: number, min: 0, max: 100}
params: {temperature: 1, seed: 5, max_tokens: 30}
seed: 11
${extra}`,
  );
  return path;
}

function keys(): Record<string, string> {
  return {
    OPENAI_API_KEY: "sk-test-batch",
    OPENAI_BASE_URL: server.url,
    ANTHROPIC_API_KEY: "sk-ant-test-batch",
    ANTHROPIC_BASE_URL: server.url,
  };
}

async function runStudy(path: string, extra: Partial<RunOptions> = {}) {
  const store = RunStore.open(join(dir, `runs-${++n}.db`));
  const events: ExecutorEvent[] = [];
  const result = await startRun(compileStudyFile(path), {
    store,
    backoffMs: 5,
    batchPollMs: 5,
    models: { apiKeys: keys() },
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return { store, result, events };
}

function observations(store: RunStore, runId: string) {
  return testSql(store)
    .prepare(
      "SELECT session_key, pid, name, value, raw, valid, attempts FROM observations WHERE run_id = ? ORDER BY session_key, seq",
    )
    .all(runId) as Record<string, unknown>[];
}

const sumCost = (store: RunStore, runId: string) =>
  testSql(store).prepare("SELECT sum(cost_usd) FROM calls WHERE run_id = ?").pluck().get(runId) as number;

describe("--batch on OpenAI", () => {
  it("a 2,000-call factorial stores the same answers as a normal run, in far fewer HTTP requests, at half the price", async () => {
    const path = factorial(
      200,
      10,
      "openai:gpt-4o-mini",
      "settings: {rpm: 1000000, tpm: 100000000, max_in_flight: 32}\n",
    );
    const normal = await runStudy(path);
    expect(normal.result.status).toBe("done");
    const normalRequests = server.stats().requests;
    expect(normalRequests).toBe(2000);
    server.reset();

    const batched = await runStudy(path, { batch: true });
    expect(batched.result.status).toBe("done");
    expect(batched.result.totals.calls).toBe(2000);
    const httpRequests = server.stats().requests;
    expect(httpRequests).toBeLessThan(20); // upload, create, polls, download
    expect(server.batchStats()).toMatchObject({ batchesCreated: 1, succeeded: 2000 });

    const a = observations(normal.store, normal.result.runId);
    const b = observations(batched.store, batched.result.runId);
    expect(a).toHaveLength(2000);
    expect(b).toEqual(a);
    const ratio = sumCost(batched.store, batched.result.runId) / sumCost(normal.store, normal.result.runId);
    expect(ratio).toBeCloseTo(0.5, 6);
    expect(batched.result.totals.costUsd).toBeCloseTo(normal.result.totals.costUsd / 2, 9);

    // Every request of the batch is in the store with its key and status; the batch with its id.
    const batches = batched.store.batchesOf(batched.result.runId);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toMatchObject({ provider: "openai", status: "completed", requestCount: 2000 });
    expect(batches[0]?.remoteId).toMatch(/^batch_/);
    const statuses = testSql(batched.store)
      .prepare("SELECT status, count(*) AS n FROM batch_requests WHERE run_id = ? GROUP BY status")
      .all(batched.result.runId);
    expect(statuses).toEqual([{ status: "succeeded", n: 2000 }]);
    // The progress events name the batch and its state.
    const shown = batched.events.filter((e) => e.type === "batch");
    expect(shown.map((e) => e.status)).toEqual(["validating", "completed"]);
    // No key in the store.
    const dump = JSON.stringify(testSql(batched.store).prepare("SELECT * FROM batches").all());
    expect(dump).not.toContain("sk-test-batch");
    normal.store.close();
    batched.store.close();
  }, 120_000);

  it("an expired batch is submitted again for exactly what is missing; nothing is paid twice", async () => {
    server.setOptions({ batch: { expireFirst: 1 } });
    const { store, result } = await runStudy(factorial(15, 2), { batch: true });
    expect(result.status).toBe("done");
    expect(observations(store, result.runId)).toHaveLength(30);
    const stats = server.batchStats();
    expect(stats).toMatchObject({ batchesCreated: 2, expired: 30, succeeded: 30 });
    expect(Object.values(stats.billed).every((v) => v === 1)).toBe(true);
    expect(store.batchesOf(result.runId).map((b) => b.status)).toEqual(["expired", "completed"]);
    // The read API lists them with their outcomes.
    const listed = new RunReader(store).batches(result.runId);
    expect(listed.map((b) => [b.status, b.requests, b.outcomes])).toEqual([
      ["expired", 30, { expired: 30 }],
      ["completed", 30, { succeeded: 30 }],
    ]);
    expect(listed[0]?.id).toMatch(/^batch_silico/);
    store.close();
  });

  it("a partly expired batch and 5 % failed requests finish with exactly N observations and no duplicate paid request", async () => {
    server.setOptions({ batch: { errorRate: 0.05, expireRate: 0.05 }, faultSeed: 3 });
    const { store, result } = await runStudy(factorial(100, 2), { batch: true });
    expect(result.status).toBe("done");
    const obs = observations(store, result.runId);
    expect(obs).toHaveLength(200);
    expect(new Set(obs.map((o) => o.session_key)).size).toBe(200);
    const stats = server.batchStats();
    expect(stats.errored).toBeGreaterThan(0);
    expect(stats.expired).toBeGreaterThan(0);
    expect(stats.succeeded).toBe(200);
    expect(Object.keys(stats.billed)).toHaveLength(200);
    expect(Object.values(stats.billed).every((v) => v === 1)).toBe(true);
    // Later waves held only the requests that failed or expired.
    const batches = store.batchesOf(result.runId);
    expect(batches.length).toBeGreaterThan(1);
    expect(batches[0]?.requestCount).toBe(200);
    const submitted = batches.reduce((sum, b) => sum + b.requestCount, 0);
    expect(submitted).toBe(200 + stats.errored + stats.expired);
    expect(result.totals.retries).toBe(stats.errored + stats.expired);
    store.close();
  });

  it("a game runs wave by wave, and re-asks go into the next wave", async () => {
    // The proposer's first answer is unusable; the re-ask (which carries the correction) is answered.
    server.setOptions({
      responder: (req: ResponderRequest) => {
        const last = String(req.messages[req.messages.length - 1]?.content ?? "");
        if (last.includes("propose to keep")) return "I would rather not say.";
        if (last.includes("could not be used")) return `{"keep": ${req.messages.length % 11}}`;
        return defaultResponder(req);
      },
    });
    const path = join(dir, `game-${++n}.yaml`);
    writeFileSync(
      path,
      `kind: game
seed: 3
groups: 6
rounds: 2
model: openai:gpt-4o-mini
params: {temperature: 1, max_tokens: 40}
roles: {proposer: {count: 1}, responder: {count: 1}}
stages:
  - name: offer
    roles: [proposer]
    prompt: 'Round {{ round }}. How much do you propose to keep (between 0 and 10)? Respond with JSON like this: {"keep": /*amount*/}'
    parse: {type: json, schema: {type: object, properties: {keep: {type: integer, minimum: 0, maximum: 10}}, required: [keep]}}
  - name: respond
    roles: [responder]
    prompt: 'They keep {{ offer.keep }} of 10. Respond with either "ACCEPT" or "REJECT".'
    parse: {type: choice, options: [ACCEPT, REJECT]}
payoffs:
  proposer: "offer.keep if respond == 'ACCEPT' else 0"
  responder: "10 - offer.keep if respond == 'ACCEPT' else 0"
invalid: {reask: 1, then: taint}
`,
    );
    const { store, result } = await runStudy(path, { batch: true });
    expect(result.status, JSON.stringify(result.totals)).toBe("done");
    const batches = store.batchesOf(result.runId);
    // Per round: the offers, their re-asks, the responses: three waves of one request per group.
    expect(batches.map((b) => b.requestCount)).toEqual([6, 6, 6, 6, 6, 6]);
    const requests = testSql(store)
      .prepare("SELECT batch_id, call_key FROM batch_requests WHERE run_id = ? ORDER BY batch_id, call_key")
      .all(result.runId) as { batch_id: number; call_key: string }[];
    const wave = (i: number) => requests.filter((r) => r.batch_id === batches[i]?.id).map((r) => r.call_key);
    expect(wave(0).every((k) => /\/proposer\/r1\/offer\/1$/.test(k))).toBe(true);
    expect(wave(1).every((k) => /\/proposer\/r1\/offer\/2$/.test(k))).toBe(true);
    expect(wave(2).every((k) => /\/responder\/r1\/respond\/1$/.test(k))).toBe(true);
    const offers = observations(store, result.runId).filter((o) => o.name === "offer");
    expect(offers).toHaveLength(12);
    expect(offers.every((o) => o.valid === 1 && o.attempts === 2)).toBe(true);
    store.close();
  });
});

describe("resuming a batch run", () => {
  it("a batch the provider no longer knows (404 on resume) is submitted again, once", async () => {
    const first = await startOpenAITestServer({ record: false, batch: { completeAfterPolls: 1_000_000 } });
    const apiKeys = { OPENAI_API_KEY: "sk-test-batch", OPENAI_BASE_URL: first.url };
    const store = RunStore.open(join(dir, `lost-${++n}.db`));
    const stop = new AbortController();
    const running = startRun(compileStudyFile(factorial(5, 2)), {
      store,
      batch: true,
      batchPollMs: 5,
      models: { apiKeys },
      signal: stop.signal,
    });
    while (first.batchStats().polls < 2) await new Promise((r) => setTimeout(r, 10));
    stop.abort("test");
    const stopped = await running;
    expect(stopped.status).toBe("interrupted");
    await first.close();
    // Another server on the same address: it has never heard of the batch.
    const second = await startOpenAITestServer({ port: first.port, record: false });
    try {
      const resumed = await resumeRun(stopped.runId, { store, batchPollMs: 5, models: { apiKeys } });
      expect(resumed.status, JSON.stringify(resumed.totals.failureReasons)).toBe("done");
      expect(second.batchStats()).toMatchObject({ batchesCreated: 1, succeeded: 10 });
      expect(store.batchesOf(stopped.runId).map((b) => [b.status, b.requestCount])).toEqual([
        ["lost", 10],
        ["completed", 10],
      ]);
      expect(observations(store, stopped.runId)).toHaveLength(10);
    } finally {
      store.close();
      await second.close();
    }
  });
});

describe("many-trial stimulus runs", () => {
  it("go one trial per wave, every list's trial in the same batch, with the same answers as a normal run", async () => {
    const csv = join(dir, `stimuli-${++n}.csv`);
    const rows = ["Run,Item,Condition,Prompt"];
    for (let run = 1; run <= 4; run++)
      for (let item = 1; item <= 3; item++)
        rows.push(
          `${run},${item},c${item % 2},"List ${run}, item ${item}: rate it from 0 to 100. Answer with a number."`,
        );
    writeFileSync(csv, `${rows.join("\n")}\n`);
    const path = join(dir, `stimuli-${n}.yaml`);
    writeFileSync(
      path,
      `kind: stimuli
stimuli: ${csv}
design: many-trials-per-run
model: openai:gpt-4o-mini
params: {temperature: 1, seed: 9, max_tokens: 20}
parse: {type: number, min: 0, max: 100}
seed: 4
settings: {rpm: 1000000, max_in_flight: 16}
`,
    );
    const normal = await runStudy(path);
    expect(normal.result.status).toBe("done");
    server.reset();
    const batched = await runStudy(path, { batch: true });
    expect(batched.result.status).toBe("done");
    expect(batched.store.batchesOf(batched.result.runId).map((b) => b.requestCount)).toEqual([4, 4, 4]);
    expect(observations(batched.store, batched.result.runId)).toEqual(
      observations(normal.store, normal.result.runId),
    );
    normal.store.close();
    batched.store.close();
  });
});

describe("batch runs and the cache", () => {
  it("settings.batch runs as a batch; a re-run with the same seed is answered from the cache, no batch submitted", async () => {
    const path = factorial(10, 2, "openai:gpt-4o-mini", "settings: {batch: true}\n");
    const store = RunStore.open(join(dir, `cache-${++n}.db`));
    const options = { store, backoffMs: 5, batchPollMs: 5, models: { apiKeys: keys() } };
    const first = await startRun(compileStudyFile(path), options);
    expect(first.status).toBe("done");
    expect(server.batchStats()).toMatchObject({ batchesCreated: 1, succeeded: 20 });
    expect(store.getRun(first.runId).settings.batch).toBe(true);
    const again = await startRun(compileStudyFile(path), options);
    expect(again.status).toBe("done");
    expect(again.totals.cacheHits).toBe(20);
    expect(server.batchStats()).toMatchObject({ batchesCreated: 1, succeeded: 20 });
    expect(store.batchesOf(again.runId)).toEqual([]);
    expect(observations(store, again.runId).map((o) => o.value)).toEqual(
      observations(store, first.runId).map((o) => o.value),
    );
    store.close();
  });
});

describe("--batch on Anthropic", () => {
  it("gives the same answers as calling /v1/messages one by one", async () => {
    const path = factorial(
      6,
      1,
      "anthropic:claude-haiku-4-5",
      "settings: {rpm: 100000, max_in_flight: 16}\n",
    );
    const normal = await runStudy(path);
    expect(normal.result.status).toBe("done");
    server.reset();
    const batched = await runStudy(path, { batch: true });
    expect(batched.result.status).toBe("done");
    expect(server.stats().requests).toBeLessThan(10);
    expect(server.batchStats()).toMatchObject({ batchesCreated: 1, succeeded: 6 });
    expect(observations(batched.store, batched.result.runId)).toEqual(
      observations(normal.store, normal.result.runId),
    );
    expect(batched.store.batchesOf(batched.result.runId)[0]).toMatchObject({
      provider: "anthropic",
      status: "ended",
    });
    expect(batched.result.totals.costUsd).toBeCloseTo(normal.result.totals.costUsd / 2, 9);
    normal.store.close();
    batched.store.close();
  });
});
