import { describe, expect, it } from "vitest";
import { type HumanProgress, humanProgressFromWide, progressText, waitForHumans } from "./human-watch.js";

// The participant columns of oTree 6's wide export (the others are left out here).
const HEADER =
  "participant.id_in_session,participant.code,participant.label,participant._is_bot,participant._index_in_pages,participant._max_page_index,participant._current_app_name,participant._current_page_name,participant.time_started_utc,participant.visited";

function wide(rows: string[]): string {
  return `\uFEFF${HEADER}\n${rows.join("\n")}\n`;
}

const SEATS = [
  { seat: 1, code: "aaaa1111" },
  { seat: 2, code: "bbbb2222" },
  { seat: 3, code: "cccc3333" },
];

describe("humanProgressFromWide", () => {
  it("tells not started, playing (with the page) and finished (past the last page) apart", () => {
    const csv = wide([
      "1,aaaa1111,,0,4,9,waiting,Results,2026-01-01 10:00:00,1",
      "2,bbbb2222,,0,0,9,,,,0",
      "3,cccc3333,,0,10,9,waiting,Results,2026-01-01 10:00:00,1",
      "4,dddd4444,,0,10,9,waiting,Results,2026-01-01 10:00:00,1",
    ]);
    expect(humanProgressFromWide(csv, SEATS)).toEqual([
      { seat: 1, code: "aaaa1111", state: "playing", page: "waiting/Results" },
      { seat: 2, code: "bbbb2222", state: "not_started" },
      { seat: 3, code: "cccc3333", state: "finished" },
    ]);
  });

  it("counts a seat oTree does not list as still playing (nothing says it is done)", () => {
    expect(humanProgressFromWide(wide([]), [SEATS[0] as { seat: number; code: string }])).toEqual([
      { seat: 1, code: "aaaa1111", state: "playing" },
    ]);
  });

  it("on the last page is not finished yet: its answers are saved only once it is submitted", () => {
    const csv = wide(["1,aaaa1111,,0,9,9,waiting,Results,2026-01-01 10:00:00,1"]);
    expect(humanProgressFromWide(csv, SEATS.slice(0, 1))[0]?.state).toBe("playing");
  });
});

function reads(...answers: (HumanProgress[] | Error)[]) {
  let i = 0;
  return async () => {
    const a = answers[Math.min(i++, answers.length - 1)] as HumanProgress[] | Error;
    if (a instanceof Error) throw a;
    return a;
  };
}

const playing: HumanProgress = { seat: 1, code: "a", state: "playing", page: "app/P" };
const fresh: HumanProgress = { seat: 2, code: "b", state: "not_started" };
const done1: HumanProgress = { seat: 1, code: "a", state: "finished" };
const done2: HumanProgress = { seat: 2, code: "b", state: "finished" };

describe("waitForHumans", () => {
  it("says nothing and waits not at all when every human has finished", async () => {
    const notices: string[] = [];
    const r = await waitForHumans({
      read: reads([done1, done2]),
      limitMs: 60_000,
      pollMs: 10,
      noticeEveryMs: 0,
      notice: (m) => notices.push(m),
    });
    expect(r).toMatchObject({ outcome: "finished", waitedS: 0 });
    expect(notices).toEqual([]);
  });

  it("does not wait for seats nobody opened, but for one that starts while another still plays", async () => {
    const notices: string[] = [];
    const none = await waitForHumans({
      read: reads([done1, fresh]),
      limitMs: 60_000,
      pollMs: 5,
      noticeEveryMs: 0,
      notice: (m) => notices.push(m),
    });
    expect(none).toMatchObject({ outcome: "finished", waitedS: 0, seats: [done1, fresh] });
    expect(notices).toEqual([]);
    const late: HumanProgress = { seat: 2, code: "b", state: "playing" };
    let looks = 0;
    const r = await waitForHumans({
      read: async () => {
        looks++;
        return looks === 1 ? [playing, fresh] : looks === 2 ? [done1, late] : [done1, done2];
      },
      limitMs: 60_000,
      pollMs: 5,
      noticeEveryMs: 1e9,
      notice: () => {},
    });
    expect(r.outcome).toBe("finished");
    expect(looks).toBe(3);
  });

  it("waits while humans play, with one line, progress lines, and ends once all finished (a missed look is no harm)", async () => {
    const notices: string[] = [];
    const r = await waitForHumans({
      read: reads([playing, fresh], new Error("busy"), [playing, done2], [done1, done2]),
      limitMs: 60_000,
      pollMs: 5,
      noticeEveryMs: 0,
      notice: (m) => notices.push(m),
    });
    expect(r.outcome).toBe("finished");
    expect(r.seats.map((s) => s.state)).toEqual(["finished", "finished"]);
    expect(notices[0]).toBe(
      "bots done; 1 human still playing (1 more never started: not waited for) — the oTree server stays up until they finish (at most 60 s: otree.humans_limit_s); Ctrl-C stops it (their data so far is saved)",
    );
    expect(notices.slice(1)).toEqual([
      expect.stringMatching(
        /^humans: 1 playing \(seat 1 on app\/P\), 1 not started, 0 finished; waited 0 s, the server stops in 60 s at the latest$/,
      ),
      expect.stringMatching(/^humans: 1 playing \(seat 1 on app\/P\), 0 not started, 1 finished; waited 0 s/),
    ]);
  });

  it("gives up at the limit, and at once with a limit of 0", async () => {
    const started = Date.now();
    const r = await waitForHumans({
      read: reads([playing]),
      limitMs: 200,
      pollMs: 20,
      noticeEveryMs: 1e9,
      notice: () => {},
    });
    expect(r.outcome).toBe("limit");
    expect(Date.now() - started).toBeGreaterThanOrEqual(195);
    const notices: string[] = [];
    const now = await waitForHumans({
      read: reads([playing]),
      limitMs: 0,
      pollMs: 20,
      noticeEveryMs: 0,
      notice: (m) => notices.push(m),
    });
    expect(now).toMatchObject({ outcome: "limit", waitedS: 0, seats: [playing] });
    expect(notices).toEqual([]);
  });

  it("stops on Ctrl-C (the signal) without waiting for the next look", async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort("SIGINT"), 50);
    const started = Date.now();
    const r = await waitForHumans({
      read: reads([playing]),
      limitMs: 60_000,
      pollMs: 30_000,
      noticeEveryMs: 0,
      notice: () => {},
      signal: stop.signal,
    });
    expect(r.outcome).toBe("interrupted");
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("stops when the server process is gone", async () => {
    let alive = true;
    setTimeout(() => {
      alive = false;
    }, 30);
    const r = await waitForHumans({
      read: reads([playing]),
      limitMs: 60_000,
      pollMs: 10,
      noticeEveryMs: 1e9,
      notice: () => {},
      serverAlive: () => alive,
    });
    expect(r.outcome).toBe("server_gone");
  });
});

describe("progressText", () => {
  it("names at most five playing seats", () => {
    const many = Array.from(
      { length: 7 },
      (_, i): HumanProgress => ({ seat: i + 1, code: `c${i}`, state: "playing" }),
    );
    expect(progressText(many)).toBe(
      "7 playing (seat 1, seat 2, seat 3, seat 4, seat 5, …), 0 not started, 0 finished",
    );
  });
});
