import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { lastLine, runCli } from "../test-support/cli.js";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";

// What a run says when calls fail: a mistyped model id is caught before the first call where the
// server lists its models; otherwise the summary names the top failure reasons and suggests
// `--retry-failed` only where a retry can help. Huge plans are refused before anything exists.

let dir: string;
let server: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-failures-"));
  server = await startOpenAITestServer({ script: ["42"], models: ["silico-test", "silico-large"] });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  server.setOptions({
    strictModels: false,
    listModels: true,
    models: ["silico-test", "silico-large"],
    failFirst: { count: 0, status: 500 },
    script: ["42"],
  });
  server.reset();
});

let n = 0;
function writeStudy(o: {
  model?: string;
  items?: number;
  times?: number | string;
  baseUrl?: string;
  settings?: string;
}) {
  const path = join(dir, `study-${++n}.yaml`);
  const items = Array.from({ length: o.items ?? 3 }, (_, i) => i + 1).join(", ");
  writeFileSync(
    path,
    `kind: factorial
name: failures-${n}
seed: 5
prompt: "Item {{ item }}: how much would you pay, from 0 to 100? Answer with a number."
levels:
  item: [${items}]
times: ${o.times ?? 1}
model: ${o.model ?? "ts:silico-test"}
parse: {type: number}
settings: {rpm: 60000${o.settings ? `, ${o.settings}` : ""}}
providers:
  ts: {type: openai-compatible, base_url: "${o.baseUrl ?? server.url}"}
`,
  );
  return path;
}

