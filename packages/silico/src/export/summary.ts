import type { RunRecord, RunStore } from "../store/run-store.js";
import { TidyExport } from "./tidy-rows.js";

/** Coordinates that identify units rather than conditions; left out of the default grouping. */
const UNIT_COLUMNS = new Set([
  "run",
  "session",
  "draw",
  "convo",
  "group",
  "pool",
  "item",
  "trial",
  "event",
  "position",
  "thread",
  "participant",
  "i",
]);

export interface SummaryRow {
  name: string;
  group: Record<string, unknown>;
  n: number;
  invalid: number;
  kind: "mean" | "rate";
  /** For numeric values: the mean with a 95 % CI (t, or cluster-robust when clustered). */
  mean?: number;
  sd?: number;
  ci?: [number, number];
  /** For categorical values: each category's share with a Wilson 95 % CI (on the effective n when clustered). */
  rates?: { value: string; count: number; share: number; ci: [number, number] }[];
  /**
   * Set when some independent unit (a session: a game's group or matching pool, a conversation)
   * gave more than one observation of this row, so the interval is clustered by it.
   */
  clustered?: { by: string; clusters: number };
}

/** Condition columns: the coordinates that are not unit identifiers, plus role and model. */
export function defaultGrouping(coordColumns: string[], kind?: string): string[] {
  // A stimulus run's coordinates are mostly item attributes (list, trial, the file's own
  // columns): its conditions are the Condition column (and the model when several).
  if (kind === "stimuli")
    return ["condition", "model"].filter((c) => coordColumns.includes(c) || c === "model");
  const by = coordColumns.filter((c) => !UNIT_COLUMNS.has(c));
  for (const c of ["role", "model"]) if (!by.includes(c)) by.push(c);
  return by;
}

/**
 * The independent unit of a run: each session (a game's group, or its matching pool under
 * stranger matching, whose groups meet each other; a conversation of other designs). Players
 * of a group and rounds of a group are not independent observations.
 */
export function clusterUnit(kind: string, coordColumns: string[]): string {
  if (kind === "game") return coordColumns.includes("pool") ? "pool" : "group";
  if (kind === "factorial") return "session";
  return "conversation";
}

