import type Database from "better-sqlite3";
import type { Coordinates } from "../engine/plan.js";
import { SilicoError } from "../errors.js";
import { connectionOf } from "./connection.js";
import { type KeysetQuery, keysetCount, keysetPage } from "./keyset.js";
import type {
  BatchInfo,
  CallFilter,
  CallInfo,
  CursorOptions,
  CursorPage,
  ModelCounts,
  NumericCell,
  NumericSummaryOptions,
  ObservationFilter,
  ObservationInfo,
  Page,
  PageOptions,
  ParticipantInfo,
  RunDetail,
  RunInfo,
  RunListOptions,
  Scalar,
  SessionFilter,
  SessionInfo,
  Transcript,
  TranscriptMessage,
  TranscriptParticipant,
  ValueCount,
} from "./read-types.js";
import { type RunRecord, RunStore, type SessionStatus } from "./run-store.js";
import {
  and,
  coordValue,
  equalsAny,
  mergedCoord,
  pageBounds,
  type Sql,
  sessionStatusSql,
} from "./sql-parts.js";

type Row = Record<string, unknown>;

const parse = (text: unknown): unknown =>
  text === null || text === undefined ? null : JSON.parse(String(text));

const SESSION_STATUSES: SessionStatus[] = ["pending", "running", "done", "invalid", "failed", "superseded"];

/** Columns a grouping may name besides the run's coordinates. */
const UNIT_COLUMNS: Record<string, string> = {
  participant: "o.pid",
  role: "p.role",
  model: "p.model",
  session: "o.session_key",
};

const OBSERVATION_FROM = `FROM observations o
  JOIN sessions s ON s.run_id = o.run_id AND s.key = o.session_key
  LEFT JOIN participants p ON p.run_id = o.run_id AND p.session_key = o.session_key AND p.pid = o.pid`;

/**
 * The read side of a store: runs, sessions, observations, calls, transcripts and aggregates,
 * typed and paged, for exports, summaries, the CLI and programs. Large results come as pages
 * or as iterators that stream rows from SQLite one at a time, so a run of any size never sits in
 * memory at once. While an iterator is open its connection cannot write: read a store that is
 * being written through a reader of its own (`RunReader.open`).
 */
export class RunReader {
  private readonly db: Database.Database;
  /** Set when the reader opened the store itself, and so closes it. */
  private owned: RunStore | undefined;

  constructor(readonly store: RunStore) {
    this.db = connectionOf(store);
  }

  /** A reader over the store file at `path` (which must exist); close it when done. */
  static open(path: string): RunReader {
    const store = RunStore.openExisting(path);
    const reader = new RunReader(store);
    reader.owned = store;
    return reader;
  }

  /** Closes the store if this reader opened it (`RunReader.open`). */
  close(): void {
    this.owned?.close();
  }

  // ── runs ────────────────────────────────────────────────────────────────────────────────

  /**
   * Runs, newest first by default. The store decides a run's status (it may, for instance, read
   * a run whose process is gone as interrupted), so runs are listed through it; stores hold few
   * runs, so they are filtered and paged here.
   */
  runs(opts: RunListOptions = {}): Page<RunInfo> {
    const { offset, limit } = pageBounds(opts);
    const statuses = opts.status === undefined ? undefined : [opts.status].flat();
    let all = this.store
      .listRuns()
      .filter((r) => (statuses ? statuses.includes(r.status) : true))
      .filter((r) => (opts.kind === undefined ? true : r.kind === opts.kind));
    if ((opts.order ?? "newest") === "newest") all = all.reverse();
    const items = all.slice(offset, offset + limit).map(runInfo);
    return { items, offset, limit, nextOffset: offset + limit < all.length ? offset + limit : null };
  }

  /** A run by id, unique id prefix, or `last`. */
  run(ref: string): RunDetail {
    const r = this.store.getRun(ref);
    return {
      ...runInfo(r),
      studyHash: r.study_hash,
      studyText: r.study_text,
      settings: r.settings,
      manifest: r.manifest,
    };
  }

