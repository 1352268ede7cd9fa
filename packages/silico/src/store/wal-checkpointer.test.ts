import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunStore } from "./run-store.js";
import { createTestRun } from "./test-run.js";

// checkpointInBackground(): commits never checkpoint (silico serve's replies wait for them); a
// thread of its own copies the WAL into the database file; close() still leaves no WAL behind.

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "silico-wal-checkpointer-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const newRun = (store: RunStore) => createTestRun(store);

/** Sessions with a sizeable coordinate each: ≈ 2 pages per session. */
async function writeSessions(store: RunStore, runId: string, from: number, count: number) {
  for (let i = from; i < from + count; i++) {
    store.startSession(runId, { key: `s${i}`, index: i, draw: 1, coords: { pad: "x".repeat(6000) } }, [
      { id: "a", model: "mock:x", params: {} },
    ]);
    if (i % 20 === 0) await store.committed();
  }
  await store.committed();
}

const waitFor = async (check: () => boolean, ms: number) => {
  const until = Date.now() + ms;
  while (!check() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return check();
};

describe("WAL checkpoints on a thread of their own", () => {
  it("the writer's commits never checkpoint; the thread does; close() removes the WAL and keeps every row", async () => {
    const path = join(dir, "a.db");
    const store = RunStore.open(path);
    const runId = newRun(store);
    store.flush();
    const sizeBefore = statSync(path).size;
    // A slow round here, so that the writer's part and the thread's part can be told apart.
    store.checkpointInBackground(3000);
    const t0 = Date.now();
    await writeSessions(store, runId, 0, 600);
    // ≈ 1200 pages committed: past SQLite's 1000-page automatic checkpoint, which the writer no
    // longer runs: the database file has not grown (its first round is 3 s away) …
    if (Date.now() - t0 < 2500) expect(statSync(path).size).toBe(sizeBefore);
    // … until the thread copies the pages into it.
    expect(await waitFor(() => statSync(path).size > sizeBefore + 1_000_000, 8000)).toBe(true);
    const reader = RunStore.openForReading(path);
    try {
      expect(reader.sessionStatuses(runId).size).toBe(600);
    } finally {
      reader.close();
    }
    await writeSessions(store, runId, 600, 50);
    store.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    const again = RunStore.openForReading(path);
    try {
      expect(again.sessionStatuses(runId).size).toBe(650);
    } finally {
      again.close();
    }
  });

  it("without it, a commit past 1000 pages checkpoints in the writer (the stall it removes)", async () => {
    const path = join(dir, "b.db");
    const store = RunStore.open(path);
    try {
      const runId = newRun(store);
      store.flush();
      const sizeBefore = statSync(path).size;
      await writeSessions(store, runId, 0, 600);
      // Checked at once, no waiting: only a checkpoint inside a commit can have grown the file.
      expect(statSync(path).size).toBeGreaterThan(sizeBefore + 1_000_000);
    } finally {
      store.close();
    }
  });
});
