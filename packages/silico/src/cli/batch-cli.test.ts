import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunStore } from "../store/run-store.js";
import { testSql } from "../store/test-sql.js";
import { CLI, PACKAGE_DIR, runCli, spawnCli } from "../test-support/cli.js";

// `silico run --batch` as a user runs it: a real child process, killed with SIGKILL once its
// batch is submitted, then `silico resume`.

let dir: string;
let server: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-batch-cli-"));
  server = await startOpenAITestServer({ record: false });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function study(name: string, model: string, extra = ""): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `kind: factorial
prompt: "Item {{ item }}: how much would you pay, from 0 to 100? Answer with a number."
levels:
  item: [${Array.from({ length: 60 }, (_, i) => i + 1).join(", ")}]
model: ${model}
parse: {type: number, min: 0, max: 100}
params: {temperature: 1, seed: 5, max_tokens: 30}
seed: 11
${extra}`,
  );
  return path;
}

const env = () => ({
  OPENAI_API_KEY: "sk-test-batch-cli",
  OPENAI_BASE_URL: server.url,
  SILICO_BATCH_POLL_MS: "20",
});

const until = async (what: () => boolean, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe("silico run --batch", () => {
  it("killed with SIGKILL after its batch is submitted, `resume` waits for that batch and submits nothing new", async () => {
    server.reset();
    server.setOptions({ batch: { completeAfterPolls: 1_000_000 } });
    const db = join(dir, "killed.db");
    const path = study("killed.yaml", "openai:gpt-4o-mini");
    const child = spawn(process.execPath, [CLI, "run", path, "--batch", "--no-model-check", "--db", db], {
      env: { ...process.env, ...env() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on("exit", (_c, sig) => r(sig)));
    // Polled twice: the batch's id was committed before the first poll.
    await until(() => server.batchStats().polls >= 2);
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    expect(server.batchStats()).toMatchObject({ batchesCreated: 1, filesUploaded: 1, succeeded: 0 });

    const seen = RunStore.openForReading(db);
    const run = seen.getRun("last");
    expect(run.status).toBe("interrupted");
    const [batch] = seen.batchesOf(run.id);
    expect(batch).toMatchObject({ provider: "openai", requestCount: 60 });
    expect(batch?.remoteId).toMatch(/^batch_silico/);
    expect(
      testSql(seen).prepare("SELECT count(*) FROM batch_requests WHERE run_id = ?").pluck().get(run.id),
    ).toBe(60);
    seen.close();

    // The provider finishes the batch while nobody watches; resume collects it.
    server.setOptions({ batch: { completeAfterPolls: 1 } });
    const resumed = await spawnCli(["resume", "last", "--db", db], { env: env() });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(
      /batch batch_silico\w+ \(gpt-4o-mini, 60 requests\): completed, 60\/60 done/,
    );
    expect(server.batchStats()).toMatchObject({ batchesCreated: 1, filesUploaded: 1, succeeded: 60 });
    const after = RunStore.openForReading(db);
    const obs = testSql(after)
      .prepare("SELECT count(*) AS n, count(DISTINCT session_key) AS s FROM observations WHERE run_id = ?")
      .get(run.id);
    expect(obs).toEqual({ n: 60, s: 60 });
    expect(after.getRun(run.id).status).toBe("done");
    // No key in the store.
    const all = JSON.stringify(testSql(after).prepare("SELECT * FROM batches").all());
    expect(all).not.toContain("sk-test-batch-cli");
    after.close();
    expect(stderr).toContain("validating");
  }, 90_000);

  it("killed while the provider creates its batch, `resume` finds that batch by its tag instead of paying twice", async () => {
    server.reset();
    server.setOptions({ batch: { createDelayMs: 3000 } });
    const db = join(dir, "orphan.db");
    const path = study("orphan.yaml", "openai:gpt-4o-mini");
    const child = spawn(process.execPath, [CLI, "run", path, "--batch", "--no-model-check", "--db", db], {
      env: { ...process.env, ...env() },
      stdio: "ignore",
    });
    const exited = new Promise((r) => child.on("exit", r));
    await until(() => server.batchStats().batchesCreated === 1);
    child.kill("SIGKILL");
    await exited;
    const seen = RunStore.openForReading(db);
    const run = seen.getRun("last");
    expect(seen.batchesOf(run.id)).toMatchObject([
      { status: "submitting", remoteId: null, requestCount: 60 },
    ]);
    seen.close();

    server.setOptions({ batch: {} });
    const resumed = await spawnCli(["resume", "last", "--db", db], { env: env() });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(server.batchStats()).toMatchObject({ batchesCreated: 1, filesUploaded: 1, succeeded: 60 });
    const after = RunStore.openForReading(db);
    const [batch] = after.batchesOf(run.id);
    expect(batch?.remoteId).toMatch(/^batch_silico/);
    expect(batch?.status).toBe("completed");
    expect(after.getRun(run.id).status).toBe("done");
    after.close();
  }, 90_000);

  it("Ctrl-C stops a batch run at once (no grace wait); its batch stays submitted and resume collects it", async () => {
    server.reset();
    server.setOptions({ batch: { completeAfterPolls: 1_000_000 } });
    const db = join(dir, "sigint.db");
    const child = spawn(
      process.execPath,
      [CLI, "run", study("sigint.yaml", "openai:gpt-4o-mini"), "--batch", "--no-model-check", "--db", db],
      { env: { ...process.env, ...env() }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    await until(() => server.batchStats().polls >= 2);
    const t0 = Date.now();
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(Date.now() - t0).toBeLessThan(5000); // not the 10 s grace period
    expect(stderr).toMatch(/silico resume \S+ --db /);
    expect(stderr).toContain(
      "SIGINT: stopping: no new calls; the batches already submitted stay with the provider",
    );
    server.setOptions({ batch: { completeAfterPolls: 1 } });
    const resumed = await spawnCli(["resume", "last", "--db", db], { env: env() });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(server.batchStats()).toMatchObject({ batchesCreated: 1, succeeded: 60 });
  }, 90_000);

  it("refuses a provider without a batch API before anything is written, naming those with one", async () => {
    const db = join(dir, "refused.db");
    const flag = await runCli(["run", study("mock.yaml", "mock:random"), "--batch", "--db", db]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('"mock:random" has no batch API');
    expect(flag.stderr).toContain("openai and anthropic");
    const setting = await runCli(
      ["run", study("mock-setting.yaml", "mock:random", "settings: {batch: true}\n"), "--db", db],
      {},
    );
    expect(setting.code).toBe(2);
    expect(setting.stderr).toContain("has no batch API");
    const dry = await runCli(["run", study("mock-dry.yaml", "mock:random"), "--dry-run", "--batch"]);
    expect(dry.code).toBe(2);
    const { existsSync } = await import("node:fs");
    expect(existsSync(db)).toBe(false);
  });

  it("--dry-run --batch shows both prices", async () => {
    const dry = await runCli(["run", study("dry.yaml", "openai:gpt-4o-mini"), "--dry-run", "--batch"]);
    expect(dry.code, dry.stderr).toBe(0);
    const normal = /estimated cost: ≤ \$(\d+\.\d+)/.exec(dry.stdout);
    const batch =
      /with --batch: ≤ \$(\d+\.\d+) through the providers' batch APIs \(50 % of \$(\d+\.\d+)/.exec(
        dry.stdout,
      );
    expect(normal, dry.stdout).not.toBeNull();
    expect(batch, dry.stdout).not.toBeNull();
    expect(Number(batch?.[1])).toBeCloseTo(Number(normal?.[1]) / 2, 3);
    expect(Number(batch?.[2])).toBe(Number(normal?.[1]));
    expect(dry.stdout).toMatch(/openai:gpt-4o-mini: 60 calls, .* \(batch ≤ \$/);
    // The example study asks for a batch in its settings: its dry run shows the batch price too.
    const example = await runCli([
      "run",
      join(PACKAGE_DIR, "..", "..", "examples", "approval", "study-batch.yaml"),
      "--dry-run",
    ]);
    expect(example.code, example.stderr).toBe(0);
    expect(example.stdout).toContain("with --batch:");
  });
});