  // ── sessions ────────────────────────────────────────────────────────────────────────────

  private sessionWhere(runId: string, f: SessionFilter): Sql {
    const parts: Sql[] = [{ sql: "s.run_id = ?", params: [runId] }];
    parts.push(sessionStatusSql(f.status, f.includeSuperseded));
    if (f.model !== undefined) {
      parts.push({
        sql: "EXISTS (SELECT 1 FROM participants p WHERE p.run_id = s.run_id AND p.session_key = s.key AND p.model = ?)",
        params: [f.model],
      });
    }
    for (const [key, values] of Object.entries(f.coords ?? {}))
      parts.push(equalsAny(coordValue("s.coords", key).value, values));
    if (f.ref !== undefined)
      parts.push({ sql: "(s.key = ? OR CAST(s.idx + 1 AS TEXT) = ?)", params: [f.ref, f.ref] });
    return and(parts);
  }

  private sessionKeyset(runId: string, f: SessionFilter): KeysetQuery {
    return {
      columns: "s.*",
      from: "FROM sessions s",
      where: this.sessionWhere(runId, f),
      lead: ["s.idx", "s.key"],
      rest: [],
      keyOf: (r) => [r.idx as number, r.key as string],
      types: ["number", "string"],
    };
  }

  /** Sessions of a run in plan order. */
  sessions(runId: string, filter: SessionFilter = {}, page: PageOptions = {}): Page<SessionInfo> {
    return offsetPage(page, (at, limit) => this.sessionsByCursor(runId, filter, { at, limit }));
  }

  /** Sessions of a run in plan order, a page at a time by cursor (see `CursorOptions`). */
  sessionsByCursor(
    runId: string,
    filter: SessionFilter = {},
    page: CursorOptions = {},
  ): CursorPage<SessionInfo> {
    return keysetPage(this.db, this.sessionKeyset(runId, filter), page, sessionInfo);
  }

  /** Every matching session in plan order, streamed. */
  *iterateSessions(runId: string, filter: SessionFilter = {}): Generator<SessionInfo> {
    const where = this.sessionWhere(runId, filter);
    const stmt = this.db.prepare(`SELECT s.* FROM sessions s WHERE ${where.sql} ORDER BY s.idx, s.key`);
    for (const r of stmt.iterate(...where.params) as Iterable<Row>) yield sessionInfo(r);
  }

  countSessions(runId: string, filter: SessionFilter = {}): number {
    return keysetCount(this.db, this.sessionKeyset(runId, filter));
  }

  /** How many sessions have each status (every status present, 0 where none). */
  sessionStatusCounts(runId: string): Record<SessionStatus, number> {
    const counts = Object.fromEntries(SESSION_STATUSES.map((s) => [s, 0])) as Record<SessionStatus, number>;
    const rows = this.db
      .prepare("SELECT status, count(*) AS n FROM sessions WHERE run_id = ? GROUP BY status")
      .all(runId) as { status: SessionStatus; n: number }[];
    for (const r of rows) counts[r.status] = r.n;
    return counts;
  }

  participants(runId: string, sessionKey: string): ParticipantInfo[] {
    const rows = this.db
      .prepare(
        "SELECT pid, role, model, params FROM participants WHERE run_id = ? AND session_key = ? ORDER BY rowid",
      )
      .all(runId, sessionKey) as Row[];
    return rows.map((r) => ({
      id: r.pid as string,
      role: r.role as string | null,
      model: r.model as string,
      params: (parse(r.params) ?? {}) as Record<string, unknown>,
    }));
  }

  // ── observations ────────────────────────────────────────────────────────────────────────

