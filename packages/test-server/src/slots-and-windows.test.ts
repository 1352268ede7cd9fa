import { afterEach, describe, expect, it } from "vitest";
import {
  type OpenAITestServerOptions,
  startOpenAITestServer,
  type TestServer,
} from "./openai-test-server.js";

// The knobs the adaptive-concurrency bench profiles need: a server that serves at most
// maxInFlight completions at once (the rest wait in line), and RPM enforced over short windows.

const servers: TestServer[] = [];
async function start(options: OpenAITestServerOptions): Promise<TestServer> {
  const s = await startOpenAITestServer({ record: false, ...options });
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const ask = (s: TestServer) =>
  fetch(`${s.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "silico-test", messages: [{ role: "user", content: "Say a number." }] }),
  });

describe("maxInFlight", () => {
  it("serves that many at once; the others wait in line, then take the full latency", async () => {
    const s = await start({ latencyMs: 100, maxInFlight: 2 });
    const t0 = performance.now();
    const res = await Promise.all(Array.from({ length: 6 }, () => ask(s)));
    const ms = performance.now() - t0;
    expect(res.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    // Three waves of two, 100 ms each.
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(1500);
    expect(s.stats().inFlightMax).toBe(6);
  });
});

describe("rateWindowMs", () => {
  it("holds the RPM over the window in proportion, and states per-minute limits in the headers", async () => {
    const s = await start({ rpm: 600, rateWindowMs: 1000 });
    const res = await Promise.all(Array.from({ length: 12 }, () => ask(s)));
    const statuses = res.map((r) => r.status).sort();
    // 600 RPM over 1 s: 10 a second.
    expect(statuses.filter((x) => x === 200)).toHaveLength(10);
    expect(statuses.filter((x) => x === 429)).toHaveLength(2);
    const ok = res.find((r) => r.status === 200);
    expect(ok?.headers.get("x-ratelimit-limit-requests")).toBe("600");
    const limited = res.find((r) => r.status === 429);
    expect(limited?.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(Number.parseFloat(limited?.headers.get("x-ratelimit-reset-requests") ?? "")).toBeGreaterThan(0);
  });

  it("defaults to 60 s: the same 12 requests all pass at 600 RPM", async () => {
    const s = await start({ rpm: 600 });
    const res = await Promise.all(Array.from({ length: 12 }, () => ask(s)));
    expect(res.every((r) => r.status === 200)).toBe(true);
  });
});
