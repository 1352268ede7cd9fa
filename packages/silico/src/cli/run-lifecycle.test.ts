import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { lastLine, runCli } from "../test-support/cli.js";
import { runFacts, startCli, storeSnapshot, waitFor } from "../test-support/lifecycle.js";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";

// Who owns a run, and how it stops: the built CLI in child processes against the test server,
// signalled and killed like a user or a scheduler would, with the store read row by row after.

let dir: string;
let server: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-lifecycle-"));
  server = await startOpenAITestServer({ script: ["42"] });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  server.setOptions({ latencyMs: 0 });
  server.reset();
});

function writeStudy(name: string, items: number, times: number, maxInFlight: number): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `kind: factorial
name: ${name}
seed: 7
prompt: "Item {{ item }}: how much would you pay, from 0 to 100? Answer with a number."
levels:
  item: [${Array.from({ length: items }, (_, i) => i + 1).join(", ")}]
times: ${times}
model: ts:silico-test
parse: {type: number}
settings: {max_in_flight: ${maxInFlight}, rpm: 60000}
providers:
  ts: {type: openai-compatible, base_url: "${server.url}"}
`,
  );
  return path;
}

const env = () => ({ OPENAI_COMPATIBLE_API_KEY: "sk-test-lifecycle-000", SILICO_DB: undefined });
const cli = (args: string[]) => runCli(args, { cwd: dir, env: env() });
const live = (args: string[]) => startCli(args, { cwd: dir, env: env() });
const completions = () => server.requests.filter((r) => r.path === "/v1/chat/completions").length;

