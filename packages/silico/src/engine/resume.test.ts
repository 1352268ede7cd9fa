import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CLI, lastLine, runCli } from "../test-support/cli.js";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";

// "Nothing lost": the CLI (a child process where it is killed, in-process otherwise), killed, stopped by budget and resumed,
// against the test server over HTTP, with the store checked row by row afterwards.

let dir: string;
let server: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-resume-"));
  // Runs check model ids against GET /v1/models, so the listing names every model the tests use.
  server = await startOpenAITestServer({ script: ["42"], models: ["silico-test", "gpt-4o-mini"] });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  server.setOptions({
    latencyMs: 0,
    responder: undefined,
    script: ["42"],
    failFirst: { count: 0, status: 500 },
  });
  server.reset();
});

function writeStudy(
  name: string,
  o: { items: number; times?: number; model?: string; prompt?: string; extra?: string },
) {
  const path = join(dir, `${name}.yaml`);
  const items = Array.from({ length: o.items }, (_, i) => i + 1).join(", ");
  writeFileSync(
    path,
    `kind: factorial
name: ${name}
seed: 5
prompt: "${o.prompt ?? "Item {{ item }}: how much would you pay, from 0 to 100? Answer with a number."}"
levels:
  item: [${items}]
times: ${o.times ?? 1}
model: ${o.model ?? "ts:silico-test"}
${o.extra ?? ""}
providers:
  ts: {type: openai-compatible, base_url: "${server.url}"}
`,
  );
  return path;
}

const SECRET = "sk-test-SECRET-resume-123456";
const env = () => ({
  OPENAI_BASE_URL: server.url,
  OPENAI_API_KEY: "sk-test-resume-0000000",
  OPENAI_COMPATIBLE_BASE_URL: server.url,
  OPENAI_COMPATIBLE_API_KEY: SECRET,
  SILICO_DB: undefined,
});
const cli = (args: string[]) => runCli(args, { cwd: dir, env: env() });
/** Model calls, without the model-id check's GET /v1/models. */
const completionRequests = () => server.requests.filter((r) => r.path !== "/v1/models").length;

async function waitFor(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface StoreFacts {
  sessions: { key: string; status: string }[];
  observationsPerSession: Map<string, number>;
  /** Calls the provider answered (not replays from the cache), per call key. */
  answeredPerCallKey: Map<string, number>;
  cachedReplays: number;
}

function facts(db: string, runId?: string): StoreFacts {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const run = runId ?? (conn.prepare("SELECT id FROM runs").pluck().get() as string);
    const sessions = conn
      .prepare("SELECT key, status FROM sessions WHERE run_id = ? ORDER BY idx")
      .all(run) as {
      key: string;
      status: string;
    }[];
    const count = (sql: string) =>
      new Map(
        (conn.prepare(sql).all(run) as { k: string; n: number }[]).map((r) => [r.k, r.n] as [string, number]),
      );
    return {
      sessions,
      observationsPerSession: count(
        "SELECT session_key AS k, COUNT(*) AS n FROM observations WHERE run_id = ? GROUP BY k",
      ),
      answeredPerCallKey: count(
        `SELECT call_key AS k, COUNT(*) AS n FROM calls WHERE run_id = ? AND status IN ('ok', 'invalid')
         AND cached_from IS NULL GROUP BY k`,
      ),
      cachedReplays: conn
        .prepare("SELECT COUNT(*) FROM calls WHERE run_id = ? AND cached_from IS NOT NULL")
        .pluck()
        .get(run) as number,
    };
  } finally {
    conn.close();
  }
}

async function onlyRun(
  db: string,
): Promise<{ id: string; status: string; summary: Record<string, number> | null }> {
  const r = await cli(["runs", "--json", "--db", db]);
  expect(r.code, r.stderr).toBe(0);
  const runs = JSON.parse(r.stdout) as {
    id: string;
    status: string;
    summary: Record<string, number> | null;
  }[];
  expect(runs).toHaveLength(1);
  return runs[0]!;
}

