import type { RunRecord, RunStore } from "../store/run-store.js";

export type Cell = string | number | boolean | null;
export type TidyRow = Record<string, Cell | Record<string, unknown> | unknown[]>;

interface Joined {
  session_key: string;
  idx: number;
  s_coords: string;
  s_status: string;
  pid: string | null;
  role: string | null;
  p_model: string | null;
  name: string;
  coords: string;
  value: string | null;
  raw: string | null;
  valid: number;
  reason: string | null;
  attempts: number;
  choice_index: number;
  meta: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  latency_ms: number | null;
  cost_usd: number | null;
  cached_from: number | null;
  call_id: number | null;
  created_at: string;
}

const FIXED_HEAD = ["run", "session"];
const FIXED_TAIL = [
  "participant",
  "role",
  "model",
  "name",
  "value",
  "valid",
  "reason",
  "raw",
  "attempts",
  "choice",
  "input_tokens",
  "output_tokens",
  "latency_ms",
  "cost_usd",
  "cached",
  "session_status",
  "created_at",
];

/** Columns every tidy row has besides the study's coordinates. */
export const TIDY_COLUMNS: readonly string[] = [...FIXED_HEAD, ...FIXED_TAIL];

/**
 * One row per observation, with the study coordinates (factor levels, treatment, group, round,
 * role, draw …) as columns. Superseded attempts (kept by `resume --retry-failed`) are left out.
 */
export class TidyExport {
  readonly columns: string[];
  /** The design's coordinates, then any extra ones observations carry (round, stage …). */
  readonly coordColumns: string[];

  constructor(
    private readonly store: RunStore,
    readonly run: RunRecord,
  ) {
    const declared = (run.manifest.coordinate_columns as string[] | undefined) ?? [];
    const extra = new Set<string>();
    const rows = store.db
      .prepare("SELECT DISTINCT coords FROM observations WHERE run_id = ?")
      .pluck()
      .all(run.id) as string[];
    for (const c of rows)
      for (const k of Object.keys(JSON.parse(c) as object)) if (!declared.includes(k)) extra.add(k);
    this.coordColumns = [...declared, ...extra];
    const tail = FIXED_TAIL.filter((c) => !this.coordColumns.includes(c));
    this.columns = [...FIXED_HEAD, ...this.coordColumns, ...tail];
  }

  *rows(): Generator<TidyRow> {
    const stmt = this.store.db.prepare(
      `SELECT o.session_key, s.idx, s.coords AS s_coords, s.status AS s_status, o.pid, p.role, p.model AS p_model,
              o.name, o.coords, o.value, o.raw, o.valid, o.reason, o.attempts, o.choice_index, o.meta,
              c.input_tokens, c.output_tokens, c.latency_ms, c.cost_usd, c.cached_from, o.call_id, o.created_at
       FROM observations o
       JOIN sessions s ON s.run_id = o.run_id AND s.key = o.session_key
       LEFT JOIN participants p ON p.run_id = o.run_id AND p.session_key = o.session_key AND p.pid = o.pid
       LEFT JOIN calls c ON c.id = o.call_id
       WHERE o.run_id = ? AND s.status != 'superseded'
       ORDER BY s.idx, o.seq`,
    );
    for (const r of stmt.iterate(this.run.id) as Iterable<Joined>) {
      const coords = { ...(JSON.parse(r.s_coords) as object), ...(JSON.parse(r.coords) as object) } as Record<
        string,
        Cell
      >;
      const row: TidyRow = { run: this.run.id, session: r.session_key };
      for (const c of this.coordColumns) row[c] = coords[c] ?? null;
      const tail: TidyRow = {
        participant: r.pid,
        role: r.role,
        model: r.p_model,
        name: r.name,
        value: r.value === null ? null : (JSON.parse(r.value) as Cell),
        valid: r.valid === 1,
        reason: r.reason,
        raw: r.raw,
        attempts: r.attempts,
        choice: r.choice_index,
        input_tokens: r.input_tokens,
        output_tokens: r.output_tokens,
        latency_ms: r.latency_ms === null ? null : Math.round(r.latency_ms),
        cost_usd: r.cost_usd,
        cached: r.call_id === null ? null : r.cached_from !== null,
        session_status: r.s_status,
        created_at: r.created_at,
      };
      for (const c of FIXED_TAIL) if (!(c in row)) row[c] = tail[c] as Cell;
      yield row;
    }
  }
}

/** Scalars stay as they are; objects and lists become JSON text (for CSV and spreadsheet cells). */
export function flatCell(v: unknown): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "object") return JSON.stringify(v);
  return v as string | number | boolean;
}
