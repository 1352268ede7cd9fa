import { existsSync, mkdirSync, statfsSync } from "node:fs";
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
import { type OwnerClaim, ownerAlive, type RunOwner } from "./run-lease.js";
import { MIGRATIONS, SCHEMA_VERSION } from "./schema.js";
import { startWalCheckpointer, type WalCheckpointer } from "./wal-checkpointer.js";

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
  /** The live process working on the run, if any (a "running" run without one reads "interrupted"). */
  owner?: RunOwner;
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

/** A provider batch as the store keeps it (see migration 4). */
export interface BatchRecord {
  id: number;
  runId: string;
  provider: string;
  model: string;
  baseUrl: string;
  endpoint: string;
  remoteId: string | null;
  inputFileId: string | null;
  status: string;
  requestCount: number;
  counts: Record<string, number> | null;
  outputFileId: string | null;
  errorFileId: string | null;
}

export type BatchRequestStatus = "pending" | "succeeded" | "errored" | "expired" | "cancelled";

/** The newest batch request of a call (by custom_id), with its batch. */
export interface BatchRequestRecord {
  batch: BatchRecord;
  customId: string;
  callKey: string;
  bodyHash: string;
  status: BatchRequestStatus;
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

/** One answered turn of an agent served by `silico serve` (table agent_turns). */
export interface AgentTurnRecord {
  memoryKey: string;
  turnKey: string;
  seq: number;
  sessionKey: string;
  agent: string;
  otreeSession: string;
  participant: string;
  owner: string;
  app: string | null;
  round: number | null;
  page: string | null;
  memory: boolean;
  /** The template variables the app sent with the turn. */
  vars: Record<string, unknown>;
  /** The user message as sent to the model. */
  prompt: string;
  /** The model's reply (the last attempt's raw text). */
  reply: string;
  value: unknown;
  valid: boolean;
  reason: string | null;
  callId: number | null;
  createdAt: string;
}

function decodeAgentTurn(r: Record<string, unknown>): AgentTurnRecord {
  return {
    memoryKey: r.memory_key as string,
    turnKey: r.turn_key as string,
    seq: r.seq as number,
    sessionKey: r.session_key as string,
    agent: r.agent as string,
    otreeSession: r.otree_session as string,
    participant: r.participant as string,
    owner: r.owner as string,
    app: (r.app as string | null) ?? null,
    round: (r.round as number | null) ?? null,
    page: (r.page as string | null) ?? null,
    memory: r.memory === 1,
    vars: JSON.parse(r.vars as string) as Record<string, unknown>,
    prompt: r.prompt as string,
    reply: r.reply as string,
    value: r.value === null || r.value === undefined ? null : JSON.parse(r.value as string),
    valid: r.valid === 1,
    reason: (r.reason as string | null) ?? null,
    callId: (r.call_id as number | null) ?? null,
    createdAt: r.created_at as string,
  };
}

const now = () => new Date().toISOString();

/**
 * The store could not be written (disk full, I/O error, read-only file, lease lost). Once one
 * write fails the store takes no more: everything committed before stays, the batch in progress
 * is rolled back, and listeners (the executor) stop asking for answers that could not be kept.
 */
export class StoreWriteError extends SilicoError {
  constructor(
    message: string,
    readonly sqliteCode?: string,
    /** The run passed to another process: nothing is wrong with the store itself. */
    readonly leaseLost = false,
  ) {
    super(leaseLost ? "lease_lost" : "store_write", message);
    this.name = "StoreWriteError";
  }
}

const isBusy = (e: unknown) => /^SQLITE_(BUSY|LOCKED)/.test(String((e as { code?: unknown }).code ?? ""));

function describeWriteFailure(path: string, e: unknown): StoreWriteError {
  const code = String((e as { code?: unknown }).code ?? "");
  const detail = redact(e instanceof Error ? e.message : String(e));
  const what =
    code === "SQLITE_FULL"
      ? "the disk is full"
      : code.startsWith("SQLITE_READONLY")
        ? "the file is read-only"
        : code.startsWith("SQLITE_IOERR")
          ? "an I/O error occurred"
          : "a write failed";
  return new StoreWriteError(
    `cannot write to the store ${path}: ${what} (${code ? `${code}: ` : ""}${detail})`,
    code || undefined,
  );
}

/**
 * Opening a store needs a little room: SQLite maps its shared-memory file (`-shm`) into memory,
 * and on a file system with no free blocks touching that map kills the process (SIGBUS) instead
 * of returning an error. So a store on a (nearly) full disk is refused with a message.
 */
const MIN_FREE_BYTES = 64 << 10;

function checkFreeSpace(file: string): void {
  let free: number;
  try {
    const st = statfsSync(dirname(file));
    free = st.bavail * st.bsize;
  } catch {
    return; // unknown: SQLite reports what goes wrong
  }
  if (free < MIN_FREE_BYTES) {
    throw new SilicoError(
      "store_full",
      `cannot open the store ${file}: the disk is full (${Math.floor(free / 1024)} KB free); free some space, then try again`,
    );
  }
}

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
  /** Callers of committed() waiting for the open batch's commit (group commit). */
  private commitWaiters: { resolve(): void; reject(e: unknown): void }[] = [];
  private commitSoon: NodeJS.Immediate | undefined;
  /** Set by the first failed write; from then on the store refuses writes. */
  failure: StoreWriteError | undefined;
  private readonly failureListeners = new Set<(e: StoreWriteError) => void>();
  /** Answers handed to recordCall that are not (and now never will be) committed. */
  private batchAnswers = 0;
  private lostAnswers = 0;
  /** Runs whose lease this process holds: a commit checks each is still ours. */
  private readonly guards = new Map<string, string>();
  /** Statements run per page or per call, prepared once (preparing was a tenth of the store's CPU). */
  private readonly cachedStatements = new Map<string, Database.Statement>();

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
      if (full !== ":memory:") {
        mkdirSync(dirname(full), { recursive: true });
        checkFreeSpace(full);
      }
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
      if (e instanceof SilicoError) throw e;
      if (writable && e instanceof Database.SqliteError) throw describeWriteFailure(full, e);
      throw storeOpenError(full, e, writable ? "write" : "read");
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

