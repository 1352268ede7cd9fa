/**
 * The ceiling of `npm run bench:otree`: the bench's oTree pages played by scripted HTTP clients
 * with no model at all, every participant at once — what the oTree server itself allows. Each
 * client does what an HTTP bot does minus the question to the model: GET the start link, follow
 * redirects with GET (never re-POST), POST the page's number fields (a deterministic value within
 * the field's bounds) or an empty form for a page with only a next button, and sit on wait pages
 * on the page's own `/wait_page` socket (GET polling when this Node has no WebSocket).
 *
 * Pages are loaded with undici's `request`, the HTTP client the bots' transport uses: with fetch
 * the scripted clients took ≈ 2.8 ms of CPU per page on the cores oTree needs, a handicap for the
 * ceiling that the bots no longer have. No build needed (the slow test imports this file as is).
 */
import { request } from "undici";

const MAX_REDIRECTS = 20;

/**
 * Creates a session over REST and plays every participant at once. Resolves to
 * { sessionCode, participants, completed, pages, seconds, run_seconds, pages_per_s, requests, wait_mode, errors }.
 * `seconds` runs from the first participant's start link to the last participant's end page
 * (playing time: the pages/s measure), `run_seconds` from the REST call that creates the session.
 */
export async function runCeiling({
  baseUrl,
  config,
  participants,
  wait = typeof globalThis.WebSocket === "function" ? "socket" : "poll",
  pollMs = 100,
  timeoutMs = 180_000,
}) {
  const stats = { requests: 0 };
  const t0 = performance.now();
  const session = await createSession(baseUrl, config, participants, stats);
  const tPlay = performance.now();
  const deadline = Date.now() + timeoutMs;
  const results = await Promise.all(
    session.participants.map((p) =>
      playParticipant(baseUrl, p, { wait, pollMs, deadline, stats }).catch((err) => ({
        completed: false,
        pages: 0,
        error: `participant ${p.code}: ${err.message}`,
      })),
    ),
  );
  const seconds = (performance.now() - tPlay) / 1000;
  const runSeconds = (performance.now() - t0) / 1000;
  const pages = results.reduce((a, r) => a + r.pages, 0);
  const errors = results.flatMap((r) => (r.error ? [r.error] : []));
  return {
    sessionCode: session.code,
    participants: session.participants.length,
    completed: results.filter((r) => r.completed).length,
    pages,
    seconds,
    run_seconds: runSeconds,
    pages_per_s: pages / seconds,
    requests: stats.requests,
    wait_mode: wait,
    errors: errors.slice(0, 5),
  };
}