/** Per-cell means (numbers) or rates (categories) with 95 % confidence intervals. */
export function summarize(
  store: RunStore,
  run: RunRecord,
  opts: { by?: string[]; names?: string[] } = {},
): { by: string[]; rows: SummaryRow[] } {
  const tidy = new TidyExport(store, run);
  const by = opts.by ?? defaultGrouping(tidy.coordColumns, run.kind);
  const unit = clusterUnit(run.kind, tidy.coordColumns);
  for (const b of by) {
    if (!tidy.columns.includes(b))
      throw new Error(`no column "${b}" in run ${run.id}; columns: ${tidy.columns.join(", ")}`);
  }
  /** values[i] was observed in session clusters[i]. */
  type Group = {
    name: string;
    group: Record<string, unknown>;
    values: unknown[];
    clusters: string[];
    invalid: number;
  };
  let groups = new Map<string, Group>();
  const seen = new Set<string>();
  for (const r of tidy.rows()) {
    const name = String(r.name);
    seen.add(name);
    if (opts.names && !opts.names.includes(name)) continue;
    const group: Record<string, unknown> = {};
    for (const b of by) group[b] = r[b];
    const key = JSON.stringify([name, ...by.map((b) => r[b])]);
    let g = groups.get(key);
    if (!g) {
      g = { name, group, values: [], clusters: [], invalid: 0 };
      groups.set(key, g);
    }
    if (r.valid === true && r.value !== null && r.value !== undefined) {
      g.values.push(r.value);
      g.clusters.push(String(r.session));
    } else g.invalid++;
  }
  const unknown = (opts.names ?? []).filter((n) => !seen.has(n));
  if (unknown.length > 0) {
    throw new Error(
      `no observation ${unknown.map((n) => `"${n}"`).join(", ")} in run ${run.id}; ${seen.size > 0 ? `observations: ${[...seen].join(", ")}` : "it has no observations"}`,
    );
  }
  // A JSON answer such as {"keep": 4} is summarised field by field (offer.keep).
  const expanded = new Map<string, Group>();
  for (const [key, g] of groups) {
    const objects =
      g.values.length > 0 && g.values.every((v) => v !== null && typeof v === "object" && !Array.isArray(v));
    if (!objects) {
      expanded.set(key, g);
      continue;
    }
    const fields = new Set(g.values.flatMap((v) => Object.keys(v as object)));
    for (const f of fields) {
      const values: unknown[] = [];
      const clusters: string[] = [];
      g.values.forEach((v, i) => {
        const x = (v as Record<string, unknown>)[f];
        if (x === null || x === undefined || typeof x === "object") return;
        values.push(x);
        clusters.push(g.clusters[i] as string);
      });
      expanded.set(`${key}.${f}`, {
        name: `${g.name}.${f}`,
        group: g.group,
        values,
        clusters,
        invalid: g.invalid,
      });
    }
  }
  groups = expanded;
  if (!opts.by) {
    // Per observation, default columns that never vary (no roles in a factorial, one model,
    // no stage on payoff rows) only clutter the table.
    const byName = new Map<string, Group[]>();
    for (const g of groups.values()) byName.set(g.name, [...(byName.get(g.name) ?? []), g]);
    const merged = new Map<string, Group>();
    for (const [name, list] of byName) {
      const keep = by.filter((b) => new Set(list.map((g) => JSON.stringify(g.group[b]))).size > 1);
      for (const g of list) {
        const group = Object.fromEntries(keep.map((b) => [b, g.group[b]]));
        const key = JSON.stringify([name, group]);
        const m = merged.get(key);
        if (m) {
          m.values.push(...g.values);
          m.clusters.push(...g.clusters);
          m.invalid += g.invalid;
        } else
          merged.set(key, {
            name,
            group,
            values: [...g.values],
            clusters: [...g.clusters],
            invalid: g.invalid,
          });
      }
    }
    groups = merged;
  }
  const rows: SummaryRow[] = [];
  for (const g of groups.values()) {
    const n = g.values.length;
    const clusterIds = new Set(g.clusters);
    // One observation per unit: the observations are independent and the usual intervals apply.
    const clustered = clusterIds.size < n ? { by: unit, clusters: clusterIds.size } : undefined;
    const numeric = n > 0 && g.values.every((v) => typeof v === "number");
    if (numeric) {
      const xs = g.values as number[];
      const mean = xs.reduce((a, b) => a + b, 0) / n;
      const sd = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : Number.NaN;
      const ci = clustered ? clusteredMeanCI(xs, g.clusters) : tMeanCI(mean, sd, n);
      rows.push({
        name: g.name,
        group: g.group,
        n,
        invalid: g.invalid,
        kind: "mean",
        mean,
        sd,
        ci,
        ...(clustered ? { clustered } : {}),
      });
    } else {
      const keys = g.values.map((v) => (typeof v === "string" ? v : JSON.stringify(v)));
      const counts = new Map<string, number>();
      for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
      const rates = [...counts.entries()]
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .map(([value, count]) => ({
          value,
          count,
          share: count / n,
          ci: clustered
            ? wilson(
                count,
                n,
                undefined,
                effectiveN(
                  keys.map((k) => (k === value ? 1 : 0)),
                  g.clusters,
                ),
              )
            : wilson(count, n),
        }));
      rows.push({
        name: g.name,
        group: g.group,
        n,
        invalid: g.invalid,
        kind: "rate",
        rates,
        ...(clustered ? { clustered } : {}),
      });
    }
  }
  // Keep each observation's cells together, in the order observations first appear.
  const order = [...new Set(rows.map((r) => r.name))];
  rows.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  return { by, rows };
}

/** Student-t 95 % interval of a mean of n independent observations. */
function tMeanCI(mean: number, sd: number, n: number): [number, number] {
  const half = n > 1 ? tCritical975(n - 1) * (sd / Math.sqrt(n)) : Number.NaN;
  return [mean - half, mean + half];
}

/**
 * Variance of a mean clustered by unit: the CR1 sandwich of a regression on a constant,
 * G/(G−1) · Σ_g (Σ_{i∈g} (y_i − ȳ))² / N² for N observations in G clusters (Stata's `vce(cluster)`;
 * Cameron & Miller 2015). With one observation per cluster it equals s²/N, the usual variance.
 */
export function clusteredVariance(xs: number[], clusters: string[]): { variance: number; clusters: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sums = new Map<string, number>();
  xs.forEach((x, i) => {
    const c = clusters[i] as string;
    sums.set(c, (sums.get(c) ?? 0) + (x - mean));
  });
  const g = sums.size;
  if (g < 2) return { variance: Number.NaN, clusters: g };
  let ss = 0;
  for (const e of sums.values()) ss += e * e;
  return { variance: ((g / (g - 1)) * ss) / (n * n), clusters: g };
}

