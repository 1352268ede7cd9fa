/**
 * `silico data RUN --format ego`: the CSV that alter_ego's `ego data built EXPERIMENT` writes, so
 * scripts written for alter_ego read silico runs unchanged.
 *
 * Exactly as alter_ego: the header is the sorted union of the row keys
 * (`choice,convo,experiment,i,round,tainted,thread,thread_type,treatment`), lines end in CRLF,
 * fields are quoted like Python's csv module, `choice` is Python's `json.dumps` of the filtered
 * value, `tainted` is `True`/`False`, and a filter that returned None leaves a `null` row while one
 * that raised (or a failed call) leaves none. A run without rows prints a bare CRLF, as alter_ego does.
 *
 * Deliberately better: rows come in a stable order (conversation, round, thread position) instead
 * of alter_ego's random UUID order. Ids: `experiment` is the run id, `convo` the session key, and
 * `thread` the session key plus `/t<position>` (stable across resumes; alter_ego uses random UUIDs).
 * Conversations that have not finished (an interrupted run) are left out until resumed.
 */
import { ConfigError } from "../../errors.js";
import { fileSink, type Sink, stdoutSink } from "../../export/writers.js";
import type { ObservationInfo } from "../../store/read-types.js";
import { RunReader } from "../../store/run-reader.js";
import type { RunRecord, RunStore } from "../../store/run-store.js";
import { ALTER_EGO_KIND } from "./alter-ego-design.js";
import { applyFilter } from "./filters.js";
import { pythonJsonDumps } from "./python-json.js";
import { readFilter } from "./scenario.js";

export interface EgoRow {
  choice: string;
  convo: string;
  experiment: string;
  i: string;
  round: number;
  tainted: boolean;
  thread: string;
  thread_type: string;
  treatment: string;
}

const COLUMNS: (keyof EgoRow)[] = [
  "choice",
  "convo",
  "experiment",
  "i",
  "round",
  "tainted",
  "thread",
  "thread_type",
  "treatment",
];

/** Python `str()` of a cell value. */
function pyCell(v: unknown): string {
  if (v === true) return "True";
  if (v === false) return "False";
  if (v === null || v === undefined) return "";
  return String(v);
}

/** Python csv (excel dialect, QUOTE_MINIMAL): quote when the field holds `,`, `"`, CR or LF. */
export function pyCsvLine(fields: string[]): string {
  if (fields.length === 1 && fields[0] === "") return '""\r\n';
  return `${fields.map((f) => (/[",\r\n]/.test(f) ? `"${f.replaceAll('"', '""')}"` : f)).join(",")}\r\n`;
}

/** The choice as alter_ego would have recorded it, or undefined when alter_ego would have recorded nothing. */
function choiceCell(o: ObservationInfo): string | undefined {
  const meta = (o.meta ?? {}) as { filter?: unknown };
  const spec = readFilter(meta.filter);
  if (typeof spec !== "string" && o.raw !== null) {
    // Re-filtering the kept raw text restores Python's types (5.0 stays a float, dict key order stays).
    const out = applyFilter(spec, o.raw);
    if (out.ok) return pythonJsonDumps(out.value);
    return out.none ? "null" : undefined;
  }
  if (!o.valid) return undefined;
  return pythonJsonDumps(o.value);
}

/** The ego rows of a run, in conversation, round, thread order. */
export function* egoRows(store: RunStore, run: RunRecord): Generator<EgoRow> {
  const observations = new RunReader(store).iterateObservations(run.id, {
    name: "choice",
    sessionStatus: ["done", "invalid", "failed"],
  });
  // Rows come in session order; within a session they are put in round and thread order.
  let session: ObservationInfo[] = [];
  for (const o of observations) {
    if (session.length > 0 && session[0]?.sessionKey !== o.sessionKey) {
      yield* sessionRows(run, session);
      session = [];
    }
    session.push(o);
  }
  yield* sessionRows(run, session);
}

function* sessionRows(run: RunRecord, observations: ObservationInfo[]): Generator<EgoRow> {
  const sorted = [...observations].sort(
    (a, b) =>
      Number(a.coords.round) - Number(b.coords.round) || Number(a.coords.thread) - Number(b.coords.thread),
  );
  for (const o of sorted) {
    const choice = choiceCell(o);
    if (choice === undefined) continue;
    const c = o.coords;
    yield {
      choice,
      convo: o.sessionKey,
      experiment: run.id,
      i: pyCell(c.i),
      round: Number(c.round),
      tainted: o.sessionStatus !== "done",
      thread: `${o.sessionKey}/t${String(c.thread)}`,
      thread_type: pyCell(c.thread_type),
      treatment: pyCell(o.sessionCoords.treatment),
    };
  }
}

/** Writes the ego CSV (to `out`, or standard output); returns the number of data rows. */
export async function writeEgoCsv(store: RunStore, run: RunRecord, out?: string, to?: Sink): Promise<number> {
  if (run.kind !== ALTER_EGO_KIND) {
    throw new ConfigError(
      "bad_flag",
      `run ${run.id} is a ${run.kind} run; --format ego is for alter_ego built.json scenarios`,
    );
  }
  const sink = out ? fileSink(out) : (to ?? stdoutSink());
  let n = 0;
  for (const row of egoRows(store, run)) {
    if (n === 0) sink.write(pyCsvLine(COLUMNS));
    sink.write(pyCsvLine(COLUMNS.map((k) => pyCell(row[k]))));
    n++;
  }
  if (n === 0) sink.write("\r\n");
  await sink.end();
  return n;
}