  /**
   * From now on the WAL is checkpointed on a thread of its own, never in a commit (silico serve:
   * a checkpoint in the commit held every reply waiting for it 9–20 ms). Undone by close().
   */
  checkpointInBackground(intervalMs = 2000): void {
    if (this.checkpointer || this.path === ":memory:" || !this.db.open) return;
    this.checkpointer = startWalCheckpointer(this.db, this.path, intervalMs);
  }

  private checkpointer: WalCheckpointer | undefined;

  close(): void {
    try {
      this.flush();
    } finally {
      // First: the store's own close must be the last connection (it checkpoints and removes the WAL).
      this.checkpointer?.stop();
      if (this.db.open) this.db.close();
      if (this.commitSoon) clearImmediate(this.commitSoon);
      this.commitSoon = undefined;
      // Writes that could not be committed before the close are gone: their callers hear so.
      const waiters = this.commitWaiters.splice(0);
      const lost = this.failure ?? new StoreWriteError(`the store ${this.path} was closed before a commit`);
      for (const w of waiters) w.reject(lost);
    }
  }

  /** Called once, with the error, when a write fails; returns a function that unsubscribes. */
  onFailure(listener: (e: StoreWriteError) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  /** Answers received but not kept because the store failed (they are asked again on resume). */
  get unsavedAnswers(): number {
    return this.lostAnswers;
  }

  /** Remember the failure, drop the uncommitted batch, tell the listeners, and throw. */
  private fail(e: unknown): never {
    if (!this.failure) {
      this.failure = e instanceof StoreWriteError ? e : describeWriteFailure(this.path, e);
      this.lostAnswers += this.batchAnswers;
      this.batchAnswers = 0;
      if (this.batchTimer) clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
      try {
        if (this.db.open && this.db.inTransaction) this.db.exec("ROLLBACK");
      } catch {
        // SQLite may already have rolled back on SQLITE_FULL / SQLITE_IOERR.
      }
      for (const listener of this.failureListeners) listener(this.failure);
      this.settleCommitWaiters();
    }
    throw this.failure;
  }

  /** Commit the writes batched so far (see BATCH_MS). */
  flush(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.failure || !this.db.open || !this.db.inTransaction) {
      this.settleCommitWaiters();
      return;
    }
    try {
      this.checkGuards();
      this.db.exec("COMMIT");
      this.batchAnswers = 0;
    } catch (e) {
      if (isBusy(e)) throw e; // another process holds a lock: the batch stays open
      this.fail(e);
    }
    this.settleCommitWaiters();
  }

