/**
 * Payoffs and conditions are expressions of the template engine (@silico/jinja's
 * compileExpression): the general language is tested there; these are the game's own parts —
 * invalid choices, attribute projection over participants, and prompts and payoffs agreeing.
 */
import { compileExpression, compileTemplate, EXPRESSION_FUNCTIONS, TemplateError } from "@silico/jinja";
import { describe, expect, it } from "vitest";
import { ProblemList } from "../../errors.js";
import { parseStudyText } from "../../study/source.js";
import { GameState } from "./context.js";
import { InvalidReference, InvalidValue, invalidReferenceOf } from "./invalid.js";
import { sessionSeats } from "./matching.js";
import { playSessionSync } from "./play.js";
import { readGame } from "./read-game.js";

const origin = { where: "game.yaml: payoffs.player" };
const ev = (src: string, context: Record<string, unknown>) =>
  compileExpression(src, origin).evaluate(context);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected an error");
}

const PG_SHAPE = {
  rounds: 2,
  roles: [{ name: "player", count: 3 }],
  choices: [{ name: "contribution", roles: ["player"] }],
};
const base = { treatment: "t", variables: { endowment: 20, mpcr: 0.5 } };

function publicGoods(contributions: unknown[]): GameState {
  const seats = sessionSeats(PG_SHAPE.roles, 1);
  const state = new GameState(PG_SHAPE, seats);
  state.startRound(1, [{ id: 1, members: seats.map((s) => s.id) }]);
  seats.forEach((s, i) => {
    state.setChoice(s.id, 1, "contribution", contributions[i]);
  });
  return state;
}

describe("payoff expressions in a game", () => {
  it("computes the public-goods payoff with attribute projection over the group", () => {
    const state = publicGoods([10, 5, 0]);
    const [, second] = [...state.participants.keys()];
    const ctx = state.context(second as string, 1, base, "expression");
    const payoff = "endowment - me.contribution + mpcr * sum(players.contribution)";
    expect(ev(payoff, ctx)).toBe(22.5);
    expect(ev("mean(players.contribution) + len(others)", ctx)).toBe(7);
    // The same projection in a prompt, which may call the same functions.
    const prompt = compileTemplate("{{ players.contribution }} {{ mean(players.contribution) }}", origin, {
      globals: EXPRESSION_FUNCTIONS,
    });
    expect(prompt.render(state.context(second as string, 1, base, "template"))).toBe("[10, 5, 0] 5");
  });

  it("turns a read of an invalid choice into InvalidReference", () => {
    const state = publicGoods([10, new InvalidValue("player2 gave no valid answer"), 0]);
    const ctx = state.context("player1", 1, base, "expression");
    const e = thrown(() => ev("sum(players.contribution)", ctx));
    expect(e).toBeInstanceOf(TemplateError);
    expect(invalidReferenceOf(e)).toBeInstanceOf(InvalidReference);
    expect(invalidReferenceOf(e)?.reason).toBe("player2 gave no valid answer");
    const respond = { respond: new InvalidValue("responder gave no valid answer"), offer: { keep: 5 } };
    expect(
      invalidReferenceOf(thrown(() => ev("offer.keep if respond == 'ACCEPT' else 0", respond))),
    ).toBeDefined();
    expect(invalidReferenceOf(thrown(() => ev("1 if respond else 0", respond)))).toBeDefined();
  });

  it("does not care about an invalid choice it does not read", () => {
    const state = publicGoods([10, new InvalidValue("r"), 0]);
    expect(ev("endowment - me.contribution", state.context("player1", 1, base, "expression"))).toBe(10);
    expect(ev("offer.keep", { respond: new InvalidValue("r"), offer: { keep: 5 } })).toBe(5);
  });

  it("keeps the game's name `round` for the round number while round() still rounds", () => {
    const ctx = publicGoods([1, 2, 3]).context("player1", 1, base, "expression");
    expect(ev("round", ctx)).toBe(1);
    expect(ev("round(2.5) + round", ctx)).toBe(3);
  });

  it("agrees with a prompt on Python's arithmetic and membership", () => {
    const context = { xs: ["a", "b"] };
    for (const [src, value, text] of [
      ["round(2.5)", 2, "2"],
      ["7 // 2", 3, "3"],
      ["-7 // 2", -4, "-4"],
      ['"a" in xs', true, "True"],
    ] as const) {
      expect(ev(src, context), src).toBe(value);
      const prompt = compileTemplate(`{{ ${src} }}`, origin, { globals: EXPRESSION_FUNCTIONS });
      expect(prompt.render(context), src).toBe(text);
    }
  });

  it("agrees with a prompt inside a played game", () => {
    const study = `kind: game
groups: 1
rounds: 1
model: mock:random
variables: { xs: [a, b] }
roles:
  a: {}
  b: {}
stages:
  - name: say
    prompt: "{{ round(2.5) }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 'a' in xs }}|{{ round }}"
payoffs:
  a: "round(2.5) * 1000 + (7 // 2) * 100 + (-7 // 2) * 10 + ('a' in xs) + 0 * round"
  b: "mean([round(2.5), 7 // 2])"
`;
    const problems = new ProblemList();
    const game = readGame(parseStudyText(study, "/tmp/agree.yaml"), problems, {});
    expect(problems.items).toEqual([]);
    const prompts: string[] = [];
    const payoffs: [string, unknown][] = [];
    playSessionSync(
      game!,
      {
        treatment: game!.treatments[0]!,
        seats: sessionSeats(game!.roles, 1),
        matching: [[{ id: 1, members: ["a", "b"] }]],
      },
      {
        answer: (d) => {
          prompts.push(d.prompt);
          return { valid: true, value: "ok" };
        },
        record: (pid, name, value) => {
          if (name === "payoff") payoffs.push([pid, value]);
        },
        taint: () => {},
      },
    );
    expect(prompts).toEqual(["2|3|-4|True|1", "2|3|-4|True|1"]);
    expect(payoffs).toEqual([
      ["a", 2000 + 300 - 40 + 1],
      ["b", 2.5],
    ]);
  });
});
