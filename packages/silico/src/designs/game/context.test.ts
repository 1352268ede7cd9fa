import { describe, expect, it } from "vitest";
import { ProblemList } from "../../errors.js";
import { parseStudyText } from "../../study/source.js";
import { GameState, systemContext } from "./context.js";
import { InvalidValue } from "./invalid.js";
import { sessionSeats } from "./matching.js";
import { playSessionSync } from "./play.js";
import { exampleValue } from "../../parse/example-answer.js";
import { readGame } from "./read-game.js";

// biome-ignore lint/suspicious/noExplicitAny: the template context is read as nested plain data
type Ctx = Record<string, any>;

const UG_SHAPE = {
  rounds: 3,
  roles: [
    { name: "proposer", count: 1 },
    { name: "responder", count: 1 },
  ],
  choices: [
    { name: "offer", roles: ["proposer"] },
    { name: "respond", roles: ["responder"] },
  ],
};
const base = { treatment: "give", variables: { endowment: 10 } };

describe("the template context of a participant", () => {
  const state = new GameState(UG_SHAPE, sessionSeats(UG_SHAPE.roles, 1));
  const group = [{ id: 4, members: ["proposer", "responder"] }];
  state.startRound(1, group);
  state.setChoice("proposer", 1, "offer", 6);
  state.setChoice("responder", 1, "respond", "ACCEPT");
  state.setPayoff("proposer", 1, 6);
  state.setPayoff("responder", 1, 4);
  state.startRound(2, group);
  state.setChoice("proposer", 2, "offer", 9);

  it("holds the documented names", () => {
    const ctx = state.context("responder", 2, { ...base, stage: "respond" }, "template");
    expect(Object.keys(ctx).sort()).toEqual(
      [
        "endowment",
        "variables",
        "treatment",
        "role",
        "round",
        "rounds",
        "stage",
        "group",
        "group_size",
        "me",
        "others",
        "players",
        "other",
        "proposer",
        "responder",
        "offer",
        "history",
      ].sort(),
    );
    expect(ctx).toMatchObject({
      role: "responder",
      round: 2,
      rounds: 3,
      stage: "respond",
      treatment: "give",
      group: 4,
      group_size: 2,
      endowment: 10,
    });
    expect(ctx.variables).toEqual({ endowment: 10 });
  });

  it("shows this round's earlier choices, and the past as lists, payoffs and history", () => {
    const ctx = state.context("responder", 2, base, "template") as Ctx;
    expect(ctx.offer).toBe(9);
    expect(ctx.proposer.offer).toBe(9);
    expect(ctx.other).toBe(ctx.proposer);
    expect(ctx.others).toEqual([ctx.proposer]);
    expect(ctx.players.map((p: { id: string }) => p.id)).toEqual(["proposer", "responder"]);
    expect(ctx.me).toMatchObject({ id: "responder", role: "responder", index: 1, payoffs: [4], total: 4 });
    expect(ctx.me.choices).toEqual({ respond: ["ACCEPT"] });
    expect(ctx.proposer.choices).toEqual({ offer: [6, 9] });
    expect(ctx.me.respond).toBeUndefined();
    expect(ctx.history).toHaveLength(1);
    expect(ctx.history[0]).toMatchObject({
      round: 1,
      group: 4,
      offer: 6,
      me: { id: "responder", respond: "ACCEPT", payoff: 4 },
      other: { id: "proposer", offer: 6, payoff: 6 },
      proposer: { offer: 6 },
    });
  });

  it("does not show the responder's choice of this round to the proposer before it exists", () => {
    const ctx = state.context("proposer", 2, base, "template");
    expect("respond" in ctx).toBe(false);
    expect(ctx.offer).toBe(9);
  });

  it("prints invalid choices as None in templates, and keeps them invalid for expressions", () => {
    const s = new GameState(UG_SHAPE, sessionSeats(UG_SHAPE.roles, 1));
    s.startRound(1, [{ id: 1, members: ["proposer", "responder"] }]);
    s.setChoice("responder", 1, "respond", new InvalidValue("no answer"));
    expect(
      (s.context("proposer", 1, base, "template").responder as Record<string, unknown>).respond,
    ).toBeNull();
    expect(
      (s.context("proposer", 1, base, "expression").responder as Record<string, unknown>).respond,
    ).toBeInstanceOf(InvalidValue);
  });

  it("gives a role with several members a list, and no `other` in larger groups", () => {
    const shape = {
      rounds: 1,
      roles: [
        { name: "buyer", count: 2 },
        { name: "seller", count: 1 },
      ],
      choices: [
        { name: "bid", roles: ["buyer"] },
        { name: "ask", roles: ["seller"] },
      ],
    };
    const s = new GameState(shape, sessionSeats(shape.roles, 1));
    s.startRound(1, [{ id: 1, members: ["buyer1", "buyer2", "seller"] }]);
    s.setChoice("buyer1", 1, "bid", 3);
    s.setChoice("buyer2", 1, "bid", 5);
    s.setChoice("seller", 1, "ask", 4);
    const seller = s.context("seller", 1, base, "template") as Ctx;
    expect(seller.buyer.map((b: { bid: number }) => b.bid)).toEqual([3, 5]);
    expect("other" in seller).toBe(false);
    expect("bid" in seller).toBe(false); // two buyers bid: no single value
    expect(seller.ask).toBe(4);
    const buyer2 = s.context("buyer2", 1, base, "template") as Ctx;
    expect(buyer2.bid).toBe(5); // its own
    expect(buyer2.ask).toBe(4); // the only seller's
    expect(buyer2.others.map((o: { id: string }) => o.id)).toEqual(["buyer1", "seller"]);
  });

  it("gives the system prompt who-you-are facts only", () => {
    const [seat] = sessionSeats(UG_SHAPE.roles, 1);
    const ctx = systemContext(seat as never, UG_SHAPE, "take", { endowment: 10 });
    expect(ctx).toEqual({
      endowment: 10,
      variables: { endowment: 10 },
      treatment: "take",
      role: "proposer",
      rounds: 3,
      me: { id: "proposer", role: "proposer", index: 1 },
      group_size: 2,
    });
  });
});

