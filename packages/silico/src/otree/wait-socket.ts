import type { LoadedPage, WaitForPage, WaitOptions } from "./bot-contract.js";
import { connectSocket, pause, type SocketConnection, socketUrl } from "./socket-connection.js";

/*
 * A wait page in oTree 6.0 has no data attribute for its socket: its inline script calls
 * `makeReconnectingWebSocket("/wait_page?session_pk=..&page_index=..&participant_id=..&group_id=..")`
 * (`/subsession_wait_page?...` with wait_for_all_groups, `/group_by_arrival_time?...` with
 * group_by_arrival_time). The server sends `{"status": "ready"}` when the page may be reloaded —
 * at once on connect when the wait is already over — and `{"error": ...}` when something is wrong.
 */

const WAIT_SOCKET =
  /makeReconnectingWebSocket\(\s*"(\/(?:wait_page|subsession_wait_page|group_by_arrival_time)\?[^"]*)"/;

/** The path of a wait page's socket, read from the page's HTML; undefined when there is none. */
export function waitPageSocketPath(html: string): string | undefined {
  const match = WAIT_SOCKET.exec(html);
  return match?.[1]?.replaceAll("&amp;", "&");
}

export interface SocketWaiterOptions {
  /** GET-poll interval when there is no socket (or it failed). Default 2 s. */
  pollMs?: number;
  /**
   * While the socket is open, look at the page by GET this often anyway: a message lost in a
   * reconnect, or group_by_arrival_time (whose page reloads itself now and then), would otherwise
   * leave the bot waiting to the limit. Default 30 s.
   */
  recheckMs?: number;
  /** How often `onWaiting` is called. Default 10 s. */
  progressMs?: number;
  /** Give up opening the socket after this long (then poll). Default 10 s. */
  connectTimeoutMs?: number;
}

/**
 * A `WaitForPage` on the wait page's own socket, with GET polling of the page as a fallback when
 * the page has no socket, or the socket cannot be opened, closes, or reports an error.
 * "ready" means: reload the page now. An aborted signal rejects with the signal's reason.
 */
export function createSocketWaiter(options: SocketWaiterOptions = {}): WaitForPage {
  const pollMs = options.pollMs ?? 2_000;
  const recheckMs = options.recheckMs ?? 30_000;
  const progressMs = options.progressMs ?? 10_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;

  return async (loaded: LoadedPage, wait: WaitOptions) => {
    const { signal } = wait;
    signal?.throwIfAborted();
    const started = Date.now();
    const deadline = started + Math.max(0, wait.limitMs);
    // One controller ends the socket, timers and fetches of this wait, whichever way it ends.
    const stop = new AbortController();
    const onAbort = () => stop.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const progress = wait.onWaiting
      ? setInterval(() => wait.onWaiting?.(Math.round((Date.now() - started) / 1000)), progressMs)
      : undefined;
    let socket: SocketConnection | undefined;
    try {
      const path = waitPageSocketPath(loaded.html);
      if (path !== undefined) {
        socket = await connectSocket(socketUrl(wait.baseUrl, path), {
          timeoutMs: Math.min(connectTimeoutMs, Math.max(1, deadline - Date.now())),
          signal: stop.signal,
        }).catch(() => undefined);
      }
      // Without a socket the first look is at once (it may have failed on a page already done).
      let nextCheck = socket ? Date.now() + recheckMs : Date.now();
      for (;;) {
        if (stop.signal.aborted) throw signal?.reason ?? new Error("the wait was aborted");
        const now = Date.now();
        if (now >= deadline) return "timeout";
        const until = Math.min(deadline, nextCheck) - now;
        if (socket && !socket.closed) {
          const message = await socket.next(until, stop.signal);
          if (message !== undefined && isReady(message)) return "ready";
          if (message !== undefined) socket.close(); // an error message: the page itself will say more
          if (socket.closed) {
            socket = undefined;
            nextCheck = Date.now();
          }
        } else {
          await pause(until, stop.signal);
        }
        if (stop.signal.aborted || Date.now() < nextCheck || Date.now() >= deadline) continue;
        if ((await checkPage(loaded.url, stop.signal)) === "ready") return "ready";
        nextCheck = Date.now() + (socket && !socket.closed ? recheckMs : pollMs);
      }
    } finally {
      if (progress) clearInterval(progress);
      signal?.removeEventListener("abort", onAbort);
      socket?.close();
      stop.abort();
    }
  };
}

/** The waiter silico's bots use by default. */
export const waitOnSocket: WaitForPage = createSocketWaiter();

function isReady(message: unknown): boolean {
  return typeof message === "object" && message !== null && !("error" in message);
}

/**
 * Looks at the wait page by GET without following redirects: a redirect (oTree moves a released
 * participant on, or a stale URL to the current page) or a page that is not a wait page means
 * ready; a wait page, a 5xx or no answer means keep waiting (the server may be busy). Other
 * answers are "ready" too: the bot's reload then meets and reports them.
 */
async function checkPage(url: string, signal: AbortSignal): Promise<"ready" | "waiting"> {
  try {
    const res = await fetch(url, {
      redirect: "manual",
      signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]),
    });
    await res.body?.cancel();
    if (res.status >= 500) return "waiting";
    if (res.status === 200 && res.headers.get("otree-wait-page") === "1") return "waiting";
    return "ready";
  } catch {
    return "waiting";
  }
}