const cli = (args: string[]) => runCli(args, { cwd: dir, env: { SILICO_DB: undefined } });
const completions = () => server.requests.filter((r) => r.path === "/v1/chat/completions");

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("model ids are checked against the provider's listing before the first call", () => {
  it("a mistyped id stops the run with exit 2, a did-you-mean, no call and no store file", async () => {
    server.setOptions({ strictModels: true });
    const file = writeStudy({ model: "ts:silico-tset" });
    const db = join(dir, "typo.db");
    const r = await cli(["run", file, "--db", db]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('"ts:silico-tset"');
    expect(r.stderr).toContain('did you mean "silico-test"');
    expect(r.stderr).toMatch(/study-\d+\.yaml:8/); // the line that names the model
    expect(r.stdout).toBe("");
    expect(completions()).toHaveLength(0);
    expect(server.requests.map((q) => `${q.method} ${q.path}`)).toEqual(["GET /v1/models"]);
    expect(existsSync(db)).toBe(false);
  });

  it("--no-model-check skips the listing (for servers that answer ids they do not list)", async () => {
    server.setOptions({ strictModels: true });
    const file = writeStudy({ model: "ts:silico-tset", items: 2 });
    const r = await cli(["run", file, "--db", join(dir, "nocheck.db"), "--no-model-check"]);
    expect(r.code).toBe(1); // the calls themselves get the 404
    expect(server.requests.some((q) => q.path === "/v1/models")).toBe(false);
    expect(completions()).toHaveLength(2);
  });

  it("a listed id runs normally", async () => {
    server.setOptions({ strictModels: true });
    const r = await cli([
      "run",
      writeStudy({ model: "ts:silico-large" }),
      "--db",
      join(dir, "listed.db"),
      "-q",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(completions()).toHaveLength(3);
  });
});

describe("the failure report", () => {
  it("404s where no listing exists: top failure reasons with counts, and no --retry-failed", async () => {
    server.setOptions({ strictModels: true, listModels: false });
    const db = join(dir, "no-listing.db");
    const r = await cli(["run", writeStudy({ model: "ts:silico-tset", items: 4 }), "--db", db]);
    expect(r.code).toBe(1);
    expect(completions()).toHaveLength(4); // a 404 is not retried
    expect(r.stderr).toContain("top failure reasons:");
    expect(r.stderr).toMatch(
      /4 × ts:silico-tset: HTTP 404: The model `silico-tset` does not exist[^\n]*\(permanent/,
    );
    expect(r.stderr).not.toContain("--retry-failed");
    expect(r.stderr).not.toContain("finish with");
    expect(r.stderr).toContain("start a new run");
    const runs = JSON.parse((await cli(["runs", "--json", "--db", db])).stdout) as {
      summary: { failureReasons: { kind: string; count: number }[] };
    }[];
    expect(runs[0]?.summary.failureReasons).toEqual([
      expect.objectContaining({ kind: "permanent", count: 4 }),
    ]);
  });

  it("a refused connection is named as the reason, and fails fast once the server never answered", async () => {
    const port = await closedPort();
    const file = writeStudy({ baseUrl: `http://127.0.0.1:${port}/v1`, items: 30 });
    const args = ["run", file, "--db", join(dir, "refused.db"), "--max-attempts", "3", "--concurrency", "2"];
    const r = await cli(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("top failure reasons:");
    expect(r.stderr).toMatch(/30 × ts:silico-test: [^\n]*ECONNREFUSED[^\n]*\(server unreachable\)/);
    // The first two sessions used every attempt; after that each call tries once.
    expect(r.stderr).toMatch(/retries 4\b/);
    expect(r.stderr).toContain("--retry-failed (once the server is reachable)");
  });

  it("transient failures (500s beyond every attempt) still suggest resume --retry-failed", async () => {
    server.setOptions({ failFirst: { count: 4, status: 500 } });
    const r = await cli([
      "run",
      writeStudy({ items: 3 }),
      "--db",
      join(dir, "transient.db"),
      "--max-attempts",
      "2",
      "--concurrency",
      "1",
    ]);
    expect(r.code, r.stderr).toBe(3); // two sessions use up both attempts, the third succeeds
    expect(r.stderr).toMatch(/2 × ts:silico-test: HTTP 500: [^\n]*\(transient\)/);
    expect(r.stderr).toContain(
      `finish with: silico resume ${lastLine(r.stdout)} --db ${join(dir, "transient.db")} --retry-failed`,
    );
    expect(r.stderr).not.toContain("start a new run");

    // Resuming shows the sessions kept as finished and the calls still to make.
    const db = join(dir, "transient.db");
    const plain = await cli(["resume", lastLine(r.stdout), "--db", db]);
    expect(plain.code).toBe(3);
    expect(plain.stderr).toContain("3/3 sessions");
    expect(plain.stderr).toMatch(/2 × ts:silico-test: HTTP 500: [^\n]*\(transient\)/); // from the store
    const retried = await cli(["resume", lastLine(r.stdout), "--db", db, "--retry-failed"]);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stderr).toContain("3/3 sessions  2/2 calls");
    expect(retried.stderr).not.toContain("top failure reasons");
  });
});

describe("plan size", () => {
  it("a huge times: is refused at once: exit 2, located, with the counts and the limit; no store file", async () => {
    const file = writeStudy({ times: 1_000_000_000 });
    const db = join(dir, "huge.db");
    const t0 = Date.now();
    const r = await cli(["run", file, "--db", db]);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /study-\d+\.yaml:7: times: the plan has 3,000,000,000 sessions and about 3,000,000,000 calls, more than the limit of 1,000,000 calls/,
    );
    expect(r.stderr).toContain("--max-calls");
    expect(existsSync(db)).toBe(false);
    expect(server.requests).toHaveLength(0);
    const dry = await cli(["run", file, "--db", db, "--dry-run"]);
    expect(dry.code).toBe(2);
    const check = await cli(["check", file]);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain("more than the limit of 1,000,000 calls");
  });

  it("the limit is a flag or a setting", async () => {
    const db = join(dir, "limit.db");
    const small = writeStudy({ items: 3, times: 2 });
    const refused = await cli(["run", small, "--db", db, "--max-calls", "5"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("more than the limit of 5 calls");
    expect(existsSync(db)).toBe(false);
    const bySetting = await cli([
      "run",
      writeStudy({ items: 3, times: 2, settings: "max_calls: 5" }),
      "--db",
      db,
    ]);
    expect(bySetting.code).toBe(2);
    expect((await cli(["run", small, "--db", db, "--max-calls", "6", "-q"])).code).toBe(0);
  });
});

describe("the progress line", () => {
  it("shows calls and stays within 80 columns, long model names and large counts included", async () => {
    const long = `silico-${"x".repeat(90)}`;
    server.setOptions({ models: [long] });
    const file = writeStudy({ model: `ts:${long}`, items: 30, times: 4 });
    const r = await cli(["run", file, "--db", join(dir, "progress.db")]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split("\n").filter((l) => l.includes("sessions") && l.includes("calls"));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect([...l].length).toBeLessThanOrEqual(80);
    expect(lines.at(-1)).toContain("120/120 sessions");
    expect(lines.at(-1)).toContain("120/120 calls");
  });
});
