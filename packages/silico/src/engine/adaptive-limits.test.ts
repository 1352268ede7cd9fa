import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { compileStudyFile } from "../designs/index.js";
import { RunStore } from "../store/run-store.js";
import { testSql } from "../store/test-sql.js";
import { ModelLimiter, ProviderGate } from "./limiter.js";
import { type RunOptions, startRun } from "./run-study.js";

// Adaptive concurrency with default settings, against the test server over real HTTP: it grows
// where the server has room, keeps to the limits the server states in its headers, and never
// exceeds what the user set.

let dir: string;
let server: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-adaptive-"));
  server = await startOpenAITestServer({ record: false });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  server.setOptions({ latencyMs: 0, rpm: 0, rateWindowMs: 60_000, maxInFlight: 0 });
  server.reset();
});

let n = 0;
function study(items: number, times: number, settings?: string) {
  const path = join(dir, `study-${++n}.yaml`);
  writeFileSync(
    path,
    `kind: factorial
prompt: "Item {{ item }}: how much would you pay, from 0 to 100? Answer with a number."
levels:
  item: [${Array.from({ length: items }, (_, i) => i + 1).join(", ")}]
times: ${times}
model: ts:silico-test
seed: 3
parse: {type: number}
params: {temperature: 0.7, max_tokens: 8}
${settings ? `settings: ${settings}\n` : ""}providers:
  ts: {type: openai-compatible, base_url: "${server.url}"}
`,
  );
  return compileStudyFile(path);
}

async function run(s: ReturnType<typeof study>, extra: Partial<RunOptions> = {}) {
  const store = RunStore.open(join(dir, `runs-${n}-${Math.random()}.db`));
  const t0 = performance.now();
  const result = await startRun(s, { store, backoffMs: 20, ...extra });
  const wallMs = performance.now() - t0;
  const values = testSql(store)
    .prepare("SELECT session_key, value FROM observations WHERE run_id = ? ORDER BY session_key")
    .all(result.runId);
  store.close();
  return { result, wallMs, values };
}

describe("adaptive concurrency (default settings)", () => {
  it("starts a study's own openai-compatible provider at its type's 256 and grows past it where the server has room", async () => {
    server.setOptions({ latencyMs: 300, maxInFlight: 600 });
    const { result } = await run(study(20, 40));
    expect(result.status).toBe("done");
    // 800 calls: after the first call alone, a wave of 256, then ×4 while latency holds.
    expect(server.stats().inFlightMax).toBeGreaterThan(256);
  });

  it("paces to the RPM the server states in x-ratelimit-* headers, with next to no 429s", async () => {
    // 1,200 RPM enforced over 1 s windows: 20 requests a second, 60 calls ≥ 2 s.
    server.setOptions({ latencyMs: 20, rpm: 1200, rateWindowMs: 1000 });
    const { result, wallMs } = await run(study(20, 3));
    expect(result.status).toBe("done");
    expect(result.totals.calls).toBe(60);
    const s = server.stats();
    expect(s.status[429] ?? 0).toBeLessThanOrEqual(3);
    expect(wallMs).toBeGreaterThan(1900);
    expect(wallMs).toBeLessThan(6000);
  });

  it("keeps a user's max_in_flight and rpm as hard caps", async () => {
    server.setOptions({ latencyMs: 50, rpm: 60_000, rateWindowMs: 1000 });
    const { result, wallMs } = await run(study(10, 3, "{max_in_flight: 3, rpm: 600}"));
    expect(result.status).toBe("done");
    expect(server.stats().inFlightMax).toBeLessThanOrEqual(3);
    // 30 calls at 600 RPM with one second (10 calls) of burst: at least 2 s, whatever the
    // server's own headers allow.
    expect(wallMs).toBeGreaterThan(1900);
  });

  it("stores the same answers whatever the concurrency", async () => {
    server.setOptions({ latencyMs: 5 });
    const adaptive = await run(study(10, 4));
    const one = await run(study(10, 4, "{max_in_flight: 1}"));
    expect(adaptive.values).toHaveLength(40);
    expect(adaptive.values).toEqual(one.values);
  });
});

describe("ModelLimiter", () => {
  const policy = { start: { maxInFlight: 8, rpm: null, tpm: null }, caps: {}, adaptive: true, ceiling: 64 };

  /** Runs calls through the limiter, each taking `latency(concurrency)` ms of pretend time. */
  async function drive(limiter: ModelLimiter, calls: number, latency: (allowed: number) => number) {
    for (let i = 0; i < calls; i++) {
      const seq = await limiter.acquire(10);
      limiter.release(10, 10);
      limiter.onSuccess(latency(limiter.currentConcurrency), seq);
    }
  }

  it("grows ×4 while latency holds and the limit is reached, up to the ceiling", async () => {
    const l = new ModelLimiter(policy, new ProviderGate());
    expect(l.currentConcurrency).toBe(8);
    // Saturate: more callers than slots.
    const waiting = Array.from({ length: 40 }, () => l.acquire(1));
    await Promise.race([Promise.all(waiting), new Promise((r) => setTimeout(r, 600))]);
    for (let i = 0; i < 8; i++) l.release(1, 1);
    await drive(l, 8, () => 100);
    expect(l.currentConcurrency).toBe(32);
    expect(l.maxConcurrency).toBe(64);
  });

  it("shrinks when latency grows, to what the latency says is served at once, plus 10 %", async () => {
    const l = new ModelLimiter(
      { ...policy, start: { maxInFlight: 40, rpm: null, tpm: null } },
      new ProviderGate(),
    );
    await new Promise((r) => setTimeout(r, 550)); // past the first-call probe
    await drive(l, 20, () => 100); // sets the best latency seen
    expect(l.currentConcurrency).toBe(40);
    await drive(l, 20, () => 400); // a queue: 4× the latency
    expect(l.currentConcurrency).toBe(11); // 40 ÷ 4 × 1.1
  });

  it("halves on a 429 when the provider states no limit, and adopts a stated limit instead", async () => {
    const l = new ModelLimiter(policy, new ProviderGate());
    l.onRateLimited(0);
    expect(l.currentConcurrency).toBe(4);
    const paced = new ModelLimiter(policy, new ProviderGate());
    paced.onRateLimited(0, { limitRequests: 600, remainingRequests: 0, resetRequestsMs: 5 }, 1);
    expect(paced.currentConcurrency).toBe(8);
    expect(paced.pacing.rpm).toBe(600);
  });

  it("never goes past a user's caps, whatever the headers say", () => {
    const l = new ModelLimiter(
      {
        start: { maxInFlight: 5, rpm: 100, tpm: null },
        caps: { maxInFlight: 5, rpm: 100 },
        adaptive: true,
        ceiling: 512,
      },
      new ProviderGate(),
    );
    l.onSuccess(10, 1, { limitRequests: 10_000, limitTokens: 1_000_000 });
    expect(l.pacing.rpm).toBe(100);
    expect(l.pacing.tpm).toBe(1_000_000);
    expect(l.maxConcurrency).toBe(5);
  });
});
