import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import ExcelJS from "exceljs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { lastLine, runCli } from "../test-support/cli.js";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";

// `silico run` as a user runs it: the CLI (in-process; its own program and output), the test server over HTTP on
// 127.0.0.1, a SQLite file in a temp dir. Cache modes, dry runs, exit codes, progress output,
// authentication failures and keeping API keys out of everything written.

let dir: string;
let server: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-run-cli-"));
  server = await startOpenAITestServer({ script: ["42"] });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  server.setOptions({
    responder: undefined,
    script: ["42"],
    apiKey: undefined,
    failFirst: { count: 0, status: 500 },
  });
  server.reset();
});

let n = 0;
function writeStudy(o: { items: number; times?: number; model?: string; extra?: string; settings?: string }) {
  const path = join(dir, `study-${++n}.yaml`);
  const items = Array.from({ length: o.items }, (_, i) => i + 1).join(", ");
  writeFileSync(
    path,
    `kind: factorial
name: cli-${n}
seed: 3
prompt: "Item {{ item }}: how much would you pay, from 0 to 100? Answer with a number."
levels:
  item: [${items}]
times: ${o.times ?? 1}
model: ${o.model ?? "ts:silico-test"}
parse: {type: number}
settings: {rpm: 60000${o.settings ? `, ${o.settings}` : ""}}
${o.extra ?? ""}
providers:
  ts: {type: openai-compatible, base_url: "${server.url}"}
`,
  );
  return path;
}

const baseEnv = () => ({
  OPENAI_BASE_URL: server.url,
  OPENAI_API_KEY: "sk-test-runcli-000000",
  SILICO_DB: undefined,
});
const cli = (args: string[], env: Record<string, string | undefined> = {}) =>
  runCli(args, { cwd: dir, env: { ...baseEnv(), ...env } });
const requests = () => server.requests.filter((r) => r.path === "/v1/chat/completions");
const userPrompt = (body: unknown) =>
  String((body as { messages: { content: string }[] }).messages.at(-1)?.content);

/** Observation values of a run by session key. */
function values(db: string, runId: string): Map<string, unknown> {
  const conn = new Database(db, { readonly: true });
  try {
    const rows = conn.prepare("SELECT session_key, value FROM observations WHERE run_id = ?").all(runId) as {
      session_key: string;
      value: string;
    }[];
    return new Map(rows.map((r) => [r.session_key, JSON.parse(r.value)]));
  } finally {
    conn.close();
  }
}

async function runOk(args: string[], expectedCode = 0) {
  const r = await cli(args);
  expect(r.code, r.stderr).toBe(expectedCode);
  return lastLine(r.stdout);
}

describe("the cache", () => {
  it("5 draws make 5 calls per cell; re-runs make none; --no-cache and --refresh call again", async () => {
    let counter = 0;
    server.setOptions({ responder: () => String(++counter) });
    const file = writeStudy({ items: 2, times: 5 });
    const db = join(dir, "cache.db");

    const first = await runOk(["run", file, "--db", db, "-q"]);
    const perCell = new Map<string, number>();
    for (const r of requests()) perCell.set(userPrompt(r.body), (perCell.get(userPrompt(r.body)) ?? 0) + 1);
    expect([...perCell.values()]).toEqual([5, 5]);
    const firstValues = values(db, first);
    expect(new Set(firstValues.values()).size).toBe(10); // ten distinct draws, not one answer reused

    server.reset();
    const again = await runOk(["run", file, "--db", db]);
    expect(requests()).toHaveLength(0);
    expect(values(db, again)).toEqual(firstValues);

    const noCache = await runOk(["run", file, "--db", db, "-q", "--no-cache"]);
    expect(requests()).toHaveLength(10);
    const noCacheValues = values(db, noCache);
    for (const [k, v] of noCacheValues) expect(v).not.toBe(firstValues.get(k));

    // Answers fetched with --no-cache do not become the cache either.
    server.reset();
    const afterNoCache = await runOk(["run", file, "--db", db, "-q"]);
    expect(requests()).toHaveLength(0);
    expect(values(db, afterNoCache)).toEqual(firstValues);

    const refreshed = await runOk(["run", file, "--db", db, "-q", "--refresh"]);
    expect(requests()).toHaveLength(10);
    const refreshedValues = values(db, refreshed);
    for (const [k, v] of refreshedValues) expect(v).not.toBe(firstValues.get(k));

    // Later runs reuse the refreshed answers.
    server.reset();
    const later = await runOk(["run", file, "--db", db, "-q"]);
    expect(requests()).toHaveLength(0);
    expect(values(db, later)).toEqual(refreshedValues);

    const runs = JSON.parse((await cli(["runs", "--json", "--db", db])).stdout) as {
      summary: { cacheHits: number };
    }[];
    expect(runs.map((r) => r.summary.cacheHits)).toEqual([0, 10, 0, 10, 0, 10]);
  });
});

