import type { ExecutorEvent } from "../engine/executor.js";

/** Live bar on a TTY, a plain line every few seconds otherwise, nothing with --quiet. Always stderr. */
export class Progress {
  private done = 0;
  private calls = 0;
  private cached = 0;
  private retries = 0;
  private invalid = 0;
  private cost = 0;
  private costUnknown = false;
  private readonly started = Date.now();
  private timer?: NodeJS.Timeout;
  private readonly tty: boolean;

  constructor(
    private readonly total: number,
    private readonly quiet: boolean,
    private readonly skippedAtStart = 0,
  ) {
    this.tty = process.stderr.isTTY === true;
    if (!quiet) this.timer = setInterval(() => this.render(), this.tty ? 200 : 5000);
    this.timer?.unref();
  }

  onEvent = (e: ExecutorEvent): void => {
    if (e.type === "session-end") this.done++;
    else if (e.type === "call") {
      this.calls++;
      if (e.cached) this.cached++;
      if (!e.valid) this.invalid++;
      if (e.costUsd === null) this.costUnknown = true;
      else this.cost += e.costUsd;
    } else if (e.type === "retry") this.retries++;
    else if (e.type === "warning" && !this.quiet) this.print(`warning: ${e.message}`);
  };

  private line(): string {
    const elapsed = (Date.now() - this.started) / 1000;
    const finished = this.done + this.skippedAtStart;
    const rate = this.calls / Math.max(elapsed, 0.001);
    const sessionRate = this.done / Math.max(elapsed, 0.001);
    const eta = sessionRate > 0 ? (this.total - finished) / sessionRate : Number.NaN;
    const width = 24;
    const filled = Math.round((finished / Math.max(1, this.total)) * width);
    const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
    const cost = `${this.costUnknown ? "≥" : ""}$${this.cost.toFixed(4)}`;
    return `${bar} ${finished}/${this.total} sessions  ${rate.toFixed(1)} calls/s  ETA ${fmtDuration(eta)}  cache ${this.cached}  retries ${this.retries}  invalid ${this.invalid}  ${cost}`;
  }

  private render(): void {
    if (this.quiet) return;
    if (this.tty) process.stderr.write(`\r\x1b[2K${this.line()}`);
    else process.stderr.write(`${this.line()}\n`);
  }

  print(message: string): void {
    if (this.tty) process.stderr.write(`\r\x1b[2K${message}\n`);
    else process.stderr.write(`${message}\n`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (!this.quiet) {
      this.render();
      if (this.tty) process.stderr.write("\n");
    }
  }
}

export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
