import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { factorialStudy, RunReader, run } from "silico";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStudio, type StudioHandle } from "./server.js";
import { http, type Reply } from "./testing/fixtures.js";

// A run of 20,000 sessions (one answer each, on the mock model): pages by cursor through the API
// are the library's rows, and whole-run reads (a cold summary, a CSV export) run in worker threads
// while small requests keep answering.

const N = 20_000;

interface SessionPage {
  items: { key: string; index: number; status: string }[];
  next: string | null;
  prev: string | null;
  total: number;
  offset?: number;
  nextOffset?: number | null;
}

describe("studio at scale: cursor pages and heavy reads off the server's thread", () => {
  let dir: string;
  let db: string;
  let runId: string;
  let studio: StudioHandle;
  let keys: string[];
  const get = (path: string) => http(studio.port, path, { headers: { "x-silico-token": studio.token } });
  const json = <T>(r: Reply): T => {
    expect(r.status, r.text.slice(0, 300)).toBe(200);
    return JSON.parse(r.text) as T;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "silico-studio-scale-"));
    db = join(dir, "silico.db");
    const levels = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}${i}`);
    const study = factorialStudy({
      name: "scale",
      prompt: "Rate {{ a }} with {{ b }} from 0 to 10.",
      levels: { a: levels("a", 40), b: levels("b", 50) },
      model: "mock:random",
      times: 10,
      parse: { type: "number", min: 0, max: 10 },
      seed: 2,
    });
    runId = (await run(study, { db, concurrency: 512, modelCheck: false })).runId;
    const reader = RunReader.open(db);
    keys = [...reader.iterateSessions(runId)].map((s) => s.key);
    reader.close();
    expect(keys).toHaveLength(N);
    studio = await startStudio({ db: "silico.db", projectDir: dir, port: 0 });
  }, 120_000);

  afterAll(async () => {
    await studio?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("pages sessions by cursor to the end and back, jumps to a position and to the last page", async () => {
    const walked: string[] = [];
    let page = json<SessionPage>(await get(`/api/runs/${runId}/sessions?limit=1000&at=0`));
    expect(page.total).toBe(N);
    expect(page.prev).toBeNull();
    walked.push(...page.items.map((s) => s.key));
    while (page.next) {
      page = json<SessionPage>(await get(`/api/runs/${runId}/sessions?limit=1000&after=${page.next}`));
      walked.push(...page.items.map((s) => s.key));
    }
    expect(walked).toEqual(keys);
    const last = json<SessionPage>(await get(`/api/runs/${runId}/sessions?limit=50&last=1`));
    expect(last.items.map((s) => s.key)).toEqual(keys.slice(-50));
    expect(last.next).toBeNull();
    const before = json<SessionPage>(await get(`/api/runs/${runId}/sessions?limit=50&before=${last.prev}`));
    expect(before.items.map((s) => s.key)).toEqual(keys.slice(-100, -50));
    const jump = json<SessionPage>(await get(`/api/runs/${runId}/sessions?limit=20&at=12345`));
    expect(jump.items.map((s) => s.key)).toEqual(keys.slice(12345, 12365));
    // The older offset pages answer as before.
    const old = json<SessionPage>(await get(`/api/runs/${runId}/sessions?limit=5&offset=19998`));
    expect(old.items.map((s) => s.key)).toEqual(keys.slice(19998));
    expect(old.nextOffset).toBeNull();
    expect((await get(`/api/runs/${runId}/sessions?after=not-a-cursor`)).status).toBe(400);
  });

  it("leaves the total out when asked (total=0), and counts a filter on its own address", async () => {
    const bare = json<SessionPage>(await get(`/api/runs/${runId}/sessions?limit=3&total=0&coord.a=a3`));
    expect(bare.total).toBeUndefined();
    expect(bare.items).toHaveLength(3);
    const counted = json<{ total: number }>(await get(`/api/runs/${runId}/sessions/count?coord.a=a3`));
    expect(counted.total).toBe(N / 40);
    // Counted once, the total comes with the page at once.
    const soon = json<SessionPage>(await get(`/api/runs/${runId}/sessions?limit=3&total=soon&coord.a=a3`));
    expect(soon.total).toBe(N / 40);
    const obs = json<{ total: number }>(
      await get(`/api/runs/${runId}/observations/count?valid=true&coord.b=b1`),
    );
    expect(obs.total).toBe(N / 50);
  });

  it("pages observations by cursor with filters and counts them", async () => {
    type ObsPage = {
      items: { sessionKey: string; sessionCoords: Record<string, string> }[];
      next: string | null;
      total: number;
    };
    const first = json<ObsPage>(await get(`/api/runs/${runId}/observations?coord.a=a7&limit=100`));
    expect(first.total).toBe(N / 40);
    expect(first.items.every((o) => o.sessionCoords.a === "a7")).toBe(true);
    const second = json<ObsPage>(
      await get(`/api/runs/${runId}/observations?coord.a=a7&limit=100&after=${first.next}`),
    );
    const firstKeys = new Set(first.items.map((o) => o.sessionKey));
    expect(second.items.some((o) => firstKeys.has(o.sessionKey))).toBe(false);
    const last = json<ObsPage>(
      await get(`/api/runs/${runId}/observations?model=mock:random&limit=10&last=1`),
    );
    expect(last.items.map((o) => o.sessionKey)).toEqual(keys.slice(-10));
  });

  it("answers a small request at once while a cold whole-run summary and a CSV export are computed", async () => {
    const timedGet = async (path: string) => {
      const t0 = performance.now();
      const r = await get(path);
      expect(r.status, r.text.slice(0, 200)).toBe(200);
      return { at: performance.now(), ms: performance.now() - t0 };
    };
    const heavy = Promise.all([
      timedGet(`/api/runs/${runId}/summary?by=a,b`),
      timedGet(`/api/runs/${runId}/export?format=csv`),
    ]);
    await new Promise((r) => setTimeout(r, 30));
    const small = [];
    for (const at of [0, 9_000, 19_950])
      small.push(await timedGet(`/api/runs/${runId}/sessions?limit=50&at=${at}`));
    small.push(await timedGet(`/api/runs`));
    const done = await heavy;
    const heavyEnd = Math.min(...done.map((d) => d.at));
    // Were the heavy reads on the server's thread, the first small request would wait for them.
    expect((small[0] as { at: number }).at).toBeLessThan(heavyEnd);
    expect(Math.max(...small.map((s) => s.ms))).toBeLessThan(Math.min(...done.map((d) => d.ms)) / 2);
  }, 60_000);
});
