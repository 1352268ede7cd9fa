import { useCallback, useEffect, useState } from "preact/hooks";
import { api, fmt, type PlotData, type RunDetail, type Scalar, type SummaryRow } from "./api";
import { Figure, histogramFigure, meansFigure, sharesFigure } from "./plots";
import { ProgressPanel } from "./progress";
import { TranscriptView } from "./transcript";
import { VirtualTable } from "./virtual-table";

const UNIT_COLUMNS = new Set(["draw", "group", "session", "participant", "trial", "list", "item"]);

/**
 * The run, first with the design's columns only (what the first paint needs, at once), then with
 * every column the observations carry (a scan of a large run's rows, done meanwhile).
 */
function useDetail(id: string) {
  const [run, setRun] = useState<RunDetail | null>(null);
  const [complete, setComplete] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    let full = false;
    const base = `/api/runs/${encodeURIComponent(id)}`;
    api<RunDetail>(`${base}?light=1`)
      .then((r) => full || setRun(r))
      .catch((e: Error) => setError(e.message));
    api<RunDetail>(base)
      .then((r) => {
        full = true;
        setRun(r);
        setComplete(true);
      })
      .catch((e: Error) => setError(e.message));
  }, [id]);
  useEffect(load, [load]);
  return { run, complete, error, reload: load };
}

export function RunPage({ id }: { id: string }) {
  const { run, complete, error, reload } = useDetail(id);
  const [session, setSession] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  // Once a run is seen running, its progress stays on the page after it ends (the final state).
  const [live, setLive] = useState(false);
  const [attempt, setAttempt] = useState(0);
  // The sessions page is drawn first; the heavier aggregates are asked for once it is there.
  const [shown, setShown] = useState(false);
  const [observations, setObservations] = useState<number | null>(null);
  useEffect(() => {
    if (!shown || !run) return;
    api<{ observations: number }>(`/api/runs/${encodeURIComponent(run.id)}/counts`).then((c) =>
      setObservations(c.observations),
    );
  }, [shown, run?.status, run?.id]);
  useEffect(() => {
    if (run?.status === "running") setLive(true);
  }, [run?.status]);
  if (error) return <p class="error">{error}</p>;
  if (!run) return <p>Loading…</p>;
  const resumable = ["interrupted", "stopped", "partial", "failed"].includes(run.status);
  return (
    <section>
      <h1>
        {run.name ?? run.kind} <small>{run.id}</small>{" "}
        <span class={`status ${run.status}`} data-testid="run-status">
          {run.status}
        </span>
      </h1>
      <p>
        {run.kind} · {run.models.join(", ")} · {run.totalSessions} sessions
        {observations !== null ? ` · ${observations} observations` : ""}
        {run.costUsd !== null ? ` · $${run.costUsd.toFixed(4)}` : ""} ·{" "}
        {run.createdAt.slice(0, 19).replace("T", " ")}
      </p>
      {live || run.status === "running" ? (
        <ProgressPanel
          key={`pp${attempt}`}
          runId={run.id}
          onEnd={() => {
            reload();
            setTick((t) => t + 1);
          }}
        />
      ) : null}
      {resumable ? (
        <p>
          <button
            type="button"
            onClick={() =>
              api(`/api/runs/${encodeURIComponent(run.id)}/resume`, { body: {} }).then(() => {
                setLive(true);
                setAttempt((a) => a + 1);
                reload();
              })
            }
          >
            Resume
          </button>
        </p>
      ) : null}
      <Exports run={run} />
      {shown ? <SummaryTable runId={run.id} key={`s${tick}-${run.status}`} /> : null}
      {shown && complete ? (
        <Plots
          run={run}
          key={`p${tick}-${run.status}-${run.observationNames.join(",")}-${run.coordinateColumns.join(",")}`}
        />
      ) : null}
      <Sessions
        run={run}
        onOpen={setSession}
        onLoaded={() => setShown(true)}
        key={`t${tick}-${run.status}`}
      />
      {session ? (
        <TranscriptView runId={run.id} sessionKey={session} onClose={() => setSession(null)} />
      ) : null}
      {shown && complete ? (
        <Observations
          run={run}
          onOpen={setSession}
          key={`o${tick}-${run.status}-${run.coordinateColumns.join(",")}`}
        />
      ) : null}
    </section>
  );
}

