import { describe, expect, it } from "vitest";
import { groupSize, partnerMatching, sessionSeats, strangerMatching } from "./matching.js";

const UG = [
  { name: "proposer", count: 1 },
  { name: "responder", count: 1 },
];
const PG = [{ name: "player", count: 3 }];
const MIXED = [
  { name: "buyer", count: 2 },
  { name: "seller", count: 1 },
];

describe("participants of a session", () => {
  it("names a role's only participant after the role, and numbers several", () => {
    expect(sessionSeats(UG, 1).map((s) => s.id)).toEqual(["proposer", "responder"]);
    expect(sessionSeats(UG, 3).map((s) => s.id)).toEqual([
      "proposer1",
      "proposer2",
      "proposer3",
      "responder1",
      "responder2",
      "responder3",
    ]);
    expect(sessionSeats(PG, 1).map((s) => `${s.id}/${s.role}/${s.index}`)).toEqual([
      "player1/player/1",
      "player2/player/2",
      "player3/player/3",
    ]);
    expect(groupSize(MIXED)).toBe(3);
  });
});

describe("partner matching", () => {
  it("keeps the same group in every round", () => {
    const m = partnerMatching(UG, 7, 10);
    expect(m).toHaveLength(10);
    for (const round of m) expect(round).toEqual([{ id: 7, members: ["proposer", "responder"] }]);
  });
});

describe("stranger matching", () => {
  const rounds = 12;
  const m = strangerMatching(MIXED, 4, rounds, 1234, 2);

  it("puts every participant of the pool in exactly one group per round", () => {
    const everyone = sessionSeats(MIXED, 4)
      .map((s) => s.id)
      .sort();
    for (const round of m) {
      expect(round).toHaveLength(4);
      expect(round.flatMap((g) => g.members).sort()).toEqual(everyone);
    }
  });

  it("gives every group the declared role counts, roles in declared order", () => {
    for (const round of m) {
      for (const g of round) {
        expect(g.members).toHaveLength(3);
        expect(g.members.slice(0, 2).every((id) => id.startsWith("buyer"))).toBe(true);
        expect(g.members[2]?.startsWith("seller")).toBe(true);
      }
    }
  });

  it("numbers groups after the pool: pool 2 of 4-group pools holds groups 5–8", () => {
    for (const round of m) expect(round.map((g) => g.id)).toEqual([5, 6, 7, 8]);
  });

  it("re-matches between rounds", () => {
    const keys = new Set(m.map((round) => JSON.stringify(round.map((g) => g.members))));
    expect(keys.size).toBeGreaterThan(rounds / 2);
  });

  it("is reproducible from the seed, and differs for another seed or pool", () => {
    expect(strangerMatching(MIXED, 4, rounds, 1234, 2)).toEqual(m);
    expect(strangerMatching(MIXED, 4, rounds, 1235, 2)).not.toEqual(m);
    const otherPool = strangerMatching(MIXED, 4, rounds, 1234, 3);
    expect(otherPool.map((r) => r.map((g) => g.members))).not.toEqual(m.map((r) => r.map((g) => g.members)));
  });

  it("mixes partners: over many rounds a seller meets most buyers", () => {
    const met = new Set<string>();
    for (const round of strangerMatching(MIXED, 4, 40, 9, 1)) {
      for (const g of round)
        if (g.members.includes("seller1")) for (const b of g.members.slice(0, 2)) met.add(b);
    }
    expect(met.size).toBeGreaterThanOrEqual(6);
  });
});
