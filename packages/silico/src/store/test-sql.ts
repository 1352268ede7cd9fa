import type Database from "better-sqlite3";
import { connectionOf } from "./connection.js";
import type { RunStore } from "./run-store.js";

/**
 * FOR TESTS ONLY: the raw SQLite connection of a store, so a test can check what was written at
 * the level of tables and rows. Library and CLI code read through RunReader instead; the
 * no-sql-outside-store test keeps this module out of non-test code.
 */
export function testSql(store: RunStore): Database.Database {
  return connectionOf(store);
}
