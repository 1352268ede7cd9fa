import * as Plot from "@observablehq/plot";
import { useEffect, useRef } from "preact/hooks";
import type { PlotData, Scalar } from "./api";

/** A rendered Observable Plot figure, replaced whenever its builder changes. */
export function Figure({
  make,
  testid,
}: {
  make: () => (SVGSVGElement | HTMLElement) | null;
  testid: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const fig = make();
    el.replaceChildren(...(fig ? [fig] : []));
  }, [make]);
  return <div class="figure" data-testid={testid} ref={ref} />;
}

interface Point {
  x: string;
  facet: string;
  series: string;
  mean: number;
  lo: number;
  hi: number;
  n: number;
}

const label = (g: Record<string, Scalar>, keys: string[]) => keys.map((k) => String(g[k])).join(" · ");

/**
 * Means with their 95 % intervals: the first grouping column on the x axis, rounds as facets, the
 * other columns (or the run, when comparing) as colours. Every series shares one y axis.
 */
export function meansFigure(sets: { run?: string; data: PlotData }[]): SVGSVGElement | HTMLElement | null {
  const points: Point[] = [];
  for (const { run, data } of sets) {
    const [xKey, ...rest] = data.by.filter((b) => b !== "round");
    const hasRound = data.by.includes("round");
    for (const m of data.means) {
      points.push({
        x: xKey ? String(m.group[xKey]) : "all",
        facet: hasRound ? `round ${m.group.round}` : "",
        series: [run, label(m.group, rest)].filter(Boolean).join(" · ") || "mean",
        mean: m.mean,
        lo: m.lo,
        hi: m.hi,
        n: m.n,
      });
    }
  }
  if (points.length === 0) return null;
  const faceted = points.some((p) => p.facet !== "");
  const series = new Set(points.map((p) => p.series)).size;
  // Several series (conditions, or compared runs) sit side by side within each x category, so
  // equal means do not hide each other; rounds then become rows of facets.
  const dodge = series > 1;
  const where = dodge
    ? { fx: "x", x: "series", ...(faceted ? { fy: "facet" } : {}) }
    : { x: "x", ...(faceted ? { fx: "facet" } : {}) };
  const xLabel = sets[0]?.data.by.filter((b) => b !== "round")[0] ?? "";
  return Plot.plot({
    marginLeft: 50,
    marginBottom: 40,
    width: 720,
    height: dodge && faceted ? 480 : 300,
    y: { label: `mean of ${sets[0]?.data.name} (95 % CI)`, grid: true },
    x: dodge ? { axis: null } : { label: xLabel },
    color: { legend: dodge },
    ...(dodge ? { fx: { label: xLabel } } : faceted ? { fx: { label: null } } : {}),
    ...(dodge && faceted ? { fy: { label: null } } : {}),
    marks: [
      Plot.ruleX(points, {
        ...where,
        y1: "lo",
        y2: "hi",
        stroke: dodge ? "series" : "steelblue",
        strokeWidth: 2,
        ariaDescription: "interval",
      }),
      Plot.dot(points, {
        ...where,
        y: "mean",
        fill: dodge ? "series" : "steelblue",
        r: 5,
        ariaDescription: "mean",
        tip: true,
        title: (p: Point) =>
          `${p.series}\n${p.x}: ${p.mean.toFixed(3)} [${p.lo.toFixed(3)}, ${p.hi.toFixed(3)}], n=${p.n}`,
      }),
    ],
  });
}

/** Shares of each answer with Wilson intervals, per cell; compared runs side by side in colour. */
export function sharesFigure(sets: { run?: string; data: PlotData }[]): SVGSVGElement | HTMLElement | null {
  const rows = sets.flatMap(({ run, data }) =>
    data.shares.map((s) => ({
      cell: label(s.group, data.by) || "all",
      value: s.value,
      series: [run, s.value].filter(Boolean).join(" · "),
      share: s.share,
      lo: s.lo,
      hi: s.hi,
    })),
  );
  if (rows.length === 0) return null;
  return Plot.plot({
    marginLeft: 50,
    marginBottom: 60,
    width: 720,
    height: 300,
    y: { label: "share (95 % CI)", domain: [0, 1], grid: true },
    x: { label: null, tickRotate: -20 },
    fx: { label: null },
    color: { legend: true },
    marks: [
      Plot.barY(rows, { fx: "cell", x: "series", y: "share", fill: "series", ariaDescription: "share" }),
      Plot.ruleX(rows, {
        fx: "cell",
        x: "series",
        y1: "lo",
        y2: "hi",
        stroke: "black",
        ariaDescription: "interval",
      }),
    ],
  });
}

/** A histogram of numeric answers (binned on the server). */
export function histogramFigure(data: PlotData): SVGSVGElement | HTMLElement | null {
  if (data.bins.length === 0) return null;
  const key = data.by[0];
  const bins = data.bins.map((b) => ({ ...b, series: key ? String(b.group[key]) : "all" }));
  return Plot.plot({
    width: 720,
    height: 220,
    marginLeft: 50,
    y: { label: "count", grid: true },
    x: { label: data.name ?? "" },
    color: { legend: true },
    marks: [
      Plot.rectY(bins, {
        x1: "x0",
        x2: "x1",
        y: "count",
        fill: "series",
        fillOpacity: 0.6,
        ariaDescription: "bin",
      }),
      Plot.ruleY([0]),
    ],
  });
}
