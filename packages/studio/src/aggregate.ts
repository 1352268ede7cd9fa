/**
 * Plot data computed on the server, so a results page never receives a run's rows: means with
 * their 95 % intervals per condition (silico's own `summary`, clustered where it clusters), choice
 * shares with Wilson intervals (the same), and binned distributions of numeric answers (SQLite's
 * value counts, binned here).
 */
import { type RunReader, type Scalar, summary } from "silico";

export interface MeanPoint {
  group: Record<string, unknown>;
  n: number;
  mean: number;
  lo: number;
  hi: number;
}

export interface SharePoint {
  group: Record<string, unknown>;
  value: string;
  count: number;
  share: number;
  lo: number;
  hi: number;
}

export interface Aggregate {
  name: string;
  by: string[];
  kind: "mean" | "share" | "none";
  means: MeanPoint[];
  shares: SharePoint[];
}

export async function aggregate(
  reader: RunReader,
  runId: string,
  name: string,
  by: string[] | undefined,
): Promise<Aggregate> {
  const result = await summary(runId, { db: reader.store, names: [name], ...(by ? { by } : {}) });
  const means: MeanPoint[] = [];
  const shares: SharePoint[] = [];
  for (const r of result.rows) {
    if (r.kind === "mean" && r.mean !== undefined)
      means.push({ group: r.group, n: r.n, mean: r.mean, lo: r.ci?.[0] ?? r.mean, hi: r.ci?.[1] ?? r.mean });
    for (const s of r.rates ?? [])
      shares.push({
        group: r.group,
        value: s.value,
        count: s.count,
        share: s.share,
        lo: s.ci[0],
        hi: s.ci[1],
      });
  }
  return {
    name,
    by: result.by,
    kind: means.length > 0 ? "mean" : shares.length > 0 ? "share" : "none",
    means,
    shares,
  };
}

export interface Bin {
  group: Record<string, Scalar>;
  x0: number;
  x1: number;
  count: number;
}

/** Numeric answers in at most `bins` equal bins per group (one bin per value for a few integers). */
export function distribution(reader: RunReader, runId: string, name: string, by: string[], bins = 20): Bin[] {
  const numeric = reader
    .valueCounts(runId, { name, by })
    .filter((c): c is typeof c & { value: number } => typeof c.value === "number");
  if (numeric.length === 0) return [];
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const c of numeric) {
    if (c.value < min) min = c.value;
    if (c.value > max) max = c.value;
  }
  const integers = numeric.every((c) => Number.isInteger(c.value));
  const width = integers && max - min + 1 <= bins ? 1 : (max - min || 1) / bins;
  const count = width === 1 ? max - min + 1 : bins;
  const out = new Map<string, Bin>();
  for (const c of numeric) {
    const i = Math.min(Math.floor((c.value - min) / width), count - 1);
    const key = `${JSON.stringify(c.group)}#${i}`;
    const bin = out.get(key) ?? { group: c.group, x0: min + i * width, x1: min + (i + 1) * width, count: 0 };
    bin.count += c.count;
    out.set(key, bin);
  }
  return [...out.values()].sort((a, b) => a.x0 - b.x0);
}