describe("stage conditions and sequential order (played with stand-in answers)", () => {
  const TRUST = `kind: game
groups: 1
rounds: 2
model: mock:random
roles:
  investor: {}
  trustee: {}
stages:
  - name: send
    roles: [investor]
    prompt: "Send?"
    parse: { type: number, min: 0, max: 10, integer: true }
  - name: back
    roles: [trustee]
    when: "send > 5 and round == 2"
    prompt: "You got {{ 3 * send }}. Return?"
    parse: { type: number, min: 0, max: 30 }
payoffs:
  investor: "10 - send + (back if round == 2 and send > 5 else 0)"
  trustee: "3 * send - (back if round == 2 and send > 5 else 0)"
`;

  it("asks only the participants whose condition holds", () => {
    const problems = new ProblemList();
    const game = readGame(parseStudyText(TRUST, "/tmp/trust.yaml"), problems, {});
    expect(problems.items).toEqual([]);
    const asked: string[] = [];
    const recorded: [string, unknown][] = [];
    const seats = sessionSeats(game!.roles, 1);
    playSessionSync(
      game!,
      {
        treatment: game!.treatments[0]!,
        seats,
        matching: [
          [{ id: 1, members: ["investor", "trustee"] }],
          [{ id: 1, members: ["investor", "trustee"] }],
        ],
      },
      {
        answer: (d) => {
          asked.push(`${d.round}/${d.pid}: ${d.prompt}`);
          return { valid: true, value: d.pid === "investor" ? 6 : exampleValue(d.stage.parserSpec) };
        },
        record: (pid, name, value) => recorded.push([`${pid}/${name}`, value]),
        taint: () => {},
      },
    );
    expect(asked).toEqual(["1/investor: Send?", "2/investor: Send?", "2/trustee: You got 18. Return?"]);
    expect(recorded).toEqual([
      ["investor/payoff", 4],
      ["trustee/payoff", 18],
      ["investor/payoff", 19],
      ["trustee/payoff", 3],
    ]);
  });
});
