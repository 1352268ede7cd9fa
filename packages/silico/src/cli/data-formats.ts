import type { RunRecord, RunStore } from "../store/run-store.js";

export type DataFormat = (store: RunStore, run: RunRecord, out?: string) => Promise<number>;

/** Formats for `silico data`; designs add their own (e.g. alter_ego's `ego` CSV). */
export const dataFormats: Record<string, DataFormat> = {};

export function registerDataFormat(name: string, format: DataFormat): void {
  dataFormats[name] = format;
}
