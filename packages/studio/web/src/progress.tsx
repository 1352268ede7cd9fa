import { useEffect, useState } from "preact/hooks";
import { api, type Progress } from "./api";

/** Live progress from the server's event stream; offers cancel while running. */
export function ProgressPanel({ runId, onEnd }: { runId: string; onEnd: () => void }) {
  const [p, setP] = useState<Progress | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const es = new EventSource(`/api/runs/${encodeURIComponent(runId)}/progress`);
    es.addEventListener("progress", (e) => {
      const next = JSON.parse((e as MessageEvent<string>).data) as Progress;
      setP(next);
      if (next.status !== "running") {
        es.close();
        onEnd();
      }
    });
    es.onerror = () => es.close();
    return () => es.close();
  }, [runId]);
  if (!p) return <p>Connecting…</p>;
  const finished = p.done + p.invalid + p.failed;
  const pct = p.sessions > 0 ? Math.floor((100 * finished) / p.sessions) : 0;
  return (
    <div class="progress" data-testid="progress">
      <div class="bar">
        <div style={{ width: `${pct}%` }} />
      </div>
      <span data-testid="progress-pct">{pct} %</span> · {finished}/{p.sessions} sessions · {p.calls} calls ·
      retries {p.retries} · invalid answers {p.invalidAnswers}
      {p.failedCalls > 0 ? ` · failed calls ${p.failedCalls}` : ""} · ${p.costUsd.toFixed(4)}
      {p.status === "running" && p.etaSeconds !== null ? ` · ETA ${p.etaSeconds}s` : ""} ·{" "}
      <strong data-testid="progress-status">{p.status}</strong>
      {p.error ? <span class="error"> {p.error}</span> : null}
      {p.status === "running" ? (
        <button
          type="button"
          onClick={() =>
            api(`/api/runs/${encodeURIComponent(runId)}/cancel`, { body: {} }).catch((e: Error) =>
              setError(e.message),
            )
          }
        >
          Cancel
        </button>
      ) : null}
      {error ? <span class="error"> {error}</span> : null}
    </div>
  );
}
