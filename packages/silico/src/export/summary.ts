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
  /** For numeric values: mean with a t-based 95 % CI. */
  mean?: number;
  sd?: number;
  ci?: [number, number];
  /** For categorical values: each category's share with a Wilson 95 % CI. */
  rates?: { value: string; count: number; share: number; ci: [number, number] }[];
}

/** Condition columns: the coordinates that are not unit identifiers, plus role and model. */
export function defaultGrouping(coordColumns: string[]): string[] {
  const by = coordColumns.filter((c) => !UNIT_COLUMNS.has(c));
  for (const c of ["role", "model"]) if (!by.includes(c)) by.push(c);
  return by;
}

/** Per-cell means (numbers) or rates (categories) with 95 % confidence intervals. */
export function summarize(
  store: RunStore,
  run: RunRecord,
  opts: { by?: string[]; names?: string[] } = {},
): { by: string[]; rows: SummaryRow[] } {
  const tidy = new TidyExport(store, run);
  const by = opts.by ?? defaultGrouping(tidy.coordColumns);
  for (const b of by) {
    if (!tidy.columns.includes(b))
      throw new Error(`no column "${b}" in run ${run.id}; columns: ${tidy.columns.join(", ")}`);
  }
  type Group = { name: string; group: Record<string, unknown>; values: unknown[]; invalid: number };
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
      g = { name, group, values: [], invalid: 0 };
      groups.set(key, g);
    }
    if (r.valid === true && r.value !== null && r.value !== undefined) g.values.push(r.value);
    else g.invalid++;
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
      const values = g.values
        .map((v) => (v as Record<string, unknown>)[f])
        .filter((v) => v !== null && v !== undefined && typeof v !== "object");
      expanded.set(`${key}.${f}`, { name: `${g.name}.${f}`, group: g.group, values, invalid: g.invalid });
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
          m.invalid += g.invalid;
        } else merged.set(key, { name, group, values: [...g.values], invalid: g.invalid });
      }
    }
    groups = merged;
  }
  const rows: SummaryRow[] = [];
  for (const g of groups.values()) {
    const numeric = g.values.length > 0 && g.values.every((v) => typeof v === "number");
    if (numeric) {
      const xs = g.values as number[];
      const n = xs.length;
      const mean = xs.reduce((a, b) => a + b, 0) / n;
      const sd = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : Number.NaN;
      const half = n > 1 ? tCritical975(n - 1) * (sd / Math.sqrt(n)) : Number.NaN;
      rows.push({
        name: g.name,
        group: g.group,
        n,
        invalid: g.invalid,
        kind: "mean",
        mean,
        sd,
        ci: [mean - half, mean + half],
      });
    } else {
      const counts = new Map<string, number>();
      for (const v of g.values) {
        const k = typeof v === "string" ? v : JSON.stringify(v);
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      const n = g.values.length;
      const rates = [...counts.entries()]
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .map(([value, count]) => ({ value, count, share: count / n, ci: wilson(count, n) }));
      rows.push({ name: g.name, group: g.group, n, invalid: g.invalid, kind: "rate", rates });
    }
  }
  // Keep each observation's cells together, in the order observations first appear.
  const order = [...new Set(rows.map((r) => r.name))];
  rows.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  return { by, rows };
}

/** Wilson score interval for a proportion, 95 %. */
export function wilson(k: number, n: number, z = 1.959963984540054): [number, number] {
  if (n === 0) return [Number.NaN, Number.NaN];
  const p = k / n;
  const denom = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denom;
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
    if (r.kind === "mean") {
      lines.push(
        `  ${cell || "all"}  n=${r.n}  mean ${fmt(r.mean)}  95% CI [${fmt(r.ci?.[0])}, ${fmt(r.ci?.[1])}]  sd ${fmt(r.sd)}${invalid}`,
      );
    } else {
      const parts = (r.rates ?? []).map(
        (x) => `${x.value} ${fmt(x.share)} [${fmt(x.ci[0])}, ${fmt(x.ci[1])}]`,
      );
      lines.push(`  ${cell || "all"}  n=${r.n}  ${parts.join("; ")}${invalid}`);
    }
  }
  return lines;
}
