import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import Database from "better-sqlite3";
import { CLI } from "./cli.js";

/** The built CLI as a long-running child process the test can signal; output is collected. */
export interface LiveCli {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code and signal, and when it came (performance.now()). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

export function startCli(
  args: string[],
  opts: {
    cwd: string;
    env: Record<string, string | undefined>;
    /** How to start node (e.g. under a file-size limit); default: node itself. */
    command?: (nodeArgs: string[]) => { file: string; args: string[] };
  },
): LiveCli {
  const how = (opts.command ?? ((a: string[]) => ({ file: process.execPath, args: a })))([CLI, ...args]);
  const child = spawn(how.file, how.args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    err += d;
  });
  const exited = once(child, "exit").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    at: performance.now(),
  }));
  if (child.pid === undefined) throw new Error("the CLI did not start");
  return { child, pid: child.pid, stdout: () => out, stderr: () => err, exited };
}

export async function waitFor(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface RunFacts {
  status: string;
  sessions: { key: string; status: string }[];
  observations: number;
  observationsPerSession: Map<string, number>;
  /** Answers the provider gave (not replays from the cache), per call key. */
  answeredPerCallKey: Map<string, number>;
  answered: number;
  owners: { pid: number; host: string }[];
}

/** Reads a store the way a reviewer would: row by row, read-only. */
export function runFacts(db: string, runId?: string): RunFacts {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const run = (runId ?? conn.prepare("SELECT id FROM runs").pluck().get()) as string;
    const count = (sql: string) =>
      new Map((conn.prepare(sql).all(run) as { k: string; n: number }[]).map((r) => [r.k, r.n] as const));
    const answeredPerCallKey = count(
      `SELECT call_key AS k, COUNT(*) AS n FROM calls WHERE run_id = ? AND status IN ('ok', 'invalid')
       AND cached_from IS NULL GROUP BY k`,
    );
    const observationsPerSession = count(
      "SELECT session_key AS k, COUNT(*) AS n FROM observations WHERE run_id = ? GROUP BY k",
    );
    return {
      status: conn.prepare("SELECT status FROM runs WHERE id = ?").pluck().get(run) as string,
      sessions: conn.prepare("SELECT key, status FROM sessions WHERE run_id = ? ORDER BY idx").all(run) as {
        key: string;
        status: string;
      }[],
      observations: [...observationsPerSession.values()].reduce((a, b) => a + b, 0),
      observationsPerSession,
      answeredPerCallKey,
      answered: [...answeredPerCallKey.values()].reduce((a, b) => a + b, 0),
      owners: conn.prepare("SELECT pid, host FROM run_owners WHERE run_id = ?").all(run) as {
        pid: number;
        host: string;
      }[],
    };
  } finally {
    conn.close();
  }
}

/** Every row of every table: equal snapshots mean nothing was written in between. */
export function storeSnapshot(db: string): string {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const tables = conn
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .pluck()
      .all() as string[];
    return JSON.stringify(tables.map((t) => [t, conn.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).all()]));
  } finally {
    conn.close();
  }
}
