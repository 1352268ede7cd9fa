/**
 * Heavy reads off the server's thread: worker threads (heavy-worker.ts), each with its own
 * read-only connection, so whole-run aggregates and exports run beside the light reads (pages of
 * rows, transcripts, progress) instead of in front of them. SQLite's WAL lets every connection see
 * each commit, so the workers read what the main thread reads. Two lanes: the counts a table
 * needs to show its size and a run's columns (tens of milliseconds) never queue behind a cold
 * summary or an export (seconds), which have workers of their own.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { SilicoError, type SilicoErrorCode } from "silico";
import type { HeavyOp, HeavyOps } from "./heavy-ops.js";
import type { HeavyReply, HeavyRequest } from "./heavy-worker.js";

/**
 * The compiled worker: beside this module when it runs from dist/; when it runs from src/
 * (the tests), the build's copy (Node runs no TypeScript in a worker).
 */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".js")) return fileURLToPath(new URL("./heavy-worker.js", import.meta.url));
  const built = fileURLToPath(new URL("../dist/heavy-worker.js", import.meta.url));
  if (!existsSync(built)) throw new Error(`${built} is missing: run npm run build`);
  return built;
}

/** Reads a page waits for: they get their own worker. */
const QUICK = new Set<HeavyOp>(["countSessions", "countObservations"]);

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>;
}

export class HeavyReads {
  /** Slot 0 is the quick lane; the others share the slow reads. */
  private slots: (Slot | undefined)[];
  private next = 1;
  private closed = false;

  constructor(
    private readonly db: string,
    slowWorkers = 2,
  ) {
    this.slots = Array.from({ length: 1 + Math.max(1, slowWorkers) }, () => undefined);
  }

  /** Starts the workers now (loading silico takes a moment), so the first heavy read does not wait for it. */
  warm(): void {
    for (let i = 0; i < this.slots.length; i++) this.slot(i);
  }

  private slot(i: number): Slot {
    const existing = this.slots[i];
    if (existing) return existing;
    const worker = new Worker(workerFile(), { workerData: { db: this.db } });
    worker.unref();
    const slot: Slot = { worker, pending: new Map() };
    worker.on("message", (reply: HeavyReply) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      slot.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.value);
      else
        p.reject(
          reply.code
            ? new SilicoError(reply.code as SilicoErrorCode, reply.message)
            : new Error(reply.message),
        );
    });
    const fail = (e: Error) => {
      if (this.slots[i] === slot) this.slots[i] = undefined;
      for (const p of slot.pending.values()) p.reject(e);
      slot.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`the heavy-read worker stopped (exit code ${code})`)));
    this.slots[i] = slot;
    return slot;
  }

  /** Runs one read on its lane's least busy worker. */
  call<K extends HeavyOp>(
    op: K,
    ...args: Parameters<HeavyOps[K]>
  ): Promise<Awaited<ReturnType<HeavyOps[K]>>> {
    if (this.closed) return Promise.reject(new Error("the studio is closing"));
    let best = QUICK.has(op) ? 0 : 1;
    if (best === 1)
      for (let i = 2; i < this.slots.length; i++)
        if ((this.slots[i]?.pending.size ?? 0) < (this.slots[best]?.pending.size ?? 0)) best = i;
    const slot = this.slot(best);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      slot.worker.postMessage({ id, op, args } satisfies HeavyRequest);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s?.worker.terminate()));
    this.slots = this.slots.map(() => undefined);
  }
}
