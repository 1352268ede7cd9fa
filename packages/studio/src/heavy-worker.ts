/**
 * The worker thread behind HeavyReads: its own read-only connection to the store (opened at the
 * first request: a new project has no store yet), answering one request at a time.
 */
import { parentPort, workerData } from "node:worker_threads";
import { RunReader, RunStore, SilicoError } from "silico";
import { type HeavyOp, heavyOps } from "./heavy-ops.js";

export interface HeavyRequest {
  id: number;
  op: HeavyOp;
  args: unknown[];
}

export type HeavyReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; message: string; code?: string };

const path = (workerData as { db: string }).db;
let reader: RunReader | undefined;
const ops = heavyOps(() => {
  reader ??= new RunReader(RunStore.openForReading(path));
  return reader;
});

parentPort?.on("message", async (req: HeavyRequest) => {
  let reply: HeavyReply;
  try {
    const fn = ops[req.op] as (...args: unknown[]) => unknown;
    reply = { id: req.id, ok: true, value: await fn(...req.args) };
  } catch (e) {
    reply = {
      id: req.id,
      ok: false,
      message: e instanceof Error ? e.message : String(e),
      ...(e instanceof SilicoError ? { code: e.code } : {}),
    };
  }
  parentPort?.postMessage(reply);
});
