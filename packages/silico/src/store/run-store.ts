import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import type { Coordinates } from "../engine/plan.js";
import { SilicoError } from "../errors.js";
import { redact } from "../models/secrets.js";
import {
  checkSchema,
  missingStore,
  openReadOnly,
  probeWritable,
  refuseForeign,
  storeOpenError,
} from "./open-store.js";
import { attachConnection } from "./connection.js";
import { MIGRATIONS, SCHEMA_VERSION } from "./schema.js";

export type RunStatus = "running" | "done" | "partial" | "failed" | "interrupted" | "stopped";
export type SessionStatus = "pending" | "running" | "done" | "invalid" | "failed" | "superseded";

export interface RunRecord {
  id: string;
  created_at: string;
  updated_at: string;
  status: RunStatus;
  kind: string;
  name: string | null;
  study_path: string | null;
  study_hash: string;
  study_text: string;
  silico_version: string;
  seed: number;
  settings: Record<string, unknown>;
  manifest: Record<string, unknown>;
  total_sessions: number;
  summary: Record<string, unknown> | null;
}

export interface NewRun {
  kind: string;
  name?: string;
  studyPath?: string;
  studyHash: string;
  studyText: string;
  silicoVersion: string;
  seed: number;
  settings: Record<string, unknown>;
  manifest: Record<string, unknown>;
  totalSessions: number;
}

export interface CallRecord {
  runId: string;
  sessionKey: string;
  pid: string;
  callKey: string;
  cacheKey: string;
  model: string;
  status: "ok" | "invalid" | "error";
  request: unknown;
  response?: unknown;
  text?: string;
  inputTokens?: number;
  outputTokens?: number;
  latencyMs?: number;
  costUsd?: number | null;
  attempts: unknown[];
  warnings: string[];
  error?: string;
  cachedFrom?: number;
  constrained?: boolean;
  startedAt: string;
  finishedAt: string;
}

export interface MessageRecord {
  pid: string;
  role: string;
  content: unknown;
}

export interface ObservationRecord {
  pid: string | null;
  name: string;
  coords: Coordinates;
  value: unknown;
  raw?: string | null;
  valid: boolean;
  reason?: string | null;
  attempts?: number;
  choiceIndex?: number;
  meta?: Record<string, unknown>;
}

export interface CachedCall {
  id: number;
  response: unknown;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_usd: number | null;
  warnings: string;
  constrained: number;
}

const now = () => new Date().toISOString();

/**
 * Writes made within this many milliseconds share one commit. Each commit appends every page it
 * touched to the WAL, and a session's rows land on several pages (tables and indexes), so one
 * commit per write cost more CPU and disk traffic than the calls being recorded. Every write
 * still runs in its own savepoint, so the file always holds a prefix of the writes; a process
 * killed mid-run loses at most the last batch of answers, which `resume` asks again.
 */
const BATCH_MS = 50;
const json = (v: unknown) => (v === undefined ? null : redact(JSON.stringify(v)));

