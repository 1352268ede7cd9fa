import type { FailureKind } from "../engine/failures.js";
import type { RunResult } from "../engine/run-study.js";

const SHOWN = 5;

const LABEL: Record<FailureKind, string> = {
  permanent: "permanent: a retry repeats it",
  unreachable: "server unreachable",
  transient: "transient",
};

/**
 * The end of a run's summary: why sessions failed (most frequent reasons with counts) and what to
 * do next. `--retry-failed` is suggested only where a retry can help: never for failures that
 * repeat whatever happens (a 404 for a mistyped model id, a 400 for a bad parameter).
 */
export function failureReportLines(
  result: Pick<RunResult, "runId" | "status" | "totals">,
  /** The command that finishes the run; no "finish with" line without it. */
  resume: string | undefined = `silico resume ${result.runId}`,
): string[] {
  const t = result.totals;
  const reasons = t.failureReasons ?? [];
  const lines: string[] = [];
  if (reasons.length > 0) {
    lines.push("  top failure reasons:");
    for (const r of reasons.slice(0, SHOWN)) lines.push(`    ${r.count} × ${r.reason} (${LABEL[r.kind]})`);
    const rest = reasons.slice(SHOWN);
    if (rest.length > 0) {
      const sessions = rest.reduce((n, r) => n + r.count, 0);
      lines.push(`    … and ${rest.length} more reasons (${sessions} sessions)`);
    }
  }
  if (result.status === "done" || t.fatalError) return lines;

  const count = (kind: FailureKind) =>
    reasons.filter((r) => r.kind === kind).reduce((n, r) => n + r.count, 0);
  const permanent = count("permanent");
  const unreachable = count("unreachable");
  const retryable = Math.max(0, t.failed - permanent) + t.invalid;
  if (resume !== undefined && (t.pending > 0 || retryable > 0)) {
    const when = unreachable > 0 && unreachable === retryable ? " (once the server is reachable)" : "";
    lines.push(`  finish with: ${resume}${retryable > 0 ? " --retry-failed" : ""}${when}`);
  }
  if (permanent > 0) {
    lines.push(
      `  ${permanent} ${permanent === 1 ? "session" : "sessions"} failed for a reason a retry would repeat: fix the study (model id, parameters) and start a new run`,
    );
  }
  return lines;
}
