import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { show } from "../api/verbs.js";
import { lastLine, runCli } from "../test-support/cli.js";

// `silico show` and `silico runs` tell a `--batch` run from a normal one: show lists each batch's
// provider id, model, status and request outcomes; runs marks the run and counts its batches.

let dir: string;
let server: TestServer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-batch-show-"));
  server = await startOpenAITestServer({ record: false });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = () => ({
  OPENAI_API_KEY: "sk-test-batch-show",
  OPENAI_BASE_URL: server.url,
  SILICO_BATCH_POLL_MS: "20",
});

function study(name: string): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `kind: factorial
prompt: "Item {{ item }}: how much would you pay, from 0 to 100? Answer with a number."
levels:
  item: [1, 2, 3, 4, 5, 6]
model: openai:gpt-4o-mini
parse: {type: number, min: 0, max: 100}
params: {temperature: 1, seed: 5, max_tokens: 30}
seed: 11
`,
  );
  return path;
}

describe("batch runs in show and runs", () => {
  it("show prints every batch with its provider id, status and request counts; runs marks the run", async () => {
    server.reset();
    // The first batch expires as a whole: its 6 requests go into a second batch.
    server.setOptions({ batch: { expireFirst: 1 } });
    const db = join(dir, "batch.db");
    const r = await runCli(["run", study("b.yaml"), "--batch", "--no-model-check", "--db", db, "-q"], {
      env: env(),
    });
    expect(r.code, r.stderr).toBe(0);
    const runId = lastLine(r.stdout);
    const plain = await runCli(["run", study("p.yaml"), "--no-model-check", "--db", db, "-q"], {
      env: env(),
    });
    expect(plain.code, plain.stderr).toBe(0);
    const plainId = lastLine(plain.stdout);

    const shown = await runCli(["show", runId, "--db", db, "--limit", "1"]);
    expect(shown.code, shown.stderr).toBe(0);
    const lines = shown.stdout.split("\n");
    expect(lines[1]).toBe("batch run: 2 batches");
    expect(lines[2]).toMatch(/^ {2}batch_\S+ {2}gpt-4o-mini \(openai\) {2}expired {2}6 requests: 6 expired$/);
    expect(lines[3]).toMatch(
      /^ {2}batch_\S+ {2}gpt-4o-mini \(openai\) {2}completed {2}6 requests: 6 succeeded$/,
    );
    // The ids are the provider's own, in full.
    const ids = (await show(runId, { db, limit: 1 })).batches.map((b) => b.id);
    expect(ids).toHaveLength(2);
    for (const [k, id] of ids.entries()) expect(lines[2 + k]).toContain(`  ${id}  `);

    const plainShown = await runCli(["show", plainId, "--db", db, "--limit", "1"]);
    expect(plainShown.stdout).not.toContain("batch run");
    expect((await show(plainId, { db })).batches).toEqual([]);

    const runs = await runCli(["runs", "--db", db]);
    const runLine = runs.stdout.split("\n").find((l) => l.startsWith(runId));
    expect(runLine).toMatch(/ {2}batch \(2 batches: 1 expired, 1 completed\)$/);
    const plainLine = runs.stdout.split("\n").find((l) => l.startsWith(plainId));
    expect(plainLine).not.toMatch(/ {2}batch \(/);

    const json = JSON.parse((await runCli(["runs", "--db", db, "--json"])).stdout) as {
      id: string;
      batch: unknown;
    }[];
    expect(json.find((x) => x.id === runId)?.batch).toEqual({
      batches: 2,
      statuses: { expired: 1, completed: 1 },
    });
    expect(json.find((x) => x.id === plainId)?.batch).toBeNull();
  });

  it("a batch run whose calls all came from the cache says it sent no batch", async () => {
    server.reset();
    server.setOptions({ batch: {} });
    const db = join(dir, "cached.db");
    const path = study("c.yaml");
    const first = await runCli(["run", path, "--no-model-check", "--db", db, "-q"], { env: env() });
    expect(first.code, first.stderr).toBe(0);
    const again = await runCli(["run", path, "--batch", "--no-model-check", "--db", db, "-q"], {
      env: env(),
    });
    expect(again.code, again.stderr).toBe(0);
    const shown = await runCli(["show", "last", "--db", db, "--limit", "1"]);
    expect(shown.stdout.split("\n")[1]).toBe(
      "batch run: no batch submitted (every call came from the cache, or none was ready)",
    );
    const runs = await runCli(["runs", "--db", db]);
    expect(runs.stdout.split("\n").find((l) => l.startsWith(lastLine(again.stdout)))).toMatch(
      / {2}batch \(no batch submitted\)$/,
    );
  });
});
