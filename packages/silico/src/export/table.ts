import type { RunRecord, RunStore } from "../store/run-store.js";
import { type ColumnType, FIXED_TYPES, TypeTally } from "./column-types.js";
import { TidyExport, type TidyRow } from "./tidy-rows.js";

/** One column of an export: its name, its type over the whole run, and what it means. */
export interface ColumnInfo {
  name: string;
  type: ColumnType;
  meaning: string;
}

/** Rows to write, with the dictionary of their columns; `rows()` can be read more than once. */
export interface ExportTable {
  layout: "tidy" | "wide";
  /** Column names, in order. */
  names: string[];
  /** The column dictionary (may take a pass over the rows to type the columns). */
  readonly columns: ColumnInfo[];
  rows(): Iterable<TidyRow>;
}

/** What the tidy columns mean (the design's coordinates are described by `coordinateMeaning`). */
export const TIDY_MEANINGS: Record<string, string> = {
  run: "run id",
  session: "session key (one conversation, group or cell draw)",
  participant: "participant id within the session",
  role: "the participant's role (games), else empty",
  model: "model id that answered",
  name: "observation name (the question, stage choice or payoff recorded)",
  value: "the parsed answer (JSON text where an answer is an object or list)",
  valid: "the answer passed its parser and checks",
  reason: "why the answer is invalid, else empty",
  raw: "the model's text the value was parsed from",
  attempts: "attempts used, counting re-asks",
  sample: "index of the sample among the n a call returned (0 when n = 1) (formerly the `choice` column)",
  input_tokens: "input tokens billed for the call",
  output_tokens: "output tokens billed for the call",
  latency_ms: "milliseconds the call took",
  cost_usd: "cost of the call in US dollars from the price table, empty when unknown",
  cached: "the answer came from the cache (no call was paid for)",
  session_status: "done, invalid, failed or pending",
  created_at: "when the observation was recorded (ISO 8601, UTC)",
};

const COORDINATE_MEANINGS: Record<string, string> = {
  round: "round number (games)",
  stage: "stage name (games)",
  group: "group index (games)",
  treatment: "treatment assigned",
  draw: "repetition index within a cell (times)",
  trial: "trial index within the session (stimuli)",
  role: "the participant's role (games)",
  model: "model id that answered",
};

export function coordinateMeaning(name: string): string {
  return `study coordinate${COORDINATE_MEANINGS[name] ? `: ${COORDINATE_MEANINGS[name]}` : " (factor level, variable or position)"}`;
}

/** A column's type from its values; a column of nulls only takes its usual type, else string. */
export function columnType(name: string, tally: TypeTally | undefined): ColumnType {
  return tally?.seen ? tally.type : (FIXED_TYPES[name] ?? "string");
}

/** Infers each column's type from one pass over the rows. */
export function inferTypes(columns: readonly string[], rows: Iterable<TidyRow>): Map<string, ColumnType> {
  const tallies = new Map(columns.map((c) => [c, new TypeTally()]));
  for (const r of rows) for (const [c, t] of tallies) t.add(r[c]);
  return new Map([...tallies].map(([c, t]) => [c, columnType(c, t)]));
}

/** The tidy layout: one row per observation (see TidyExport). */
export function tidyTable(store: RunStore, run: RunRecord): ExportTable {
  const t = new TidyExport(store, run);
  const coords = new Set(t.coordColumns);
  let columns: ColumnInfo[] | undefined;
  return {
    layout: "tidy",
    names: t.columns,
    // Typed only when asked (describe, Parquet): a CSV to standard output needs no extra pass.
    get columns() {
      if (!columns) {
        const types = inferTypes(t.columns, t.rows());
        columns = t.columns.map((name) => ({
          name,
          type: types.get(name) ?? "string",
          meaning: coords.has(name) ? coordinateMeaning(name) : (TIDY_MEANINGS[name] ?? ""),
        }));
      }
      return columns;
    },
    rows: () => t.rows(),
  };
}
