import { SilicoError, TemplateError } from "../errors.js";
import { redact } from "../models/secrets.js";
import { classifyStatus, ProviderError } from "../models/types.js";

/**
 * Why sessions failed, grouped, so a run that failed 2,000 times for one reason says so once.
 *
 * - `permanent`: the same request fails the same way again (HTTP 400/404/422, a model id the
 *   provider does not know, a design error). Retrying repeats it; the study must change.
 * - `unreachable`: the server could not be reached (connection refused, unknown host). Retrying
 *   helps once the server is up.
 * - `transient`: timeouts, dropped connections, 429/5xx that outlasted every attempt.
 */
export type FailureKind = "permanent" | "unreachable" | "transient";

export interface FailureReason {
  reason: string;
  kind: FailureKind;
  count: number;
}

const UNREACHABLE = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|connection refused/i;
const MAX_REASON_CHARS = 240;
/**
 * A failure located in the study file, as stored: a template or expression that failed while a
 * session rendered it (`study.yaml: stages[1].prompt (line 51): ZeroDivisionError: …`,
 * `study.yaml:44: stages[1].when: …`). The study must change.
 */
const STUDY_FAILURE = /^[^\n]+?\.(?:ya?ml|json)(?::\d+)?: [\w.[\]]+(?: \([^)\n]*\))*(?:, column \d+)?: /;

/** One line, keys removed, bounded: errors can carry whole response bodies. */
export function reasonText(message: string): string {
  const line = redact(message).replace(/\s+/g, " ").trim();
  return line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS - 1)}…` : line;
}

/** Classifies a failure raised while running a session. */
export function classifyFailure(e: unknown): { reason: string; kind: FailureKind } {
  const message = e instanceof Error ? e.message : String(e);
  const reason = reasonText(message);
  if (e instanceof ProviderError) {
    if (e.status !== undefined)
      return { reason, kind: classifyStatus(e.status).retryable ? "transient" : "permanent" };
    if (UNREACHABLE.test(causeText(e))) return { reason, kind: "unreachable" };
    return { reason, kind: e.isRetryable ? "transient" : "permanent" };
  }
  if (e instanceof SilicoError) return { reason, kind: e.isRetryable ? "transient" : "permanent" };
  // A template that fails while a session renders it is a design error: the study must change.
  if (e instanceof TemplateError) return { reason, kind: "permanent" };
  return classifyStoredFailure(message);
}

/** A failure to reach the server at all (connection refused, unknown host). */
export function isUnreachable(e: unknown): boolean {
  return e instanceof ProviderError && e.status === undefined && UNREACHABLE.test(causeText(e));
}

/**
 * Classifies a failure known only by its stored message (sessions that failed in an earlier
 * process of a resumed run). Unknown messages count as transient: a retry is not ruled out.
 */
export function classifyStoredFailure(message: string): { reason: string; kind: FailureKind } {
  const reason = reasonText(message);
  const http = /\bHTTP (\d{3})\b/.exec(message);
  if (http) return { reason, kind: classifyStatus(Number(http[1])).retryable ? "transient" : "permanent" };
  if (UNREACHABLE.test(message)) return { reason, kind: "unreachable" };
  if (STUDY_FAILURE.test(message)) return { reason, kind: "permanent" };
  return { reason, kind: "transient" };
}

function causeText(e: Error): string {
  let text = e.message;
  let cause: unknown = e.cause;
  for (let depth = 0; cause && depth < 5; depth++) {
    text += ` ${cause instanceof Error ? cause.message : String(cause)}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return text;
}

/** Counts failures by reason. */
export class FailureTally {
  private readonly byReason = new Map<string, FailureReason>();

  add(failure: { reason: string; kind: FailureKind }): void {
    const key = `${failure.kind}\u0000${failure.reason}`;
    const seen = this.byReason.get(key);
    if (seen) seen.count++;
    else this.byReason.set(key, { ...failure, count: 1 });
  }

  /** Take back one failure counted before (a session that failed was run again). */
  remove(failure: { reason: string; kind: FailureKind }): void {
    const key = `${failure.kind}\u0000${failure.reason}`;
    const seen = this.byReason.get(key);
    if (!seen) return;
    if (--seen.count <= 0) this.byReason.delete(key);
  }

  get size(): number {
    return this.byReason.size;
  }

  /** Most frequent first (ties: permanent before the others, then alphabetical). */
  list(): FailureReason[] {
    const rank: Record<FailureKind, number> = { permanent: 0, unreachable: 1, transient: 2 };
    return [...this.byReason.values()].sort(
      (a, b) => b.count - a.count || rank[a.kind] - rank[b.kind] || a.reason.localeCompare(b.reason),
    );
  }
}
