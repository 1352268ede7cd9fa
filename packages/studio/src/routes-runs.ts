/** Read routes: runs, a run's summary, sessions, observations, plots, transcripts, calls, exports. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { data, type RunReader, type Scalar, type SessionStatusFilter, summary } from "silico";
import { aggregate, distribution } from "./aggregate.js";
import { HttpError, intParam } from "./http-errors.js";
import type { StoreAccess } from "./store-access.js";

const STATUSES = new Set(["valid", "invalid", "tainted", "failed", "done", "pending", "running", "superseded", "skipped"]);
const EXPORTS: Record<string, { type: string; ext: string }> = {
  csv: { type: "text/csv; charset=utf-8", ext: "csv" },
  jsonl: { type: "application/x-ndjson; charset=utf-8", ext: "jsonl" },
  xlsx: { type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ext: "xlsx" },
  ego: { type: "text/csv; charset=utf-8", ext: "csv" },
};

function listParam(v: string | undefined): string[] | undefined {
  if (v === undefined || v === "") return undefined;
  return v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Coordinate filters from `coord.NAME=value` (and `treatment=value`), typed as the run stores them:
 * a query gives text, a round is a number.
 */
function coordFilters(reader: RunReader, runId: string, query: Record<string, string>): Record<string, Scalar> {
  const wanted: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) {
    if (k.startsWith("coord.")) wanted[k.slice(6)] = v;
    else if (k === "treatment") wanted.treatment = v;
  }
  const out: Record<string, Scalar> = {};
  for (const [k, v] of Object.entries(wanted)) {
    const values = reader.coordinateValues(runId, k);
    out[k] = values.find((x) => String(x) === v) ?? v;
  }
  return out;
}