function Exports({ run }: { run: RunDetail }) {
  const base = `/api/runs/${encodeURIComponent(run.id)}/export?format=`;
  const links: [string, string][] = [
    ["csv", "csv"],
    ["jsonl", "jsonl"],
    ["xlsx", "xlsx"],
    ["parquet", "parquet"],
    ["csv&layout=wide", "csv (wide)"],
    ["jsonl&layout=wide", "jsonl (wide)"],
    ["xlsx&layout=wide", "xlsx (wide)"],
    ["parquet&layout=wide", "parquet (wide)"],
    ...(run.kind === "alter_ego" ? ([["ego", "ego (alter_ego CSV)"]] as [string, string][]) : []),
    ...(run.kind === "otree" ? ([["otree", "otree (oTree's wide CSV)"]] as [string, string][]) : []),
    ...(run.kind === "stimuli"
      ? ([
          ["csv&layout=macbehaviour", "csv (MacBehaviour)"],
          ["xlsx&layout=macbehaviour", "xlsx (MacBehaviour)"],
        ] as [string, string][])
      : []),
  ];
  return (
    <p class="exports">
      Download:{" "}
      {links.map(([q, label]) => (
        <a
          key={q}
          href={`${base}${q}`}
          download
          data-testid={`export-${q.split("&")[0]}${q.includes("macbehaviour") ? "-mb" : q.includes("wide") ? "-wide" : ""}`}
        >
          {label}
        </a>
      ))}
    </p>
  );
}

