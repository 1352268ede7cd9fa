import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { lastLine, runCli } from "../test-support/cli.js";
import { type LiveCli, runFacts, startCli, storeSnapshot, waitFor } from "../test-support/lifecycle.js";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";

// Who owns a run, and how it stops: the built CLI in child processes against the test server,
// signalled and killed like a user or a scheduler would, with the store read row by row after.
// On a loaded machine nothing here is timed: each step waits for a condition (the run row and its
// owner in the store, this study's requests at the server, the child's own "stopping" line).

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
const children: LiveCli[] = [];
afterEach(async () => {
  // A test that failed half-way must not leave its process sending requests into the next test.
  for (const c of children.splice(0)) {
    if (c.child.exitCode !== null || c.child.signalCode !== null) continue;
    c.child.kill("SIGCONT");
    c.child.kill("SIGKILL");
    await c.exited;
  }
  server.setOptions({ latencyMs: 0, responder: undefined });
  server.reset();
});

function writeStudy(name: string, items: number, times: number, maxInFlight: number): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `kind: factorial
name: ${name}
seed: 7
prompt: "${tag(name)} Item {{ item }}: how much would you pay, from 0 to 100? Answer with a number."
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

/** Marks a study's prompts, so that the server's requests are counted per study. */
const tag = (name: string) => `[study ${name}]`;

const env = () => ({ OPENAI_COMPATIBLE_API_KEY: "sk-test-lifecycle-000", SILICO_DB: undefined });
const cli = (args: string[]) => runCli(args, { cwd: dir, env: env() });
const live = (args: string[]) => {
  const c = startCli(args, { cwd: dir, env: env() });
  children.push(c);
  return c;
};
/** Completion requests the server received for the study `name` (since the last reset). */
const completions = (name: string) =>
  server.requests.filter(
    (r) => r.path === "/v1/chat/completions" && JSON.stringify(r.body).includes(tag(name)),
  ).length;

/** Waits until the store holds the run, owned by `pid` (a process past its checks and signal set-up). */
async function waitForOwner(db: string, pid: number): Promise<void> {
  await waitFor(() => {
    if (!existsSync(db)) return false;
    try {
      return runFacts(db).owners.some((o) => o.pid === pid);
    } catch {
      return false; // the run row or its tables are not written yet
    }
  });
}

/**
 * Waits until the server has answered every request it received and no new one came for a while
 * (several checks, at least `ms` apart in all): requests a stopped or killed process sent just
 * before have then all arrived, and the count is final.
 */
async function serverSettled(count: () => number, ms = 300): Promise<void> {
  let last = -1;
  let since = 0;
  let checks = 0;
  await waitFor(() => {
    const n = count();
    if (n !== last || server.stats().inFlight > 0) {
      last = n;
      since = Date.now();
      checks = 0;
      return false;
    }
    checks++;
    return checks >= 10 && Date.now() - since >= ms;
  });
}

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
    await waitForOwner(db, owner.pid);
    await waitFor(() => completions("owned") >= 12);
    const running = await onlyRun(db);
    expect(running.status).toBe("running");
    expect(running.owner).toMatchObject({ pid: owner.pid, host: hostname() });

    // Frozen, the owner cannot write, so any change to the store would be the second process's.
    process.kill(owner.pid, "SIGSTOP");
    try {
      // Requests it sent just before it stopped still arrive and are answered; after that no
      // request may start until it continues, so any new one would be the refused resume's.
      await serverSettled(() => completions("owned"));
      const before = storeSnapshot(db);
      const files = [db, `${db}-wal`].map(fileStamp);
      const requests = completions("owned");
      const refused = await cli(["resume", running.id, "--db", db, "-q"]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`in use by process ${owner.pid} on host ${hostname()}`);
      expect(refused.stderr).toContain("silico run");
      expect(refused.stdout).toBe("");
      expect(storeSnapshot(db)).toBe(before);
      expect([db, `${db}-wal`].map(fileStamp)).toEqual(files);
      expect(completions("owned")).toBe(requests);
    } finally {
      process.kill(owner.pid, "SIGCONT");
    }

    // 2. The owner is killed: the run reads "interrupted" and a resume takes it over.
    await waitFor(() => completions("owned") >= 30);
    owner.child.kill("SIGKILL");
    expect((await owner.exited).signal).toBe("SIGKILL");
    const orphan = await onlyRun(db);
    expect(orphan.status).toBe("interrupted");
    expect(orphan.owner).toBeNull();

    server.setOptions({ latencyMs: 500 }); // slow enough that this resume is still at work below
    const first = live(["resume", running.id, "--db", db, "-q"]);
    await waitForOwner(db, first.pid);
    const atStart = runFacts(db, running.id).answered;
    await waitFor(() => runFacts(db, running.id).answered >= atStart + 4);
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
    await serverSettled(() => completions("owned"));
    server.reset();
    const last = await cli(["resume", running.id, "--db", db, "-q"]);
    expect(last.code, last.stderr).toBe(0);
    expect(lastLine(last.stdout)).toBe(running.id);
    expectComplete(db, running.id, total);
    // Only the answers not recorded before were asked for.
    expect(completions("owned")).toBe(total - answeredBefore);
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
    await waitForOwner(db, owner.pid);
    await waitFor(() => completions("race") >= 10);
    owner.child.kill("SIGKILL");
    await owner.exited;
    const runId = (await onlyRun(db)).id;
    const answeredBefore = runFacts(db, runId).answered;
    await serverSettled(() => completions("race"));
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
    expect(completions("race")).toBe(total - answeredBefore);
  });
});

describe("signals", () => {
  it("SIGINT stops new calls, records those in flight, exits 130 with the resume command; resume finishes with no call paid twice", async () => {
    const total = 60;
    server.setOptions({ latencyMs: 150 });
    const file = writeStudy("sigint", 20, 3, 4);
    const db = join(dir, "sigint.db");
    const proc = live(["run", file, "--db", db]);
    // Once it owns the run its handlers are set: the signal stops the run instead of the process.
    await waitForOwner(db, proc.pid);
    await waitFor(() => completions("sigint") >= 10);
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
    expect(f.answered).toBe(completions("sigint"));

    server.setOptions({ latencyMs: 0 });
    const r = await cli(["resume", runId, "--db", db, "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expectComplete(db, runId, total);
    expect(completions("sigint")).toBe(total);
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
    await waitForOwner(db, proc.pid);
    await waitFor(() => completions(`sig-${signal}`) >= 6);
    proc.child.kill(signal);
    const exit = await proc.exited;
    expect(exit, proc.stderr()).toMatchObject({ code });
    const runId = lastLine(proc.stdout());
    expect(proc.stderr()).toContain(
      `interrupted by ${signal}; finish with: silico resume ${runId} --db ${db}`,
    );
    expect((await onlyRun(db)).status).toBe("interrupted");
    expect(runFacts(db, runId).answered).toBe(completions(`sig-${signal}`));

    server.setOptions({ latencyMs: 0 });
    const r = await cli(["resume", runId, "--db", db, "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expectComplete(db, runId, total);
    expect(completions(`sig-${signal}`)).toBe(total);
  });

  it("a terminal that hangs up stops the run the same way; the process ends by SIGHUP (129 in a shell)", async () => {
    // Node aborts on exit once its terminal is gone, so after a real hang-up silico ends by the
    // signal itself. A pseudo-terminal from Python's pty module plays the terminal.
    const total = 60;
    server.setOptions({ latencyMs: 100 });
    const file = writeStudy("hangup", 20, 3, 3);
    const db = join(dir, "hangup.db");
    const script = `
