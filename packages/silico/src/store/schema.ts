/**
 * The store schema is the contract between engine, CLI, exports, studio and oTree. Each entry
 * migrates from version i to i+1; `PRAGMA user_version` holds the version reached.
 */
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT,
    study_path TEXT,
    study_hash TEXT NOT NULL,
    study_text TEXT NOT NULL,
    silico_version TEXT NOT NULL,
    seed INTEGER NOT NULL,
    settings TEXT NOT NULL,
    manifest TEXT NOT NULL,
    total_sessions INTEGER NOT NULL,
    summary TEXT
  );
  CREATE TABLE sessions (
    run_id TEXT NOT NULL REFERENCES runs(id),
    key TEXT NOT NULL,
    idx INTEGER NOT NULL,
    draw INTEGER NOT NULL,
    coords TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    error TEXT,
    started_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (run_id, key)
  );
  CREATE TABLE participants (
    run_id TEXT NOT NULL,
    session_key TEXT NOT NULL,
    pid TEXT NOT NULL,
    role TEXT,
    model TEXT NOT NULL,
    params TEXT NOT NULL,
    PRIMARY KEY (run_id, session_key, pid)
  );
  CREATE TABLE calls (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    session_key TEXT NOT NULL,
    pid TEXT NOT NULL,
    call_key TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT,
    text TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    latency_ms REAL,
    cost_usd REAL,
    attempts TEXT NOT NULL,
    warnings TEXT NOT NULL,
    error TEXT,
    cached_from INTEGER,
    constrained INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL
  );
  CREATE INDEX calls_by_session ON calls(run_id, session_key);
  CREATE INDEX calls_by_cache ON calls(cache_key) WHERE status = 'ok';
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    session_key TEXT NOT NULL,
    pid TEXT NOT NULL,
    seq INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    call_id INTEGER
  );
  CREATE INDEX messages_by_session ON messages(run_id, session_key, pid, seq);
  CREATE TABLE observations (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    session_key TEXT NOT NULL,
    pid TEXT,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    coords TEXT NOT NULL,
    value TEXT,
    raw TEXT,
    valid INTEGER NOT NULL,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    choice_index INTEGER NOT NULL DEFAULT 0,
    call_id INTEGER,
    meta TEXT,
    created_at TEXT NOT NULL
  );
  CREATE INDEX observations_by_run ON observations(run_id, session_key, seq);
  `,
  // 2: the process that owns a running run (see run-lease.ts). One row per run while a `run` or
  // `resume` works on it; a row whose process is gone marks the run as interrupted.
  `
  CREATE TABLE run_owners (
    run_id TEXT PRIMARY KEY REFERENCES runs(id),
    token TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    command TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
  );
  `,
  // 3: design state (set-up/tear-down and per-session state that must survive a resume). Its own
  // migration, after the lease's.
  `
  CREATE TABLE design_state (
    run_id TEXT NOT NULL,
    -- '' holds the run's own state (set-up); otherwise a session key
    session_key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (run_id, session_key)
  );
  `,
  // 4: provider batches (--batch). A batch and the keys of its requests are committed before it
  // is submitted and its provider id right after, so a resumed run finds the batches it paid
  // for and waits for their results instead of submitting the requests again.
  `
  CREATE TABLE batches (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    -- the provider's base URL (never a key) and the batch's endpoint path
    base_url TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    remote_id TEXT,
    input_file_id TEXT,
    -- 'submitting' until the provider has its id, then the provider's own status
    status TEXT NOT NULL,
    request_count INTEGER NOT NULL,
    counts TEXT,
    output_file_id TEXT,
    error_file_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX batches_by_run ON batches(run_id);
  CREATE TABLE batch_requests (
    batch_id INTEGER NOT NULL REFERENCES batches(id),
    run_id TEXT NOT NULL,
    custom_id TEXT NOT NULL,
    call_key TEXT NOT NULL,
    -- SHA-256 of the request body sent: a request re-attaches only to a batch holding the same
    body_hash TEXT NOT NULL,
    -- pending | succeeded | errored | expired | cancelled
    status TEXT NOT NULL,
    PRIMARY KEY (batch_id, custom_id)
  );
  CREATE INDEX batch_requests_by_custom_id ON batch_requests(run_id, custom_id);
  `,
  // 5: agent turns answered by `silico serve`: one row per answered turn key, so a retried request
  // gets the stored answer, and (for agents whose memory the service keeps) the conversation so
  // far of each agent owner. The calls, messages and observations are in the usual tables.
  `
  CREATE TABLE agent_turns (
    run_id TEXT NOT NULL,
    -- oTree session code, owner (participant:CODE or group:ID) and agent
    memory_key TEXT NOT NULL,
    turn_key TEXT NOT NULL,
    -- order of the turns of one memory_key
    seq INTEGER NOT NULL,
    session_key TEXT NOT NULL,
    agent TEXT NOT NULL,
    otree_session TEXT NOT NULL,
    participant TEXT NOT NULL,
    owner TEXT NOT NULL,
    app TEXT,
    round INTEGER,
    page TEXT,
    -- 1: the service keeps this agent's memory; 0: the app sent the transcript
    memory INTEGER NOT NULL,
    -- the template variables the app sent (treatment, payoffs so far …), JSON
    vars TEXT NOT NULL,
    prompt TEXT NOT NULL,
    reply TEXT NOT NULL,
    value TEXT,
    valid INTEGER NOT NULL,
    reason TEXT,
    call_id INTEGER,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, memory_key, turn_key)
  );
  CREATE INDEX agent_turns_by_memory ON agent_turns(run_id, memory_key, seq);
  `,
  // 6: sessions in plan order. Listings and keyset pages of sessions, and of observations (which
  // walk their sessions in this order), seek this index instead of sorting a run's sessions.
  // Observations by name: a run's observation names in one seek each, and aggregates of one
  // name read only its rows.
  `
  CREATE INDEX sessions_by_idx ON sessions(run_id, idx, key);
  CREATE INDEX observations_by_name ON observations(run_id, name);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