/** One SQLite file holds every run. All writes go through here. */
export class RunStore {
  // Not public: SQL stays inside store/ (readers use RunReader; store modules use connectionOf).
  private readonly db: Database.Database;
  readonly path: string;
  private seq = new Map<string, number>();
  private stmts!: ReturnType<RunStore["prepare"]>;
  private batchTimer: NodeJS.Timeout | undefined;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.db = db;
    attachConnection(this, db);
  }

  /** Open (creating if needed) and migrate, for writing. `:memory:` gives a throwaway store. */
  static open(path: string): RunStore {
    const full = path === ":memory:" ? path : resolve(path);
    let db: Database.Database | undefined;
    try {
      if (full !== ":memory:") mkdirSync(dirname(full), { recursive: true });
      db = new Database(full);
      // Before anything changes the file: it must be a silico store or a new, empty database.
      refuseForeign(db, full);
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("busy_timeout = 0");
      probeWritable(db);
      db.pragma("busy_timeout = 5000");
    } catch (e) {
      if (db?.open) db.close();
      throw e instanceof SilicoError ? e : storeOpenError(full, e, "write");
    }
    return RunStore.ready(full, db, true);
  }

  /** Open an existing store for writing (resume); a missing file is an error, not a new empty store. */
  static openExisting(path: string): RunStore {
    const full = resolve(path);
    if (!existsSync(full)) throw missingStore(full);
    return RunStore.open(full);
  }

  /**
   * Open an existing store for reading only (runs, show, data, summary): it is never migrated or
   * written, and a store in a read-only folder, or a file the user may not write, can be read.
   */
  static openForReading(path: string): RunStore {
    const full = resolve(path);
    if (!existsSync(full)) throw missingStore(full);
    return RunStore.ready(full, openReadOnly(full), false);
  }

  private static ready(full: string, db: Database.Database, writable: boolean): RunStore {
    const store = new RunStore(full, db);
    try {
      store.migrate(writable);
      checkSchema(db, full);
      store.stmts = store.prepare();
    } catch (e) {
      if (db.open) db.close();
      throw e instanceof SilicoError ? e : storeOpenError(full, e, writable ? "write" : "read");
    }
    return store;
  }

  private migrate(writable: boolean): void {
    const version = this.db.pragma("user_version", { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new SilicoError(
        "store_version",
        `the store ${this.path} has schema version ${version}, newer than this silico (${SCHEMA_VERSION}); upgrade silico`,
      );
    }
    if (version === 0) {
      refuseForeign(this.db, this.path);
      if (!writable) {
        throw new SilicoError(
          "store_not_silico",
          `${this.path} is empty, not a silico store; pass another --db`,
        );
      }
    }
    if (version < SCHEMA_VERSION && !writable) {
      throw new SilicoError(
        "store_version",
        `the store ${this.path} has schema version ${version}, older than this silico (${SCHEMA_VERSION}); \`silico resume\` or \`silico run\` with write access upgrades it`,
      );
    }
    for (let v = version; v < SCHEMA_VERSION; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v] as string);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  private prepare() {
    const db = this.db;
    return {
      insertCall:
        db.prepare(`INSERT INTO calls (run_id, session_key, pid, call_key, cache_key, model, status, request,
        response, text, input_tokens, output_tokens, latency_ms, cost_usd, attempts, warnings, error, cached_from,
        constrained, started_at, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
      insertMessage: db.prepare(
        "INSERT INTO messages (run_id, session_key, pid, seq, role, content, call_id) VALUES (?,?,?,?,?,?,?)",
      ),
      insertObservation:
        db.prepare(`INSERT INTO observations (run_id, session_key, pid, seq, name, coords, value, raw,
        valid, reason, attempts, choice_index, call_id, meta, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
      // The newest answer wins, so answers fetched again with --refresh replace the older ones.
      findCached: db.prepare(
        `SELECT id, response, input_tokens, output_tokens, cost_usd, warnings, constrained FROM calls
         WHERE cache_key = ? AND status = 'ok' AND cached_from IS NULL ORDER BY id DESC LIMIT 1`,
      ),
      setSession: db.prepare(
        "UPDATE sessions SET status = ?, error = ?, finished_at = ? WHERE run_id = ? AND key = ?",
      ),
      upsertSession:
        db.prepare(`INSERT INTO sessions (run_id, key, idx, draw, coords, status, attempt, started_at)
        VALUES (?,?,?,?,?,'running',1,?)
        ON CONFLICT(run_id, key) DO UPDATE SET status = 'running', error = NULL, started_at = excluded.started_at,
        finished_at = NULL`),
      insertParticipant: db.prepare(
        "INSERT OR REPLACE INTO participants (run_id, session_key, pid, role, model, params) VALUES (?,?,?,?,?,?)",
      ),
      deleteMessages: db.prepare("DELETE FROM messages WHERE run_id = ? AND session_key = ?"),
      deleteObservations: db.prepare("DELETE FROM observations WHERE run_id = ? AND session_key = ?"),
      savepoint: db.prepare("SAVEPOINT silico_write"),
      release: db.prepare("RELEASE silico_write"),
      rollbackTo: db.prepare("ROLLBACK TO silico_write"),
    };
  }

  close(): void {
    this.flush();
    if (this.db.open) this.db.close();
  }

  /** Commit the writes batched so far (see BATCH_MS). */
  flush(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.db.open && this.db.inTransaction) this.db.exec("COMMIT");
  }

  private scheduleFlush(): void {
    // Not unref'd: a script that ends without close() still gets its last writes committed.
    this.batchTimer = setTimeout(() => {
      try {
        this.flush();
      } catch {
        this.scheduleFlush(); // e.g. another process holds a lock: the batch stays open, try again
      }
    }, BATCH_MS);
  }

  /** Run `fn` atomically (a savepoint) inside the current batch, opening one if needed. */
  private write<T>(fn: () => T): T {
    if (!this.db.inTransaction) {
      this.db.exec("BEGIN");
      this.scheduleFlush();
    }
    this.stmts.savepoint.run();
    try {
      const result = fn();
      this.stmts.release.run();
      return result;
    } catch (e) {
      if (this.db.inTransaction) {
        this.stmts.rollbackTo.run();
        this.stmts.release.run();
      }
      throw e;
    }
  }

  newRunId(): string {
    const d = new Date();
    const p = (n: number) => String(n).padStart(2, "0");
    const stamp = `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
    for (;;) {
      const id = `${stamp}-${Math.random().toString(16).slice(2, 6)}`;
      if (!this.db.prepare("SELECT 1 FROM runs WHERE id = ?").get(id)) return id;
    }
  }

  createRun(run: NewRun): string {
    const id = this.newRunId();
    const t = now();
    this.flush();
    this.db
      .prepare(`INSERT INTO runs (id, created_at, updated_at, status, kind, name, study_path, study_hash, study_text,
        silico_version, seed, settings, manifest, total_sessions) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
      .run(
        id,
        t,
        t,
        "running",
        run.kind,
        run.name ?? null,
        run.studyPath ?? null,
        run.studyHash,
        redact(run.studyText),
        run.silicoVersion,
        run.seed,
        json(run.settings),
        json(run.manifest),
        run.totalSessions,
      );
    return id;
  }

  updateRun(id: string, fields: { status?: RunStatus; summary?: unknown; manifest?: unknown }): void {
    const sets: string[] = ["updated_at = ?"];
    const args: unknown[] = [now()];
    if (fields.status) {
      sets.push("status = ?");
      args.push(fields.status);
    }
    if (fields.summary !== undefined) {
      sets.push("summary = ?");
      args.push(json(fields.summary));
    }
    if (fields.manifest !== undefined) {
      sets.push("manifest = ?");
      args.push(json(fields.manifest));
    }
    args.push(id);
    // Run status changes are committed at once, together with the batch before them.
    this.write(() => this.db.prepare(`UPDATE runs SET ${sets.join(", ")} WHERE id = ?`).run(...args));
    this.flush();
  }

  private decodeRun(row: Record<string, unknown>): RunRecord {
    return {
      ...(row as unknown as RunRecord),
      settings: JSON.parse(row.settings as string),
      manifest: JSON.parse(row.manifest as string),
      summary: row.summary ? JSON.parse(row.summary as string) : null,
    };
  }

  /** A run by id, unique id prefix, or "last". */
  getRun(ref: string): RunRecord {
    let row: Record<string, unknown> | undefined;
    if (ref === "last" || ref === "latest") {
      row = this.db.prepare("SELECT * FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1").get() as
        | Record<string, unknown>
        | undefined;
    } else {
      row = this.db.prepare("SELECT * FROM runs WHERE id = ?").get(ref) as
        | Record<string, unknown>
        | undefined;
      if (!row && ref !== "") {
        // A plain comparison, not LIKE: "%" and "_" in a prefix are not wildcards.
        const rows = this.db
          .prepare("SELECT * FROM runs WHERE substr(id, 1, length(?)) = ? ORDER BY created_at, rowid LIMIT 6")
          .all(ref, ref) as Record<string, unknown>[];
        if (rows.length > 1) {
          const ids = rows.slice(0, 5).map((r) => r.id as string);
          throw new SilicoError(
            "run_ambiguous",
            `run id prefix "${ref}" matches several runs (${ids.join(", ")}${rows.length > 5 ? ", …" : ""}); give more of the id`,
          );
        }
        row = rows[0];
      }
    }
    if (!row) throw new SilicoError("run_missing", `no run "${ref}" in ${this.path}; ${this.describeRuns()}`);
    return this.decodeRun(row);
  }

  /** What a user could have meant instead: the newest run ids, or that there are none. */
  private describeRuns(): string {
    const ids = this.db
      .prepare("SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 4")
      .pluck()
      .all() as string[];
    if (ids.length === 0) return "the store has no runs yet";
    const total = this.db.prepare("SELECT count(*) FROM runs").pluck().get() as number;
    return `${total === 1 ? "its one run is" : `newest of its ${total} runs:`} ${ids.slice(0, 3).join(", ")}${total > 3 ? ", …" : ""} (see silico runs)`;
  }

  listRuns(): RunRecord[] {
    return (
      this.db.prepare("SELECT * FROM runs ORDER BY created_at, rowid").all() as Record<string, unknown>[]
    ).map((r) => this.decodeRun(r));
  }

  sessionStatuses(runId: string): Map<string, SessionStatus> {
    const rows = this.db.prepare("SELECT key, status FROM sessions WHERE run_id = ?").all(runId) as {
      key: string;
      status: SessionStatus;
    }[];
    return new Map(rows.map((r) => [r.key, r.status]));
  }

  /** The stored error of each failed session of a run (for the failure report of a resumed run). */
  failedSessionErrors(runId: string): Map<string, string | null> {
    const rows = this.db
      .prepare("SELECT key, error FROM sessions WHERE run_id = ? AND status = 'failed'")
      .all(runId) as { key: string; error: string | null }[];
    return new Map(rows.map((r) => [r.key, r.error]));
  }

  /**
   * Start (or restart) a session. Messages and observations of an unfinished earlier attempt are
   * removed so the replay does not duplicate them; its calls stay and serve as the cache.
   */
  startSession(
    runId: string,
    s: { key: string; index: number; draw: number; coords: Coordinates },
    participants: { id: string; role?: string; model: string; params: unknown }[],
  ): void {
    this.write(() => {
      this.stmts.deleteMessages.run(runId, s.key);
      this.stmts.deleteObservations.run(runId, s.key);
      this.stmts.upsertSession.run(runId, s.key, s.index, s.draw, json(s.coords), now());
      for (const p of participants) {
        this.stmts.insertParticipant.run(runId, s.key, p.id, p.role ?? null, p.model, json(p.params));
      }
    });
    this.seq.set(`${runId}\u0000${s.key}`, 0);
  }

  finishSession(runId: string, key: string, status: SessionStatus, error?: string): void {
    this.write(() => this.stmts.setSession.run(status, error ? redact(error) : null, now(), runId, key));
    this.seq.delete(`${runId}\u0000${key}`);
  }

  /**
   * A design's JSON state for a run (`sessionKey` "") or one of its sessions. A value set is
   * committed at once: it may stand for something done outside (an oTree session created).
   */
  designState(runId: string, sessionKey: string): { get(): unknown; set(value: unknown): void } {
    return {
      get: () => {
        const row = this.db
          .prepare("SELECT value FROM design_state WHERE run_id = ? AND session_key = ?")
          .get(runId, sessionKey) as { value: string } | undefined;
        return row ? JSON.parse(row.value) : undefined;
      },
      set: (value) => {
        let text: string | undefined;
        try {
          text = JSON.stringify(value);
        } catch (e) {
          throw new SilicoError("design_state", `design state must be JSON: ${(e as Error).message}`);
        }
        if (text === undefined)
          throw new SilicoError("design_state", "design state must be JSON, not undefined");
        this.write(() =>
          this.db
            .prepare(
              `INSERT INTO design_state (run_id, session_key, value, updated_at) VALUES (?,?,?,?)
               ON CONFLICT (run_id, session_key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
            )
            .run(runId, sessionKey, redact(text), now()),
        );
        this.flush();
      },
    };
  }

  /** Keep the failed attempt in the record under a new key and let the session run afresh. */
  supersedeSession(runId: string, key: string): void {
    const row = this.db
      .prepare("SELECT attempt FROM sessions WHERE run_id = ? AND key = ?")
      .get(runId, key) as { attempt: number } | undefined;
    if (!row) return;
    const oldKey = `${key}~${row.attempt}`;
    this.write(() => {
      for (const table of ["messages", "observations", "calls", "participants"]) {
        this.db
          .prepare(`UPDATE ${table} SET session_key = ? WHERE run_id = ? AND session_key = ?`)
          .run(oldKey, runId, key);
      }
      this.db
        .prepare(
          `INSERT INTO sessions (run_id, key, idx, draw, coords, status, attempt, error, started_at, finished_at)
           SELECT run_id, ?, idx, draw, coords, 'superseded', attempt, error, started_at, finished_at FROM sessions
           WHERE run_id = ? AND key = ?`,
        )
        .run(oldKey, runId, key);
      this.db
        .prepare("UPDATE sessions SET status = 'pending', attempt = attempt + 1 WHERE run_id = ? AND key = ?")
        .run(runId, key);
    });
  }

  private nextSeq(runId: string, key: string): number {
    const k = `${runId}\u0000${key}`;
    const n = (this.seq.get(k) ?? 0) + 1;
    this.seq.set(k, n);
    return n;
  }

  findCached(cacheKey: string): CachedCall | undefined {
    return this.stmts.findCached.get(cacheKey) as CachedCall | undefined;
  }

  /** One transaction per finished call: the call, the messages it produced, its observations. */
  recordCall(
    call: CallRecord,
    messages: MessageRecord[],
    observations: (ObservationRecord & { linkCall?: boolean })[],
  ): number {
    let callId = 0;
    this.write(() => {
      const info = this.stmts.insertCall.run(
        call.runId,
        call.sessionKey,
        call.pid,
        call.callKey,
        call.cacheKey,
        call.model,
        call.status,
        json(call.request),
        json(call.response),
        call.text === undefined ? null : call.text,
        call.inputTokens ?? null,
        call.outputTokens ?? null,
        call.latencyMs ?? null,
        call.costUsd ?? null,
        json(call.attempts),
        json(call.warnings),
        call.error ? redact(call.error) : null,
        call.cachedFrom ?? null,
        call.constrained ? 1 : 0,
        call.startedAt,
        call.finishedAt,
      );
      callId = Number(info.lastInsertRowid);
      this.insertMessages(call.runId, call.sessionKey, messages, callId);
      for (const o of observations) this.insertObservation(call.runId, call.sessionKey, o, callId);
    });
    return callId;
  }

  private insertMessages(
    runId: string,
    sessionKey: string,
    messages: MessageRecord[],
    callId: number | null,
  ) {
    for (const m of messages) {
      const content = typeof m.content === "string" ? m.content : JSON.stringify(m.content);
      this.stmts.insertMessage.run(
        runId,
        sessionKey,
        m.pid,
        this.nextSeq(runId, sessionKey),
        m.role,
        content,
        callId,
      );
    }
  }

  private insertObservation(runId: string, sessionKey: string, o: ObservationRecord, callId: number | null) {
    this.stmts.insertObservation.run(
      runId,
      sessionKey,
      o.pid,
      this.nextSeq(runId, sessionKey),
      o.name,
      json(o.coords),
      o.value === undefined ? null : json(o.value),
      o.raw ?? null,
      o.valid ? 1 : 0,
      o.reason ?? null,
      o.attempts ?? 1,
      o.choiceIndex ?? 0,
      callId,
      o.meta ? json(o.meta) : null,
      now(),
    );
  }

  addMessages(runId: string, sessionKey: string, messages: MessageRecord[]): void {
    this.write(() => this.insertMessages(runId, sessionKey, messages, null));
  }

  addObservation(runId: string, sessionKey: string, o: ObservationRecord): void {
    this.write(() => this.insertObservation(runId, sessionKey, o, null));
  }
}
