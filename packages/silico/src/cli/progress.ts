import type { CliStream } from "./io.js";
import type { ExecutorEvent } from "../engine/executor.js";

/** What the progress line shows. */
export interface ProgressState {
  sessionsDone: number;
  sessionsTotal: number;
  /** Calls made by this process; the ETA comes from their rate. */
  calls: number;
  /** Expected calls of the sessions this process runs (re-asks not counted), when known. */
  callsTotal?: number;
  elapsedSeconds: number;
  cached: number;
  retries: number;
  invalid: number;
  /** Calls that failed (no answer). */
  failed?: number;
  cost: number;
  costUnknown: boolean;
}

export const PROGRESS_WIDTH = 80;

/**
 * One line of at most `width` columns. A 20-session game makes hundreds of calls, so the bar and
 * the ETA follow calls when the plan says how many to expect; fields that do not fit are left out,
 * least useful first.
 */
export function progressLine(s: ProgressState, width = PROGRESS_WIDTH): string {
  const rate = s.calls / Math.max(s.elapsedSeconds, 0.001);
  const byCalls = s.callsTotal !== undefined && s.callsTotal > 0;
  let eta = Number.NaN;
  let fraction: number;
  if (byCalls) {
    const total = s.callsTotal as number;
    fraction = Math.max(s.calls / total, s.sessionsDone / Math.max(1, s.sessionsTotal));
    if (rate > 0 && s.calls > 0) eta = Math.max(0, total - s.calls) / rate;
  } else {
    fraction = s.sessionsDone / Math.max(1, s.sessionsTotal);
    const sessionRate = s.sessionsDone / Math.max(s.elapsedSeconds, 0.001);
    if (sessionRate > 0) eta = (s.sessionsTotal - s.sessionsDone) / sessionRate;
  }
  if (s.sessionsDone >= s.sessionsTotal) eta = 0;
  const barWidth = 10;
  const filled = Math.max(0, Math.min(barWidth, Math.round(Math.min(1, fraction) * barWidth)));
  const fields: { text: string; keep: number }[] = [
    { text: `${"█".repeat(filled)}${"░".repeat(barWidth - filled)}`, keep: 9 },
    { text: `${s.sessionsDone}/${s.sessionsTotal} sessions`, keep: 10 },
    { text: byCalls ? `${s.calls}/${s.callsTotal} calls` : `${s.calls} calls`, keep: 8 },
    { text: `${rate.toFixed(1)}/s`, keep: 2 },
    { text: `ETA ${fmtDuration(eta)}`, keep: 7 },
    { text: `cache ${s.cached}`, keep: 1 },
    { text: `retries ${s.retries}`, keep: 4 },
    { text: `invalid ${s.invalid}`, keep: 5 },
    ...(s.failed ? [{ text: `failed ${s.failed}`, keep: 5.5 }] : []),
    { text: `${s.costUnknown ? "≥" : ""}$${s.cost.toFixed(4)}`, keep: 6 },
  ];
  const join = (fs: { text: string }[]) => fs.map((f) => f.text).join("  ");
  let shown = fields;
  while (shown.length > 1 && join(shown).length > width) {
    const least = shown.reduce((a, b) => (b.keep < a.keep ? b : a));
    shown = shown.filter((f) => f !== least);
  }
  const line = join(shown);
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

/** Live line on a TTY, a plain line every few seconds otherwise, nothing with --quiet. Always stderr. */
export class Progress {
  private done = 0;
  private calls = 0;
  private cached = 0;
  private retries = 0;
  private invalid = 0;
  private failed = 0;
  private cost = 0;
  private costUnknown = false;
  private readonly started = Date.now();
  private timer?: NodeJS.Timeout;
  private readonly tty: boolean;

  constructor(
    private readonly total: number,
    private readonly quiet: boolean,
    private readonly skippedAtStart = 0,
    /** Expected calls of the sessions this process runs, when known. */
    private readonly callsTotal?: number,
    private readonly out: CliStream = process.stderr,
  ) {
    this.tty = out.isTTY === true;
    if (!quiet) this.timer = setInterval(() => this.render(), this.tty ? 200 : 5000);
    this.timer?.unref();
  }

  onEvent = (e: ExecutorEvent): void => {
    if (e.type === "session-end") this.done++;
    else if (e.type === "call") {
      this.calls++;
      if (e.failed) this.failed++;
      else if (!e.valid) this.invalid++;
      if (e.cached) this.cached++;
      if (e.costUsd === null) this.costUnknown = true;
      else this.cost += e.costUsd;
    } else if (e.type === "retry") this.retries++;
    else if (e.type === "warning" && !this.quiet) this.print(`warning: ${e.message}`);
    else if (e.type === "batch" && !this.quiet) this.print(batchLine(e));
    // Notices (a design's links for human participants) are printed even with --quiet.
    else if (e.type === "notice") this.print(e.message);
  };

  /** Every session of the run has ended (a design may still be tearing down, e.g. waiting for humans). */
  sessionsFinished(): boolean {
    return this.done + this.skippedAtStart >= this.total;
  }

  line(width = this.width()): string {
    return progressLine(
      {
        sessionsDone: this.done + this.skippedAtStart,
        sessionsTotal: this.total,
        calls: this.calls,
        ...(this.callsTotal !== undefined ? { callsTotal: this.callsTotal } : {}),
        elapsedSeconds: (Date.now() - this.started) / 1000,
        cached: this.cached,
        retries: this.retries,
        invalid: this.invalid,
        failed: this.failed,
        cost: this.cost,
        costUnknown: this.costUnknown,
      },
      width,
    );
  }

  /** 80 columns, or fewer on a narrower terminal (a wrapped line would break `\r` redrawing). */
  private width(): number {
    const columns = this.tty ? this.out.columns : undefined;
    return columns && columns > 20 ? Math.min(PROGRESS_WIDTH, columns - 1) : PROGRESS_WIDTH;
  }

  private render(): void {
    if (this.quiet) return;
    if (this.tty) this.out.write(`\r\x1b[2K${this.line()}`);
    else this.out.write(`${this.line()}\n`);
  }

  print(message: string): void {
    if (this.tty) this.out.write(`\r\x1b[2K${message}\n`);
    else this.out.write(`${message}\n`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (!this.quiet) {
      this.render();
      if (this.tty) this.out.write("\n");
    }
  }
}

/** One batch's state, printed above the progress line whenever it changes. */
export function batchLine(e: Extract<ExecutorEvent, { type: "batch" }>): string {
  const failed = e.failed > 0 ? `, ${e.failed} failed` : "";
  return `batch ${e.id} (${e.model}, ${e.requests} requests): ${e.status}, ${e.done}/${e.requests} done${failed}`;
}

export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
