import { describe, expect, it } from "vitest";
import { RoundLocator, roundLayoutFromWide } from "./round-locator.js";

const url = (app: string, page: string, index: number) => `http://h/p/abc/${app}/${page}/${index}`;

// intro (1 round: Welcome, Consent), waiting (3 rounds: Contribute, ResultsWaitPage, Results),
// survey (1 round: Survey): pages 1-2, 3-11, 12.
const LAYOUT = {
  apps: [
    { name: "intro", rounds: 1 },
    { name: "waiting", rounds: 3 },
    { name: "survey", rounds: 1 },
  ],
  totalPages: 12,
};
const WAITING = ["Contribute", "ResultsWaitPage", "Results"];

describe("RoundLocator", () => {
  it("gives round 1 in a one-round app and every round of a lone app from the page index alone", () => {
    const lone = new RoundLocator({ apps: [{ name: "waiting", rounds: 3 }], totalPages: 9 });
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => lone.roundOf(url("waiting", "X", i)))).toEqual([
      1, 1, 1, 2, 2, 2, 3, 3, 3,
    ]);
    const three = new RoundLocator(LAYOUT);
    expect(three.roundOf(url("intro", "Consent", 2))).toBe(1);
    expect(three.roundOf(url("survey", "Survey", 12))).toBe(1);
  });

  it("finds the rounds of an app between others from the pages bots saw, and says nothing while they leave it open", () => {
    const rounds = new RoundLocator(LAYOUT);
    rounds.observe(url("intro", "Welcome", 1));
    rounds.observe(url("intro", "Consent", 2));
    rounds.observe(url("waiting", "Contribute", 3));
    // Round 1 whatever the waiting app's length.
    expect(rounds.roundOf(url("waiting", "Contribute", 3))).toBe(1);
    rounds.observe(url("waiting", "ResultsWaitPage", 4));
    // 1 or 2 pages per round, or 3: open.
    rounds.observe(url("waiting", "Results", 5));
    // 1 page per round would put Contribute and ResultsWaitPage in one place; 2 Contribute and Results.
    expect(rounds.roundOf(url("waiting", "Results", 5))).toBe(1);
    rounds.observe(url("waiting", "Contribute", 6));
    expect(rounds.roundOf(url("waiting", "Contribute", 6))).toBe(2);
    expect(rounds.roundOf(url("waiting", "Results", 11))).toBe(3);
  });

  it("leaves a round open when two layouts fit, and settles it once another bot's pages decide", () => {
    const rounds = new RoundLocator(LAYOUT);
    // A bot that skipped round 1's pages (is_displayed) and shows up on index 7 of waiting.
    rounds.observe(url("waiting", "Contribute", 9));
    expect(rounds.roundOf(url("waiting", "Contribute", 9))).toBeUndefined();
    for (let i = 3; i <= 8; i++) rounds.observe(url("waiting", WAITING[(i - 3) % 3] as string, i));
    rounds.observe(url("intro", "Consent", 2));
    expect(rounds.roundOf(url("waiting", "Contribute", 9))).toBe(3);
  });

  it("gives up (undefined) on pages of apps it does not know, or when nothing fits", () => {
    const rounds = new RoundLocator(LAYOUT);
    expect(rounds.roundOf(url("elsewhere", "Page", 3))).toBeUndefined();
    rounds.observe(url("waiting", "Contribute", 3));
    rounds.observe(url("waiting", "Contribute", 4));
    rounds.observe(url("waiting", "Results", 5));
    rounds.observe(url("waiting", "Results", 6));
    expect(rounds.roundOf(url("waiting", "Results", 6))).toBeUndefined();
  });
});

