import { ConfigError } from "../errors.js";
import type { RunRecord, RunStore } from "../store/run-store.js";

interface SessionRow {
  key: string;
  idx: number;
  coords: string;
  status: string;
  error: string | null;
}

/** Readable transcripts: every session's conversation with the parsed answers beneath each reply. */
export function* transcriptLines(
  store: RunStore,
  run: RunRecord,
  opts: { session?: string; limit?: number } = {},
): Generator<string> {
  const sessions = store.db
    .prepare(
      `SELECT key, idx, coords, status, error FROM sessions WHERE run_id = ? ${opts.session ? "AND (key = ? OR CAST(idx + 1 AS TEXT) = ?)" : ""} ORDER BY idx, key`,
    )
    .all(...(opts.session ? [run.id, opts.session, opts.session] : [run.id])) as SessionRow[];
  if (opts.session !== undefined && sessions.length === 0) throw noSuchSession(store, run, opts.session);
  const messages = store.db.prepare(
    "SELECT pid, role, content, call_id FROM messages WHERE run_id = ? AND session_key = ? ORDER BY seq",
  );
  const observations = store.db.prepare(
    "SELECT pid, name, value, valid, reason, attempts, call_id, coords FROM observations WHERE run_id = ? AND session_key = ? ORDER BY seq",
  );
  yield `run ${run.id}  ${run.kind}${run.name ? ` "${run.name}"` : ""}  status ${run.status}  seed ${run.seed}`;
  let shown = 0;
  for (const s of sessions) {
    if (opts.limit !== undefined && shown >= opts.limit) {
      yield `… ${sessions.length - shown} more sessions (use --limit or --session)`;
      return;
    }
    shown++;
    const coords = Object.entries(JSON.parse(s.coords) as Record<string, unknown>)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join("  ");
    yield "";
    yield `── session ${s.idx + 1}  ${s.key}  [${s.status}]${s.error ? `  ${s.error}` : ""}`;
    yield `   ${coords}`;
    const obs = observations.all(run.id, s.key) as {
      pid: string | null;
      name: string;
      value: string | null;
      valid: number;
      reason: string | null;
      attempts: number;
      call_id: number | null;
      coords: string;
    }[];
    const byCall = new Map<number, typeof obs>();
    const loose: typeof obs = [];
    for (const o of obs) {
      if (o.call_id === null) loose.push(o);
      else byCall.set(o.call_id, [...(byCall.get(o.call_id) ?? []), o]);
    }
    for (const m of messages.all(run.id, s.key) as {
      pid: string;
      role: string;
      content: string;
      call_id: number | null;
    }[]) {
      const text = m.content.replace(/\n/g, "\n      ");
      yield `   [${m.pid}] ${m.role}: ${text}`;
      if (m.role === "assistant" && m.call_id !== null) {
        for (const o of byCall.get(m.call_id) ?? []) {
          yield o.valid
            ? `      → ${o.name} = ${o.value}${o.attempts > 1 ? `  (after ${o.attempts} attempts)` : ""}`
            : `      → ${o.name} INVALID: ${o.reason}`;
        }
      }
    }
    for (const o of loose) {
      yield `   · ${o.pid ?? "session"} ${o.name} = ${o.value}  ${o.coords !== "{}" ? o.coords : ""}`.trimEnd();
    }
  }
}

/** `--session` named nothing: say what the run has, by number and by key. */
function noSuchSession(store: RunStore, run: RunRecord, session: string): ConfigError {
  const keys = store.db
    .prepare("SELECT key FROM sessions WHERE run_id = ? AND status != 'superseded' ORDER BY idx, key")
    .pluck()
    .all(run.id) as string[];
  if (keys.length === 0) {
    return new ConfigError(
      "bad_flag",
      `no session "${session}" in run ${run.id}: it has no sessions recorded`,
    );
  }
  const n = store.db
    .prepare("SELECT max(idx) + 1 FROM sessions WHERE run_id = ? AND status != 'superseded'")
    .pluck()
    .get(run.id) as number;
  const shown = keys.slice(0, 3).map((k) => JSON.stringify(k));
  return new ConfigError(
    "bad_flag",
    `no session "${session}" in run ${run.id}; sessions are ${n === 1 ? "1" : `1–${n}`} by number, or keys such as ${shown.join(", ")}${keys.length > 3 ? ", …" : ""}`,
  );
}