  /**
   * Observations in plan order (session, then the order recorded). Sessions are the outer loop
   * (CROSS JOIN keeps SQLite from reordering), walked along their (run, idx, key) index, so the
   * order costs no sort and a cursor seeks straight to its session.
   */
  private observationKeyset(runId: string, f: ObservationFilter): KeysetQuery {
    const parts: Sql[] = [{ sql: "s.run_id = ?", params: [runId] }];
    parts.push(sessionStatusSql(f.sessionStatus, f.includeSuperseded));
    if (f.name !== undefined) parts.push(equalsAny({ sql: "o.name", params: [] }, f.name));
    for (const [key, values] of Object.entries(f.coords ?? {}))
      parts.push(equalsAny(mergedCoord(key), values));
    if (f.sessionKey !== undefined) parts.push({ sql: "s.key = ?", params: [f.sessionKey] });
    if (f.participant !== undefined) parts.push({ sql: "o.pid = ?", params: [f.participant] });
    if (f.model !== undefined) parts.push({ sql: "p.model = ?", params: [f.model] });
    if (f.valid !== undefined) parts.push({ sql: "o.valid = ?", params: [f.valid ? 1 : 0] });
    if (f.choiceIndex !== undefined) parts.push({ sql: "o.choice_index = ?", params: [f.choiceIndex] });
    if (f.fromCall !== undefined)
      parts.push({ sql: `o.call_id IS ${f.fromCall ? "NOT " : ""}NULL`, params: [] });
    const bodies = f.includeCallBodies ? ", c.request AS c_request, c.response AS c_response" : "";
    return {
      columns: `o.id, o.run_id, o.session_key, s.idx, s.status AS s_status, s.coords AS s_coords, o.seq, o.pid,
          p.role, p.model AS p_model, o.name, o.coords, o.value, o.raw, o.valid, o.reason, o.attempts,
          o.choice_index, o.meta, o.call_id, o.created_at, c.input_tokens, c.output_tokens, c.latency_ms,
          c.cost_usd, c.cached_from${bodies}`,
      from: `FROM sessions s
        CROSS JOIN observations o ON o.run_id = s.run_id AND o.session_key = s.key
        LEFT JOIN participants p ON p.run_id = o.run_id AND p.session_key = o.session_key AND p.pid = o.pid
        LEFT JOIN calls c ON c.id = o.call_id`,
      where: and(parts),
      lead: ["s.idx", "s.key"],
      rest: ["o.seq", "o.id"],
      keyOf: (r) => [r.idx as number, r.session_key as string, r.seq as number, r.id as number],
      types: ["number", "string", "number", "number"],
    };
  }

  /**
   * Every matching observation in plan order (session, then the order recorded), streamed from
   * SQLite one row at a time: exports of any size run in constant memory.
   */
  *iterateObservations(runId: string, filter: ObservationFilter = {}): Generator<ObservationInfo> {
    const q = this.observationKeyset(runId, filter);
    const withBodies = filter.includeCallBodies === true;
    const sql = `SELECT ${q.columns} ${q.from} WHERE ${q.where.sql} ORDER BY ${[...q.lead, ...q.rest].join(", ")}`;
    for (const r of this.db.prepare(sql).iterate(...q.where.params) as Iterable<Row>)
      yield observationInfo(r, withBodies);
  }

  observations(runId: string, filter: ObservationFilter = {}, page: PageOptions = {}): Page<ObservationInfo> {
    return offsetPage(page, (at, limit) => this.observationsByCursor(runId, filter, { at, limit }));
  }

  /** Observations in plan order, a page at a time by cursor (see `CursorOptions`). */
  observationsByCursor(
    runId: string,
    filter: ObservationFilter = {},
    page: CursorOptions = {},
  ): CursorPage<ObservationInfo> {
    const withBodies = filter.includeCallBodies === true;
    return keysetPage(this.db, this.observationKeyset(runId, filter), page, (r) =>
      observationInfo(r, withBodies),
    );
  }

  countObservations(runId: string, filter: ObservationFilter = {}): number {
    return keysetCount(this.db, this.observationKeyset(runId, filter));
  }

