import { ConfigError } from "../errors.js";
import { RunReader } from "../store/run-reader.js";
import type { RunRecord, RunStore } from "../store/run-store.js";
import type { BatchInfo, Transcript } from "../store/read-types.js";

export interface TranscriptSelection {
  /** One session, by key or 1-based number. */
  session?: string;
  /** At most this many sessions. */
  limit?: number;
}

/**
 * The transcripts `silico show` prints and the library's `show()` returns, one session at a time,
 * then (when `limit` cut the list) the number of sessions left out. Every attempt is included,
 * superseded ones too: a transcript is the record of what was said.
 */
export function* selectTranscripts(
  store: RunStore,
  run: RunRecord,
  opts: TranscriptSelection = {},
): Generator<Transcript, number> {
  const reader = new RunReader(store);
  const filter = { includeSuperseded: true, ...(opts.session ? { ref: opts.session } : {}) };
  if (opts.session !== undefined && reader.countSessions(run.id, filter) === 0)
    throw noSuchSession(reader, run, opts.session);
  let shown = 0;
  for (const t of reader.iterateTranscripts(run.id, filter)) {
    if (opts.limit !== undefined && shown >= opts.limit) return reader.countSessions(run.id, filter) - shown;
    shown++;
    yield t;
  }
  return 0;
}

/** Readable transcripts: every session's conversation with the parsed answers beneath each reply. */
export function* transcriptLines(
  store: RunStore,
  run: RunRecord,
  opts: TranscriptSelection = {},
): Generator<string> {
  const selected = selectTranscripts(store, run, opts);
  // The first read checks the selection, so a bad --session prints no header.
  let next = selected.next();
  yield `run ${run.id}  ${run.kind}${run.name ? ` "${run.name}"` : ""}  status ${run.status}  seed ${run.seed}`;
  yield* batchLines(run, new RunReader(store).batches(run.id));
  for (; !next.done; next = selected.next()) yield* transcriptText(next.value);
  if (next.value > 0) yield `… ${next.value} more sessions (use --limit or --session)`;
}

/** The order a batch's request outcomes are printed in. */
const OUTCOMES = ["succeeded", "errored", "expired", "cancelled", "pending"];

/**
 * A `--batch` run's provider batches, one line each: the provider's id (to look it up in the
 * provider's console), the model, its last status and how its requests ended. Nothing for a run
 * that sent no batch and was not started with `--batch`.
 */
export function* batchLines(run: RunRecord, batches: BatchInfo[]): Generator<string> {
  if (batches.length === 0) {
    if (run.settings.batch === true)
      yield "batch run: no batch submitted (every call came from the cache, or none was ready)";
    return;
  }
  yield `batch run: ${batches.length} ${batches.length === 1 ? "batch" : "batches"}`;
  for (const b of batches) {
    const known = OUTCOMES.filter((o) => (b.outcomes[o] ?? 0) > 0);
    const others = Object.keys(b.outcomes).filter((o) => !OUTCOMES.includes(o) && (b.outcomes[o] ?? 0) > 0);
    const outcomes = [...known, ...others].map((o) => `${b.outcomes[o]} ${o}`).join(", ");
    yield `  ${b.id ?? "(never reached the provider)"}  ${b.model} (${b.provider})  ${b.status}  ${b.requests} ${b.requests === 1 ? "request" : "requests"}${outcomes ? `: ${outcomes}` : ""}`;
  }
}

/** One session's transcript as text lines (a blank line first). */
export function* transcriptText(t: Transcript): Generator<string> {
  const s = t.session;
  const coords = Object.entries(s.coords)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join("  ");
  yield "";
  yield `── session ${s.index + 1}  ${s.key}  [${s.status}]${s.error ? `  ${s.error}` : ""}`;
  yield `   ${coords}`;
  for (const m of t.messages) {
    const text = m.content.replace(/\n/g, "\n      ");
    yield `   [${m.participant}] ${m.role}: ${text}`;
    for (const o of m.observations) {
      yield o.valid
        ? `      → ${o.name} = ${JSON.stringify(o.value)}${o.attempts > 1 ? `  (after ${o.attempts} attempts)` : ""}`
        : `      → ${o.name} INVALID: ${o.reason}`;
    }
  }
  for (const o of t.loose) {
    const own = JSON.stringify(o.coords);
    yield `   · ${o.participant ?? "session"} ${o.name} = ${JSON.stringify(o.value)}  ${own !== "{}" ? own : ""}`.trimEnd();
  }
}

/** `--session` named nothing: say what the run has, by number and by key. */
function noSuchSession(reader: RunReader, run: RunRecord, session: string): ConfigError {
  const count = reader.countSessions(run.id);
  if (count === 0)
    return new ConfigError(
      "bad_flag",
      `no session "${session}" in run ${run.id}: it has no sessions recorded`,
    );
  const n = (reader.sessions(run.id, {}, { offset: count - 1, limit: 1 }).items[0]?.index ?? 0) + 1;
  const shown = reader.sessions(run.id, {}, { limit: 3 }).items.map((s) => JSON.stringify(s.key));
  return new ConfigError(
    "bad_flag",
    `no session "${session}" in run ${run.id}; sessions are ${n === 1 ? "1" : `1–${n}`} by number, or keys such as ${shown.join(", ")}${count > 3 ? ", …" : ""}`,
  );
}
