import type { Sink } from "../export/writers.js";
import type { RunRecord, RunStore } from "../store/run-store.js";

/** Writes a run's rows to the file `out`, else to `sink` (default standard output); returns the row count. */
export type DataFormat = (store: RunStore, run: RunRecord, out?: string, sink?: Sink) => Promise<number>;

/** Formats for `silico data`; designs add their own (e.g. alter_ego's `ego` CSV). */
export const dataFormats: Record<string, DataFormat> = {};

export function registerDataFormat(name: string, format: DataFormat): void {
  dataFormats[name] = format;
}
