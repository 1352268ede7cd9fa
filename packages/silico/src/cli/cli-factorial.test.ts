import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ExcelJS from "exceljs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunStore } from "../store/run-store.js";
import { lastLine, runCli } from "../test-support/cli.js";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { testSql } from "../store/test-sql.js";

const FAKE_KEY = "sk-test-FAKEKEY-0123456789abcdef";

function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  return rows;
}

describe("silico run / runs / show / data on a factorial study (the CLI in-process, real HTTP server)", () => {
  let server: TestServer;
  let dir: string;
  let db: string;
  let runId: string;
  /** Chat completions answered (the model-id check's GET /v1/models is not a model call). */
  const modelCalls = () => server.requests.filter((q) => q.path === "/v1/chat/completions").length;
  const env = { OPENAI_COMPATIBLE_API_KEY: FAKE_KEY, TESTSERVER_KEY: FAKE_KEY };

  beforeAll(async () => {
    server = await startOpenAITestServer({
      models: ["test-model"], // runs check model ids against GET /v1/models
      responder: ({ messages }) => {
        const last = String(messages.at(-1)?.content ?? "");
        // Answers depend only on the prompt, so every row can be checked against it.
        if (last.includes("{{ secret }}")) return "I echo {{ secret }} and say 50";
        if (last.includes("about plain")) return "Nothing to say.";
        const m = /rating for (\w+) at the (\w+)/.exec(last);
        const base = m ? (m[1] as string).length * 10 + (m[2] as string).length : 1;
        return `My rating is ${base}.`;
      },
    });
    dir = mkdtempSync(join(tmpdir(), "silico-cli-"));
    db = join(dir, "runs.db");
    writeFileSync(
      join(dir, "study.yaml"),
      `kind: factorial
name: approval-test
prompt: |
  Give an approval rating for {{ politician }} at the {{ time }} of their presidency.
  Respond with a number from 0 to 100.
levels:
  politician: [Biden, Trump, Obama]
  time: [beginning, end]
model: ts:test-model
times: 2
parse: {type: number, min: 0, max: 100}
params: {temperature: 0.7, max_tokens: 20}
seed: 11
providers:
  ts: {type: openai-compatible, base_url: "${server.url}", key_env: TESTSERVER_KEY}
`,
    );
    const r = await runCli(["run", "study.yaml", "--db", db], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    runId = lastLine(r.stdout);
    expect(r.stderr).toContain("DONE");
  });

  afterAll(async () => {
    await server?.close();
  });

  it("prints the run id alone on the last line and lists it in runs --json", async () => {
    expect(runId).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/);
    const r = await runCli(["runs", "--json", "--db", db], { cwd: dir });
    expect(r.code).toBe(0);
    const runs = JSON.parse(r.stdout) as { id: string; status: string; sessions: number; seed: number }[];
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ id: runId, status: "done", sessions: 12, seed: 11 });
  });

  it("stores manifest, sessions, calls and observations row by row", () => {
    const store = RunStore.open(db);
    try {
      const run = store.getRun(runId);
      expect(run.manifest).toMatchObject({
        kind: "factorial",
        seed: 11,
        coordinate_columns: ["politician", "time", "model", "draw"],
      });
      expect(run.study_text).toContain("approval rating");
      const sessions = testSql(store)
        .prepare("SELECT coords, status FROM sessions WHERE run_id = ? ORDER BY idx")
        .all(runId) as {
        coords: string;
        status: string;
      }[];
      expect(sessions).toHaveLength(12);
      const cells = new Set(sessions.map((s) => s.coords));
      expect(cells.size).toBe(12);
      expect(sessions.every((s) => s.status === "done")).toBe(true);
      const obs = testSql(store)
        .prepare(
          `SELECT s.coords, o.value, o.raw, o.valid, c.request, c.input_tokens, c.latency_ms FROM observations o
           JOIN sessions s ON s.key = o.session_key AND s.run_id = o.run_id JOIN calls c ON c.id = o.call_id WHERE o.run_id = ?`,
        )
        .all(runId) as {
        coords: string;
        value: string;
        raw: string;
        valid: number;
        request: string;
        input_tokens: number;
        latency_ms: number;
      }[];
      expect(obs).toHaveLength(12);
      for (const o of obs) {
        const c = JSON.parse(o.coords) as { politician: string; time: string };
        const expected = c.politician.length * 10 + c.time.length;
        expect(o.valid).toBe(1);
        expect(JSON.parse(o.value)).toBe(expected);
        expect(o.raw).toBe(`My rating is ${expected}.`);
        const req = JSON.parse(o.request) as {
          messages: { content: string }[];
          params: { temperature: number; maxTokens: number };
        };
        expect(req.messages[0]?.content).toContain(`rating for ${c.politician} at the ${c.time}`);
        expect(req.params).toMatchObject({ temperature: 0.7, maxTokens: 20 });
        expect(o.input_tokens).toBeGreaterThan(0);
        expect(o.latency_ms).toBeGreaterThanOrEqual(0);
      }
    } finally {
      store.close();
    }
    expect(modelCalls()).toBe(12);
  });

  it("exports tidy CSV, JSONL and XLSX with one row per observation", async () => {
    const csv = await runCli(["data", runId, "--db", db, "--format", "csv"], { cwd: dir });
    expect(csv.code).toBe(0);
    const rows = parseCsv(csv.stdout);
    const header = rows[0] as string[];
    expect(header.slice(0, 6)).toEqual(["run", "session", "politician", "time", "model", "draw"]);
    for (const col of ["value", "valid", "raw", "input_tokens", "latency_ms", "cost_usd"])
      expect(header).toContain(col);
    expect(rows).toHaveLength(13);
    const vi = header.indexOf("value");
    for (const r of rows.slice(1)) {
      const expected = (r[2] as string).length * 10 + (r[3] as string).length;
      expect(Number(r[vi])).toBe(expected);
      expect(r[header.indexOf("valid")]).toBe("TRUE");
      expect(r[header.indexOf("model")]).toBe("ts:test-model");
    }
    const jsonl = await runCli(["data", runId, "--db", db, "--format", "jsonl"], { cwd: dir });
    const objs = jsonl.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs).toHaveLength(12);
    expect(new Set(objs.map((o) => `${o.politician}/${o.time}/${o.draw}`)).size).toBe(12);
    expect(objs.every((o) => typeof o.value === "number" && o.valid === true)).toBe(true);

    const xlsxPath = join(dir, "out.xlsx");
    const x = await runCli(["data", runId, "--db", db, "--format", "xlsx", "--out", xlsxPath], { cwd: dir });
    expect(x.code, x.stderr).toBe(0);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(xlsxPath);
    const ws = wb.worksheets[0];
    expect(ws?.rowCount).toBe(13);
    expect(ws?.getRow(1).getCell(3).value).toBe("politician");
    const noOut = await runCli(["data", runId, "--db", db, "--format", "xlsx"], { cwd: dir });
    expect(noOut.code).toBe(2);
  });

  it("shows readable transcripts", async () => {
    const r = await runCli(["show", runId, "--db", db, "--limit", "2"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("[p1] user: Give an approval rating for Biden at the beginning");
    expect(r.stdout).toContain("[p1] assistant: My rating is 59.");
    expect(r.stdout).toContain("→ answer = 59");
    expect(r.stdout).toContain("more sessions");
  });

  it("re-running the unchanged study makes zero calls", async () => {
    const before = modelCalls();
    const r = await runCli(["run", "study.yaml", "--db", db, "--quiet"], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    expect(modelCalls()).toBe(before);
  });

  it("keeps {{ … }} in variables and replies literal, and never writes the API key", async () => {
    writeFileSync(
      join(dir, "secret.yaml"),
      `kind: factorial
prompt: "Say something about {{ thing }}."
levels:
  thing: ["{{ secret }}", "plain"]
model: ts:test-model
parse: number
providers:
  ts: {type: openai-compatible, base_url: "${server.url}", key_env: TESTSERVER_KEY}
`,
    );
    const r = await runCli(["run", "secret.yaml", "--db", db], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(3); // the "plain" cell's answer has no number → partial
    const id = lastLine(r.stdout);
    const sent = server.requests
      .filter((q) => q.path === "/v1/chat/completions")
      .map((q) => JSON.stringify((q.body as { messages: unknown }).messages));
    expect(sent.some((m) => m.includes("Say something about {{ secret }}."))).toBe(true);
    const data = await runCli(["data", id, "--db", db, "--format", "jsonl"], { cwd: dir });
    const rows = data.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { thing: string; raw: string });
    const secretRow = rows.find((row) => row.thing === "{{ secret }}");
    expect(secretRow?.raw).toBe("I echo {{ secret }} and say 50");
    const show = await runCli(["show", id, "--db", db], { cwd: dir });
    expect(show.stdout).toContain("I echo {{ secret }} and say 50");

    // The key was sent to the server (it needs it) but is nowhere in what silico wrote.
    expect(server.requests.every((q) => q.hasAuthorization)).toBe(true);
    const outputs = [db, `${db}-wal`].filter(existsSync).map((p) => readFileSync(p).toString("latin1"));
    for (const fmt of ["csv", "jsonl"]) {
      outputs.push((await runCli(["data", id, "--db", db, "--format", fmt], { cwd: dir })).stdout);
    }
    outputs.push(r.stderr, r.stdout, show.stdout);
    for (const o of outputs) expect(o.includes(FAKE_KEY)).toBe(false);
  });
});
