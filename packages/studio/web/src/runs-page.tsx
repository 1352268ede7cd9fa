import { useEffect, useState } from "preact/hooks";
import { api, type RunInfo } from "./api";

/** The runs list, refreshed every two seconds so runs started elsewhere (the CLI) show up live. */
export function RunsPage() {
  const [runs, setRuns] = useState<RunInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [picked, setPicked] = useState<string[]>([]);
  useEffect(() => {
    let stop = false;
    const load = () =>
      api<{ items: RunInfo[] }>("/api/runs?limit=200")
        .then((r) => !stop && setRuns(r.items))
        .catch((e: Error) => !stop && setError(e.message));
    void load();
    const t = setInterval(load, 2000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, []);
  const toggle = (id: string) =>
    setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p, id].slice(-2)));
  if (error) return <p class="error">{error}</p>;
  if (!runs) return <p>Loading…</p>;
  return (
    <section>
      <h1>Runs</h1>
      <p>
        <button
          type="button"
          disabled={picked.length !== 2}
          onClick={() => {
            location.hash = `#/compare/${picked[0]}/${picked[1]}`;
          }}
        >
          Compare the two selected runs
        </button>
      </p>
      {runs.length === 0 ? (
        <p>
          No runs in this store yet. Build a study and run it, or run one with <code>silico run</code>.
        </p>
      ) : (
        <table class="grid" data-testid="runs">
          <thead>
            <tr>
              <th />
              <th>run</th>
              <th>status</th>
              <th>kind</th>
              <th>name</th>
              <th>models</th>
              <th>sessions</th>
              <th>cost</th>
              <th>date</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id}>
                <td>
                  <input
                    type="checkbox"
                    checked={picked.includes(r.id)}
                    onChange={() => toggle(r.id)}
                    aria-label={`select ${r.id}`}
                  />
                </td>
                <td>
                  <a href={`#/run/${r.id}`}>{r.id}</a>
                </td>
                <td class={`status ${r.status}`}>{r.status}</td>
                <td>{r.kind}</td>
                <td>{r.name ?? ""}</td>
                <td>{r.models.join(", ")}</td>
                <td>{r.totalSessions}</td>
                <td>{r.costUsd === null ? "" : `$${r.costUsd.toFixed(4)}`}</td>
                <td>{r.createdAt.replace("T", " ").slice(0, 19)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