  /** The observation names of a run, sorted. */
  observationNames(runId: string, opts: { fromCall?: boolean } = {}): string[] {
    if (opts.fromCall !== undefined) {
      const fromCall = ` AND call_id IS ${opts.fromCall ? "NOT " : ""}NULL`;
      return this.db
        .prepare(`SELECT DISTINCT name FROM observations WHERE run_id = ?${fromCall} ORDER BY name`)
        .pluck()
        .all(runId) as string[];
    }
    // A skip scan of the (run, name) index: one seek per name, however many observations.
    const next = this.db
      .prepare("SELECT name FROM observations WHERE run_id = ? AND name > ? ORDER BY name LIMIT 1")
      .pluck();
    const names: string[] = [];
    for (let name = next.get(runId, "") as string | undefined; name !== undefined; )
      name = next.get(runId, names[names.push(name) - 1]) as string | undefined;
    return names;
  }

  /** Coordinate names the observations carry beyond their sessions' (round, stage, trial …), first seen first. */
  observationCoordinateKeys(runId: string): string[] {
    const keys = new Set<string>();
    // "First seen" is the order of this index: pinned, so that another index never reorders the
    // export columns that follow from it.
    const stmt = this.db
      .prepare("SELECT DISTINCT coords FROM observations INDEXED BY observations_by_run WHERE run_id = ?")
      .pluck();
    for (const c of stmt.iterate(runId) as Iterable<string>)
      for (const k of Object.keys(JSON.parse(c))) keys.add(k);
    return [...keys];
  }

  /** The run's coordinate columns: the design's (from the manifest), then any extra the observations carry. */
  coordinateColumns(runId: string): string[] {
    const declared = (this.store.getRun(runId).manifest.coordinate_columns as string[] | undefined) ?? [];
    return [...declared, ...this.observationCoordinateKeys(runId).filter((k) => !declared.includes(k))];
  }

  /** The distinct values one coordinate takes across a run's sessions and observations, sorted. */
  coordinateValues(runId: string, column: string): Scalar[] {
    const expr = mergedCoord(column);
    const status = sessionStatusSql(undefined);
    return this.db
      .prepare(
        `SELECT DISTINCT ${expr.sql} AS v ${OBSERVATION_FROM} WHERE o.run_id = ? AND ${status.sql} ORDER BY v`,
      )
      .pluck()
      .all(...expr.params, runId, ...status.params) as Scalar[];
  }

  // ── calls ───────────────────────────────────────────────────────────────────────────────

  private callKeyset(runId: string, f: CallFilter): KeysetQuery {
    const parts: Sql[] = [{ sql: "run_id = ?", params: [runId] }];
    if (f.sessionKey !== undefined) parts.push({ sql: "session_key = ?", params: [f.sessionKey] });
    if (f.participant !== undefined) parts.push({ sql: "pid = ?", params: [f.participant] });
    if (f.model !== undefined) parts.push({ sql: "model = ?", params: [f.model] });
    if (f.status !== undefined) parts.push(equalsAny({ sql: "status", params: [] }, f.status));
    return {
      columns:
        f.includeBodies === false
          ? "id, run_id, session_key, pid, call_key, cache_key, model, status, NULL AS request, NULL AS response, text, input_tokens, output_tokens, latency_ms, cost_usd, attempts, warnings, error, cached_from, constrained, started_at, finished_at"
          : "*",
      from: "FROM calls",
      where: and(parts),
      lead: ["id"],
      rest: [],
      keyOf: (r) => [r.id as number],
      types: ["number"],
    };
  }

  /** Calls of a run (or of one session) in the order they were made. */
  calls(runId: string, filter: CallFilter = {}, page: PageOptions = {}): Page<CallInfo> {
    return offsetPage(page, (at, limit) => this.callsByCursor(runId, filter, { at, limit }));
  }

  /** Calls in the order they were made, a page at a time by cursor (see `CursorOptions`). */
  callsByCursor(runId: string, filter: CallFilter = {}, page: CursorOptions = {}): CursorPage<CallInfo> {
    return keysetPage(this.db, this.callKeyset(runId, filter), page, callInfo);
  }

