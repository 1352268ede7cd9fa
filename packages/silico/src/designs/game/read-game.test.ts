import { describe, expect, it } from "vitest";
import { StudyError } from "../../errors.js";
import { parseStudyText } from "../../study/source.js";
import { gameDesign } from "./index.js";

const GOOD = `kind: game
name: ug
groups: 4
rounds: 2
model: mock:random
variables:
  endowment: 10
treatments:
  give: { frame: "give" }
  take: { frame: "take" }
roles:
  proposer: { count: 1 }
  responder: { count: 1 }
stages:
  - name: offer
    roles: [proposer]
    prompt: "You have {{ endowment }}. {{ frame }}. How much do you keep?"
    parse: { type: number, min: 0, max: 10 }
  - name: respond
    roles: [responder]
    prompt: "The proposer keeps {{ offer }}. ACCEPT or REJECT?"
    parse: { type: choice, options: [ACCEPT, REJECT] }
payoffs:
  proposer: "offer if respond == 'ACCEPT' else 0"
  responder: "endowment - offer if respond == 'ACCEPT' else 0"
`;

function problemsOf(text: string, file = "game.yaml"): { where: string; message: string }[] {
  try {
    gameDesign.compile(parseStudyText(text, `/tmp/${file}`), {});
  } catch (e) {
    if (e instanceof StudyError) return e.problems;
    throw e;
  }
  return [];
}

const PG = `kind: game
groups: 6
rounds: 3
model: mock:random
variables: { endowment: 20, mpcr: 0.5 }
roles:
  player: { count: 3 }
matching: { type: stranger, pool_size: 9 }
stages:
  - name: contribute
    as: contribution
    prompt: "Round {{ round }}: how much of {{ endowment }} do you give?"
    parse: { type: number, min: 0, max: 20 }
payoffs:
  player: "endowment - me.contribution + mpcr * sum(players.contribution)"
`;