  /**
   * Resolves once every write made so far is committed; rejects if that commit fails. Callers
   * that answer someone outside (silico serve's reply) wait for it, so an answer that was sent is
   * never one a crash could lose. Writes of every caller in one turn of the event loop share one
   * commit, made right after that turn (group commit) instead of at the end of the BATCH_MS window.
   */
  committed(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.db.inTransaction) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.commitWaiters.push({ resolve, reject });
      this.commitSoon ??= setImmediate(() => {
        this.commitSoon = undefined;
        try {
          this.flush();
        } catch (e) {
          // Busy (another process holds the lock): the batch stays open and its timer retries.
          if (isBusy(e) && !this.batchTimer) this.scheduleFlush();
        }
      });
    });
  }

  /** After a commit (or a failure): wake the callers of committed(). */
  private settleCommitWaiters(): void {
    if (this.commitWaiters.length === 0) return;
    if (!this.failure && this.db.open && this.db.inTransaction) return; // still open: wait on
    const waiters = this.commitWaiters;
    this.commitWaiters = [];
    for (const w of waiters) {
      if (this.failure) w.reject(this.failure);
      else w.resolve();
    }
  }

  private scheduleFlush(): void {
    // Not unref'd: a script that ends without close() still gets its last writes committed.
    this.batchTimer = setTimeout(() => {
      try {
        this.flush();
      } catch (e) {
        if (isBusy(e)) this.scheduleFlush(); // try again; the batch stays open
        // Any other failure has been recorded and reported to the listeners by fail().
      }
    }, BATCH_MS);
  }

  /** Run `fn` atomically (a savepoint) inside the current batch, opening one if needed. */
  private write<T>(fn: () => T): T {
    if (this.failure) throw this.failure;
    try {
      if (!this.db.inTransaction) {
        this.db.exec("BEGIN");
        this.scheduleFlush();
      }
      this.stmts.savepoint.run();
    } catch (e) {
      this.fail(e);
    }
    try {
      const result = fn();
      this.stmts.release.run();
      return result;
    } catch (e) {
      if (!(e instanceof Database.SqliteError)) {
        if (this.db.inTransaction) {
          this.stmts.rollbackTo.run();
          this.stmts.release.run();
        }
        throw e;
      }
      this.fail(e);
    }
  }

  /** A commit into a run whose lease passed to another process would duplicate its work. */
  private checkGuards(): void {
    for (const [runId, token] of this.guards) {
      const owner = this.runOwner(runId);
      if (owner?.token !== token) {
        this.guards.delete(runId);
        throw new StoreWriteError(
          owner
            ? `run ${runId} was taken over by process ${owner.pid} on host ${owner.host}; this process stopped without writing more`
            : `run ${runId} lost its owner record; this process stopped without writing more`,
          undefined,
          true,
        );
      }
    }
  }

  /** From now on every commit checks that `token` still holds the lease on `runId`. */
  guardCommits(runId: string, token: string): void {
    this.guards.set(runId, token);
  }

  runOwner(runId: string): RunOwner | undefined {
    return this.statement("SELECT * FROM run_owners WHERE run_id = ?").get(runId) as RunOwner | undefined;
  }

  /**
   * Take the lease on a run and mark it running, unless a live process holds it: then nothing is
   * written and that owner is returned. The check is made first without the write lock, so a
   * refused claim never waits for (or blocks) the owner's commits.
   */
  claimRun(runId: string, claim: OwnerClaim, alive: (o: RunOwner) => boolean): RunOwner | undefined {
    const current = this.runOwner(runId);
    if (current && current.token !== claim.token && alive(current)) return current;
    this.flush();
    if (this.failure) throw this.failure;
    let holder: RunOwner | undefined;
    try {
      this.db
        .transaction(() => {
          // Checked again under the write lock: two resumes racing for a dead owner's run.
          const owner = this.runOwner(runId);
          if (owner && owner.token !== claim.token && alive(owner)) {
            holder = owner;
            return;
          }
          const t = now();
          this.db
            .prepare(`INSERT OR REPLACE INTO run_owners (run_id, token, pid, host, command, acquired_at, heartbeat_at)
              VALUES (?,?,?,?,?,?,?)`)
            .run(runId, claim.token, claim.pid, claim.host, claim.command, t, t);
          this.db.prepare("UPDATE runs SET status = 'running', updated_at = ? WHERE id = ?").run(t, runId);
        })
        .immediate();
    } catch (e) {
      if (isBusy(e)) throw e;
      this.fail(e);
    }
    return holder;
  }

  /** The owner's heartbeat (batched with the other writes). */
  touchOwner(runId: string, token: string): void {
    this.write(() =>
      this.statement("UPDATE run_owners SET heartbeat_at = ? WHERE run_id = ? AND token = ?").run(
        now(),
        runId,
        token,
      ),
    );
  }

  /** `sql` prepared once per store; only for statements no caller changes (no pluck/raw). */
  private statement(sql: string): Database.Statement {
    let stmt = this.cachedStatements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.cachedStatements.set(sql, stmt);
    }
    return stmt;
  }

  /** Write a run's final state and give up its lease, in one commit. */
  finishRun(
    id: string,
    fields: { status: RunStatus; summary?: unknown; totalSessions?: number },
    token?: string,
  ): void {
    this.flush(); // the batch so far, checked against the lease like every commit
    if (token) this.guards.delete(id);
    this.write(() => {
      this.db
        .prepare("UPDATE runs SET status = ?, summary = COALESCE(?, summary), updated_at = ? WHERE id = ?")
        .run(fields.status, fields.summary === undefined ? null : json(fields.summary), now(), id);
      // An open plan (silico serve) learns its size only as sessions arrive.
      if (fields.totalSessions !== undefined)
        this.db.prepare("UPDATE runs SET total_sessions = ? WHERE id = ?").run(fields.totalSessions, id);
      if (token) this.db.prepare("DELETE FROM run_owners WHERE run_id = ? AND token = ?").run(id, token);
    });
    this.flush();
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

  /** A new run, marked running; with `owner`, the lease is taken in the same commit. */
  createRun(run: NewRun, owner?: OwnerClaim): string {
    const id = this.newRunId();
    const t = now();
    this.flush();
    this.write(() => {
      this.insertRun(id, t, run);
      if (owner) {
        this.db
          .prepare(`INSERT INTO run_owners (run_id, token, pid, host, command, acquired_at, heartbeat_at)
            VALUES (?,?,?,?,?,?,?)`)
          .run(id, owner.token, owner.pid, owner.host, owner.command, t, t);
      }
    });
    this.flush();
    return id;
  }

  private insertRun(id: string, t: string, run: NewRun): void {
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
    const run: RunRecord = {
      ...(row as unknown as RunRecord),
      settings: JSON.parse(row.settings as string),
      manifest: JSON.parse(row.manifest as string),
      summary: row.summary ? JSON.parse(row.summary as string) : null,
    };
    if (run.status === "running") {
      // The stored status says what the last owner meant to do; whether it still does it is
      // the owner's liveness. A killed process leaves "running" behind: that run is interrupted.
      const owner = this.runOwner(run.id);
      if (owner && ownerAlive(owner)) run.owner = owner;
      else run.status = "interrupted";
    }
    return run;
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
   * Starts (or restarts) a session. A restarted session is replayed from its start, so its
   * earlier messages and observations are dropped; with `keep` (a procedure that continues where
   * it stopped) they stay and new rows follow them. Returns whether earlier rows were kept.
   */
  startSession(
    runId: string,
    s: { key: string; index: number; draw: number; coords: Coordinates; fresh?: boolean },
    participants: { id: string; role?: string; model: string; params: unknown }[],
    options: { keep?: boolean } = {},
  ): boolean {
    let last = 0;
    if (options.keep) {
      const row = this.db
        .prepare(
          `SELECT MAX(seq) AS seq FROM (SELECT seq FROM messages WHERE run_id = ? AND session_key = ?
           UNION ALL SELECT seq FROM observations WHERE run_id = ? AND session_key = ?)`,
        )
        .get(runId, s.key, runId, s.key) as { seq: number | null };
      last = row.seq ?? 0;
    }
    this.write(() => {
      // `fresh`: the caller knows the run has no earlier attempt of this session to clear.
      if (last === 0 && !s.fresh) {
        this.stmts.deleteMessages.run(runId, s.key);
        this.stmts.deleteObservations.run(runId, s.key);
      }
      this.stmts.upsertSession.run(runId, s.key, s.index, s.draw, json(s.coords), now());
      for (const p of participants) {
        this.stmts.insertParticipant.run(runId, s.key, p.id, p.role ?? null, p.model, json(p.params));
      }
    });
    this.seq.set(`${runId}\u0000${s.key}`, last);
    return last > 0;
  }

  /**
   * A session's recorded conversation in order (a session continued in place gets it back),
   * without the prompts of calls that failed (they were never answered).
   */
  sessionMessages(runId: string, key: string): { pid: string; role: string; content: string }[] {
    return this.db
      .prepare(
        `SELECT m.pid, m.role, m.content FROM messages m LEFT JOIN calls c ON c.id = m.call_id
         WHERE m.run_id = ? AND m.session_key = ? AND (c.status IS NULL OR c.status != 'error')
         ORDER BY m.seq, m.id`,
      )
      .all(runId, key) as { pid: string; role: string; content: string }[];
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
        const row = this.statement("SELECT value FROM design_state WHERE run_id = ? AND session_key = ?").get(
          runId,
          sessionKey,
        ) as { value: string } | undefined;
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
          this.statement(
            `INSERT INTO design_state (run_id, session_key, value, updated_at) VALUES (?,?,?,?)
               ON CONFLICT (run_id, session_key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
          ).run(runId, sessionKey, redact(text), now()),
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

  /**
   * One transaction per finished call: the call, the messages it produced, its observations; and
   * `told`, messages given to the participant since the session's last write (no call of their
   * own), which come first.
   */
  recordCall(
    call: CallRecord,
    messages: MessageRecord[],
    observations: (ObservationRecord & { linkCall?: boolean })[],
    told: MessageRecord[] = [],
  ): number {
    let callId = 0;
    const answered = call.cachedFrom === undefined && call.status !== "error";
    if (this.failure) {
      if (answered) this.lostAnswers++;
      throw this.failure;
    }
    // Counted before the write: if the store fails on it, fail() moves the count to lostAnswers.
    if (answered) this.batchAnswers++;
    this.write(() => {
      if (told.length > 0) this.insertMessages(call.runId, call.sessionKey, told, null);
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

  /** Statements of the agent-turn methods, prepared once (silico serve runs them per turn). */
  private agentStmts?: {
    one: Database.Statement;
    memory: Database.Statement;
    all: Database.Statement;
    maxSeq: Database.Statement;
    insert: Database.Statement;
  };

  private agentStatements() {
    this.agentStmts ??= {
      one: this.db.prepare("SELECT * FROM agent_turns WHERE run_id = ? AND memory_key = ? AND turn_key = ?"),
      memory: this.db.prepare("SELECT * FROM agent_turns WHERE run_id = ? AND memory_key = ? ORDER BY seq"),
      all: this.db.prepare("SELECT * FROM agent_turns WHERE run_id = ? ORDER BY created_at, rowid"),
      maxSeq: this.db.prepare("SELECT max(seq) FROM agent_turns WHERE run_id = ? AND memory_key = ?").pluck(),
      insert: this.db.prepare(`INSERT INTO agent_turns (run_id, memory_key, turn_key, seq, session_key, agent,
        otree_session, participant, owner, app, round, page, memory, vars, prompt, reply, value, valid, reason,
        call_id, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
    };
    return this.agentStmts;
  }

  /** The stored answer of an agent turn (silico serve), if that turn key was answered. */
  agentTurn(runId: string, memoryKey: string, turnKey: string): AgentTurnRecord | undefined {
    const row = this.agentStatements().one.get(runId, memoryKey, turnKey) as
      | Record<string, unknown>
      | undefined;
    return row ? decodeAgentTurn(row) : undefined;
  }

  /** The turns of one agent owner so far, in order (the service-kept memory). */
  agentTurns(runId: string, memoryKey: string): AgentTurnRecord[] {
    return (this.agentStatements().memory.all(runId, memoryKey) as Record<string, unknown>[]).map(
      decodeAgentTurn,
    );
  }

  /**
   * Sessions of a run so far, superseded attempts left out: an open plan's (silico serve) size
   * while it runs, when `total_sessions` is only written at its end.
   */
  sessionCount(runId: string): number {
    const row = this.db
      .prepare("SELECT COUNT(*) AS n FROM sessions WHERE run_id = ? AND status <> 'superseded'")
      .get(runId) as { n: number };
    return row.n;
  }

  /** Every answered agent turn of a run, in the order they were answered (for joins with oTree data). */
  allAgentTurns(runId: string): AgentTurnRecord[] {
    return (this.agentStatements().all.all(runId) as Record<string, unknown>[]).map(decodeAgentTurn);
  }

  /** Record an answered agent turn, batched with the call it answered (same commit). */
  addAgentTurn(runId: string, t: Omit<AgentTurnRecord, "seq" | "createdAt">): void {
    const stmts = this.agentStatements();
    this.write(() => {
      const seq = ((stmts.maxSeq.get(runId, t.memoryKey) as number | null) ?? 0) + 1;
      stmts.insert.run(
        runId,
        t.memoryKey,
        t.turnKey,
        seq,
        t.sessionKey,
        t.agent,
        t.otreeSession,
        t.participant,
        t.owner,
        t.app,
        t.round,
        t.page,
        t.memory ? 1 : 0,
        json(t.vars),
        t.prompt,
        t.reply,
        t.value === undefined ? null : json(t.value),
        t.valid ? 1 : 0,
        t.reason,
        t.callId,
        now(),
      );
    });
  }

  /**
   * A batch about to be submitted and the keys of its requests, committed at once (before the
   * provider is asked, so no submitted batch can be missing from the store but the one in flight).
   */
  createBatch(
    b: { runId: string; provider: string; model: string; baseUrl: string; endpoint: string },
    requests: { customId: string; callKey: string; bodyHash: string }[],
  ): number {
    let id = 0;
    const t = now();
    this.write(() => {
      const info = this.db
        .prepare(`INSERT INTO batches (run_id, provider, model, base_url, endpoint, status, request_count, created_at,
          updated_at) VALUES (?,?,?,?,?,'submitting',?,?,?)`)
        .run(b.runId, b.provider, b.model, redact(b.baseUrl), b.endpoint, requests.length, t, t);
      id = Number(info.lastInsertRowid);
      const insert = this.db.prepare(
        "INSERT INTO batch_requests (batch_id, run_id, custom_id, call_key, body_hash, status) VALUES (?,?,?,?,?,'pending')",
      );
      for (const r of requests) insert.run(id, b.runId, r.customId, r.callKey, r.bodyHash);
    });
    this.flush();
    return id;
  }

  /** The provider's id of a submitted batch (committed at once: from now on it is paid for). */
  batchSubmitted(id: number, remoteId: string, inputFileId: string | null, status: string): void {
    this.write(() =>
      this.db
        .prepare(
          "UPDATE batches SET remote_id = ?, input_file_id = ?, status = ?, updated_at = ? WHERE id = ?",
        )
        .run(remoteId, inputFileId, status, now(), id),
    );
    this.flush();
  }

  /** A batch's state as last polled. */
  updateBatch(
    id: number,
    fields: {
      status: string;
      counts?: Record<string, number>;
      outputFileId?: string | null;
      errorFileId?: string | null;
    },
  ): void {
    this.write(() =>
      this.db
        .prepare(`UPDATE batches SET status = ?, counts = COALESCE(?, counts), output_file_id = COALESCE(?, output_file_id),
          error_file_id = COALESCE(?, error_file_id), updated_at = ? WHERE id = ?`)
        .run(
          fields.status,
          fields.counts ? JSON.stringify(fields.counts) : null,
          fields.outputFileId ?? null,
          fields.errorFileId ?? null,
          now(),
          id,
        ),
    );
  }

  /** How each request of a batch ended. */
  setBatchRequestStatuses(id: number, statuses: Map<string, BatchRequestStatus>): void {
    this.write(() => {
      const update = this.db.prepare(
        "UPDATE batch_requests SET status = ? WHERE batch_id = ? AND custom_id = ?",
      );
      for (const [customId, status] of statuses) update.run(status, id, customId);
    });
  }

  /** The newest submitted batch request of a call (its custom_id), if any. */
  batchRequestFor(runId: string, customId: string): BatchRequestRecord | undefined {
    const row = this.db
      .prepare(
        `SELECT r.custom_id, r.call_key, r.body_hash, r.status AS request_status, b.* FROM batch_requests r
         JOIN batches b ON b.id = r.batch_id
         WHERE r.run_id = ? AND r.custom_id = ? AND b.remote_id IS NOT NULL ORDER BY b.id DESC LIMIT 1`,
      )
      .get(runId, customId) as Record<string, unknown> | undefined;
    if (!row) return undefined;
    return {
      batch: decodeBatch(row),
      customId: row.custom_id as string,
      callKey: row.call_key as string,
      bodyHash: row.body_hash as string,
      status: row.request_status as BatchRequestStatus,
    };
  }

  /** Batches of a run written before submission whose provider id never reached the store. */
  orphanBatches(runId: string): BatchRecord[] {
    return (
      this.db
        .prepare(
          "SELECT * FROM batches WHERE run_id = ? AND remote_id IS NULL AND status = 'submitting' ORDER BY id",
        )
        .all(runId) as Record<string, unknown>[]
    ).map(decodeBatch);
  }

  /** Every batch of a run, oldest first. */
  batchesOf(runId: string): BatchRecord[] {
    return (
      this.db.prepare("SELECT * FROM batches WHERE run_id = ? ORDER BY id").all(runId) as Record<
        string,
        unknown
      >[]
    ).map(decodeBatch);
  }

  addMessages(runId: string, sessionKey: string, messages: MessageRecord[]): void {
    this.write(() => this.insertMessages(runId, sessionKey, messages, null));
  }

  /** `callId` links a value a procedure records itself to the call it came from. */
  addObservation(runId: string, sessionKey: string, o: ObservationRecord, callId?: number): void {
    this.write(() => this.insertObservation(runId, sessionKey, o, callId ?? null));
  }
}

function decodeBatch(row: Record<string, unknown>): BatchRecord {
  return {
    id: row.id as number,
    runId: row.run_id as string,
    provider: row.provider as string,
    model: row.model as string,
    baseUrl: row.base_url as string,
    endpoint: row.endpoint as string,
    remoteId: (row.remote_id as string | null) ?? null,
    inputFileId: (row.input_file_id as string | null) ?? null,
    status: row.status as string,
    requestCount: row.request_count as number,
    counts: row.counts ? (JSON.parse(row.counts as string) as Record<string, number>) : null,
    outputFileId: (row.output_file_id as string | null) ?? null,
    errorFileId: (row.error_file_id as string | null) ?? null,
  };
}