  *iterateCalls(runId: string, filter: CallFilter = {}): Generator<CallInfo> {
    const q = this.callKeyset(runId, filter);
    const sql = `SELECT ${q.columns} ${q.from} WHERE ${q.where.sql} ORDER BY id`;
    for (const r of this.db.prepare(sql).iterate(...q.where.params) as Iterable<Row>) yield callInfo(r);
  }

  call(id: number): CallInfo {
    const row = this.db.prepare("SELECT * FROM calls WHERE id = ?").get(id) as Row | undefined;
    if (!row) throw new SilicoError("call_missing", `no call ${id} in ${this.store.path}`);
    return callInfo(row);
  }

  countCalls(runId: string, filter: CallFilter = {}): number {
    return keysetCount(this.db, this.callKeyset(runId, filter));
  }

  // ── transcripts ─────────────────────────────────────────────────────────────────────────

  /** One session as a conversation: its participants' messages in order, with the answers parsed from each reply. */
  transcript(runId: string, sessionKey: string): Transcript {
    const row = this.db
      .prepare("SELECT * FROM sessions WHERE run_id = ? AND key = ?")
      .get(runId, sessionKey) as Row | undefined;
    if (!row) throw new SilicoError("session_missing", `no session "${sessionKey}" in run ${runId}`);
    return this.transcriptOf(sessionInfo(row));
  }

  /** Transcripts of the matching sessions (all statuses by default), one session at a time. */
  *iterateTranscripts(
    runId: string,
    filter: SessionFilter = { includeSuperseded: true },
  ): Generator<Transcript> {
    // Sessions are read a page at a time so the transcript queries do not run under an open iterator.
    let page = this.sessionsByCursor(runId, filter, { limit: 200 });
    for (;;) {
      for (const s of page.items) yield this.transcriptOf(s);
      if (page.next === null) return;
      page = this.sessionsByCursor(runId, filter, { after: page.next, limit: 200 });
    }
  }

  private transcriptOf(session: SessionInfo): Transcript {
    // Read to the end before the next query: one session's observations at a time.
    const observations = [
      ...this.iterateObservations(session.runId, { sessionKey: session.key, includeSuperseded: true }),
    ];
    const byCall = new Map<number, ObservationInfo[]>();
    const loose: ObservationInfo[] = [];
    for (const o of observations) {
      if (o.callId === null) loose.push(o);
      else byCall.set(o.callId, [...(byCall.get(o.callId) ?? []), o]);
    }
    const rows = this.db
      .prepare(
        `SELECT m.seq, m.pid, m.role, m.content, m.call_id, c.call_key FROM messages m
         LEFT JOIN calls c ON c.id = m.call_id
         WHERE m.run_id = ? AND m.session_key = ? ORDER BY m.seq`,
      )
      .all(session.runId, session.key) as Row[];
    const messages: TranscriptMessage[] = rows.map((r) => {
      const callId = r.call_id as number | null;
      const attempt = r.call_key === null ? 1 : Number(String(r.call_key).split("/").at(-1));
      return {
        seq: r.seq as number,
        participant: r.pid as string,
        role: r.role as string,
        content: r.content as string,
        callId,
        reask: r.role === "user" && attempt > 1,
        observations: r.role === "assistant" && callId !== null ? (byCall.get(callId) ?? []) : [],
      };
    });
    const participants: TranscriptParticipant[] = this.participants(session.runId, session.key).map((p) => ({
      ...p,
      messages: messages.filter((m) => m.participant === p.id),
    }));
    return { session, participants, messages, loose };
  }

  // ── aggregates ──────────────────────────────────────────────────────────────────────────

