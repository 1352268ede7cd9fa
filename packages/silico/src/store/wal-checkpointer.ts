import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";

/**
 * WAL checkpoints on a thread of their own. SQLite checkpoints automatically in the connection that
 * commits once the WAL holds 1000 pages: with `synchronous = NORMAL` that commit then also copies
 * the pages into the database file and syncs it — measured 9–20 ms on the event loop every ~60
 * agent turns of `silico serve`, during which no turn is answered. Here the writing connection
 * never checkpoints; a worker thread with its own connection runs a PASSIVE checkpoint (which
 * never blocks the writer) every `intervalMs`. Not more often: a checkpoint syncs the WAL and the
 * database file, and the writer's next commit can wait for that sync (measured on the served
 * bench: every 200 ms gave p95 16–44 ms, every 2 s 8–20 ms). Stopping it is synchronous, so that
 * the store's own close stays the last connection and checkpoints and removes the WAL as before.
 */

// Plain CommonJS run by the worker (eval): better-sqlite3 is loaded by its resolved path.
const WORKER = `
const { workerData } = require("node:worker_threads");
const flag = new Int32Array(workerData.shared);
let db;
try {
  const Database = require(workerData.module);
  db = new Database(workerData.path, { fileMustExist: true });
  db.pragma("busy_timeout = 0");
  while (Atomics.load(flag, 0) === 0) {
    Atomics.wait(flag, 0, 0, workerData.intervalMs);
    if (Atomics.load(flag, 0) !== 0) break;
    try {
      db.pragma("wal_checkpoint(PASSIVE)");
    } catch {
      // Busy (another checkpoint) or a failing disk: the writer's own commits report failures.
    }
  }
} finally {
  try { if (db) db.close(); } catch {}
  Atomics.store(flag, 1, 1);
  Atomics.notify(flag, 1);
}
`;

export interface WalCheckpointer {
  /** Stops the thread and closes its connection (waits for a checkpoint in progress). */
  stop(): void;
}

export function startWalCheckpointer(
  db: Database.Database,
  path: string,
  intervalMs = 2000,
): WalCheckpointer {
  const shared = new SharedArrayBuffer(8);
  const flag = new Int32Array(shared);
  const module = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(WORKER, { eval: true, workerData: { module, path, shared, intervalMs } });
  worker.unref();
  let ended = false;
  // If the thread cannot run, the writer checkpoints again itself.
  const fallBack = () => {
    ended = true;
    if (db.open) db.pragma("wal_autocheckpoint = 1000");
  };
  worker.on("error", fallBack);
  worker.on("exit", fallBack);
  db.pragma("wal_autocheckpoint = 0");
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      if (db.open) db.pragma("wal_autocheckpoint = 1000");
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      // The thread acknowledges once its connection is closed (bounded: a stuck disk must not hang).
      if (!ended && Atomics.load(flag, 1) === 0) Atomics.wait(flag, 1, 0, 5000);
      void worker.terminate();
    },
  };
}