export function SummaryTable({ runId }: { runId: string }) {
  const [rows, setRows] = useState<{ by: string[]; rows: SummaryRow[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<{ by: string[]; rows: SummaryRow[] }>(`/api/runs/${encodeURIComponent(runId)}/summary`)
      .then(setRows)
      .catch((e: Error) => setError(e.message));
  }, [runId]);
  if (error) return <p class="error">{error}</p>;
  if (!rows) return <p>Computing the summary…</p>;
  return (
    <details open>
      <summary>
        <h2>Summary (95 % confidence intervals)</h2>
      </summary>
      <table class="grid" data-testid="summary">
        <thead>
          <tr>
            <th>observation</th>
            {rows.by.map((b) => (
              <th key={b}>{b}</th>
            ))}
            <th>n</th>
            <th>invalid</th>
            <th>mean / shares</th>
            <th>95 % CI</th>
          </tr>
        </thead>
        <tbody>
          {rows.rows.map((r, i) => (
            <tr key={i}>
              <td>{r.name}</td>
              {rows.by.map((b) => (
                <td key={b}>{fmt(r.group[b])}</td>
              ))}
              <td>{r.n}</td>
              <td>{r.invalid}</td>
              <td>
                {r.kind === "mean"
                  ? fmt(r.mean)
                  : (r.rates ?? []).map((x) => `${x.value} ${(100 * x.share).toFixed(1)} %`).join(", ")}
              </td>
              <td>
                {r.kind === "mean" && r.ci
                  ? `[${fmt(r.ci[0])}, ${fmt(r.ci[1])}]`
                  : (r.rates ?? [])
                      .map((x) => `[${(100 * x.ci[0]).toFixed(1)}, ${(100 * x.ci[1]).toFixed(1)}]`)
                      .join(", ")}
                {r.clustered ? ` (clustered by ${r.clustered.by}, ${r.clustered.clusters})` : ""}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

/** Grouping columns offered for plots: the run's coordinates that are conditions, not units. */
export function plotColumns(run: RunDetail): string[] {
  return [...run.coordinateColumns.filter((c) => !UNIT_COLUMNS.has(c)), "role"].filter(
    (c, i, a) => a.indexOf(c) === i,
  );
}

export function defaultBy(run: RunDetail): string[] {
  const cols = plotColumns(run);
  const first = cols.includes("treatment")
    ? "treatment"
    : cols.find((c) => c !== "model" && c !== "round" && c !== "role");
  return [first, cols.includes("round") && run.kind === "game" ? "round" : undefined].filter(
    (x): x is string => !!x,
  );
}

export function PlotControls({
  run,
  name,
  by,
  setName,
  setBy,
}: {
  run: RunDetail;
  name: string;
  by: string[];
  setName: (n: string) => void;
  setBy: (b: string[]) => void;
}) {
  return (
    <p class="controls">
      <label>
        observation{" "}
        <select
          value={name}
          onChange={(e) => setName((e.target as HTMLSelectElement).value)}
          data-testid="plot-name"
        >
          {run.observationNames.map((n) => (
            <option key={n}>{n}</option>
          ))}
        </select>
      </label>{" "}
      by{" "}
      {plotColumns(run).map((c) => (
        <label key={c} class="check">
          <input
            type="checkbox"
            checked={by.includes(c)}
            data-testid={`plot-by-${c}`}
            onChange={() => setBy(by.includes(c) ? by.filter((x) => x !== c) : [...by, c])}
          />
          {c}
        </label>
      ))}
    </p>
  );
}

function Plots({ run }: { run: RunDetail }) {
  const [name, setName] = useState(run.observationNames[0] ?? "");
  const [by, setBy] = useState<string[]>(defaultBy(run));
  const [data, setData] = useState<PlotData | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!name) return;
    setData(null);
    api<PlotData>(
      `/api/runs/${encodeURIComponent(run.id)}/plot?name=${encodeURIComponent(name)}&by=${by.join(",")}`,
    )
      .then(setData)
      .catch((e: Error) => setError(e.message));
  }, [run.id, name, by.join(",")]);
  const means = useCallback(() => (data ? meansFigure([{ data }]) : null), [data]);
  const shares = useCallback(() => (data ? sharesFigure([{ data }]) : null), [data]);
  const hist = useCallback(() => (data ? histogramFigure(data) : null), [data]);
  if (!name) return null;
  return (
    <details open>
      <summary>
        <h2>Plots</h2>
      </summary>
      <PlotControls run={run} name={name} by={by} setName={setName} setBy={setBy} />
      {error ? <p class="error">{error}</p> : null}
      {!data ? <p>Aggregating…</p> : null}
      {data?.kind === "mean" ? (
        <>
          <Figure make={means} testid="plot-means" />
          <Figure make={hist} testid="plot-histogram" />
        </>
      ) : null}
      {data?.kind === "share" ? <Figure make={shares} testid="plot-shares" /> : null}
      {data?.kind === "none" ? <p>No valid answers to plot.</p> : null}
    </details>
  );
}

interface SessionRow {
  key: string;
  index: number;
  status: string;
  coords: Record<string, unknown>;
  error: string | null;
}

interface ObservationRow {
  id: number;
  sessionKey: string;
  sessionIndex: number;
  participant: string | null;
  role: string | null;
  model: string | null;
  name: string;
  coords: Record<string, unknown>;
  value: unknown;
  raw: string | null;
  valid: boolean;
  reason: string | null;
}

/** The query of a listing's filters (empty values left out). */
function filterQuery(filters: Record<string, string>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v !== "") q.set(k, v);
  return q.toString();
}

function FilterSelect({
  label,
  value,
  values,
  onChange,
  testid,
}: {
  label: string;
  value: string;
  values: (string | [string, string])[];
  onChange: (v: string) => void;
  testid?: string;
}) {
  return (
    <select
      value={value}
      onChange={(e) => onChange((e.target as HTMLSelectElement).value)}
      data-testid={testid}
    >
      <option value="">{label}</option>
      {values.map((v) => {
        const [val, text] = Array.isArray(v) ? v : [v, v];
        return (
          <option key={val} value={val}>
            {text}
          </option>
        );
      })}
    </select>
  );
}

const STATUS_OPTIONS = ["valid", "invalid", "tainted", "failed"];

function Sessions({
  run,
  onOpen,
  onLoaded,
}: {
  run: RunDetail;
  onOpen: (key: string) => void;
  onLoaded: () => void;
}) {
  const [filters, setFilters] = useState<Record<string, string>>({});
  const [coords, setCoords] = useState<Record<string, Scalar[]>>({});
  // The session coordinates (round, stage, role … belong to observations), from the first rows.
  const [sessionKeys, setSessionKeys] = useState<Set<string>>(new Set());
  const base = `/api/runs/${encodeURIComponent(run.id)}`;
  const firstItems = (items: SessionRow[]) => {
    if (sessionKeys.size === 0 && items.length > 0)
      setSessionKeys(new Set(items.flatMap((s) => Object.keys(s.coords))));
  };
  const loaded = () => {
    // The results page's first paint, for the bench (bench/studio-bench.mjs reads this mark).
    if (performance.getEntriesByName("silico:first-paint").length === 0)
      performance.mark("silico:first-paint");
    onLoaded();
    api<Record<string, Scalar[]>>(`${base}/coordinates`).then(setCoords);
  };
  const cols = run.coordinateColumns.filter((c) => c !== "model" && sessionKeys.has(c));
  const set = (k: string) => (v: string) => setFilters({ ...filters, [k]: v });
  const url = `${base}/sessions?${filterQuery(filters)}`;
  return (
    <details open>
      <summary>
        <h2>Sessions</h2>
      </summary>
      <p class="controls">
        <FilterSelect
          label="all statuses"
          value={filters.status ?? ""}
          values={STATUS_OPTIONS}
          onChange={set("status")}
          testid="filter-status"
        />
        <FilterSelect
          label="all models"
          value={filters.model ?? ""}
          values={run.models}
          onChange={set("model")}
        />
        <CoordinateFilters
          coords={coords}
          only={sessionKeys}
          filters={filters}
          set={set}
          testidPrefix="filter-"
        />
      </p>
      <VirtualTable<SessionRow>
        key={url}
        url={url}
        countUrl={`${base}/sessions/count?${filterQuery(filters)}`}
        testid="sessions"
        rowKey={(s) => s.key}
        onLoaded={loaded}
        onFirstItems={firstItems}
        columns={[
          { head: "#", width: "6em", cell: (s) => s.index + 1 },
          { head: "status", width: "7em", cell: (s) => <span class={`status ${s.status}`}>{s.status}</span> },
          ...cols.map((c) => ({ head: c, cell: (s: SessionRow) => fmt(s.coords[c]) })),
          {
            head: "",
            width: "7em",
            cell: (s) => (
              <button type="button" class="link" onClick={() => onOpen(s.key)} data-testid="open-transcript">
                transcript
              </button>
            ),
          },
        ]}
      />
    </details>
  );
}

/** One select per coordinate worth filtering by: 2 to 50 values, not a unit column or the model. */
function CoordinateFilters({
  coords,
  only,
  filters,
  set,
  testidPrefix,
}: {
  coords: Record<string, Scalar[]>;
  /** Only these coordinates (the sessions table: the sessions' own). */
  only?: Set<string>;
  filters: Record<string, string>;
  set: (key: string) => (value: string) => void;
  testidPrefix: string;
}) {
  const filterable = Object.entries(coords).filter(
    ([k, v]) =>
      (only === undefined || only.has(k)) &&
      !UNIT_COLUMNS.has(k) &&
      k !== "model" &&
      v.length > 1 &&
      v.length <= 50,
  );
  return (
    <>
      {filterable.map(([k, values]) => (
        <FilterSelect
          key={k}
          label={`all ${k}`}
          value={filters[`coord.${k}`] ?? ""}
          values={values.map(String)}
          onChange={set(`coord.${k}`)}
          testid={`${testidPrefix}${k}`}
        />
      ))}
    </>
  );
}

const json = (v: unknown): string => (v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v));

