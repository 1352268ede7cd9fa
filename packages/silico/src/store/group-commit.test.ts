import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunStore } from "./run-store.js";
import { createTestRun } from "./test-run.js";

// committed(): a caller that answers someone outside (silico serve) waits until its writes are
// committed, seen here through a second connection, which reads committed rows only.

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "silico-group-commit-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const newRun = (store: RunStore) => createTestRun(store);

const start = (store: RunStore, runId: string, key: string) =>
  store.startSession(runId, { key, index: 0, draw: 1, coords: {} }, [
    { id: "a", model: "mock:x", params: {} },
  ]);

describe("committed()", () => {
  it("resolves once the writes made so far are committed, long before the batch window ends", async () => {
    const db = join(dir, "a.db");
    const store = RunStore.open(db);
    const reader = RunStore.openForReading(db);
    try {
      const runId = newRun(store);
      start(store, runId, "s1");
      start(store, runId, "s2");
      // Not committed yet: the batch stays open for 50 ms.
      expect(reader.sessionStatuses(runId).size).toBe(0);
      // Two callers in one turn of the event loop: both wait for the same commit, made right after
      // this turn, before a timer of the batch's length set now could fire.
      const first = await Promise.race([
        Promise.all([store.committed(), store.committed()]).then(() => "committed"),
        new Promise((r) => setTimeout(() => r("50 ms timer"), 50)),
      ]);
      expect(first).toBe("committed");
      expect([...reader.sessionStatuses(runId).keys()].sort()).toEqual(["s1", "s2"]);
      // Nothing pending: at once.
      await store.committed();
      // Writes after a commit open a new batch, committed by the next committed().
      store.finishSession(runId, "s1", "done");
      expect(reader.sessionStatuses(runId).get("s1")).toBe("running");
      await store.committed();
      expect(reader.sessionStatuses(runId).get("s1")).toBe("done");
    } finally {
      reader.close();
      store.close();
    }
  });

  it("a store closed before the commit it was waiting for commits and resolves the waiters", async () => {
    const store = RunStore.open(join(dir, "b.db"));
    const runId = newRun(store);
    start(store, runId, "s1");
    const waiting = store.committed();
    // close() commits what it can first: the waiter hears that it was committed.
    store.close();
    await expect(waiting).resolves.toBeUndefined();
  });
});