describe("silico run", () => {
  it("--dry-run prints sessions, calls, tokens and cost, and writes nothing", async () => {
    const file = writeStudy({
      items: 3,
      times: 4,
      model: "openai:gpt-4o-mini",
      extra: "params: {max_tokens: 20}",
    });
    const db = join(dir, "dry", "never.db");
    const r = await cli(["run", file, "--db", db, "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("12 sessions");
    expect(r.stdout).toContain("about 12 calls");
    expect(r.stdout).toMatch(/input tokens/);
    expect(r.stdout).toMatch(/≤ 240 output tokens/);
    expect(r.stdout).toMatch(/\$\d+\.\d{4}/);
    expect(existsSync(db)).toBe(false);
    expect(existsSync(join(dir, "dry"))).toBe(false);
    expect(server.stats().requests).toBe(0);
  });

  it("exits 0 when every session is valid, 3 when some are invalid, 1 when none succeeded", async () => {
    const db = join(dir, "codes.db");
    const file = writeStudy({ items: 3 });

    const ok = await cli(["run", file, "--db", db]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/: DONE/);

    server.setOptions({
      responder: ({ messages }) =>
        String(messages.at(-1)?.content).startsWith("Item 1:") ? "no idea" : "42",
    });
    const partial = await cli(["run", file, "--db", db, "--no-cache"]);
    expect(partial.code, partial.stderr).toBe(3);
    expect(partial.stderr).toMatch(/: PARTIAL/);
    expect(partial.stderr).toContain("2 done, 1 invalid");

    server.setOptions({ responder: () => "no idea" });
    const none = await cli(["run", file, "--db", db, "--no-cache"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/: FAILED/);
    expect(none.stderr).not.toMatch(/DONE|OK/);

    server.setOptions({ responder: undefined, failFirst: { count: 100, status: 400 } });
    const failed = await cli(["run", file, "--db", db, "--no-cache"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("0 done, 0 invalid, 3 failed");

    // Every run printed its id alone on the last stdout line, and the store agrees on the outcome.
    const runs = JSON.parse((await cli(["runs", "--json", "--db", db])).stdout) as {
      id: string;
      status: string;
    }[];
    expect(runs.map((r) => r.status)).toEqual(["done", "partial", "failed", "failed"]);
    expect([ok, partial, none, failed].map((r) => lastLine(r.stdout))).toEqual(runs.map((r) => r.id));
  });

  it("a rejected API key stops the run (exit 1) naming the variable, never the key", async () => {
    server.setOptions({ apiKey: "sk-the-right-key-123456" });
    const file = writeStudy({ items: 20, model: "openai:silico-test", settings: "max_in_flight: 2" });
    const db = join(dir, "auth.db");
    const r = await cli(["run", file, "--db", db], { OPENAI_API_KEY: "sk-wrong-key-987654321" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("HTTP 401");
    expect(r.stderr).toContain("OPENAI_API_KEY");
    expect(r.stderr).not.toContain("sk-wrong-key-987654321");
    // The run stopped: not every session was attempted.
    expect(requests().length).toBeLessThan(20);
    const runs = JSON.parse((await cli(["runs", "--json", "--db", db])).stdout) as { status: string }[];
    expect(runs.map((x) => x.status)).toEqual(["failed"]);
    expect(readFileSync(db).includes("sk-wrong-key-987654321")).toBe(false);
  });

  it("prints plain progress lines and a summary on stderr when not on a terminal; --quiet prints nothing there", async () => {
    const file = writeStudy({ items: 4 });
    const db = join(dir, "progress.db");
    const loud = await cli(["run", file, "--db", db, "--no-cache"]);
    expect(loud.code, loud.stderr).toBe(0);
    expect(loud.stderr).not.toContain("\r");
    expect(loud.stderr).not.toContain("\x1b[");
    expect(loud.stderr).toMatch(/4\/4 sessions/);
    expect(loud.stderr).toContain(`run ${lastLine(loud.stdout)}: DONE`);
    expect(loud.stdout.trim().split("\n")).toHaveLength(1);

    const quiet = await cli(["run", file, "--db", db, "--no-cache", "--quiet"]);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe("");
    expect(quiet.stdout.trim()).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/);
  });
});

describe("API keys", () => {
  it("never appear in the store, the exports, the transcripts or the messages", async () => {
    const secret = "sk-test-SECRET123456";
    server.setOptions({ apiKey: secret, failFirst: { count: 2, status: 500 } });
    const file = writeStudy({ items: 3, times: 2, model: "openai:silico-test" });
    const db = join(dir, "secret.db");
    const env = { OPENAI_API_KEY: secret };
    const run = await cli(["run", file, "--db", db], env);
    expect(run.code, run.stderr).toBe(0);
    expect(requests().every((r) => r.hasAuthorization)).toBe(true);
    const id = lastLine(run.stdout);

    const csv = await cli(["data", id, "--db", db, "--format", "csv"], env);
    const jsonl = await cli(["data", id, "--db", db, "--format", "jsonl"], env);
    const xlsxPath = join(dir, "secret.xlsx");
    const xlsx = await cli(["data", id, "--db", db, "--format", "xlsx", "--out", xlsxPath], env);
    const show = await cli(["show", id, "--db", db], env);
    const runs = await cli(["runs", "--json", "--db", db], env);
    for (const r of [csv, jsonl, xlsx, show, runs]) expect(r.code, r.stderr).toBe(0);
    expect(csv.stdout.trim().split("\n")).toHaveLength(7);

    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(xlsxPath);
    const cells: string[] = [];
    workbook.eachSheet((sheet) => sheet.eachRow((row) => row.eachCell((c) => cells.push(String(c.value)))));
    expect(cells.join("\n")).toContain("42");

    const texts = [run, csv, jsonl, xlsx, show, runs].flatMap((r) => [r.stdout, r.stderr]);
    texts.push(cells.join("\n"));
    for (const t of texts) expect(t).not.toContain(secret);
    const storeFiles = readdirSync(dir).filter((f) => f.startsWith("secret.db"));
    expect(storeFiles).toContain("secret.db");
    for (const f of storeFiles) expect(readFileSync(join(dir, f)).includes(secret), f).toBe(false);
  });
});