interface Listed {
  id: string;
  status: string;
  owner: { pid: number; host: string } | null;
}
async function listRuns(db: string): Promise<Listed[]> {
  const r = await cli(["runs", "--json", "--db", db]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Listed[];
}
async function onlyRun(db: string): Promise<Listed> {
  const runs = await listRuns(db);
  expect(runs).toHaveLength(1);
  return runs[0] as Listed;
}

/** Every session finished once, one observation each, every call answered once by the provider. */
function expectComplete(db: string, runId: string, total: number): void {
  const f = runFacts(db, runId);
  expect(f.status).toBe("done");
  expect(f.sessions).toHaveLength(total);
  expect(f.sessions.every((s) => s.status === "done")).toBe(true);
  expect(f.observations).toBe(total);
  expect([...f.observationsPerSession.values()].every((n) => n === 1)).toBe(true);
  expect(f.answeredPerCallKey.size).toBe(total);
  expect([...f.answeredPerCallKey.values()].every((n) => n === 1)).toBe(true);
  expect(f.owners).toEqual([]);
}

const fileStamp = (path: string) => {
  try {
    const s = statSync(path);
    return `${s.size}/${s.mtimeMs}`;
  } catch {
    return "absent";
  }
};

describe("one live process owns a run", () => {
  it("refuses a second run/resume while the owner lives, names it, writes nothing; takes over from a killed owner", async () => {
    const total = 200;
    server.setOptions({ latencyMs: 100 });
    const file = writeStudy("owned", 40, 5, 4);
    const db = join(dir, "owned.db");

    // 1. `run` is alive: `runs` says running and names it; `resume` is refused.
    const owner = live(["run", file, "--db", db, "-q"]);
    await waitFor(() => completions() >= 12);
    const running = await onlyRun(db);
    expect(running.status).toBe("running");
    expect(running.owner).toMatchObject({ pid: owner.pid, host: hostname() });

    // Frozen, the owner cannot write, so any change to the store would be the second process's.
    process.kill(owner.pid, "SIGSTOP");
    try {
      const before = storeSnapshot(db);
      const files = [db, `${db}-wal`].map(fileStamp);
      const requests = completions();
      const refused = await cli(["resume", running.id, "--db", db, "-q"]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`in use by process ${owner.pid} on host ${hostname()}`);
      expect(refused.stderr).toContain("silico run");
      expect(refused.stdout).toBe("");
      expect(storeSnapshot(db)).toBe(before);
      expect([db, `${db}-wal`].map(fileStamp)).toEqual(files);
      expect(completions()).toBe(requests);
    } finally {
      process.kill(owner.pid, "SIGCONT");
    }

    // 2. The owner is killed: the run reads "interrupted" and a resume takes it over.
    await waitFor(() => completions() >= 30);
    owner.child.kill("SIGKILL");
    expect((await owner.exited).signal).toBe("SIGKILL");
    const orphan = await onlyRun(db);
    expect(orphan.status).toBe("interrupted");
    expect(orphan.owner).toBeNull();

    server.setOptions({ latencyMs: 500 }); // slow enough that this resume is still at work below
    const first = live(["resume", running.id, "--db", db, "-q"]);
    const atStart = completions();
    await waitFor(() => completions() >= atStart + 4);
    const resumed = await onlyRun(db);
    expect(resumed.status).toBe("running");
    expect(resumed.owner).toMatchObject({ pid: first.pid, host: hostname() });

    // 3. A second resume of a live resume is refused too, with nothing asked.
    const second = await cli(["resume", running.id, "--db", db, "-q"]);
    expect(second.code, second.stderr).toBe(1);
    expect(second.stderr).toContain(`in use by process ${first.pid} on host ${hostname()}`);
    expect(second.stderr).toContain("silico resume");

    // 4. The resuming process is killed in turn; the next resume finishes the run exactly.
    first.child.kill("SIGKILL");
    await first.exited;
    expect((await onlyRun(db)).status).toBe("interrupted");
    const answeredBefore = runFacts(db, running.id).answered;
    server.setOptions({ latencyMs: 0 });
    server.reset();
    const last = await cli(["resume", running.id, "--db", db, "-q"]);
    expect(last.code, last.stderr).toBe(0);
    expect(lastLine(last.stdout)).toBe(running.id);
    expectComplete(db, running.id, total);
    // Only the answers not recorded before were asked for.
    expect(completions()).toBe(total - answeredBefore);
    const done = await onlyRun(db);
    expect(done.status).toBe("done");
    expect(done.owner).toBeNull();
  });
});

describe("two resumes racing for an interrupted run", () => {
  it("one takes it over, the other is refused; every answer is asked and kept once", async () => {
    const total = 60;
    server.setOptions({ latencyMs: 30 });
    const file = writeStudy("race", 20, 3, 4);
    const db = join(dir, "race.db");
    const owner = live(["run", file, "--db", db, "-q"]);
    await waitFor(() => completions() >= 10);
    owner.child.kill("SIGKILL");
    await owner.exited;
    const runId = (await onlyRun(db)).id;
    const answeredBefore = runFacts(db, runId).answered;
    server.reset();
    server.setOptions({ latencyMs: 100 });
    const [a, b] = await Promise.all([
      cli(["resume", runId, "--db", db, "-q"]),
      cli(["resume", runId, "--db", db, "-q"]),
    ]);
    const codes = [a.code, b.code].sort();
    // Usually one is refused while the other works; if the winner finished before the loser
    // looked, the loser found a finished run. Never do both work on it.
    expect(codes[0], `${a.stderr}\n${b.stderr}`).toBe(0);
    if (codes[1] !== 0) {
      expect(codes[1]).toBe(1);
      expect(`${a.stderr}${b.stderr}`).toMatch(/is in use by process \d+ on host /);
    }
    expectComplete(db, runId, total);
    expect(completions()).toBe(total - answeredBefore);
  });
});

describe("signals", () => {
  it("SIGINT stops new calls, records those in flight, exits 130 with the resume command; resume finishes with no call paid twice", async () => {
    const total = 60;
    server.setOptions({ latencyMs: 150 });
    const file = writeStudy("sigint", 20, 3, 4);
    const db = join(dir, "sigint.db");
    const proc = live(["run", file, "--db", db]);
    await waitFor(() => completions() >= 10);
    proc.child.kill("SIGINT");
    const exit = await proc.exited;
    expect(exit, proc.stderr()).toMatchObject({ code: 130 });
    const runId = lastLine(proc.stdout());
    expect(proc.stderr()).toContain("SIGINT: stopping");
    expect(proc.stderr()).toContain(`run ${runId}: INTERRUPTED`);
    expect(proc.stderr()).toContain(`finish with: silico resume ${runId} --db ${db}`);

    const run = await onlyRun(db);
    expect(run).toMatchObject({ id: runId, status: "interrupted", owner: null });
    const f = runFacts(db, runId);
    expect(f.status).toBe("interrupted");
    expect(f.owners).toEqual([]);
    expect(f.sessions.some((s) => s.status === "running")).toBe(false);
    const done = f.sessions.filter((s) => s.status === "done").length;
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(total);
    // Every answer the server gave was waited for and recorded: none is lost, none will be paid twice.
    expect(f.answered).toBe(completions());

    server.setOptions({ latencyMs: 0 });
    const r = await cli(["resume", runId, "--db", db, "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expectComplete(db, runId, total);
    expect(completions()).toBe(total);
  });

  it.each([
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const)("%s interrupts the same way and exits %i", async (signal, code) => {
    const total = 60;
    server.setOptions({ latencyMs: 100 });
    const file = writeStudy(`sig-${signal}`, 20, 3, 3);
    const db = join(dir, `${signal}.db`);
    const proc = live(["run", file, "--db", db, "-q"]);
    await waitFor(() => completions() >= 6);
    proc.child.kill(signal);
    const exit = await proc.exited;
    expect(exit, proc.stderr()).toMatchObject({ code });
    const runId = lastLine(proc.stdout());
    expect(proc.stderr()).toContain(
      `interrupted by ${signal}; finish with: silico resume ${runId} --db ${db}`,
    );
    expect((await onlyRun(db)).status).toBe("interrupted");
    expect(runFacts(db, runId).answered).toBe(completions());

    server.setOptions({ latencyMs: 0 });
    const r = await cli(["resume", runId, "--db", db, "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expectComplete(db, runId, total);
    expect(completions()).toBe(total);
  });

  it("a terminal that hangs up stops the run the same way; the process ends by SIGHUP (129 in a shell)", async () => {
    // Node aborts on exit once its terminal is gone, so after a real hang-up silico ends by the
    // signal itself. A pseudo-terminal from Python's pty module plays the terminal.
    const total = 60;
    server.setOptions({ latencyMs: 100 });
    const file = writeStudy("hangup", 20, 3, 3);
    const db = join(dir, "hangup.db");
    const script = `
import json, os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
seen = b""
deadline = time.time() + 30
while b"sessions" not in seen and time.time() < deadline:
    seen += os.read(fd, 4096)
os.close(fd)  # the terminal hangs up
_, status = os.waitpid(pid, 0)
print(json.dumps({"signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                  "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None}))
`;
    const terminal = startCli(["run", file, "--db", db], {
      cwd: dir,
      env: env(),
      command: (nodeArgs) => ({ file: "python3", args: ["-c", script, process.execPath, ...nodeArgs] }),
    });
    expect((await terminal.exited).code, terminal.stderr()).toBe(0);
    expect(JSON.parse(terminal.stdout())).toEqual({ signal: 1, code: null });
    const run = await onlyRun(db);
    expect(run.status).toBe("interrupted");
    const f = runFacts(db, run.id);
    expect(f.status).toBe("interrupted"); // written by the process itself, not inferred
    expect(f.answered).toBe(completions());
    expect(f.sessions.filter((s) => s.status === "done").length).toBeLessThan(total);

    server.setOptions({ latencyMs: 0 });
    const resumed = await cli(["resume", run.id, "--db", db, "-q"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expectComplete(db, run.id, total);
    expect(completions()).toBe(total);
  });

  it("a second Ctrl-C exits at once, keeping what was committed; resume finishes", async () => {
    const total = 8;
    const file = writeStudy("twice", 8, 1, 2);
    const db = join(dir, "twice.db");
    // The first answers come at once, the rest hang for a long time.
    server.setOptions({ latencyMs: 0 });
    const proc = live(["run", file, "--db", db, "-q"]);
    await waitFor(() => completions() >= 2);
    server.setOptions({ latencyMs: 20_000 });
    await waitFor(() => completions() >= 4);
    proc.child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 300));
    expect(proc.child.exitCode).toBeNull(); // still waiting for the calls in flight
    const second = performance.now();
    proc.child.kill("SIGINT");
    const exit = await proc.exited;
    expect(exit.code).toBe(130);
    expect(exit.at - second).toBeLessThan(2_000);
    expect(proc.stderr()).toContain("stopped at once");
    expect(proc.stderr()).toMatch(/finish with: silico resume \S+ --db /);
    const runId = (await onlyRun(db)).id;
    expect((await onlyRun(db)).status).toBe("interrupted");
    expect(runFacts(db, runId).answered).toBeGreaterThanOrEqual(2);

    server.setOptions({ latencyMs: 0 });
    const r = await cli(["resume", runId, "--db", db, "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expectComplete(db, runId, total);
  });
});
