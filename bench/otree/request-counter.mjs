/**
 * Counts the HTTP requests and websocket connections a bench child makes to the oTree server, by
 * kind, so the bench shows that bots and ceiling ask the server for the same things. It listens on
 * Node's diagnostics channels — `undici:request:create` (fetch, Node's WebSocket) and
 * `http.client.request.start` (node:http, which the `ws` package uses for its handshake) — and
 * wraps nothing. Requests to other servers (the test LLM) are not counted.
 */
import dc from "node:diagnostics_channel";

const SOCKET_PATHS = /^\/(wait_page|subsession_wait_page|group_by_arrival_time|chat|live|auto_advance)\b/;
const PAGE_PATHS = /^\/(p|InitializeParticipant|OutOfRangeNotification)\//;

/** Starts counting requests to `baseUrl`'s host; returns a function that reads the counts so far. */
export function countRequests(baseUrl) {
  const { host } = new URL(baseUrl);
  const counts = { pages: 0, rest: 0, sockets: 0, other: 0 };
  const add = (path) => {
    const p = path.split("?")[0];
    if (SOCKET_PATHS.test(p)) counts.sockets++;
    else if (p.startsWith("/api/")) counts.rest++;
    else if (PAGE_PATHS.test(p)) counts.pages++;
    else counts.other++;
  };
  dc.subscribe("undici:request:create", ({ request }) => {
    if (new URL(request.origin).host === host) add(request.path);
  });
  dc.subscribe("http.client.request.start", ({ request }) => {
    if (String(request.getHeader("host")) === host) add(request.path);
  });
  return () => ({ ...counts });
}
