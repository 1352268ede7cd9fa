import type { LoadedPage, WaitForPage, WaitOptions } from "./bot-contract.js";
import { readOtreePage } from "./page-reader.js";
import { sleep } from "./sleep.js";

export interface PollOptions {
  /** First pause between GETs (default 500 ms), growing to `maxIntervalMs`. */
  intervalMs?: number;
  /** Longest pause between GETs (default 3 s). */
  maxIntervalMs?: number;
  /** How often `onWaiting` is called (default every 30 s). */
  reportEveryMs?: number;
}

/**
 * A `WaitForPage` that re-GETs the wait page until oTree serves something else (oTree redirects a
 * stale wait-page URL to the participant's current page). The socket waiter (wait-socket.ts) has
 * the same signature and falls back to this one.
 */
export function pollWaitForPage(poll: PollOptions = {}): WaitForPage {
  const first = poll.intervalMs ?? 500;
  const longest = poll.maxIntervalMs ?? 3_000;
  const reportEvery = poll.reportEveryMs ?? 30_000;
  return async (loaded: LoadedPage, options: WaitOptions) => {
    const started = Date.now();
    let lastReport = started;
    let pause = first;
    for (;;) {
      const waited = Date.now() - started;
      if (waited >= options.limitMs) return "timeout";
      if (options.signal?.aborted) throw options.signal.reason;
      await sleep(Math.min(pause, options.limitMs - waited), options.signal);
      pause = Math.min(longest, Math.round(pause * 1.5));
      if (Date.now() - lastReport >= reportEvery) {
        lastReport = Date.now();
        options.onWaiting?.(Math.round((Date.now() - started) / 1000));
      }
      if (!(await stillWaiting(loaded.url, options.signal))) return "ready";
    }
  };
}

/** True while the URL still serves a wait page; a redirect or another page means "go on". */
async function stillWaiting(url: string, signal: AbortSignal | undefined): Promise<boolean> {
  try {
    const timeout = AbortSignal.timeout(30_000);
    const res = await fetch(url, {
      redirect: "manual",
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      // A redirect: the participant has moved on. A 5xx: let the bot re-sync through its start link.
      return false;
    }
    if (res.headers.get("otree-wait-page") === "1") {
      await res.body?.cancel();
      return true;
    }
    return readOtreePage(await res.text(), { url, headers: res.headers }).kind === "wait";
  } catch {
    if (signal?.aborted) throw signal.reason;
    return false;
  }
}
