/** Read routes: runs, a run's summary, sessions, observations, plots, transcripts, calls, exports. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import type {
  CursorOptions,
  ObservationFilter,
  RunReader,
  Scalar,
  SessionFilter,
  SessionStatusFilter,
} from "silico";
import type { HeavyReads } from "./heavy-reads.js";
import { HttpError, intParam } from "./http-errors.js";
import type { StoreAccess } from "./store-access.js";

const STATUSES = new Set([
  "valid",
  "invalid",
  "tainted",
  "failed",
  "done",
  "pending",
  "running",
  "superseded",
  "skipped",
]);
const EXPORTS: Record<string, { type: string; ext: string }> = {
  csv: { type: "text/csv; charset=utf-8", ext: "csv" },
  jsonl: { type: "application/x-ndjson; charset=utf-8", ext: "jsonl" },
  xlsx: { type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ext: "xlsx" },
  parquet: { type: "application/vnd.apache.parquet", ext: "parquet" },
  ego: { type: "text/csv; charset=utf-8", ext: "csv" },
  otree: { type: "text/csv; charset=utf-8", ext: "csv" },
};
/** Formats that are not text: the library writes them to a file, which is then sent. */
const BINARY = new Set(["xlsx", "parquet"]);
const LAYOUTS = new Set(["tidy", "wide", "macbehaviour"]);

/** The download's file name: the run id, then what sets it apart from the plain tidy file. */
function exportName(id: string, format: string, layout: string): string {
  const tag = format === "ego" || format === "otree" ? `-${format}` : layout === "tidy" ? "" : `-${layout}`;
  return `${id}${tag}.${EXPORTS[format]?.ext}`;
}

