import type { SessionArrivals, SessionPlan } from "../engine/plan.js";

/**
 * The open plan's source: the service pushes a session per turn, the executor's workers take
 * them. Closing it ends the run once the sessions in flight are done.
 */
export class SessionQueue implements SessionArrivals {
  private readonly items: SessionPlan[] = [];
  private readonly waiters: ((s: SessionPlan | undefined) => void)[] = [];
  private closed = false;
  /**
   * Signals already watched. One listener per signal, not one per waiting worker: an EventTarget
   * scans its listeners on every add, and hundreds of workers wait on the same signal.
   */
  private readonly watched = new WeakSet<AbortSignal>();

  /** False when the queue is closed (the run is ending): the session will not run. */
  push(s: SessionPlan): boolean {
    if (this.closed) return false;
    const waiter = this.waiters.shift();
    if (waiter) waiter(s);
    else this.items.push(s);
    return true;
  }

  next(signal: AbortSignal): Promise<SessionPlan | undefined> {
    const item = this.items.shift();
    if (item) return Promise.resolve(item);
    if (this.closed || signal.aborted) return Promise.resolve(undefined);
    if (!this.watched.has(signal)) {
      this.watched.add(signal);
      // The run stopped: every worker waiting now gets no session (and later ones see `aborted`).
      signal.addEventListener("abort", () => this.release(), { once: true });
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** No more sessions; returns those pushed but never taken (their turns must be answered as failed). */
  close(): SessionPlan[] {
    this.closed = true;
    this.release();
    return this.items.splice(0);
  }

  private release(): void {
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
