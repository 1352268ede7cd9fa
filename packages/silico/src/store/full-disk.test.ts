import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastLine, runCli } from "../test-support/cli.js";
import { runFacts, startCli, waitFor } from "../test-support/lifecycle.js";
import { makeSmallDisk, type SmallDisk } from "../test-support/small-disk.js";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";

// A store on a disk that fills up mid-run: the built CLI in a child process, its store on a small
// file system (see small-disk.ts), the test server answering over HTTP.

let dir: string;
let disk: SmallDisk;
let server: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-full-disk-"));
  disk = makeSmallDisk(dir);
  server = await startOpenAITestServer({ script: ["42"] });
});
afterAll(async () => {
  await server.close();
  disk?.release();
  rmSync(dir, { recursive: true, force: true });
});

const completions = () => server.requests.filter((r) => r.path === "/v1/chat/completions").length;
const env = { OPENAI_COMPATIBLE_API_KEY: "sk-test-full-disk-000", SILICO_DB: undefined };

describe("a full disk", () => {
  it("stops the run within a call of the failed write, says so, exits 1, keeps what was committed; resume finishes", async () => {
    const total = 400;
    const maxInFlight = 2;
    const study = join(dir, "full.yaml");
    writeFileSync(
      study,
      `kind: factorial
name: full-disk
seed: 11
prompt: "Item {{ item }}: how much would you pay, from 0 to 100? Answer with a number."
levels:
  item: [${Array.from({ length: total }, (_, i) => i + 1).join(", ")}]
model: ts:silico-test
parse: {type: number}
settings: {max_in_flight: ${maxInFlight}, rpm: 600000}
providers:
  ts: {type: openai-compatible, base_url: "${server.url}"}
`,
    );
    server.setOptions({ latencyMs: 15 });
    const db = join(disk.dir, "runs.db");
    const proc = startCli(["run", study, "--db", db], { cwd: dir, env, command: disk.command });
    // (Under a file-size limit the failure comes by itself, maybe before 30 answers.)
    await Promise.race([waitFor(() => completions() >= 30), proc.exited]);
    disk.fill();
    const exit = await proc.exited;
    const stderr = proc.stderr();
    expect(exit, stderr).toMatchObject({ code: 1 });
    expect(stderr).toContain(`cannot write to the store ${db}`);
    if (disk.how !== "file-size-limit") expect(stderr).toContain("the disk is full (SQLITE_FULL");
    expect(stderr).toContain("no new calls were made after the failure");
    expect(stderr).not.toContain("    at "); // a message, not a stack trace
    const runId = lastLine(proc.stdout());
    expect(stderr).toContain(`finish with: silico resume ${runId} --db ${db}`);

    // While the disk stays full, a new run in the same store, or in a new one, is refused the same
    // way. (A file-size limit binds only the first process, so there is nothing to check then.)
    for (const target of disk.how === "file-size-limit" ? [] : [db, join(disk.dir, "new.db")]) {
      const again = startCli(["run", study, "--db", target, "-q"], { cwd: dir, env });
      expect(await again.exited, `${target}: ${again.stderr()}`).toMatchObject({ code: 1 });
      expect(again.stderr()).toMatch(/^error: cannot (write to|open) the store /);
      expect(again.stderr()).not.toContain("    at ");
    }

    // Copied to a disk with room, the store holds every answer committed before the failure.
    const copy = join(dir, "copy.db");
    copyFileSync(db, copy);
    if (existsSync(`${db}-wal`)) copyFileSync(`${db}-wal`, `${copy}-wal`);
    const conn = new Database(copy);
    expect(conn.pragma("integrity_check", { simple: true })).toBe("ok");
    conn.close();
    const before = runFacts(copy, runId);
    expect(before.answered).toBeGreaterThan(0);
    const done = before.sessions.filter((s) => s.status === "done");
    expect(before.observations).toBe(done.length);
    // The summary counts the sessions the store holds, not those finished only in memory.
    expect(stderr).toContain(
      `sessions: ${done.length} done, 0 invalid, 0 failed, ${total - done.length} not run`,
    );
    // Far from the whole run: it stopped, it did not go on paying for answers it could not keep.
    expect(done.length).toBeLessThan(total / 2);
    // Each answer the server gave is in the store or reported as not saved, and those are few:
    // the last batch (≤ 50 ms) plus the calls that were in flight.
    const unsaved = Number(
      /(\d+) answers? received after the last commit could not be saved/.exec(stderr)?.[1] ?? 0,
    );
    expect(completions()).toBe(before.answered + unsaved);
    expect(unsaved).toBeLessThanOrEqual(10);

    // The process that owned the run is gone, so `runs` reads it as interrupted.
    const listed = await runCli(["runs", "--json", "--db", copy], { cwd: dir, env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)[0]).toMatchObject({ id: runId, status: "interrupted", owner: null });

    server.setOptions({ latencyMs: 0 });
    server.reset();
    const resumed = await runCli(["resume", runId, "--db", copy, "-q"], { cwd: dir, env });
    expect(resumed.code, resumed.stderr).toBe(0);
    const after = runFacts(copy, runId);
    expect(after.status).toBe("done");
    expect(after.observations).toBe(total);
    expect(after.answeredPerCallKey.size).toBe(total);
    expect([...after.answeredPerCallKey.values()].every((n) => n === 1)).toBe(true);
    expect(completions()).toBe(total - before.answered);
  });
});