function listParam(v: string | undefined): string[] | undefined {
  if (v === undefined || v === "") return undefined;
  return v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Coordinate filters from `coord.NAME=value` (and `treatment=value`). A query gives text while a
 * run may store a coordinate as a number or a boolean, so a value that reads as one matches that
 * too (`round=2` matches 2 and "2"): no look-up of the run's values on the way to a page.
 */
function coordFilters(query: Record<string, string>): Record<string, Scalar[]> {
  const out: Record<string, Scalar[]> = {};
  for (const [k, v] of Object.entries(query)) {
    const name = k.startsWith("coord.") ? k.slice(6) : k === "treatment" ? "treatment" : undefined;
    if (name === undefined) continue;
    const values: Scalar[] = [v];
    if (v.trim() !== "" && Number.isFinite(Number(v))) values.push(Number(v));
    if (v === "true" || v === "false") values.push(v === "true");
    out[name] = values;
  }
  return out;
}

/** How long a page waits for its total when asked for it `soon`. */
const TOTAL_BUDGET_MS = 120;

function statusParam(v: string | undefined): SessionStatusFilter[] | undefined {
  const status = listParam(v);
  for (const s of status ?? []) if (!STATUSES.has(s)) throw new HttpError(400, `unknown status "${s}"`);
  return status as SessionStatusFilter[] | undefined;
}

/** Keyset paging from the query: `after`, `before`, `last=1`, or a position (`at`, or the older `offset`). */
function cursorParams(q: Record<string, string>, dfltLimit: number): CursorOptions & { offsetMode: boolean } {
  const limit = intParam(q.limit, dfltLimit, 1, 1000);
  if (q.after) return { after: q.after, limit, offsetMode: false };
  if (q.before) return { before: q.before, limit, offsetMode: false };
  if (q.last === "1" || q.last === "true") return { last: true, limit, offsetMode: false };
  if (q.at !== undefined) return { at: intParam(q.at, 0, 0, 1e9), limit, offsetMode: false };
  return { at: intParam(q.offset, 0, 0, 1e9), limit, offsetMode: true };
}

/** A page as the API answers it; position-addressed pages also say `offset` and `nextOffset` (older clients). */
function pageAnswer<T>(
  page: { items: T[]; next: string | null; prev: string | null },
  opts: CursorOptions & { offsetMode: boolean },
  total: number | null,
) {
  const base = { items: page.items, next: page.next, prev: page.prev, ...(total === null ? {} : { total }) };
  if (opts.at === undefined) return base;
  const offset = opts.at;
  return {
    ...base,
    offset,
    limit: opts.limit,
    nextOffset: page.next === null ? null : offset + (opts.limit ?? 50),
  };
}

export function runRoutes(access: StoreAccess, heavy: HeavyReads): Hono {
  const app = new Hono();
  const reader = (): RunReader => {
    const r = access.get();
    if (!r) throw new HttpError(404, `no store at ${access.path} yet: start a run`);
    return r;
  };
  // Aggregates of finished runs do not change: computed once per run state. The promise is kept,
  // so requests that arrive while it is computed wait for it instead of computing it again.
  const cache = new Map<string, Promise<unknown>>();
  const cached = <T>(key: string, make: () => Promise<T> | T): Promise<T> => {
    const hit = cache.get(key);
    if (hit) return hit as Promise<T>;
    if (cache.size > 200) cache.clear();
    const value = Promise.resolve().then(make);
    cache.set(key, value);
    value.catch(() => cache.delete(key));
    return value;
  };
  /**
   * Results of a run that is not running change only when it runs again (its status or update
   * time changes then), so they are kept under that stamp; a running run is read afresh.
   */
  const memo = async <T>(
    r: RunReader,
    ref: string,
    what: string,
    make: (id: string) => Promise<T> | T,
  ): Promise<T> => {
    const run = r.run(ref);
    if (run.status === "running") return make(run.id);
    return cached(`${run.id}@${run.status}@${run.updatedAt}:${what}`, () => make(run.id));
  };

  app.get("/", (c) => {
    const r = access.get();
    const offset = intParam(c.req.query("offset"), 0, 0, 1e9);
    const limit = intParam(c.req.query("limit"), 100, 1, 1000);
    if (!r) return c.json({ items: [], offset, limit, nextOffset: null });
    return c.json(
      r.runs({ offset, limit, ...(c.req.query("kind") ? { kind: c.req.query("kind") as string } : {}) }),
    );
  });

  // Per-model counts and the observation count come separately. With `light=1` (the results
  // page's first request) the columns are the design's only: the extra ones the observations
  // carry (a scan of them) follow without it.
  app.get("/:run", async (c) => {
    const r = reader();
    const run = r.run(c.req.param("run"));
    if (c.req.query("light") === "1") {
      const declared = (run.manifest.coordinate_columns as string[] | undefined) ?? [];
      return c.json({ ...run, observationNames: r.observationNames(run.id), coordinateColumns: declared });
    }
    const extra = await memo(r, run.id, "detail", (id) => heavy.call("detail", id));
    return c.json({ ...run, ...extra });
  });

  app.get("/:run/counts", async (c) => {
    const r = reader();
    return c.json(await memo(r, c.req.param("run"), "counts", (id) => heavy.call("counts", id)));
  });

  app.get("/:run/coordinates", async (c) => {
    const r = reader();
    return c.json(await memo(r, c.req.param("run"), "coordinates", (id) => heavy.call("coordinates", id)));
  });

  app.get("/:run/summary", async (c) => {
    const r = reader();
    const id = r.run(c.req.param("run")).id;
    const by = listParam(c.req.query("by"));
    const names = listParam(c.req.query("name"));
    return c.json(await memo(r, id, `summary:${by}:${names}`, () => heavy.call("summary", id, by, names)));
  });

  const sessionFilter = (q: Record<string, string>): SessionFilter => {
    const status = statusParam(q.status);
    return {
      ...(status ? { status } : {}),
      ...(q.model ? { model: q.model } : {}),
      coords: coordFilters(q),
    };
  };
  const observationFilter = (q: Record<string, string>): ObservationFilter => {
    const status = statusParam(q.status);
    return {
      ...(q.name ? { name: q.name } : {}),
      ...(q.valid === "true" || q.valid === "false" ? { valid: q.valid === "true" } : {}),
      ...(q.session ? { sessionKey: q.session } : {}),
      ...(status ? { sessionStatus: status } : {}),
      ...(q.model ? { model: q.model } : {}),
      coords: coordFilters(q),
    };
  };
  const sessionsTotal = (r: RunReader, id: string, filter: SessionFilter) =>
    memo(r, id, `sessions-total:${JSON.stringify(filter)}`, () => heavy.call("countSessions", id, filter));
  const observationsTotal = (r: RunReader, id: string, filter: ObservationFilter) =>
    memo(r, id, `observations-total:${JSON.stringify(filter)}`, () =>
      heavy.call("countObservations", id, filter),
    );

  /**
   * A page of rows is an index seek on this thread; its total is counted by a worker meanwhile
   * (once per filter for a finished run). `total=0` leaves the total out (the pages a scrolling
   * table reads on), `total=soon` waits for it briefly only: a count not ready then is `null`, and
   * `…/count` with the same filters answers it when it is.
   */
  const listing = async <T>(
    q: Record<string, string>,
    count: () => Promise<number>,
    read: (cursor: CursorOptions) => { items: T[]; next: string | null; prev: string | null },
  ) => {
    const opts = cursorParams(q, 50);
    const total = q.total === "0" ? undefined : count();
    total?.catch(() => {});
    const { offsetMode: _, ...cursor } = opts;
    const page = read(cursor);
    let n: number | null = null;
    if (total && q.total === "soon")
      n = await Promise.race([total, new Promise<null>((r) => setTimeout(() => r(null), TOTAL_BUDGET_MS))]);
    else if (total) n = await total;
    return pageAnswer(page, opts, n);
  };

  app.get("/:run/sessions", async (c) => {
    const r = reader();
    const id = r.run(c.req.param("run")).id;
    const q = c.req.query();
    const filter = sessionFilter(q);
    return c.json(
      await listing(
        q,
        () => sessionsTotal(r, id, filter),
        (cursor) => r.sessionsByCursor(id, filter, cursor),
      ),
    );
  });

  app.get("/:run/sessions/count", async (c) => {
    const r = reader();
    const id = r.run(c.req.param("run")).id;
    return c.json({ total: await sessionsTotal(r, id, sessionFilter(c.req.query())) });
  });

  app.get("/:run/observations", async (c) => {
    const r = reader();
    const id = r.run(c.req.param("run")).id;
    const q = c.req.query();
    const filter = observationFilter(q);
    return c.json(
      await listing(
        q,
        () => observationsTotal(r, id, filter),
        (cursor) => r.observationsByCursor(id, filter, cursor),
      ),
    );
  });

  app.get("/:run/observations/count", async (c) => {
    const r = reader();
    const id = r.run(c.req.param("run")).id;
    return c.json({ total: await observationsTotal(r, id, observationFilter(c.req.query())) });
  });

  app.get("/:run/plot", async (c) => {
    const r = reader();
    const id = r.run(c.req.param("run")).id;
    const names = (await memo(r, id, "detail", () => heavy.call("detail", id))).observationNames;
    const name = c.req.query("name") ?? names[0];
    if (!name) return c.json({ name: null, by: [], kind: "none", means: [], shares: [], bins: [] });
    if (!names.includes(name)) throw new HttpError(404, `run ${id} has no observation "${name}"`);
    const by = listParam(c.req.query("by"));
    return c.json(await memo(r, id, `plot:${name}:${by}`, () => heavy.call("plot", id, name, by)));
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

  // Exports are written by a worker: a run of 100,000 rows takes seconds to format.
  app.get("/:run/export", async (c) => {
    const r = reader();
    const id = r.run(c.req.param("run")).id;
    const format = c.req.query("format") ?? "csv";
    const spec = EXPORTS[format];
    if (!spec) throw new HttpError(400, `unknown format "${format}" (${Object.keys(EXPORTS).join(", ")})`);
    const layout = c.req.query("layout") ?? "tidy";
    if (!LAYOUTS.has(layout))
      throw new HttpError(400, `unknown layout "${layout}" (tidy, wide or macbehaviour)`);
    const headers = {
      "content-type": spec.type,
      "content-disposition": `attachment; filename="${exportName(id, format, layout)}"`,
    };
    if (BINARY.has(format)) {
      // The library writes binary formats (and the column dictionary beside them) to a file.
      const dir = mkdtempSync(join(tmpdir(), "silico-studio-"));
      try {
        const out = join(dir, `export.${spec.ext}`);
        await heavy.call("export", id, format, layout, out);
        return c.body(readFileSync(out), 200, headers);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    return c.body((await heavy.call("export", id, format, layout)) ?? "", 200, headers);
  });

  return app;
}