describe("RoundLocator on longer sessions", () => {
  it("is never wrong: two bots walk intro, a 10-round game (pages skipped in some rounds) and a survey", () => {
    // intro: 2 pages; game: 10 rounds × [Choice, Wait, Feedback, Bonus (rounds 5+), Results]; survey: 3.
    const GAME = ["Choice", "Wait", "Feedback", "Bonus", "Results"];
    const pages: { app: string; page: string; round: number; index: number }[] = [];
    let index = 0;
    for (const page of ["Welcome", "Consent"]) pages.push({ app: "intro", page, round: 1, index: ++index });
    for (let round = 1; round <= 10; round++) {
      for (const page of GAME) pages.push({ app: "game", page, round, index: ++index });
    }
    for (const page of ["Q1", "Q2", "Q3"]) pages.push({ app: "survey", page, round: 1, index: ++index });
    const rounds = new RoundLocator({
      apps: [
        { name: "intro", rounds: 1 },
        { name: "game", rounds: 10 },
        { name: "survey", rounds: 1 },
      ],
      totalPages: index,
    });
    const shown = (p: (typeof pages)[number], bot: number) =>
      !(p.page === "Bonus" && p.round < 5) && !(bot === 2 && p.page === "Feedback" && p.round % 3 === 0);
    let told = 0;
    let open = 0;
    for (let i = 0; i < pages.length; i++) {
      for (const bot of [1, 2]) {
        const p = pages[i] as (typeof pages)[number];
        if (!shown(p, bot)) continue;
        const at = url(p.app, p.page, p.index);
        rounds.observe(at);
        const round = rounds.roundOf(at);
        if (round === undefined) open++;
        else {
          expect(round, `${p.app}/${p.page}/${p.index}`).toBe(p.round);
          told++;
        }
      }
    }
    // Open only for a few pages early in the game.
    expect(open).toBeLessThan(8);
    expect(told).toBeGreaterThan(90);
  });

  it("stays quick on a long session: it gives the search up (rounds then counted per page) rather than hold the bots", () => {
    const rounds = new RoundLocator({
      apps: [
        { name: "a", rounds: 1 },
        { name: "b", rounds: 1 },
        { name: "c", rounds: 40 },
        { name: "d", rounds: 1 },
        { name: "e", rounds: 1 },
      ],
      totalPages: 2_900,
    });
    rounds.observe(url("c", "P", 1_000));
    rounds.observe(url("c", "Q", 1_001));
    const t0 = Date.now();
    const first = rounds.roundOf(url("c", "Q", 1_001));
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(first).toBeUndefined();
    const t1 = Date.now();
    rounds.observe(url("c", "R", 1_002));
    expect(rounds.roundOf(url("c", "R", 1_002))).toBeUndefined();
    expect(Date.now() - t1).toBeLessThan(50);
    expect(
      new RoundLocator({
        apps: [
          { name: "c", rounds: 2 },
          { name: "d", rounds: 1 },
        ],
        totalPages: 5_000,
      }).roundOf(url("c", "P", 3)),
    ).toBeUndefined();
  });
});

describe("roundLayoutFromWide", () => {
  it("reads rounds per app and the page count from oTree's wide export", () => {
    const csv = [
      "participant.id_in_session,participant.code,participant._index_in_pages,participant._max_page_index,intro.1.player.id_in_group,waiting.1.player.contribution,waiting.2.player.contribution,waiting.3.player.contribution,waiting.3.group.total,waiting.3.subsession.round_number,session.code",
      "1,abc,0,12,1,,,,,3,s1",
      "2,def,0,12,2,,,,,3,s1",
    ].join("\n");
    expect(roundLayoutFromWide(`\uFEFF${csv}`, ["intro", "waiting"])).toEqual({
      apps: [
        { name: "intro", rounds: 1 },
        { name: "waiting", rounds: 3 },
      ],
      totalPages: 12,
    });
    expect(roundLayoutFromWide(csv, ["intro", "nowhere"])).toBeUndefined();
    expect(roundLayoutFromWide("participant.code\n", ["intro"])).toBeUndefined();
  });
});
