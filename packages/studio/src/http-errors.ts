/** How a failure becomes an answer: silico's own errors keep their message and code, nothing else leaks. */
import type { Context } from "hono";
import { SilicoError, StudyError } from "silico";

export class HttpError extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 409 | 413,
    message: string,
  ) {
    super(message);
  }
}

export function errorResponse(err: unknown, c: Context): Response {
  if (err instanceof HttpError) return c.json({ error: err.message }, err.status);
  if (err instanceof StudyError)
    return c.json({ error: err.message, code: err.code, problems: err.problems }, 400);
  if (err instanceof SilicoError) {
    const status = err.code.endsWith("_missing") ? 404 : 400;
    return c.json({ error: err.message, code: err.code }, status);
  }
  // An unexpected fault: the message only (a stack names files of this machine).
  return c.json({ error: err instanceof Error ? err.message : String(err) }, 500);
}

/** A whole number query parameter within bounds, else the default. */
export function intParam(v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new HttpError(400, `expected a whole number ${min}–${max}, got "${v}"`);
  return n;
}