  /** Sessions, calls, tokens, cost and observations per model (tokens and cost of calls made, not cache hits). */
  /** The provider batches of a `--batch` run, oldest first, with how their requests ended. */
  batches(runId: string): BatchInfo[] {
    const outcomes = new Map<number, Record<string, number>>();
    for (const r of this.db
      .prepare(
        "SELECT batch_id, status, count(*) AS n FROM batch_requests WHERE run_id = ? GROUP BY batch_id, status",
      )
      .all(runId) as { batch_id: number; status: string; n: number }[]) {
      const o = outcomes.get(r.batch_id) ?? {};
      o[r.status] = r.n;
      outcomes.set(r.batch_id, o);
    }
    const times = new Map(
      (
        this.db.prepare("SELECT id, created_at, updated_at FROM batches WHERE run_id = ?").all(runId) as {
          id: number;
          created_at: string;
          updated_at: string;
        }[]
      ).map((r) => [r.id, r]),
    );
    return this.store.batchesOf(runId).map((b) => ({
      id: b.remoteId,
      provider: b.provider,
      model: b.model,
      status: b.status,
      requests: b.requestCount,
      outcomes: outcomes.get(b.id) ?? {},
      createdAt: times.get(b.id)?.created_at ?? "",
      updatedAt: times.get(b.id)?.updated_at ?? "",
    }));
  }

