import { RunReader } from "../store/run-reader.js";
import type { RunRecord, RunStore } from "../store/run-store.js";

export type Cell = string | number | boolean | null;
export type TidyRow = Record<string, Cell | Record<string, unknown> | unknown[]>;

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
  "sample",
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

  private readonly reader: RunReader;

  constructor(
    store: RunStore,
    readonly run: RunRecord,
  ) {
    this.reader = new RunReader(store);
    const declared = (run.manifest.coordinate_columns as string[] | undefined) ?? [];
    const extra = this.reader.observationCoordinateKeys(run.id).filter((k) => !declared.includes(k));
    this.coordColumns = [...declared, ...extra];
    const tail = FIXED_TAIL.filter((c) => !this.coordColumns.includes(c));
    this.columns = [...FIXED_HEAD, ...this.coordColumns, ...tail];
  }

  *rows(): Generator<TidyRow> {
    for (const o of this.reader.iterateObservations(this.run.id)) {
      const coords = { ...o.sessionCoords, ...o.coords } as Record<string, Cell>;
      const row: TidyRow = { run: this.run.id, session: o.sessionKey };
      for (const c of this.coordColumns) row[c] = coords[c] ?? null;
      const tail: TidyRow = {
        participant: o.participant,
        role: o.role,
        model: o.model,
        name: o.name,
        value: o.value as Cell,
        valid: o.valid,
        reason: o.reason,
        raw: o.raw,
        attempts: o.attempts,
        sample: o.choiceIndex,
        input_tokens: o.call?.inputTokens ?? null,
        output_tokens: o.call?.outputTokens ?? null,
        latency_ms: o.call?.latencyMs == null ? null : Math.round(o.call.latencyMs),
        cost_usd: o.call?.costUsd ?? null,
        cached: o.call === null ? null : o.call.cached,
        session_status: o.sessionStatus,
        created_at: o.createdAt,
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
