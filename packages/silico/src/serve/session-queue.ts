import type { SessionArrivals, SessionPlan } from "../engine/plan.js";

/**
 * The open plan's source: the service pushes a session per turn, the executor's workers take
 * them. Closing it ends the run once the sessions in flight are done.
 */
export class SessionQueue implements SessionArrivals {
  private readonly items: SessionPlan[] = [];
  private readonly waiters: ((s: SessionPlan | undefined) => void)[] = [];
  private closed = false;

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
    return new Promise((resolve) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(undefined);
      };
      const waiter = (s: SessionPlan | undefined) => {
        signal.removeEventListener("abort", onAbort);
        resolve(s);
      };
      this.waiters.push(waiter);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** No more sessions; returns those pushed but never taken (their turns must be answered as failed). */
  close(): SessionPlan[] {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(undefined);
    return this.items.splice(0);
  }
}
