import type Database from "better-sqlite3";
import type { RunStore } from "./run-store.js";

/**
 * The SQLite connection behind each open RunStore, for the modules of store/ only (the reader,
 * test helpers). Kept off the RunStore class so the connection is not part of the library's
 * surface: nothing outside store/ writes SQL.
 */
const connections = new WeakMap<RunStore, Database.Database>();

export function attachConnection(store: RunStore, db: Database.Database): void {
  connections.set(store, db);
}

export function connectionOf(store: RunStore): Database.Database {
  const db = connections.get(store);
  if (!db) throw new Error("this RunStore has no connection (it was not opened with RunStore.open)");
  return db;
}
