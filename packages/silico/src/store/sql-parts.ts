import type { SessionStatus } from "./run-store.js";
import type { PageOptions, Scalar, SessionStatusFilter } from "./read-types.js";
import { SilicoError } from "../errors.js";

/** A piece of SQL with its parameters, in the order of its placeholders. */
export interface Sql {
  sql: string;
  params: unknown[];
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10_000;

export function pageBounds(opts: PageOptions): { offset: number; limit: number } {
  const offset = opts.offset ?? 0;
  const limit = opts.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(offset) || offset < 0)
    throw new SilicoError("bad_page", `offset must be a whole number ≥ 0, got ${offset}`);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    throw new SilicoError("bad_page", `limit must be a whole number from 1 to ${MAX_LIMIT}, got ${limit}`);
  return { offset, limit };
}

/** `valid` and `tainted` stand for the statuses they group. */
export function expandStatuses(f: SessionStatusFilter | SessionStatusFilter[] | undefined): SessionStatus[] {
  if (f === undefined) return [];
  const out = new Set<SessionStatus>();
  for (const s of Array.isArray(f) ? f : [f]) {
    if (s === "valid") out.add("done");
    else if (s === "tainted") {
      out.add("invalid");
      out.add("failed");
    } else out.add(s);
  }
  return [...out];
}

/**
 * Which sessions a status filter admits, on the sessions alias `s`. Superseded attempts (kept by
 * `resume --retry-failed`) are left out unless asked for: exports and summaries never count them.
 */
export function sessionStatusSql(
  f: SessionStatusFilter | SessionStatusFilter[] | undefined,
  includeSuperseded = false,
): Sql {
  const statuses = expandStatuses(f);
  if (statuses.length > 0)
    return { sql: `s.status IN (${statuses.map(() => "?").join(", ")})`, params: statuses };
  return includeSuperseded ? { sql: "1", params: [] } : { sql: "s.status != 'superseded'", params: [] };
}

/**
 * A coordinate of a JSON coords column as an SQL value (strings, numbers, booleans as 1/0, null).
 * Keys go in as parameters; one with a double quote cannot be written as a JSON path, so it is
 * looked up with json_each instead.
 */
export function coordValue(column: string, key: string): { value: Sql; type: Sql } {
  if (!key.includes('"')) {
    const path = `$."${key}"`;
    return {
      value: { sql: `json_extract(${column}, ?)`, params: [path] },
      type: { sql: `json_type(${column}, ?)`, params: [path] },
    };
  }
  return {
    value: { sql: `(SELECT value FROM json_each(${column}) WHERE key = ?)`, params: [key] },
    type: { sql: `(SELECT type FROM json_each(${column}) WHERE key = ?)`, params: [key] },
  };
}

/**
 * A coordinate as an export row sees it: the observation's own value where it has the key, else
 * its session's (the tidy row merges session coordinates with the observation's).
 */
export function mergedCoord(key: string): Sql {
  const own = coordValue("o.coords", key);
  const session = coordValue("s.coords", key);
  return {
    sql: `CASE WHEN ${own.type.sql} IS NOT NULL THEN ${own.value.sql} ELSE ${session.value.sql} END`,
    params: [...own.type.params, ...own.value.params, ...session.value.params],
  };
}

/** SQL compares booleans from JSON as 1 and 0. */
function sqlScalar(v: Scalar): unknown {
  return typeof v === "boolean" ? (v ? 1 : 0) : v;
}

/** `expr` equals the value, or one of the values (null matches a missing or null coordinate). */
export function equalsAny(expr: Sql, values: Scalar | Scalar[]): Sql {
  const list = Array.isArray(values) ? values : [values];
  if (list.length === 0) return { sql: "0", params: [] };
  const parts: string[] = [];
  const params: unknown[] = [];
  const present = list.filter((v) => v !== null);
  if (present.length > 0) {
    parts.push(`${expr.sql} IN (${present.map(() => "?").join(", ")})`);
    params.push(...expr.params, ...present.map(sqlScalar));
  }
  if (present.length < list.length) {
    parts.push(`${expr.sql} IS NULL`);
    params.push(...expr.params);
  }
  return { sql: `(${parts.join(" OR ")})`, params };
}

export function and(parts: Sql[]): Sql {
  return {
    sql: parts.map((p) => `(${p.sql})`).join(" AND "),
    params: parts.flatMap((p) => p.params),
  };
}