/** 95 % interval of a clustered mean: ȳ ± t(G−1) · √V_CR1 (G clusters). */
export function clusteredMeanCI(xs: number[], clusters: string[]): [number, number] {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const { variance, clusters: g } = clusteredVariance(xs, clusters);
  const half = tCritical975(g - 1) * Math.sqrt(variance);
  return [mean - half, mean + half];
}

/**
 * The sample size a clustered proportion is worth: n / deff, where the design effect
 * deff = V_CR1 / V_iid compares the clustered variance of the share with p(1−p)/n. When every
 * answer is the same (p = 0 or 1) neither variance says anything and each cluster counts once.
 */
export function effectiveN(indicator: number[], clusters: string[]): number {
  const n = indicator.length;
  const p = indicator.reduce((a, b) => a + b, 0) / n;
  const { variance, clusters: g } = clusteredVariance(indicator, clusters);
  const iid = (p * (1 - p)) / n;
  if (!(iid > 0) || !(variance > 0)) return g;
  return (n * iid) / variance;
}

/**
 * Wilson score interval for a proportion k/n, 95 %. `nEff` (a clustered sample's effective size)
 * replaces n in the interval's width; the share stays k/n.
 */
export function wilson(k: number, n: number, z = 1.959963984540054, nEff = n): [number, number] {
  if (n === 0) return [Number.NaN, Number.NaN];
  const p = k / n;
  const m = nEff;
  const denom = 1 + (z * z) / m;
  const centre = (p + (z * z) / (2 * m)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / m + (z * z) / (4 * m * m))) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** 97.5 % quantile of Student's t: exact table to 30 df, then a Cornish–Fisher expansion. */
export function tCritical975(df: number): number {
  if (df < 1) return Number.NaN;
  if (df <= 30) return T975[Math.round(df) - 1] as number;
  const z = 1.959963984540054;
  const g1 = (z ** 3 + z) / 4;
  const g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96;
  const g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384;
  return z + g1 / df + g2 / df ** 2 + g3 / df ** 3;
}

const fmt = (x: number | undefined, digits = 3) =>
  x === undefined || !Number.isFinite(x) ? "NA" : Number(x.toFixed(digits)).toString();

export function formatSummary(result: { by: string[]; rows: SummaryRow[] }): string[] {
  const lines: string[] = [];
  let lastName = "";
  for (const r of result.rows) {
    if (r.name !== lastName) {
      lines.push(
        `${lines.length ? "\n" : ""}${r.name}${Object.keys(r.group).length ? ` by ${Object.keys(r.group).join(", ")}` : ""}`,
      );
      lastName = r.name;
    }
    const cell = Object.keys(r.group)
      .map((b) => `${b}=${typeof r.group[b] === "string" ? r.group[b] : JSON.stringify(r.group[b])}`)
      .join("  ");
    const invalid = r.invalid ? `  (${r.invalid} invalid)` : "";
    const clustered = r.clustered
      ? `clustered by ${r.clustered.by} (${r.clustered.clusters} cluster${r.clustered.clusters === 1 ? "" : "s"})`
      : "";
    if (r.kind === "mean") {
      lines.push(
        `  ${cell || "all"}  n=${r.n}  mean ${fmt(r.mean)}  95 % CI [${fmt(r.ci?.[0])}, ${fmt(r.ci?.[1])}]${clustered ? ` ${clustered}` : ""}  sd ${fmt(r.sd)}${invalid}`,
      );
    } else {
      const parts = (r.rates ?? []).map(
        (x) => `${x.value} ${fmt(x.share)} [${fmt(x.ci[0])}, ${fmt(x.ci[1])}]`,
      );
      lines.push(
        `  ${cell || "all"}  n=${r.n}  ${parts.join("; ")}${clustered ? `  (95 % CIs ${clustered})` : ""}${invalid}`,
      );
    }
  }
  const units = [...new Set(result.rows.flatMap((r) => (r.clustered ? [r.clustered.by] : [])))];
  lines.push(
    "",
    `95 % CIs: t for means, Wilson for shares${
      units.length
        ? `; where a ${units.join("/")} gave several observations of a cell they are clustered by it (CR1 for means with t on clusters − 1 df; Wilson on the design-effect sample size for shares)`
        : "; observations independent (one per session and cell)"
    }`,
  );
  return lines;
}