import json, os, pty, re, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
seen = b""
deadline = time.time() + 60
# A call counted on the progress line: the run has started and its signal handlers are set.
while not re.search(rb"[1-9][0-9]*/[0-9]+ calls", seen) and time.time() < deadline:
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
    expect(f.answered).toBe(completions("hangup"));
    expect(f.sessions.filter((s) => s.status === "done").length).toBeLessThan(total);

    server.setOptions({ latencyMs: 0 });
    const resumed = await cli(["resume", run.id, "--db", db, "-q"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expectComplete(db, run.id, total);
    expect(completions("hangup")).toBe(total);
  });

  it("a second Ctrl-C exits at once, keeping what was committed; resume finishes", async () => {
    const total = 8;
    const file = writeStudy("twice", 8, 1, 2);
    const db = join(dir, "twice.db");
    // The first two answers come at once; the others are held until the test lets them go.
    let asked = 0;
    const held: (() => void)[] = [];
    server.setOptions({
      responder: () => (++asked <= 2 ? "42" : new Promise<string>((r) => held.push(() => r("42")))),
    });
    const proc = live(["run", file, "--db", db, "-q"]);
    try {
      await waitForOwner(db, proc.pid);
      await waitFor(() => completions("twice") >= 4 && held.length >= 2);
      proc.child.kill("SIGINT");
      // The first Ctrl-C was handled (it says so even with -q); the process waits for the calls in flight.
      await waitFor(() => proc.stderr().includes("SIGINT: stopping"));
      expect(proc.child.exitCode).toBeNull();
      const second = performance.now();
      proc.child.kill("SIGINT");
      const exit = await proc.exited;
      expect(exit.code).toBe(130);
      expect(exit.at - second).toBeLessThan(2_000);
    } finally {
      for (const release of held) release();
    }
    expect(proc.stderr()).toContain("stopped at once");
    expect(proc.stderr()).toMatch(/finish with: silico resume \S+ --db /);
    const runId = (await onlyRun(db)).id;
    expect((await onlyRun(db)).status).toBe("interrupted");
    expect(runFacts(db, runId).answered).toBeGreaterThanOrEqual(2);

    server.setOptions({ responder: undefined });
    const r = await cli(["resume", runId, "--db", db, "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expectComplete(db, runId, total);
  });
});
