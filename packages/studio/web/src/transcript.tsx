import { useEffect, useState } from "preact/hooks";
import { api, fmt } from "./api";

interface Message {
  seq: number;
  participant: string;
  role: string;
  content: string;
  callId: number | null;
  reask: boolean;
  observations: { name: string; value: unknown; valid: boolean; reason: string | null }[];
}

interface TranscriptData {
  session: { key: string; index: number; status: string; coords: Record<string, unknown> };
  participants: { id: string; role: string | null; model: string; messages: Message[] }[];
  loose: { name: string; participant: string | null; value: unknown; coords: Record<string, unknown> }[];
}

/** One session as chat bubbles per participant; the raw request and response of a call one click away. */
export function TranscriptView({
  runId,
  sessionKey,
  onClose,
}: {
  runId: string;
  sessionKey: string;
  onClose: () => void;
}) {
  const [t, setT] = useState<TranscriptData | null>(null);
  const [raw, setRaw] = useState<unknown>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setT(null);
    api<TranscriptData>(`/api/runs/${encodeURIComponent(runId)}/transcript/${encodeURIComponent(sessionKey)}`)
      .then(setT)
      .catch((e: Error) => setError(e.message));
  }, [runId, sessionKey]);
  const openCall = (id: number) =>
    api(`/api/runs/${encodeURIComponent(runId)}/calls/${id}`)
      .then(setRaw)
      .catch((e: Error) => setError(e.message));
  if (error) return <p class="error">{error}</p>;
  if (!t) return <p>Loading transcript…</p>;
  return (
    <section class="transcript" data-testid="transcript">
      <h2>
        Session {t.session.index + 1} <small>{t.session.key}</small>{" "}
        <span class={`status ${t.session.status}`}>{t.session.status}</span>{" "}
        <button type="button" onClick={onClose}>
          Close
        </button>
      </h2>
      <div class="columns">
        {t.participants.map((p) => (
          <div class="chat" key={p.id}>
            <h3>
              {p.id} <small>{p.model}</small>
            </h3>
            {p.messages.map((m) => (
              <div class={`bubble ${m.role}${m.reask ? " reask" : ""}`} key={m.seq}>
                <div class="who">
                  {m.role}
                  {m.reask ? " (re-ask)" : ""}
                </div>
                <div class="text">{m.content}</div>
                {m.observations.map((o) => (
                  <span class={`obs ${o.valid ? "valid" : "invalid"}`} key={o.name}>
                    {o.name} = {fmt(typeof o.value === "object" ? JSON.stringify(o.value) : o.value)}
                    {o.valid ? "" : ` (invalid: ${o.reason})`}
                  </span>
                ))}
                {m.callId !== null ? (
                  <button type="button" class="link" onClick={() => openCall(m.callId as number)}>
                    raw call
                  </button>
                ) : null}
              </div>
            ))}
          </div>
        ))}
      </div>
      {t.loose.length > 0 ? (
        <p>
          {t.loose.map((o, i) => (
            <span class="obs valid" key={i}>
              {o.participant} {o.name} = {fmt(o.value)}{" "}
              {o.coords.round !== undefined ? `(round ${o.coords.round})` : ""}
            </span>
          ))}
        </p>
      ) : null}
      {raw ? (
        <div class="raw" data-testid="raw-call">
          <button type="button" onClick={() => setRaw(null)}>
            Close raw call
          </button>
          <pre>{JSON.stringify(raw, null, 2)}</pre>
        </div>
      ) : null}
    </section>
  );
}