function Observations({ run, onOpen }: { run: RunDetail; onOpen: (key: string) => void }) {
  const [filters, setFilters] = useState<Record<string, string>>({});
  const [coords, setCoords] = useState<Record<string, Scalar[]>>({});
  const base = `/api/runs/${encodeURIComponent(run.id)}`;
  useEffect(() => {
    api<Record<string, Scalar[]>>(`${base}/coordinates`).then(setCoords);
  }, [run.id]);
  const set = (k: string) => (v: string) => setFilters({ ...filters, [k]: v });
  const url = `${base}/observations?${filterQuery(filters)}`;
  return (
    <details open>
      <summary>
        <h2>Observations</h2>
      </summary>
      <p class="controls">
        <FilterSelect
          label="all observations"
          value={filters.name ?? ""}
          values={run.observationNames}
          onChange={set("name")}
          testid="obs-filter-name"
        />
        <FilterSelect
          label="valid and invalid"
          value={filters.valid ?? ""}
          values={[
            ["true", "valid answers"],
            ["false", "invalid answers"],
          ]}
          onChange={set("valid")}
          testid="obs-filter-valid"
        />
        <FilterSelect
          label="sessions of any status"
          value={filters.status ?? ""}
          values={STATUS_OPTIONS.map((s) => [s, `${s} sessions`] as [string, string])}
          onChange={set("status")}
          testid="obs-filter-status"
        />
        <FilterSelect
          label="all models"
          value={filters.model ?? ""}
          values={run.models}
          onChange={set("model")}
        />
        <CoordinateFilters coords={coords} filters={filters} set={set} testidPrefix="obs-filter-" />
      </p>
      <VirtualTable<ObservationRow>
        key={url}
        url={url}
        countUrl={`${base}/observations/count?${filterQuery(filters)}`}
        testid="observations"
        rowKey={(o) => String(o.id)}
        columns={[
          { head: "session", width: "6em", cell: (o) => o.sessionIndex + 1 },
          { head: "participant", width: "8em", cell: (o) => o.role ?? o.participant ?? "" },
          { head: "model", width: "11em", cell: (o) => o.model ?? "" },
          { head: "name", width: "8em", cell: (o) => o.name },
          {
            head: "at",
            width: "9em",
            cell: (o) =>
              Object.entries(o.coords)
                .map(([k, v]) => `${k}=${fmt(v)}`)
                .join(" "),
          },
          { head: "value", cell: (o) => json(o.value) },
          {
            head: "valid",
            width: "12em",
            cell: (o) =>
              o.valid ? (
                "✓"
              ) : (
                <span class="status invalid" title={o.reason ?? ""}>
                  ✗ {o.reason ?? ""}
                </span>
              ),
          },
          {
            head: "",
            width: "7em",
            cell: (o) => (
              <button type="button" class="link" onClick={() => onOpen(o.sessionKey)}>
                transcript
              </button>
            ),
          },
        ]}
      />
    </details>
  );
}
