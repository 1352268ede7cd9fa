import type Database from "better-sqlite3";
import { SilicoError } from "../errors.js";
import type { CursorOptions, CursorPage } from "./read-types.js";
import { DEFAULT_LIMIT, MAX_LIMIT, type Sql } from "./sql-parts.js";

type Row = Record<string, unknown>;

/**
 * A listing ordered by a unique key, paged by that key rather than by an offset: a page after
 * (or before) a cursor is an index seek, so the millionth row comes as fast as the first.
 */
export interface KeysetQuery {
  /** What each row carries (`SELECT` list). */
  columns: string;
  /** `FROM … JOIN …`; the first table must be the one whose index serves `lead`. */
  from: string;
  where: Sql;
  /**
   * The ordering key, as SQL expressions: `lead` on the outer table's index (compared as a row
   * value, which SQLite turns into an index range), then `rest` from the inner table, if any.
   */
  lead: string[];
  rest: string[];
  /** The key's values read from a result row, in the order of lead then rest. */
  keyOf: (row: Row) => (string | number)[];
  /** What each key value must be, to refuse a cursor of another listing. */
  types: ("string" | "number")[];
}

export function encodeCursor(key: (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

export function decodeCursor(cursor: string, types: KeysetQuery["types"]): (string | number)[] {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    key = undefined;
  }
  if (
    !Array.isArray(key) ||
    key.length !== types.length ||
    key.some((v, i) => typeof v !== types[i] || (typeof v === "number" && !Number.isFinite(v)))
  )
    throw new SilicoError(
      "bad_cursor",
      `"${cursor.slice(0, 40)}" is not a cursor of this listing (pass the next or prev of one of its pages)`,
    );
  return key as (string | number)[];
}

const marks = (n: number): string => Array.from({ length: n }, () => "?").join(", ");

/** Rows strictly after (`>`) or before (`<`) the key, in a form SQLite can seek the outer index with. */
function beyond(q: KeysetQuery, dir: ">" | "<", key: (string | number)[]): Sql {
  const lead = key.slice(0, q.lead.length);
  const rest = key.slice(q.lead.length);
  const leadTuple = `(${q.lead.join(", ")})`;
  if (q.rest.length === 0) return { sql: `${leadTuple} ${dir} (${marks(lead.length)})`, params: lead };
  return {
    sql: `${leadTuple} ${dir}= (${marks(lead.length)}) AND (${leadTuple} ${dir} (${marks(lead.length)}) OR (${q.rest.join(", ")}) ${dir} (${marks(rest.length)}))`,
    params: [...lead, ...lead, ...rest],
  };
}

function orderBy(q: KeysetQuery, descending: boolean): string {
  return [...q.lead, ...q.rest].map((c) => `${c}${descending ? " DESC" : ""}`).join(", ");
}

export function cursorLimit(opts: CursorOptions): number {
  const limit = opts.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    throw new SilicoError("bad_page", `limit must be a whole number from 1 to ${MAX_LIMIT}, got ${limit}`);
  return limit;
}

/**
 * One page of a keyset listing: after a cursor, before one, the last page, or from a position
 * (`at`, found by a scan of the ordering key alone: for a jump, not for paging on).
 */
export function keysetPage<T>(
  db: Database.Database,
  q: KeysetQuery,
  opts: CursorOptions,
  map: (row: Row) => T,
): CursorPage<T> {
  const limit = cursorLimit(opts);
  const given = [opts.after, opts.before, opts.at, opts.last ? true : undefined].filter(
    (x) => x !== undefined,
  );
  if (given.length > 1)
    throw new SilicoError("bad_page", "pass one of after, before, at and last, not several");
  let after: (string | number)[] | undefined =
    opts.after === undefined ? undefined : decodeCursor(opts.after, q.types);
  if (opts.at !== undefined) {
    if (!Number.isInteger(opts.at) || opts.at < 0)
      throw new SilicoError("bad_page", `at must be a whole number ≥ 0, got ${opts.at}`);
    if (opts.at > 0) {
      const keys = [...q.lead, ...q.rest].map((c, i) => `${c} AS k${i}`).join(", ");
      const row = db
        .prepare(
          `SELECT ${keys} ${q.from} WHERE ${q.where.sql} ORDER BY ${orderBy(q, false)} LIMIT 1 OFFSET ?`,
        )
        .raw()
        .get(...q.where.params, opts.at - 1) as (string | number)[] | undefined;
      if (!row) return { items: [], limit, next: null, prev: null };
      after = row;
    }
  }
  const backward = opts.before !== undefined || opts.last === true;
  const before = opts.before === undefined ? undefined : decodeCursor(opts.before, q.types);
  const seek = after ? beyond(q, ">", after) : before ? beyond(q, "<", before) : undefined;
  const where = seek
    ? { sql: `(${q.where.sql}) AND ${seek.sql}`, params: [...q.where.params, ...seek.params] }
    : q.where;
  const rows = db
    .prepare(`SELECT ${q.columns} ${q.from} WHERE ${where.sql} ORDER BY ${orderBy(q, backward)} LIMIT ?`)
    .all(...where.params, limit + 1) as Row[];
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  if (backward) page.reverse();
  const first = page[0];
  const last = page.at(-1);
  // The exact side is the one read with a row to spare; the other is open unless this is the start.
  const started = after !== undefined || before !== undefined || opts.last === true;
  return {
    items: page.map(map),
    limit,
    next:
      last === undefined
        ? null
        : backward
          ? opts.last
            ? null
            : encodeCursor(q.keyOf(last))
          : more
            ? encodeCursor(q.keyOf(last))
            : null,
    prev:
      first === undefined
        ? null
        : backward
          ? more
            ? encodeCursor(q.keyOf(first))
            : null
          : started
            ? encodeCursor(q.keyOf(first))
            : null,
  };
}

/** How many rows the listing holds (its filters, no ordering). */
export function keysetCount(db: Database.Database, q: KeysetQuery): number {
  return db
    .prepare(`SELECT count(*) ${q.from} WHERE ${q.where.sql}`)
    .pluck()
    .get(...q.where.params) as number;
}
