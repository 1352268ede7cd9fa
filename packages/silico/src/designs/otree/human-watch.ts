import { parseCsv } from "../stimuli/csv-reader.js";

/** Where one human seat is, as oTree's wide export says. */
export interface HumanProgress {
  seat: number;
  code: string;
  /** not_started: never opened the start link; finished: past the last page of the session. */
  state: "not_started" | "playing" | "finished";
  /** `app/Page` of the page the human is on (playing only, when oTree says). */
  page?: string;
}

/**
 * The human seats' progress from oTree's wide export (`/api/export_wide`, the REST way to see
 * where a participant is: `/api/sessions/{code}` only has the app-defined `status`). A participant
 * is past the session's last page once `_index_in_pages` exceeds `_max_page_index` (oTree then
 * shows OutOfRangeNotification); `visited` says whether the start link was ever opened. A seat
 * missing from the export counts as playing (nothing says it is done).
 */
export function humanProgressFromWide(csv: string, seats: { seat: number; code: string }[]): HumanProgress[] {
  const [header, ...rows] = parseCsv(csv.replace(/^\uFEFF/, "")).records.map((r) => r.fields);
  const col = (name: string) => header?.indexOf(name) ?? -1;
  const code = col("participant.code");
  const visited = col("participant.visited");
  const index = col("participant._index_in_pages");
  const max = col("participant._max_page_index");
  const app = col("participant._current_app_name");
  const page = col("participant._current_page_name");
  const byCode = new Map(rows.map((r) => [r[code] ?? "", r]));
  return seats.map(({ seat, code: c }) => {
    const row = byCode.get(c);
    if (!row || code < 0) return { seat, code: c, state: "playing" };
    const at = Number(row[index]);
    const last = Number(row[max]);
    if (!truthy(row[visited]) && !(at > 0)) return { seat, code: c, state: "not_started" };
    if (Number.isFinite(at) && Number.isFinite(last) && last > 0 && at > last) {
      return { seat, code: c, state: "finished" };
    }
    const where = [row[app], row[page]].filter((x) => x !== undefined && x !== "").join("/");
    return { seat, code: c, state: "playing", ...(where ? { page: where } : {}) };
  });
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && /^(1|true)$/i.test(v.trim());
}

export interface HumanWaitOptions {
  /** The human seats' progress now (throws when the server does not answer). */
  read(): Promise<HumanProgress[]>;
  /** Stop waiting after this long (0: do not wait at all). */
  limitMs: number;
  /** Look this often. */
  pollMs: number;
  /** A progress line at most this often. */
  noticeEveryMs: number;
  notice(message: string): void;
  /** Ctrl-C: stop waiting now. */
  signal?: AbortSignal;
  /** False once the server process is gone (no point in waiting for it). */
  serverAlive?(): boolean;
}

export interface HumanWaitResult {
  /** finished: every human seat is done; limit: the limit passed; interrupted: Ctrl-C; server_gone: the server died. */
  outcome: "finished" | "limit" | "interrupted" | "server_gone";
  waitedS: number;
  /** The last progress read (empty when the server never answered). */
  seats: HumanProgress[];
}

/**
 * Once the bots are done: waits while human seats that started are still playing, with one line
 * saying so, a progress line now and then, and stops at the limit, on Ctrl-C, when the server is
 * gone or when no human is playing any more ("finished"; seats never started are in `seats`).
 */
export async function waitForHumans(o: HumanWaitOptions): Promise<HumanWaitResult> {
  const started = Date.now();
  const waited = () => Math.round((Date.now() - started) / 1000);
  let seats: HumanProgress[] = [];
  const look = async () => {
    try {
      seats = await o.read();
    } catch {
      // Keep the last answer: a busy server may miss one look.
    }
  };
  await look();
  // Only humans who started hold the server: the bots are done, so a seat nobody opened by now
  // would meet finished partners, and an unused human seat must not keep a run open for the limit.
  // One who starts while others still play is waited for too.
  const open = () => seats.length === 0 || seats.some((s) => s.state === "playing");
  if (!open()) return { outcome: "finished", waitedS: 0, seats };
  if (o.limitMs <= 0) return { outcome: "limit", waitedS: 0, seats };
  o.notice(
    `bots done; ${countsText(seats)} — the oTree server stays up until they finish (at most ${duration(o.limitMs / 1000)}: otree.humans_limit_s); Ctrl-C stops it (their data so far is saved)`,
  );
  let noticed = Date.now();
  while (open()) {
    if (o.signal?.aborted) return { outcome: "interrupted", waitedS: waited(), seats };
    if (o.serverAlive && !o.serverAlive()) return { outcome: "server_gone", waitedS: waited(), seats };
    const left = started + o.limitMs - Date.now();
    if (left <= 0) return { outcome: "limit", waitedS: waited(), seats };
    await pause(Math.min(o.pollMs, left), o.signal);
    if (o.signal?.aborted) return { outcome: "interrupted", waitedS: waited(), seats };
    await look();
    if (open() && Date.now() - noticed >= o.noticeEveryMs) {
      noticed = Date.now();
      const rest = Math.max(0, Math.round((started + o.limitMs - Date.now()) / 1000));
      o.notice(
        `humans: ${progressText(seats)}; waited ${duration(waited())}, the server stops in ${duration(rest)} at the latest`,
      );
    }
  }
  return { outcome: "finished", waitedS: waited(), seats };
}

/** "1 human still playing (1 more never started: not waited for)" (finished ones are not news here). */
export function countsText(seats: HumanProgress[]): string {
  const playing = seats.filter((s) => s.state === "playing").length;
  const fresh = seats.filter((s) => s.state === "not_started").length;
  if (seats.length === 0) return "the humans' progress is unknown (oTree did not say)";
  return `${playing} human${playing === 1 ? "" : "s"} still playing${fresh > 0 ? ` (${fresh} more never started: not waited for)` : ""}`;
}

/** "1 playing (seat 1 on waiting/Results), 1 not started, 1 finished". */
export function progressText(seats: HumanProgress[]): string {
  const playing = seats.filter((s) => s.state === "playing");
  const where = playing
    .map((s) => `seat ${s.seat}${s.page ? ` on ${s.page}` : ""}`)
    .slice(0, 5)
    .join(", ");
  const more = playing.length > 5 ? ", …" : "";
  return [
    `${playing.length} playing${where ? ` (${where}${more})` : ""}`,
    `${seats.filter((s) => s.state === "not_started").length} not started`,
    `${seats.filter((s) => s.state === "finished").length} finished`,
  ].join(", ");
}

function duration(s: number): string {
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 360) / 10} h`;
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
