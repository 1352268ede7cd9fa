import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileStudyText } from "../designs/index.js";
import { registerMockModel } from "../models/mock-model.js";
import { newClaim, RunBusyError, RunLease, STALE_MS } from "../store/run-lease.js";
import { RunStore, StoreWriteError } from "../store/run-store.js";
import { testSql } from "../store/test-sql.js";
import { storeSnapshot } from "../test-support/lifecycle.js";
import { resumeRun, startRun } from "./run-study.js";
import { createTestRun } from "../store/test-run.js";

// The run's lifecycle in the library: who owns it, how it ends when something throws or the
// store fails. Real SQLite files; mock models count the calls they answer.

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "silico-run-lifecycle-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function study(items: number, model: string) {
  const text = `kind: factorial
name: lifecycle
seed: 3
prompt: "Item {{ item }}: a number from 0 to 100?"
levels:
  item: [${Array.from({ length: items }, (_, i) => i + 1).join(", ")}]
model: ${model}
parse: {type: number}
settings: {max_in_flight: 2}
`;
  return compileStudyText(text, join(dir, `study-${++n}.yaml`));
}

/** A pid that is certainly not running: a child that has exited and been reaped. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", ""]);
  expect(r.status).toBe(0);
  return r.pid as number;
}

function rawRun(store: RunStore, id: string) {
  return testSql(store).prepare("SELECT status, summary FROM runs WHERE id = ?").get(id) as {
    status: string;
    summary: string | null;
  };
}

describe("a run that throws", () => {
  it.each([
    ["before its first session", 0],
    ["after some sessions", 2],
  ])("ends failed %s, never running, and gives up its lease", async (_label, before) => {
    const store = RunStore.open(join(dir, `throws-${before}.db`));
    try {
      const compiled = study(5, "mock:fixed:42");
      const broken = {
        ...compiled,
        plan: (seed: number) => {
          const plan = compiled.plan(seed);
          return {
            ...plan,
            *sessions() {
              let i = 0;
              for (const s of plan.sessions()) {
                if (i++ === before) throw new Error("the plan could not be produced");
                yield s;
              }
            },
          };
        },
      };
      let runId: string | undefined;
      await expect(
        startRun(broken, {
          store,
          onRunCreated: (id) => {
            runId = id;
          },
        }),
      ).rejects.toThrow("the plan could not be produced");
      expect(runId).toBeDefined();
      const row = rawRun(store, runId as string);
      expect(row.status).toBe("failed");
      expect(JSON.parse(row.summary as string).fatalError).toBe("the plan could not be produced");
      expect(store.getRun(runId as string).status).toBe("failed");
      expect(store.runOwner(runId as string)).toBeUndefined();
    } finally {
      store.close();
    }
  });
});

describe("the lease", () => {
  function runWithOwner(path: string, owner: { pid: number; host?: string; ageMs?: number }) {
    const store = RunStore.open(path);
    const id = createTestRun(store, { totalSessions: 1 });
    const at = new Date(Date.now() - (owner.ageMs ?? 0)).toISOString();
    testSql(store)
      .prepare(
        "INSERT INTO run_owners (run_id, token, pid, host, command, acquired_at, heartbeat_at) VALUES (?,?,?,?,?,?,?)",
      )
      .run(id, "someone-else", owner.pid, owner.host ?? hostname(), "run", at, at);
    return { store, id };
  }

  it("is refused while its owner lives, naming it, with nothing written", () => {
    // The process that started this test stands in for the live owner.
    const path = join(dir, "live.db");
    const { store, id } = runWithOwner(path, { pid: process.ppid });
    try {
      expect(store.getRun(id)).toMatchObject({ status: "running", owner: { pid: process.ppid } });
      const before = storeSnapshot(path);
      let error: unknown;
      try {
        RunLease.claim(store, id, "resume");
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(RunBusyError);
      expect((error as Error).message).toContain(`in use by process ${process.ppid} on host ${hostname()}`);
      expect(storeSnapshot(path)).toBe(before);
    } finally {
      store.close();
    }
  });

  it("passes from a dead process, or one silent for too long, to the claimant", () => {
    for (const [name, owner] of [
      ["dead", { pid: deadPid() }],
      ["stale", { pid: process.ppid, ageMs: STALE_MS + 1000 }],
      ["elsewhere", { pid: process.ppid, host: "another-host.invalid", ageMs: STALE_MS + 1000 }],
      ["this process, no longer using it", { pid: process.pid }],
    ] as const) {
      const { store, id } = runWithOwner(join(dir, `${name}.db`), owner);
      try {
        expect(store.getRun(id).status).toBe("interrupted");
        const lease = RunLease.claim(store, id, "resume");
        expect(store.runOwner(id)).toMatchObject({ pid: process.pid, token: lease.claim.token });
        expect(store.getRun(id).status).toBe("running");
        lease.stop();
      } finally {
        store.close();
      }
    }
  });

  it("guards every commit: once another process holds the lease, nothing more is written", () => {
    const path = join(dir, "guard.db");
    const store = RunStore.open(path);
    const other = RunStore.open(path);
    try {
      const claim = newClaim("run");
      const id = createTestRun(store, { totalSessions: 1 }, claim);
      const lease = new RunLease(store, id, claim);
      const failures: StoreWriteError[] = [];
      store.onFailure((e) => failures.push(e));
      // Another process took the run over (as if this one had been stopped for a long time).
      testSql(other).prepare("UPDATE run_owners SET token = 'theirs', pid = 4242 WHERE run_id = ?").run(id);
      store.addObservation(id, "s1", { pid: "p1", name: "answer", coords: {}, value: 1, valid: true });
      expect(() => store.flush()).toThrow(/taken over by process 4242/);
      expect(failures).toHaveLength(1);
      expect(failures[0]?.leaseLost).toBe(true);
      expect(() =>
        store.addObservation(id, "s1", { pid: null, name: "x", coords: {}, value: 1, valid: true }),
      ).toThrow(StoreWriteError);
      lease.stop();
      expect(testSql(other).prepare("SELECT COUNT(*) FROM observations").pluck().get()).toBe(0);
    } finally {
      store.close();
      other.close();
    }
  });
});

describe("a store that cannot be written", () => {
  it("stops the executor at once: no call starts after the failed commit; resume finishes", async () => {
    let calls = 0;
    registerMockModel("lifecycle-counting", async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 5));
      return "42";
    });
    const path = join(dir, "full.db");
    const store = RunStore.open(path);
    const compiled = study(300, "mock:lifecycle-counting");
    let callsAtFailure = -1;
    store.onFailure(() => {
      callsAtFailure = calls;
    });
    let runId = "";
    const result = await startRun(compiled, {
      store,
      onRunCreated: (id) => {
        runId = id;
      },
      onEvent: (e) => {
        // After 40 answers the file may not grow any more: SQLite reports SQLITE_FULL.
        if (e.type === "call" && calls === 40) {
          const pages = testSql(store).pragma("page_count", { simple: true }) as number;
          testSql(store).pragma(`max_page_count = ${pages}`);
        }
      },
    });
    expect(result.status).toBe("interrupted");
    expect(result.totals.storeError).toMatch(/the disk is full \(SQLITE_FULL/);
    expect(callsAtFailure).toBeGreaterThanOrEqual(40);
    // At most the calls in flight (max_in_flight 2) were still answered after the failure.
    expect(calls - callsAtFailure).toBeLessThanOrEqual(2);
    store.close();

    const again = RunStore.open(path);
    try {
      const done = testSql(again)
        .prepare("SELECT COUNT(*) FROM sessions WHERE run_id = ? AND status = 'done'")
        .pluck()
        .get(runId) as number;
      expect(done).toBeGreaterThan(0);
      const answered = testSql(again)
        .prepare("SELECT COUNT(*) FROM calls WHERE run_id = ? AND status = 'ok' AND cached_from IS NULL")
        .pluck()
        .get(runId) as number;
      expect(again.getRun(runId).status).toBe("interrupted");
      const before = calls;
      const resumed = await resumeRun(runId, { store: again });
      expect(resumed.status).toBe("done");
      expect(
        testSql(again).prepare("SELECT COUNT(*) FROM observations WHERE run_id = ?").pluck().get(runId),
      ).toBe(300);
      // Answers committed before the failure are reused; only the rest is asked.
      expect(calls - before).toBe(300 - answered);
    } finally {
      again.close();
    }
  });
});
