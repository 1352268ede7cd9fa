import WebSocket from "ws";

/*
 * One websocket to an oTree server as a queue of JSON messages: oTree's wait, chat and live
 * sockets all send JSON text frames, and a bot reads them one at a time with a deadline. Built on
 * the `ws` package because Node 20 has no WebSocket without a flag.
 */

/** A websocket URL for a path of an oTree page (`/wait_page?...`, `/chat?...`, `/live?...`). */
export function socketUrl(baseUrl: string, path: string): string {
  const url = new URL(path, `${baseUrl.replace(/\/+$/, "")}/`);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

export interface SocketConnection {
  /** Sends one JSON text frame. False when the socket is no longer open (nothing was sent). */
  send(message: unknown): boolean;
  /**
   * The next message (parsed JSON; a frame that is not JSON comes as its text), or undefined when
   * none came within `timeoutMs`, the socket closed, or the signal fired.
   */
  next(timeoutMs: number, signal?: AbortSignal): Promise<unknown>;
  /** Every message already received and not yet taken by `next`. */
  drain(): unknown[];
  readonly closed: boolean;
  /** Why the socket closed (close code and reason, or the error), once it has. */
  readonly closeReason: string | undefined;
  /** Resolves once the socket has closed (by either side). */
  readonly whenClosed: Promise<void>;
  close(): void;
}

export interface ConnectOptions {
  /** Give up connecting after this long. Default 10 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Opens a websocket and resolves once it is open; rejects when it cannot be opened. */
export function connectSocket(url: string, options: ConnectOptions = {}): Promise<SocketConnection> {
  const { timeoutMs = 10_000, signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
    const queue: unknown[] = [];
    let waiter: (() => void) | undefined;
    let closeReason: string | undefined;
    let opened = false;
    let markClosed!: () => void;
    const whenClosed = new Promise<void>((r) => {
      markClosed = r;
    });
    const wake = () => {
      const w = waiter;
      waiter = undefined;
      w?.();
    };
    const onAbort = () => ws.terminate();
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => {
      if (!opened) ws.terminate();
    }, timeoutMs);

    ws.on("message", (data, isBinary) => {
      const text = isBinary ? Buffer.from(data as Buffer).toString("utf8") : data.toString();
      let message: unknown = text;
      try {
        message = JSON.parse(text);
      } catch {
        // kept as text: the caller decides what a non-JSON frame means
      }
      queue.push(message);
      wake();
    });
    ws.on("error", (err) => {
      closeReason ??= err.message;
    });
    ws.on("close", (code, reason) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      closeReason ??= `closed with code ${code}${reason.length > 0 ? ` (${reason.toString()})` : ""}`;
      markClosed();
      wake();
      if (!opened) {
        reject(
          signal?.aborted
            ? signal.reason
            : new Error(`could not open ${redactQuery(url)}: ${closeReason ?? "no answer"}`),
        );
      }
    });
    ws.on("open", () => {
      opened = true;
      clearTimeout(timer);
      const connection: SocketConnection = {
        send(message) {
          if (ws.readyState !== WebSocket.OPEN) return false;
          ws.send(JSON.stringify(message));
          return true;
        },
        next(waitMs, nextSignal) {
          if (queue.length > 0) return Promise.resolve(queue.shift());
          if (ws.readyState === WebSocket.CLOSED || waitMs <= 0 || nextSignal?.aborted) {
            return Promise.resolve(undefined);
          }
          return new Promise((done) => {
            const finish = () => {
              clearTimeout(t);
              nextSignal?.removeEventListener("abort", finish);
              if (waiter === finish) waiter = undefined;
              done(queue.shift());
            };
            const t = setTimeout(finish, waitMs);
            nextSignal?.addEventListener("abort", finish, { once: true });
            waiter = finish;
          });
        },
        drain: () => queue.splice(0),
        get closed() {
          return ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING;
        },
        get closeReason() {
          return closeReason;
        },
        whenClosed,
        close() {
          if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
          else if (ws.readyState === WebSocket.OPEN) ws.close(1000);
        },
      };
      resolve(connection);
    });
  });
}

/**
 * Socket URLs carry the participant code (the participant's secret) in the query: keep it out of
 * error messages.
 */
export function redactQuery(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? url : `${url.slice(0, q)}?…`;
}

/** A promise that resolves after `ms`, or at once when the signal fires. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
