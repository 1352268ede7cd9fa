import type Database from "better-sqlite3";

/**
 * The SQLite connection behind each open RunStore, for the modules of store/ only (the reader,
 * test helpers). Kept off the RunStore class so the connection is not part of the library's
 * surface: nothing outside store/ writes SQL. Keyed by any object rather than by the RunStore
 * type so that this module does not import run-store.ts, which imports it (no import cycle);
 * the callers (RunStore, RunReader, test-sql) take a RunStore in their own signatures.
 */
const connections = new WeakMap<object, Database.Database>();

export function attachConnection(store: object, db: Database.Database): void {
  connections.set(store, db);
}

export function connectionOf(store: object): Database.Database {
  const db = connections.get(store);
  if (!db) throw new Error("this RunStore has no connection (it was not opened with RunStore.open)");
  return db;
}
