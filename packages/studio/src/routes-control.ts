/**
 * Run control: start a study, cancel, resume, and live progress as server-sent events — from the
 * executor's events for runs started here, from the store (polled) for runs of other processes.
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { HttpError } from "./http-errors.js";
import { checkWithModels } from "./model-override.js";
import type { ProjectFiles } from "./project-files.js";
import { type Progress, type RunManager, withEta } from "./run-manager.js";
import type { StoreAccess } from "./store-access.js";

const POLL_MS = 500;

function storeProgress(access: StoreAccess, ref: string, startedAt: number): Progress {
  const r = access.get();
  if (!r) throw new HttpError(404, "no store yet");
  const run = r.run(ref);
  const counts = r.sessionStatusCounts(run.id);
  const calls = r.countCalls(run.id);
  const totals = run.totals ?? {};
  return withEta({
    runId: run.id,
    status: run.status,
    sessions: run.totalSessions,
    done: counts.done ?? 0,
    invalid: counts.invalid ?? 0,
    failed: counts.failed ?? 0,
    calls,
    cacheHits: totals.cacheHits ?? 0,
    retries: totals.retries ?? 0,
    invalidAnswers: totals.invalidAnswers ?? 0,
    failedCalls: r.countCalls(run.id, { status: "error" }),
    costUsd: run.costUsd ?? r.modelCounts(run.id).reduce((s, m) => s + m.costUsd, 0),
    startedAt,
    etaSeconds: null,
    error: totals.fatalError ?? null,
    source: "store",
  });
}

export function controlRoutes(files: ProjectFiles, access: StoreAccess, manager: RunManager): Hono {
  const app = new Hono();

  app.post("/run", async (c) => {
    const b = (await c.req.json().catch(() => null)) as {
      path?: unknown;
      text?: unknown;
      seed?: unknown;
      concurrency?: unknown;
      models?: unknown;
      roles?: unknown;
    } | null;
    if (!b || typeof b.path !== "string") throw new HttpError(400, "a study file path is needed");
    const full = files.resolve(b.path);
    const text = typeof b.text === "string" ? b.text : files.read(b.path);
    const { result: r } = checkWithModels(text, full, b);
    if (!r.ok) return c.json({ ok: false, problems: r.problems }, 400);
    const runId = await manager.start(r.study, {
      ...(typeof b.seed === "number" ? { seed: b.seed } : {}),
      ...(typeof b.concurrency === "number" ? { concurrency: b.concurrency } : {}),
    });
    return c.json({ ok: true, runId });
  });

  app.post("/runs/:run/cancel", (c) => {
    const id = c.req.param("run");
    if (!manager.cancel(id)) throw new HttpError(409, `run ${id} is not running in this studio`);
    return c.json({ ok: true });
  });

  app.post("/runs/:run/resume", async (c) => {
    const b = (await c.req.json().catch(() => ({}))) as { retryFailed?: unknown };
    const r = access.get();
    if (!r) throw new HttpError(404, "no store yet");
    const run = r.run(c.req.param("run"));
    const runId = await manager.resume(run.id, run.totalSessions, b.retryFailed === true);
    return c.json({ ok: true, runId });
  });

  app.get("/runs/:run/progress", (c) => {
    const ref = c.req.param("run");
    const active = manager.get(ref);
    if (!active) storeProgress(access, ref, Date.now()); // an unknown run is a 404 before the stream starts
    return streamSSE(c, async (stream) => {
      let closed = false;
      stream.onAbort(() => {
        closed = true;
      });
      const a = manager.get(ref);
      if (a) {
        await new Promise<void>((resolve) => {
          let last = 0;
          let timer: NodeJS.Timeout | undefined;
          let latest: Progress | undefined;
          const send = () => {
            timer = undefined;
            if (!latest || closed) return;
            last = Date.now();
            const p = latest;
            void stream.writeSSE({ event: "progress", data: JSON.stringify(p) }).then(() => {
              if (p.status !== "running") {
                unsubscribe();
                resolve();
              }
            });
          };
          const unsubscribe = manager.subscribe(ref, (p) => {
            latest = p;
            // At most five updates a second; the final state always goes out.
            if (p.status !== "running" || Date.now() - last > 200) send();
            else timer ??= setTimeout(send, 200);
          });
          stream.onAbort(() => {
            if (timer) clearTimeout(timer);
            unsubscribe();
            resolve();
          });
        });
        return;
      }
      const startedAt = Date.now();
      while (!closed) {
        const p = storeProgress(access, ref, startedAt);
        await stream.writeSSE({ event: "progress", data: JSON.stringify(p) });
        if (p.status !== "running") break;
        await stream.sleep(POLL_MS);
      }
    });
  });

  return app;
}
