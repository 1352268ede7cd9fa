import { useCallback, useEffect, useState } from "preact/hooks";
import { api, type PlotData, type RunDetail } from "./api";
import { Figure, meansFigure, sharesFigure } from "./plots";
import { defaultBy, PlotControls, SummaryTable } from "./run-page";

/** Two runs side by side, their plots on one axis (the same study on two models, say). */
export function ComparePage({ a, b }: { a: string; b: string }) {
  const [runs, setRuns] = useState<[RunDetail, RunDetail] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [by, setBy] = useState<string[]>([]);
  const [data, setData] = useState<[PlotData, PlotData] | null>(null);
  useEffect(() => {
    Promise.all([a, b].map((id) => api<RunDetail>(`/api/runs/${encodeURIComponent(id)}`)))
      .then(([x, y]) => {
        setRuns([x as RunDetail, y as RunDetail]);
        setName(
          (x as RunDetail).observationNames.find((n) => (y as RunDetail).observationNames.includes(n)) ?? "",
        );
        setBy(defaultBy(x as RunDetail));
      })
      .catch((e: Error) => setError(e.message));
  }, [a, b]);
  useEffect(() => {
    if (!runs || !name) return;
    Promise.all(
      runs.map((r) =>
        api<PlotData>(
          `/api/runs/${encodeURIComponent(r.id)}/plot?name=${encodeURIComponent(name)}&by=${by.join(",")}`,
        ),
      ),
    )
      .then(([x, y]) => setData([x as PlotData, y as PlotData]))
      .catch((e: Error) => setError(e.message));
  }, [runs, name, by.join(",")]);
  const sets = useCallback(
    () =>
      data && runs
        ? [
            { run: runs[0].id, data: data[0] },
            { run: runs[1].id, data: data[1] },
          ]
        : [],
    [data, runs],
  );
  const means = useCallback(() => meansFigure(sets()), [sets]);
  const shares = useCallback(() => sharesFigure(sets()), [sets]);
  if (error) return <p class="error">{error}</p>;
  if (!runs) return <p>Loading…</p>;
  return (
    <section>
      <h1>Compare</h1>
      <PlotControls run={runs[0]} name={name} by={by} setName={setName} setBy={setBy} />
      {data?.[0].kind === "mean" ? <Figure make={means} testid="compare-means" /> : null}
      {data?.[0].kind === "share" ? <Figure make={shares} testid="compare-shares" /> : null}
      <div class="columns">
        {runs.map((r) => (
          <div key={r.id}>
            <h2>
              <a href={`#/run/${r.id}`}>{r.id}</a> <small>{r.models.join(", ")}</small>
            </h2>
            <SummaryTable runId={r.id} />
          </div>
        ))}
      </div>
    </section>
  );
}