  modelCounts(runId: string): ModelCounts[] {
    const out = new Map<string, ModelCounts>();
    const get = (model: string) => {
      let m = out.get(model);
      if (!m) {
        m = {
          model,
          sessions: 0,
          calls: 0,
          cacheHits: 0,
          errors: 0,
          inputTokens: 0,
          outputTokens: 0,
          costUsd: 0,
          observations: 0,
          validObservations: 0,
        };
        out.set(model, m);
      }
      return m;
    };
    for (const r of this.db
      .prepare(
        `SELECT p.model, count(DISTINCT p.session_key) AS n FROM participants p
         JOIN sessions s ON s.run_id = p.run_id AND s.key = p.session_key
         WHERE p.run_id = ? AND s.status != 'superseded' GROUP BY p.model ORDER BY p.model`,
      )
      .all(runId) as { model: string; n: number }[])
      get(r.model).sessions = r.n;
    for (const r of this.db
      .prepare(
        `SELECT model, count(*) AS calls, sum(cached_from IS NOT NULL) AS hits, sum(status = 'error') AS errors,
           sum(CASE WHEN cached_from IS NULL THEN input_tokens END) AS tin,
           sum(CASE WHEN cached_from IS NULL THEN output_tokens END) AS tout,
           sum(CASE WHEN cached_from IS NULL THEN cost_usd END) AS cost
         FROM calls WHERE run_id = ? GROUP BY model ORDER BY model`,
      )
      .all(runId) as Row[]) {
      const m = get(r.model as string);
      m.calls = r.calls as number;
      m.cacheHits = r.hits as number;
      m.errors = r.errors as number;
      m.inputTokens = (r.tin as number | null) ?? 0;
      m.outputTokens = (r.tout as number | null) ?? 0;
      m.costUsd = (r.cost as number | null) ?? 0;
    }
    for (const r of this.db
      .prepare(
        `SELECT p.model, count(*) AS n, sum(o.valid) AS valid ${OBSERVATION_FROM}
         WHERE o.run_id = ? AND s.status != 'superseded' AND p.model IS NOT NULL GROUP BY p.model`,
      )
      .all(runId) as Row[]) {
      const m = get(r.model as string);
      m.observations = r.n as number;
      m.validObservations = r.valid as number;
    }
    return [...out.values()].sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0));
  }

  /**
   * Per-cell n, mean and standard deviation of one observation's numeric answers, grouped by
   * coordinate columns, computed by SQLite (GROUP BY over the JSON coordinates) so no rows are
   * shipped. Cells are sorted by their group values.
   */
  numericSummary(runId: string, opts: NumericSummaryOptions): NumericCell[] {
    const by = opts.by ?? [];
    const groups = this.groupColumns(runId, by);
    const path = valuePath(opts.field);
    const g = by.map((_, i) => `g${i}`);
    const gList = g.length ? `${g.join(", ")}, ` : "";
    const status = sessionStatusSql(opts.sessionStatus);
    const present = "o.valid = 1 AND o.value IS NOT NULL AND json_type(o.value) != 'null'";
    const inner = `SELECT ${groups.map((x, i) => `${x.sql} AS g${i}, `).join("")}
        CASE WHEN ${present} AND json_type(o.value, ?) IN ('integer', 'real') THEN json_extract(o.value, ?) END AS x,
        CASE WHEN ${present} THEN 0 ELSE 1 END AS bad,
        CASE WHEN ${present} AND coalesce(json_type(o.value, ?), 'null') NOT IN ('integer', 'real') THEN 1 ELSE 0 END AS other
      ${OBSERVATION_FROM}
      WHERE o.run_id = ? AND o.name = ? AND ${status.sql}`;
    const sql = `SELECT ${gList}count(x) AS n, avg(x) AS mean, sum((x - m) * (x - m)) AS ss, min(x) AS lo, max(x) AS hi,
        sum(bad) AS invalid, sum(other) AS other, count(*) AS total
      FROM (SELECT *, avg(x) OVER (${g.length ? `PARTITION BY ${g.join(", ")}` : ""}) AS m FROM (${inner}))
      ${g.length ? `GROUP BY ${g.join(", ")} ORDER BY ${g.join(", ")}` : ""}`;
    const params = [...groups.flatMap((x) => x.params), path, path, path, runId, opts.name, ...status.params];
    const rows = this.db.prepare(sql).all(...params) as Row[];
    // Without grouping SQLite answers one row even when nothing matched: that is no cell.
    return rows
      .filter((r) => (r.total as number) > 0)
      .map((r) => {
        const n = r.n as number;
        return {
          group: Object.fromEntries(by.map((b, i) => [b, r[`g${i}`] as Scalar])),
          n,
          mean: n > 0 ? (r.mean as number) : null,
          sd: n > 1 ? Math.sqrt((r.ss as number) / (n - 1)) : null,
          min: n > 0 ? (r.lo as number) : null,
          max: n > 0 ? (r.hi as number) : null,
          invalid: r.invalid as number,
          nonNumeric: r.other as number,
        };
      });
  }

  /**
   * How often each valid value of one observation occurs per cell (categorical answers: shares
   * and rates without shipping the rows). Objects and lists count by their JSON text. Cells and
   * values are sorted.
   */
  valueCounts(runId: string, opts: NumericSummaryOptions): ValueCount[] {
    const by = opts.by ?? [];
    const groups = this.groupColumns(runId, by);
    const path = valuePath(opts.field);
    const g = by.map((_, i) => `g${i}`);
    const status = sessionStatusSql(opts.sessionStatus);
    const sql = `SELECT ${groups.map((x, i) => `${x.sql} AS g${i}, `).join("")}json_extract(o.value, ?) AS v, count(*) AS n
      ${OBSERVATION_FROM}
      WHERE o.run_id = ? AND o.name = ? AND ${status.sql} AND o.valid = 1 AND o.value IS NOT NULL
        AND coalesce(json_type(o.value, ?), 'null') != 'null'
      GROUP BY ${[...g, "v"].join(", ")} ORDER BY ${[...g, "v"].join(", ")}`;
    const params = [...groups.flatMap((x) => x.params), path, runId, opts.name, ...status.params, path];
    return (this.db.prepare(sql).all(...params) as Row[]).map((r) => ({
      group: Object.fromEntries(by.map((b, i) => [b, r[`g${i}`] as Scalar])),
      value: r.v as Scalar,
      count: r.n as number,
    }));
  }

  /** Grouping columns as SQL: the run's coordinates as export rows see them, or unit columns. */
  private groupColumns(runId: string, by: string[]): Sql[] {
    const coordinates = by.length ? this.coordinateColumns(runId) : [];
    return by.map((b) => {
      if (coordinates.includes(b)) return mergedCoord(b);
      const column = UNIT_COLUMNS[b];
      if (column) return { sql: column, params: [] };
      throw new SilicoError(
        "bad_column",
        `no column "${b}" in run ${runId}; columns: ${[...coordinates, ...Object.keys(UNIT_COLUMNS)].join(", ")}`,
      );
    });
  }
}

