import type { ExportTable } from "../export/table.js";
import type { OtreeDataSource } from "../serve/otree-data.js";
import type { Sink } from "../export/writers.js";
import type { RunRecord, RunStore } from "../store/run-store.js";

export interface DataFormatOptions {
  /** The rows to write (tidy or wide); formats with their own columns (ego) ignore it. */
  table?: ExportTable;
  /** `otree` of a kind: agents run: where oTree's data comes from. */
  otree?: OtreeDataSource;
  /** Notes for a person (standard error in the CLI). */
  warn?: (line: string) => void;
}

/** Writes a run's rows to the file `out`, else to `sink` (default standard output); returns the row count. */
export type DataFormat = (
  store: RunStore,
  run: RunRecord,
  out?: string,
  sink?: Sink,
  options?: DataFormatOptions,
) => Promise<number>;

/** Formats for `silico data`; designs add their own (e.g. alter_ego's `ego` CSV). */
export const dataFormats: Record<string, DataFormat> = {};

/** Formats that write the tidy or wide table (and so can be described and laid out wide). */
export const TABLE_FORMATS = ["csv", "jsonl", "xlsx", "parquet"];

export function registerDataFormat(name: string, format: DataFormat): void {
  dataFormats[name] = format;
}