/** Each case: a malformed game and the located fragments its error must contain. */
const CASES: { name: string; text: string; where: RegExp; message: RegExp }[] = [
  {
    name: "unknown role in a stage",
    text: GOOD.replace("roles: [proposer]", "roles: [propser]"),
    where: /^game\.yaml:16: stages\[0\]\.roles\[0\]$/,
    message: /unknown role "propser" \(did you mean "proposer"\?\)/,
  },
  {
    name: "bad payoff expression (no else)",
    text: GOOD.replace(
      `proposer: "offer if respond == 'ACCEPT' else 0"`,
      `proposer: "offer if respond == 'ACCEPT'"`,
    ),
    where: /^game\.yaml:24: payoffs\.proposer$/,
    message: /bad expression .*expected token 'else', got 'end of expression'/,
  },
  {
    name: "JavaScript ternary in a payoff",
    text: GOOD.replace(
      `proposer: "offer if respond == 'ACCEPT' else 0"`,
      `proposer: "respond == 'ACCEPT' ? offer : 0"`,
    ),
    where: /^game\.yaml:24: payoffs\.proposer$/,
    message: /conditionals are written `a if condition else b`/,
  },
  {
    name: "unknown top-level key",
    text: GOOD.replace("rounds: 2", "round: 2"),
    where: /^game\.yaml:4: round$/,
    message: /unknown key "round" \(did you mean "rounds"\?\)/,
  },
  {
    name: "empty treatments",
    text: GOOD.replace('  give: { frame: "give" }\n  take: { frame: "take" }\n', "").replace(
      "treatments:",
      "treatments: {}",
    ),
    where: /^game\.yaml:8: treatments$/,
    message: /non-empty mapping/,
  },
  {
    name: "role count 0",
    text: GOOD.replace("responder: { count: 1 }", "responder: { count: 0 }"),
    where: /^game\.yaml:13: roles\.responder\.count$/,
    message: /whole number ≥ 1/,
  },
  {
    name: "stage without a prompt",
    text: GOOD.replace('    prompt: "The proposer keeps {{ offer }}. ACCEPT or REJECT?"\n', ""),
    where: /^game\.yaml:19: stages\[1\]$/,
    message: /needs a prompt/,
  },
  {
    name: "undefined template variable",
    text: GOOD.replace("You have {{ endowment }}.", "You have {{ endowmnet }}."),
    where: /^game\.yaml: stages\[0\]\.prompt \(line 17\)$/,
    message: /undefined variable "endowmnet" \(did you mean "endowment"\?\)/,
  },
  {
    name: "choice parser without options",
    text: GOOD.replace("parse: { type: choice, options: [ACCEPT, REJECT] }", "parse: { type: choice }"),
    where: /^game\.yaml:22: stages\[1\]\.parse$/,
    message: /options/,
  },
  {
    name: "unknown parser type",
    text: GOOD.replace("parse: { type: number, min: 0, max: 10 }", "parse: { type: nmber }"),
    where: /^game\.yaml:18: stages\[0\]\.parse/,
    message: /nmber|type/,
  },
  {
    name: "unknown provider",
    text: GOOD.replace("model: mock:random", "model: opnai:gpt-4o"),
    where: /^game\.yaml:5: model$/,
    message: /unknown provider "opnai" \(did you mean "openai"\?\)/,
  },
  {
    name: "two stages with one name",
    text: GOOD.replace("- name: respond", "- name: offer"),
    where: /^game\.yaml:19: stages\[1\]\.name$/,
    message: /two stages are called "offer"/,
  },
  {
    name: "payoff for an unknown role",
    text: GOOD.replace('  responder: "endowment', '  responer: "endowment'),
    where: /^game\.yaml:25: payoffs\.responer$/,
    message: /unknown role "responer" \(did you mean "responder"\?\)/,
  },
  {
    name: "a role without a payoff",
    text: GOOD.replace(/ {2}responder: "endowment.*\n/, ""),
    where: /^game\.yaml:2[34]: payoffs$/,
    message: /no payoff for role "responder"/,
  },
  {
    name: "unknown name in a payoff",
    text: GOOD.replace(`proposer: "offer if`, `proposer: "ofer if`),
    where: /^game\.yaml:24: payoffs\.proposer$/,
    message: /undefined variable "ofer" \(did you mean "offer"\?\).*column 1/,
  },
  {
    name: "treatment missing a variable",
    text: GOOD.replace('take: { frame: "take" }', "take: {}"),
    where: /^game\.yaml:10: treatments\.take$/,
    message: /does not set variable "frame"/,
  },
  {
    name: "variable with a reserved name",
    text: GOOD.replace("endowment: 10", "endowment: 10\n  round: 3"),
    where: /^game\.yaml:8: variables\.round$/,
    message: /reserved for the game context/,
  },
  {
    name: "variable named like a role",
    text: GOOD.replace("endowment: 10", "endowment: 10\n  proposer: Ann"),
    where: /^game\.yaml:8: variables\.proposer$/,
    message: /already the name of role "proposer"/,
  },
  {
    name: "round in the system prompt",
    text: GOOD.replace("model: mock:random", 'model: mock:random\nsystem: "This is round {{ round }}."'),
    where: /^game\.yaml: system \(line 6\)$/,
    message: /"round" is not available in the system prompt/,
  },
  {
    name: "template syntax error",
    text: GOOD.replace("How much do you keep?", "{% if endowment %}How much do you keep?"),
    // The end of the template, where the missing endif was looked for.
    where: /^game\.yaml: stages\[0\]\.prompt \(line 17\), column \d+$/,
    message: /endif|end of template|unexpected/i,
  },
  {
    name: "a choice read before it is made (pre-flight render)",
    text: GOOD.replace("How much do you keep?", "Last answer: {{ respond }}."),
    where: /^game\.yaml: stages\[0\]\.prompt \(line 17\)$/,
    message: /respond.*(undefined|not defined).*treatment (give|take), proposer, round 1, stage offer/s,
  },
  {
    name: "payoff type error found by the pre-flight game",
    text: GOOD.replace(`proposer: "offer if respond == 'ACCEPT' else 0"`, `proposer: "respond - offer"`),
    where: /^game\.yaml:24: payoffs\.proposer$/,
    message: /TypeError: unsupported operand type\(s\) for -: 'str' and 'int'.*pre-flight/,
  },
  {
    name: "bad invalid policy",
    text: `${GOOD}invalid: { reask: 2, then: ignore }\n`,
    where: /^game\.yaml:26: invalid\.then$/,
    message: /"taint".*"continue"/,
  },
  {
    name: "stranger pool size not a multiple of the group size",
    text: PG.replace("pool_size: 9", "pool_size: 8"),
    where: /^pg\.yaml:8: matching\.pool_size$/,
    message: /multiple of the group size \(3\)/,
  },
  {
    name: "groups do not fill the pools",
    text: PG.replace("groups: 6", "groups: 5"),
    where: /^pg\.yaml:2: groups$/,
    message: /5 groups do not fill pools of 3 groups/,
  },
  {
    name: "stranger matching without a pool size",
    text: PG.replace("matching: { type: stranger, pool_size: 9 }", "matching: stranger"),
    where: /^pg\.yaml:8: matching$/,
    message: /needs a pool size/,
  },
  {
    name: "other in a three-person group",
    text: PG.replace("sum(players.contribution)", "other.contribution"),
    where: /^pg\.yaml:15: payoffs\.player$/,
    message: /"other" exists only in two-person groups/,
  },
  {
    name: "attribute that is no choice",
    text: PG.replace("me.contribution", "me.contrib"),
    where: /^pg\.yaml:15: payoffs\.player$/,
    message: /"contrib" is not a choice or field of a participant \(did you mean "contribution"\?\)/,
  },
  {
    name: "missing groups",
    text: PG.replace("groups: 6\n", ""),
    where: /^pg\.yaml(:1)?$/,
    message: /needs "groups"/,
  },
];

describe("malformed game studies are rejected with located problems", () => {
  it("has at least 12 cases", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(12);
  });

  it("accepts the well-formed base games", () => {
    expect(problemsOf(GOOD)).toEqual([]);
    expect(problemsOf(PG, "pg.yaml")).toEqual([]);
  });

  for (const c of CASES) {
    it(c.name, () => {
      const file = c.text.includes("player:") ? "pg.yaml" : "game.yaml";
      const problems = problemsOf(c.text, file);
      expect(problems.length, "expected at least one problem").toBeGreaterThan(0);
      const hit = problems.find((p) => c.where.test(p.where) && c.message.test(p.message));
      expect(
        hit,
        `no problem matches ${c.where} / ${c.message}; got:\n${problems.map((p) => `${p.where}: ${p.message}`).join("\n")}`,
      ).toBeDefined();
    });
  }

  it("reports every problem of a file at once", () => {
    const text = GOOD.replace("roles: [proposer]", "roles: [propser]")
      .replace("responder: { count: 1 }", "responder: { count: 0 }")
      .replace("model: mock:random", "model: opnai:x");
    const problems = problemsOf(text);
    expect(problems.length).toBeGreaterThanOrEqual(3);
    expect(problems.every((p) => p.where.startsWith("game.yaml"))).toBe(true);
  });

  it("names an ambiguous choice and says how to read it", () => {
    const text = `kind: game
groups: 1
model: mock:random
roles:
  buyer: { count: 2 }
  seller: {}
stages:
  - name: bid
    roles: [buyer]
    prompt: "Bid?"
    parse: number
payoffs:
  buyer: "me.bid"
  seller: "max(bid)"
`;
    const problems = problemsOf(text);
    expect(problems.map((p) => `${p.where}: ${p.message}`).join("\n")).toMatch(
      /game\.yaml:14: payoffs\.seller: the choice "bid" is made by several participants.*buyer\.bid/,
    );
  });

  it("treats a game without a JSON schema leniently: pre-flight doubts become warnings", () => {
    const text = GOOD.replace("parse: { type: number, min: 0, max: 10 }", "parse: json")
      .replace("The proposer keeps {{ offer }}", "The proposer keeps {{ offer.keep }}")
      .replace(/"offer if/, '"offer.keep if')
      .replace(/endowment - offer if/, "endowment - offer.keep if");
    const study = gameDesign.compile(parseStudyText(text, "/tmp/game.yaml"), {});
    const plan = study.plan(1);
    expect(plan.warnings.join("\n")).toMatch(/no JSON schema/);
  });
});
