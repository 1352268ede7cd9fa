/**
 * The studio's heavy reads: whole-run aggregates, counts and exports. They run in a worker thread
 * on a read-only connection of its own (heavy-worker.ts), so a cold summary of 100,000
 * observations never holds up a page of rows, a transcript or the progress stream on the server's
 * thread. Arguments and results are plain data (they cross threads by structured clone).
 */
import {
  data,
  type ObservationFilter,
  type RunReader,
  type Scalar,
  type SessionFilter,
  summary,
} from "silico";
import { aggregate, distribution } from "./aggregate.js";

export interface HeavyOps {
  detail(runId: string): { observationNames: string[]; coordinateColumns: string[] };
  counts(runId: string): {
    observations: number;
    statusCounts: Record<string, number>;
    models: unknown[];
  };
  /** Each coordinate column's values (columns with more than 200 values are left out). */
  coordinates(runId: string): Record<string, Scalar[]>;
  coordinateValues(runId: string, column: string): Scalar[];
  summary(runId: string, by: string[] | undefined, names: string[] | undefined): Promise<unknown>;
  plot(runId: string, name: string, by: string[] | undefined): Promise<unknown>;
  countSessions(runId: string, filter: SessionFilter): number;
  countObservations(runId: string, filter: ObservationFilter): number;
  /** A text export's text, or (with `out`) a file written. */
  export(runId: string, format: string, layout: string, out?: string): Promise<string | null>;
}

export type HeavyOp = keyof HeavyOps;

export function heavyOps(reader: () => RunReader): HeavyOps {
  return {
    detail: (id) => ({
      observationNames: reader().observationNames(id),
      coordinateColumns: reader().coordinateColumns(id),
    }),
    counts: (id) => {
      const r = reader();
      return {
        observations: r.countObservations(id),
        statusCounts: r.sessionStatusCounts(id),
        models: r.modelCounts(id),
      };
    },
    coordinates: (id) => {
      const r = reader();
      const out: Record<string, Scalar[]> = {};
      for (const col of r.coordinateColumns(id)) {
        const values = r.coordinateValues(id, col);
        if (values.length <= 200) out[col] = values;
      }
      return out;
    },
    coordinateValues: (id, column) => reader().coordinateValues(id, column),
    summary: (id, by, names) =>
      summary(id, { db: reader().store, ...(by ? { by } : {}), ...(names ? { names } : {}) }),
    plot: async (id, name, by) => {
      const r = reader();
      const agg = await aggregate(r, id, name, by);
      return { ...agg, bins: agg.kind === "mean" ? distribution(r, id, name, agg.by.slice(0, 1)) : [] };
    },
    countSessions: (id, filter) => reader().countSessions(id, filter),
    countObservations: (id, filter) => reader().countObservations(id, filter),
    export: async (id, format, layout, out) => {
      const lay = layout as "tidy" | "wide" | "macbehaviour";
      const written = await data(id, { db: reader().store, format, layout: lay, ...(out ? { out } : {}) });
      return out ? null : (written.text ?? "");
    },
  };
}