async function createSession(baseUrl, config, participants, stats) {
  stats.requests++;
  const res = await request(`${baseUrl}/api/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ session_config_name: config, num_participants: participants }),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200)
    throw new Error(`oTree refused the session (${res.statusCode}): ${text.slice(0, 300)}`);
  const { code } = JSON.parse(text);
  stats.requests++;
  const detail = await request(`${baseUrl}/api/sessions/${code}`);
  const body = JSON.parse(await detail.body.text());
  return {
    code,
    participants: body.participants.map((p) => ({ code: p.code, idInSession: p.id_in_session })),
  };
}

/**
 * One scripted participant from its start link to oTree's end page. Resolves to
 * { completed, pages } where pages counts the form pages the server accepted.
 */
export async function playParticipant(baseUrl, participant, { wait, pollMs, deadline, stats }) {
  let page = await get(`${baseUrl}/InitializeParticipant/${participant.code}`, stats);
  let pages = 0;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`still on ${page.url} at the deadline`);
    if (page.end) return { completed: true, pages };
    if (page.waitPage) {
      if (wait === "socket") await waitOnSocket(baseUrl, page.html, deadline);
      else await sleep(pollMs);
      page = await get(page.url, stats);
      continue;
    }
    const fields = numberFields(page.html, participant.idInSession + pathIndex(page.url));
    const submitted = await post(page.url, fields, stats);
    if (submitted.rejected) throw new Error(`oTree rejected ${JSON.stringify(fields)} on ${page.url}`);
    pages++;
    page = submitted;
  }
}

/** A deterministic in-bounds value for every named number input of the page. */
function numberFields(html, seed) {
  const fields = {};
  for (const m of html.matchAll(/<input\b[^>]*>/g)) {
    const tag = m[0];
    const name = /\bname="([^"]+)"/.exec(tag)?.[1];
    if (!name || !/\btype="number"/.test(tag)) continue;
    const min = Number(/\bmin="(-?\d+)"/.exec(tag)?.[1] ?? 0);
    const max = Number(/\bmax="(-?\d+)"/.exec(tag)?.[1] ?? min + 10);
    fields[name] = String(min + (seed % (max - min + 1)));
  }
  return fields;
}

function pathIndex(url) {
  return Number(/\/(\d+)$/.exec(new URL(url).pathname)?.[1] ?? 0);
}

/** GET, following redirects with GET; the end of the participant's pages is oTree's out-of-range page. */
async function get(url, stats) {
  let current = url;
  for (let i = 0; i < MAX_REDIRECTS; i++) {
    if (new URL(current).pathname.startsWith("/OutOfRangeNotification/")) {
      return { url: current, end: true, html: "", waitPage: false, rejected: false };
    }
    stats.requests++;
    const res = await request(current);
    const html = await res.body.text();
    const location = res.headers.location;
    if (res.statusCode >= 300 && res.statusCode < 400 && location) {
      current = new URL(location, current).href;
      continue;
    }
    if (res.statusCode !== 200)
      throw new Error(`GET ${current} answered ${res.statusCode}: ${html.slice(0, 200)}`);
    return {
      url: current,
      end: false,
      html,
      waitPage: res.headers["otree-wait-page"] === "1",
      rejected: res.headers["otree-redisplay-with-errors"] === "1",
    };
  }
  throw new Error(`more than ${MAX_REDIRECTS} redirects from ${url}`);
}

/** POST the form to the page's own URL; a redirect is followed with GET (re-POSTing would submit the next page empty). */
async function post(url, fields, stats) {
  stats.requests++;
  const res = await request(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
  const html = await res.body.text();
  const location = res.headers.location;
  if (res.statusCode >= 300 && res.statusCode < 400 && location)
    return get(new URL(location, url).href, stats);
  if (res.statusCode !== 200)
    throw new Error(`POST ${url} answered ${res.statusCode}: ${html.slice(0, 200)}`);
  return {
    url,
    end: false,
    html,
    waitPage: res.headers["otree-wait-page"] === "1",
    rejected: res.headers["otree-redisplay-with-errors"] === "1",
  };
}

/** Resolves when the wait page's socket says to reload (any message without `error`). */
function waitOnSocket(baseUrl, html, deadline) {
  const path = /makeReconnectingWebSocket\("([^"]+)"\)/.exec(html)?.[1];
  if (!path) throw new Error("a wait page without a /wait_page socket");
  const url = `${baseUrl.replace(/^http/, "ws")}${path}`;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const timer = setTimeout(
      () => {
        socket.close();
        reject(new Error(`no word on ${path} before the deadline`));
      },
      Math.max(0, deadline - Date.now()),
    );
    const finish = (err) => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve();
    };
    socket.onmessage = (e) => {
      let data;
      try {
        data = JSON.parse(String(e.data));
      } catch {
        return finish(new Error(`not JSON on ${path}: ${String(e.data).slice(0, 100)}`));
      }
      finish(data?.error ? new Error(`oTree on ${path}: ${data.error}`) : undefined);
    };
    socket.onerror = () => finish(new Error(`socket ${path} failed`));
    // Closed without a word (e.g. the server restarted it): reload the page, which reopens it.
    socket.onclose = () => setTimeout(() => finish(), 100);
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
