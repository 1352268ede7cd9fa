import { readFileSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { SilicoError } from "../errors.js";
import { MIGRATIONS } from "./schema.js";

/**
 * The ways a store file can fail to open, each turned into a SilicoError that names the file and
 * what to do, and a way to read a store that the user may not write to.
 */

export function missingStore(full: string): SilicoError {
  return new SilicoError("store_missing", `no store at ${full} (run a study first, or pass --db)`);
}

const READ_ONLY_HINT = "`silico runs`, `show`, `data` and `summary` can still read it";

export function storeOpenError(full: string, e: unknown, mode: "read" | "write"): SilicoError {
  const code = String((e as { code?: unknown }).code ?? "");
  const detail = (e as Error).message ?? String(e);
  if (code.startsWith("SQLITE_READONLY")) {
    return new SilicoError(
      "store_readonly",
      mode === "write"
        ? `cannot write to the store ${full}: it is read-only (no write permission on the file or its folder); ${READ_ONLY_HINT}`
        : `cannot read the store ${full}: ${detail}`,
    );
  }
  if (code === "SQLITE_NOTADB") {
    return new SilicoError(
      "store_not_silico",
      `${full} is not a SQLite database (or its first page is damaged); pass a silico store with --db`,
    );
  }
  if (code.startsWith("SQLITE_CORRUPT")) {
    return new SilicoError(
      "store_corrupt",
      `the store ${full} is damaged (${detail}); restore it from a copy, or try: sqlite3 ${full} ".recover"`,
    );
  }
  if (code.startsWith("SQLITE_BUSY")) {
    return new SilicoError(
      "store_busy",
      `the store ${full} is locked by another process (${detail}); try again when it has finished`,
    );
  }
  if (code.startsWith("SQLITE_CANTOPEN")) {
    return new SilicoError(
      "store_open",
      `cannot open the store ${full} (${detail}): is it a folder, or is its folder missing or not ${mode === "write" ? "writable" : "readable"}?`,
    );
  }
  if (code.startsWith("E")) {
    return new SilicoError(
      "store_open",
      `cannot ${mode === "write" ? "create" : "open"} the store ${full} (${code})`,
    );
  }
  return new SilicoError("store_open", `cannot open the store ${full}: ${detail}`);
}

/**
 * A connection that cannot write. A write-protected file in a folder the user may write still
 * needs SQLite's shared-memory file next to it; a read-only folder without one leaves SQLite no
 * way to open a WAL store at all, so then the file is read into memory, which is exact as long as
 * no write-ahead log holds writes not yet merged into the file.
 */
export function openReadOnly(full: string): Database.Database {
  let lastError: unknown;
  for (const readonly of [false, true]) {
    let db: Database.Database | undefined;
    try {
      db = new Database(full, { fileMustExist: true, readonly });
      db.pragma("busy_timeout = 5000");
      db.pragma("query_only = ON");
      db.prepare("SELECT count(*) FROM sqlite_master").get();
      return db;
    } catch (e) {
      if (db?.open) db.close();
      const code = String((e as { code?: unknown }).code ?? "");
      if (!code.startsWith("SQLITE_READONLY") && !code.startsWith("SQLITE_CANTOPEN")) {
        throw storeOpenError(full, e, "read");
      }
      lastError = e;
    }
  }
  if (walSize(full) > 0) {
    throw new SilicoError(
      "store_readonly",
      `cannot read the store ${full}: its folder is read-only and ${full}-wal holds writes not yet merged into it; run any silico command on it once as a user who may write there`,
    );
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(full);
  } catch (e) {
    throw storeOpenError(full, lastError ?? e, "read");
  }
  // Header bytes 18 and 19 mark WAL mode, which an in-memory copy cannot use; 1 is the rollback journal.
  if (bytes[18] === 2 && bytes[19] === 2) {
    bytes[18] = 1;
    bytes[19] = 1;
  }
  try {
    const db = new Database(bytes, { readonly: true });
    db.prepare("SELECT count(*) FROM sqlite_master").get();
    return db;
  } catch (e) {
    throw storeOpenError(full, e, "read");
  }
}

function walSize(full: string): number {
  try {
    return statSync(`${full}-wal`).size;
  } catch {
    return 0;
  }
}

let expected: Map<string, string[]> | undefined;

/** Tables and columns the current schema has, from running the migrations on an empty database. */
function expectedSchema(): Map<string, string[]> {
  if (expected) return expected;
  const db = new Database(":memory:");
  try {
    for (const m of MIGRATIONS) db.exec(m);
    expected = tableColumns(db);
  } finally {
    db.close();
  }
  return expected;
}

function tableColumns(db: Database.Database): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    .pluck()
    .all() as string[];
  for (const t of tables) {
    const cols = db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(t) as string[];
    out.set(t, cols);
  }
  return out;
}

/**
 * SQLite quietly opens a write-protected file for reading only; find out at open, not at the first
 * answer, by writing a header field (unchanged, and rolled back). Without waiting: if another
 * connection holds the write lock — perhaps one in this very process, which a wait would block —
 * the file is writable by someone and the question is left to the first write.
 */
export function probeWritable(db: Database.Database): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  try {
    db.exec("BEGIN IMMEDIATE");
  } catch (e) {
    if (String((e as { code?: unknown }).code ?? "").startsWith("SQLITE_BUSY")) return;
    throw e;
  }
  try {
    db.pragma(`user_version = ${version}`);
  } finally {
    db.exec("ROLLBACK");
  }
}

/** Migrating would add silico's tables to someone else's database: refuse one that has other tables. */
export function refuseForeign(db: Database.Database, full: string): void {
  if ((db.pragma("user_version", { simple: true }) as number) !== 0) return;
  const tables = [...tableColumns(db).keys()];
  if (tables.length > 0) {
    throw new SilicoError(
      "store_not_silico",
      `${full} is a SQLite database but not a silico store (it has tables ${tables.slice(0, 5).join(", ")}); pass another --db`,
    );
  }
}

/** A store altered outside silico (a table or column dropped or renamed) is refused at open, by name. */
export function checkSchema(db: Database.Database, full: string): void {
  const have = tableColumns(db);
  const problems: string[] = [];
  for (const [table, cols] of expectedSchema()) {
    const got = have.get(table);
    if (!got) {
      problems.push(`table ${table} is missing`);
      continue;
    }
    const missing = cols.filter((c) => !got.includes(c));
    if (missing.length > 0)
      problems.push(`table ${table} lacks column${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
  }
  if (problems.length > 0) {
    throw new SilicoError(
      "store_schema",
      `the store ${full} does not have the tables this silico expects (${problems.join("; ")}); it was changed outside silico: restore it from a copy`,
    );
  }
}
