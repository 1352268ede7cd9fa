// Rows of a store file read by tests through a read-only connection of their own, while or after
// another process (a silico child) writes it.
import Database from "better-sqlite3";

/** A count from a store another process may be writing: read-only, 0 while there is none yet. */
export function countIn(db: string, sql: string): number {
  try {
    const conn = new Database(db, { readonly: true, fileMustExist: true });
    try {
      return (conn.prepare(sql).get() as { n: number }).n;
    } finally {
      conn.close();
    }
  } catch {
    return 0;
  }
}

/** Waits until the run writing `db` has made `calls` model calls (90 s at most). */
export async function waitForCalls(db: string, calls: number): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (countIn(db, "SELECT COUNT(*) AS n FROM calls") < calls) {
    if (Date.now() > deadline) throw new Error(`the run never made ${calls} calls`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Observation rows (n) and distinct (participant, page, field) answers (d) of the store: equal
 * when no page was answered twice.
 */
export function answeredRows(db: string): { n: number; d: number } {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return conn
      .prepare(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT json_extract(coords, '$.participant_code') || '/' || json_extract(coords, '$.page_index') || '/' || name) AS d FROM observations",
      )
      .get() as { n: number; d: number };
  } finally {
    conn.close();
  }
}