/** The JSON path of an answer, or of one field of a JSON answer. */
function valuePath(field: string | undefined): string {
  return field === undefined ? "$" : `$."${field.replaceAll('"', '\\"')}"`;
}

/** An offset page, read as the keyset page starting at that position. */
function offsetPage<T>(opts: PageOptions, read: (at: number, limit: number) => CursorPage<T>): Page<T> {
  const { offset, limit } = pageBounds(opts);
  const page = read(offset, limit);
  return { items: page.items, offset, limit, nextOffset: page.next === null ? null : offset + limit };
}

function runInfo(r: RunRecord): RunInfo {
  const summary = r.summary as RunInfo["totals"];
  return {
    id: r.id,
    status: r.status,
    kind: r.kind,
    name: r.name,
    studyPath: r.study_path,
    seed: r.seed,
    silicoVersion: r.silico_version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.status === "running" ? null : r.updated_at,
    totalSessions: r.total_sessions,
    models: Object.keys((r.manifest.models ?? {}) as Record<string, unknown>),
    totals: summary,
    costUsd: typeof summary?.costUsd === "number" ? summary.costUsd : null,
  };
}

function sessionInfo(r: Row): SessionInfo {
  return {
    runId: r.run_id as string,
    key: r.key as string,
    index: r.idx as number,
    draw: r.draw as number,
    coords: parse(r.coords) as Coordinates,
    status: r.status as SessionStatus,
    attempt: r.attempt as number,
    error: r.error as string | null,
    startedAt: r.started_at as string | null,
    finishedAt: r.finished_at as string | null,
  };
}

function observationInfo(r: Row, withBodies: boolean): ObservationInfo {
  const callId = r.call_id as number | null;
  return {
    id: r.id as number,
    runId: r.run_id as string,
    sessionKey: r.session_key as string,
    sessionIndex: r.idx as number,
    sessionStatus: r.s_status as SessionStatus,
    sessionCoords: parse(r.s_coords) as Coordinates,
    coords: parse(r.coords) as Coordinates,
    seq: r.seq as number,
    participant: r.pid as string | null,
    role: r.role as string | null,
    model: r.p_model as string | null,
    name: r.name as string,
    value: parse(r.value),
    raw: r.raw as string | null,
    valid: r.valid === 1,
    reason: r.reason as string | null,
    attempts: r.attempts as number,
    choiceIndex: r.choice_index as number,
    meta: parse(r.meta) as Record<string, unknown> | null,
    callId,
    call:
      callId === null
        ? null
        : {
            inputTokens: r.input_tokens as number | null,
            outputTokens: r.output_tokens as number | null,
            latencyMs: r.latency_ms as number | null,
            costUsd: r.cost_usd as number | null,
            cached: r.cached_from !== null && r.cached_from !== undefined,
            ...(withBodies ? { request: parse(r.c_request), response: parse(r.c_response) } : {}),
          },
    createdAt: r.created_at as string,
  };
}

function callInfo(r: Row): CallInfo {
  return {
    id: r.id as number,
    runId: r.run_id as string,
    sessionKey: r.session_key as string,
    participant: r.pid as string,
    callKey: r.call_key as string,
    cacheKey: r.cache_key as string,
    model: r.model as string,
    status: r.status as CallInfo["status"],
    request: parse(r.request),
    response: parse(r.response),
    text: r.text as string | null,
    inputTokens: r.input_tokens as number | null,
    outputTokens: r.output_tokens as number | null,
    latencyMs: r.latency_ms as number | null,
    costUsd: r.cost_usd as number | null,
    attempts: (parse(r.attempts) ?? []) as unknown[],
    warnings: (parse(r.warnings) ?? []) as string[],
    error: r.error as string | null,
    cachedFrom: r.cached_from as number | null,
    constrained: r.constrained === 1,
    startedAt: r.started_at as string,
    finishedAt: r.finished_at as string,
  };
}