export function runRoutes(access: StoreAccess): Hono {
  const app = new Hono();
  const reader = (): RunReader => {
    const r = access.get();
    if (!r) throw new HttpError(404, `no store at ${access.path} yet: start a run`);
    return r;
  };
  // Aggregates of finished runs do not change: computed once per run state.
  const cache = new Map<string, unknown>();
  const cached = async <T>(key: string, make: () => Promise<T> | T): Promise<T> => {
    if (cache.has(key)) return cache.get(key) as T;
    const value = await make();
    if (cache.size > 200) cache.clear();
    cache.set(key, value);
    return value;
  };
  const stamp = (r: RunReader, id: string) => {
    const run = r.run(id);
    return `${run.id}@${run.status}@${run.updatedAt}@${r.countSessions(run.id, { status: ["done", "invalid", "failed"] })}`;
  };

  app.get("/", (c) => {
    const r = access.get();
    const offset = intParam(c.req.query("offset"), 0, 0, 1e9);
    const limit = intParam(c.req.query("limit"), 100, 1, 1000);
    if (!r) return c.json({ items: [], offset, limit, nextOffset: null });
    return c.json(r.runs({ offset, limit, ...(c.req.query("kind") ? { kind: c.req.query("kind") as string } : {}) }));
  });

  app.get("/:run", (c) => {
    const r = reader();
    const run = r.run(c.req.param("run"));
    return c.json({
      ...run,
      statusCounts: r.sessionStatusCounts(run.id),
      modelCounts: r.modelCounts(run.id),
      observationNames: r.observationNames(run.id),
      coordinateColumns: r.coordinateColumns(run.id),
      observations: r.countObservations(run.id),
    });
  });

  app.get("/:run/coordinates", (c) => {
    const r = reader();
    const id = r.run(c.req.param("run")).id;
    const out: Record<string, Scalar[]> = {};
    for (const col of r.coordinateColumns(id)) {
      const values = r.coordinateValues(id, col);
      if (values.length <= 200) out[col] = values;
    }
    return c.json(out);
  });

  app.get("/:run/summary", async (c) => {
    const r = reader();
    const id = r.run(c.req.param("run")).id;
    const by = listParam(c.req.query("by"));
    const names = listParam(c.req.query("name"));
    const key = `summary:${stamp(r, id)}:${by}:${names}`;
    return c.json(
      await cached(key, () =>
        summary(id, { db: r.store, ...(by ? { by } : {}), ...(names ? { names } : {}) }),
      ),
    );
  });

  app.get("/:run/sessions", (c) => {
    const r = reader();
    const id = r.run(c.req.param("run")).id;
    const q = c.req.query();
    const status = listParam(q.status);
    for (const s of status ?? []) if (!STATUSES.has(s)) throw new HttpError(400, `unknown status "${s}"`);
    const filter = {
      ...(status ? { status: status as SessionStatusFilter[] } : {}),
      ...(q.model ? { model: q.model } : {}),
      coords: coordFilters(r, id, q),
    };
    const page = r.sessions(id, filter, {
      offset: intParam(q.offset, 0, 0, 1e9),
      limit: intParam(q.limit, 50, 1, 1000),
    });
    return c.json({ ...page, total: r.countSessions(id, filter) });
  });

  app.get("/:run/observations", (c) => {
    const r = reader();
    const id = r.run(c.req.param("run")).id;
    const q = c.req.query();
    const filter = {
      ...(q.name ? { name: q.name } : {}),
      ...(q.valid === "true" || q.valid === "false" ? { valid: q.valid === "true" } : {}),
      ...(q.session ? { sessionKey: q.session } : {}),
      coords: coordFilters(r, id, q),
    };
    const page = r.observations(id, filter, {
      offset: intParam(q.offset, 0, 0, 1e9),
      limit: intParam(q.limit, 50, 1, 1000),
    });
    return c.json({ ...page, total: r.countObservations(id, filter) });
  });

  app.get("/:run/plot", async (c) => {
    const r = reader();
    const id = r.run(c.req.param("run")).id;
    const name = c.req.query("name") ?? r.observationNames(id)[0];
    if (!name) return c.json({ name: null, by: [], kind: "none", means: [], shares: [], bins: [] });
    if (!r.observationNames(id).includes(name)) throw new HttpError(404, `run ${id} has no observation "${name}"`);
    const by = listParam(c.req.query("by"));
    const key = `plot:${stamp(r, id)}:${name}:${by}`;
    return c.json(
      await cached(key, async () => {
        const agg = await aggregate(r, id, name, by);
        return { ...agg, bins: agg.kind === "mean" ? distribution(r, id, name, agg.by.slice(0, 1)) : [] };
      }),
    );
  });

  app.get("/:run/transcript/:session", (c) => {
    const r = reader();
    const id = r.run(c.req.param("run")).id;
    const t = r.transcript(id, c.req.param("session"));
    const calls = r.calls(id, { sessionKey: t.session.key, includeBodies: false }, { limit: 10_000 }).items;
    return c.json({ ...t, calls });
  });

  app.get("/:run/calls/:call", (c) => {
    const r = reader();
    const id = r.run(c.req.param("run")).id;
    const callId = intParam(c.req.param("call"), 0, 1, Number.MAX_SAFE_INTEGER);
    const call = r.call(callId);
    if (call.runId !== id) throw new HttpError(404, `call ${callId} is not in run ${id}`);
    return c.json(call);
  });

  app.get("/:run/export", async (c) => {
    const r = reader();
    const id = r.run(c.req.param("run")).id;
    const format = c.req.query("format") ?? "csv";
    const spec = EXPORTS[format];
    if (!spec) throw new HttpError(400, `unknown format "${format}" (csv, jsonl, xlsx, ego)`);
    const layout = c.req.query("layout") === "macbehaviour" ? "macbehaviour" : "tidy";
    const headers = {
      "content-type": spec.type,
      "content-disposition": `attachment; filename="${id}${format === "ego" ? "-ego" : ""}.${spec.ext}"`,
    };
    if (format === "xlsx") {
      const dir = mkdtempSync(join(tmpdir(), "silico-studio-"));
      try {
        const out = join(dir, "export.xlsx");
        await data(id, { db: r.store, format, layout, out });
        return c.body(readFileSync(out), 200, headers);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const written = await data(id, { db: r.store, format, layout });
    return c.body(written.text ?? "", 200, headers);
  });

  return app;
}