describe("resume", () => {
  it("finishes a run killed with SIGKILL mid-flight: every session once, nothing asked or recorded twice", async () => {
    const total = 120;
    server.setOptions({ latencyMs: 60 });
    const file = writeStudy("killed", {
      items: 40,
      times: 3,
      model: "openai-compatible:silico-test",
      extra: "parse: {type: number}\nsettings: {max_in_flight: 8}",
    });
    const db = join(dir, "killed.db");
    const child = spawn(process.execPath, [CLI, "run", file, "--db", db, "--quiet"], {
      cwd: dir,
      env: { ...process.env, ...env() },
      stdio: "ignore",
    });
    const exited = once(child, "exit");
    await waitFor(() => server.stats().requests >= 50);
    child.kill("SIGKILL");
    const [code, signal] = await exited;
    expect(code).toBeNull();
    expect(signal).toBe("SIGKILL");
    // The killed process left its write-ahead log behind; neither file holds the key it sent.
    expect(server.requests.every((q) => q.hasAuthorization)).toBe(true);
    const files = readdirSync(dir).filter((f) => f.startsWith("killed.db"));
    expect(files).toEqual(expect.arrayContaining(["killed.db", "killed.db-wal"]));
    for (const f of files) expect(readFileSync(join(dir, f)).includes(SECRET), f).toBe(false);

    const before = facts(db);
    const doneBefore = before.sessions.filter((s) => s.status === "done").length;
    const answeredBefore = [...before.answeredPerCallKey.values()].reduce((a, b) => a + b, 0);
    expect(doneBefore).toBeGreaterThan(0);
    expect(doneBefore).toBeLessThan(total);
    const run = await onlyRun(db);
    expect(run.status).toBe("interrupted"); // its owner is gone

    server.setOptions({ latencyMs: 0 });
    server.reset();
    const r = await cli(["resume", run.id, "--db", db, "--quiet"]);
    expect(r.code, r.stderr).toBe(0);
    expect(lastLine(r.stdout)).toBe(run.id);

    const after = facts(db, run.id);
    expect(after.sessions).toHaveLength(total);
    expect(new Set(after.sessions.map((s) => s.key)).size).toBe(total);
    expect(after.sessions.every((s) => s.status === "done")).toBe(true);
    expect(after.observationsPerSession.size).toBe(total);
    expect([...after.observationsPerSession.values()].every((n) => n === 1)).toBe(true);
    expect(after.answeredPerCallKey.size).toBe(total);
    expect([...after.answeredPerCallKey.values()].every((n) => n === 1)).toBe(true);
    // Answers recorded before the kill were reused, not asked again; only the rest was asked.
    expect(server.stats().requests).toBe(total - answeredBefore);
    expect((await onlyRun(db)).status).toBe("done");
  });

  it("--max-cost stops cleanly before the budget (exit 4, stopped) and resume finishes", async () => {
    // gpt-4o-mini: $0.15 / $0.60 per million tokens. Each answer is 40 words (tokens on the test
    // server) for about $0.0000246; a call is budgeted at 50 output tokens ($0.00003) plus input.
    server.setOptions({ script: [Array.from({ length: 40 }, (_, i) => `w${i}`).join(" ")] });
    const file = writeStudy("budget", {
      items: 10,
      model: "openai:gpt-4o-mini",
      prompt: "Item {{ item }}: describe it.",
      extra: "params: {max_tokens: 50}\nsettings: {max_in_flight: 8, rpm: 60000}",
    });
    const db = join(dir, "budget.db");
    const max = 0.00016; // five calls' worth of budget: eight at once would spend $0.000197
    const first = await cli(["run", file, "--db", db, "--max-cost", String(max)]);
    expect(first.code, first.stderr).toBe(4);
    expect(first.stderr).toContain("--max-cost");
    const stopped = await onlyRun(db);
    expect(stopped.status).toBe("stopped");
    const done = stopped.summary?.done ?? 0;
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(10);
    // Calls in flight count against the budget too, so eight at once cannot overshoot it.
    expect(stopped.summary?.costUsd).toBeLessThanOrEqual(max);
    expect(completionRequests()).toBe(done);

    const resumed = await cli(["resume", stopped.id, "--db", db]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const f = facts(db, stopped.id);
    expect(f.sessions.filter((s) => s.status === "done")).toHaveLength(10);
    expect([...f.answeredPerCallKey.values()].every((n) => n === 1)).toBe(true);
    expect(completionRequests()).toBe(10);
    const conn = new Database(db, { readonly: true });
    const spent = conn
      .prepare("SELECT SUM(cost_usd) FROM calls WHERE cached_from IS NULL")
      .pluck()
      .get() as number;
    conn.close();
    expect(spent).toBeCloseTo((10 * (4 * 0.15 + 40 * 0.6)) / 1e6, 10);
  });

  it("--retry-failed re-runs only failed and invalid sessions and keeps the originals as superseded", async () => {
    // Item 1 of draw 1 meets a 400 (failed); items 2 and 4 get unusable answers (invalid).
    server.setOptions({
      failFirst: { count: 1, status: 400, message: "Invalid request: test" },
      responder: ({ messages }) => (/Item [24]:/.test(String(messages.at(-1)?.content)) ? "no idea" : "42"),
    });
    const file = writeStudy("retry", {
      items: 5,
      times: 2,
      extra: "parse: {type: number}\nsettings: {max_in_flight: 1}",
    });
    const db = join(dir, "retry.db");
    const first = await cli(["run", file, "--db", db]);
    expect(first.code, first.stderr).toBe(3);
    expect(first.stderr).toContain("--retry-failed");
    const run = await onlyRun(db);
    expect(run.status).toBe("partial");
    const before = facts(db, run.id);
    const bad = before.sessions.filter((s) => s.status === "failed" || s.status === "invalid");
    expect(bad.map((s) => s.status).sort()).toEqual(["failed", "invalid", "invalid", "invalid", "invalid"]);

    server.setOptions({ responder: () => "42", failFirst: { count: 0, status: 500 } });
    server.reset();
    const plain = await cli(["resume", run.id, "--db", db]);
    expect(plain.code).toBe(3); // without --retry-failed the finished sessions stay as they are
    expect(server.stats().requests).toBe(0);

    const again = await cli(["resume", run.id, "--db", db, "--retry-failed"]);
    expect(again.code, again.stderr).toBe(0);
    expect(server.stats().requests).toBe(bad.length);
    const after = facts(db, run.id);
    const current = after.sessions.filter((s) => s.status !== "superseded");
    const superseded = after.sessions.filter((s) => s.status === "superseded");
    expect(current).toHaveLength(10);
    expect(current.every((s) => s.status === "done")).toBe(true);
    expect(superseded.map((s) => s.key).sort()).toEqual(bad.map((s) => `${s.key}~1`).sort());
    // The invalid originals keep their observations under the superseded keys.
    for (const s of bad.filter((b) => b.status === "invalid"))
      expect(after.observationsPerSession.get(`${s.key}~1`)).toBe(1);
    const data = await cli(["data", run.id, "--db", db, "--format", "jsonl"]);
    const rows = data.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { valid: boolean; value: unknown });
    expect(rows).toHaveLength(10);
    expect(rows.every((r) => r.valid && r.value === 42)).toBe(true);
    expect((await onlyRun(db)).status).toBe("done");
  });
});
