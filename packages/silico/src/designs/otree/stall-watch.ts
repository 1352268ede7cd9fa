/**
 * In a session without humans, bots that all sit on wait pages with nothing moving wait for each
 * other (or for a partner that stopped) until their wait limit — an hour by default. This watch
 * sees every bot of the run: when each bot still running has been waiting and no bot has moved
 * for `stallMs`, the waiting bots are released with a reason that names the partners who stopped
 * or finished. With human seats it never fires: a human may still come.
 */
export class StallWatch {
  readonly #running = new Set<number>();
  readonly #waiting = new Map<number, (reason: string) => void>();
  /** Partners no longer playing: seat → why (a stopped bot's reason, or "finished"). */
  readonly #ended = new Map<number, string>();
  #lastProgress = Date.now();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly stallMs: number,
    private readonly enabled: boolean,
    private readonly checkEveryMs = Math.max(50, Math.min(5_000, stallMs / 4)),
  ) {}

  /** A bot starts playing (a new run or a resume). */
  start(seat: number): void {
    this.#running.add(seat);
    this.#ended.delete(seat);
    this.progress();
  }

  /** A bot is done: `why` is its stop reason, or undefined when it reached the end. */
  end(seat: number, why?: string): void {
    this.#running.delete(seat);
    this.#waiting.delete(seat);
    this.#ended.set(seat, why === undefined ? "finished" : `stopped: ${why}`);
    this.#check();
  }

  /** Some bot moved (a page loaded, posted, a wait page left). */
  progress(): void {
    this.#lastProgress = Date.now();
  }

  /**
   * A bot is on a wait page. `stalled` resolves with the reason to stop it, should the session
   * stall; call `leave` when the wait is over either way.
   */
  wait(seat: number): { stalled: Promise<string>; leave(): void } {
    let release: (reason: string) => void = () => {};
    const stalled = new Promise<string>((resolve) => {
      release = resolve;
    });
    // Coming to a wait page is progress: the clock starts when the last bot sits down.
    this.progress();
    if (this.enabled) {
      this.#waiting.set(seat, release);
      this.#arm();
    }
    return {
      stalled,
      leave: () => {
        if (this.#waiting.get(seat) === release) this.#waiting.delete(seat);
        this.progress();
        if (this.#waiting.size === 0) this.#disarm();
      },
    };
  }

  #arm(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#check(), this.checkEveryMs);
    this.#timer.unref?.();
  }

  #disarm(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #check(): void {
    if (!this.enabled || this.#waiting.size === 0) return;
    if ([...this.#running].some((seat) => !this.#waiting.has(seat))) return;
    const idle = Date.now() - this.#lastProgress;
    if (idle < this.stallMs) return;
    const partners = [...this.#ended.entries()].sort(([a], [b]) => a - b);
    const named =
      partners.length > 0
        ? partners.map(([seat, why]) => `seat ${seat} ${why}`).join("; ")
        : "no other bot is left to move";
    const reason = `every bot still playing has been on a wait page for ${Math.round(idle / 1000)} s with no page progress, and the session has no human seats: the wait cannot end (${named})`;
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    this.#disarm();
    for (const release of waiting) release(reason);
  }
}
