import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, lastLine, PACKAGE_DIR, runCli } from "../test-support/cli.js";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";

// A study's template that fails, in every kind of study: before any call (syntax, unknown filter,
// undefined variable, a limit, a failure with some level's values) the command says where — file,
// field, line — exits 2 and writes nothing; a template that fails only with a model's answer, in
// one session, fails that session with the located reason, and the run goes on.

let dir: string;
let n = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "silico-template-errors-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function folder(): string {
  const d = join(dir, `t${++n}`);
  mkdirSync(d);
  return d;
}

function expectClean(r: CliResult, code: number): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toContain("unexpected fault");
}

/** Runs `file` (with `extra` files beside it) and expects a refusal: exit 2, nothing written. */
async function refused(file: string, text: string, fragments: string[], extra: Record<string, string> = {}) {
  const d = folder();
  for (const [name, content] of Object.entries({ ...extra, [file]: text }))
    writeFileSync(join(d, name), content);
  const before = readdirSync(d).sort();
  const r = await runCli(["run", join(d, file), "--db", join(d, "s.db"), "-q"], { cwd: d });
  expectClean(r, 2);
  for (const f of fragments) expect(r.stderr).toContain(f);
  expect(r.stdout).toBe("");
  expect(readdirSync(d).sort()).toEqual(before);
  // The same study is refused the same way by the offline checks.
  for (const args of [
    ["run", join(d, file), "--dry-run"],
    ["check", join(d, file)],
  ]) {
    const c = await runCli(args, { cwd: d });
    expectClean(c, 2);
    expect(c.stderr).toContain(fragments[0]);
  }
  expect(readdirSync(d).sort()).toEqual(before);
}

const FACTORIAL = (prompt: string, extra = "") => `kind: factorial
prompt: "${prompt}"
levels:
  a: [1, 0]
model: mock:random
parse: number
${extra}`;

describe("factorial: a bad template is refused before any call, located", () => {
  const cases: { name: string; study: string; fragments: string[] }[] = [
    {
      name: "syntax",
      study: FACTORIAL("Rate {{ a } now"),
      fragments: ["s.yaml: prompt (line 2), column 11: unexpected '}'"],
    },
    {
      name: "unclosed tag",
      study: FACTORIAL("Rate {% if a %}x"),
      fragments: ["s.yaml: prompt (line 2)", "Unexpected end of template"],
    },
    {
      name: "unknown filter",
      study: FACTORIAL("Rate {{ a | nosuch }}"),
      fragments: ["s.yaml: prompt (line 2)", "No filter named 'nosuch'"],
    },
    {
      name: "undefined variable",
      study: FACTORIAL("Rate {{ b }}"),
      fragments: ["s.yaml: prompt (line 2)", "'b' is undefined"],
    },
    {
      name: "a limit",
      study: FACTORIAL("{{ 'x' * 2000000 }}{{ a }}"),
      fragments: ["s.yaml: prompt (line 2)", "TemplateLimitError", "(limit per value)"],
    },
    {
      name: "a failure with one level's values",
      study: FACTORIAL("{{ 10 // a }}"),
      fragments: [
        "s.yaml: prompt (line 2): ZeroDivisionError: integer division or modulo by zero",
        '(cell {"a":0})',
      ],
    },
    {
      name: "the system prompt",
      study: FACTORIAL("{{ a }}", "system: |\n  You rate.\n  {{ persona.name }}\n"),
      fragments: ["s.yaml: system (line 9)", "'persona' is undefined"],
    },
  ];
  for (const c of cases) it(c.name, () => refused("s.yaml", c.study, c.fragments));
});

const GAME = `kind: game
name: t
seed: 1
groups: 2
rounds: 1
roles:
  proposer: { count: 1, model: 'mock:fixed:{"keep": 3}' }
  responder: { count: 1, model: "mock:fixed:ACCEPT" }
stages:
  - name: offer
    roles: [proposer]
    prompt: 'How much of 10 do you keep? Answer in JSON like {"keep": 5}.'
    parse: { type: json, schema: { type: object, properties: { keep: { type: integer, minimum: 0, maximum: 10 } }, required: [keep] } }
  - name: respond
    roles: [responder]
    prompt: "They keep {{ offer.keep }}. ACCEPT or REJECT?"
    parse: { type: choice, options: [ACCEPT, REJECT] }
payoffs:
  proposer: "offer.keep if respond == 'ACCEPT' else 0"
  responder: "10 - offer.keep if respond == 'ACCEPT' else 0"
`;
const RESPOND = "They keep {{ offer.keep }}. ACCEPT or REJECT?";

function game(from: string, to: string): string {
  expect(GAME).toContain(from);
  return GAME.replace(from, to);
}

describe("game: a bad template or expression is refused before any call, located", () => {
  const cases: { name: string; study: string; fragments: string[] }[] = [
    {
      name: "syntax",
      study: game(RESPOND, "They keep {{ offer.keep ]}."),
      fragments: ["g.yaml: stages[1].prompt (line 16), column 25: unexpected ']'"],
    },
    {
      name: "unknown filter",
      study: game(RESPOND, "They keep {{ offer.keep | nosuch }}."),
      fragments: ["g.yaml: stages[1].prompt (line 16)", "No filter named 'nosuch'"],
    },
    {
      name: "undefined variable",
      study: game(RESPOND, "They keep {{ ofer.keep }}."),
      fragments: ["g.yaml: stages[1].prompt (line 16)", 'undefined variable "ofer"'],
    },
    {
      name: "a missing attribute of an answer",
      study: game(RESPOND, "They keep {{ offer.kept }}."),
      fragments: ["g.yaml: stages[1].prompt (line 16)", "has no attribute 'kept'"],
    },
    {
      name: "a limit",
      study: game(RESPOND, "{% for i in range(2000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}"),
      fragments: ["g.yaml: stages[1].prompt (line 16)", "TemplateLimitError", "loop iterations"],
    },
    {
      name: "a payoff expression",
      study: game(`proposer: "offer.keep if`, `proposer: "offer.keep if if`),
      fragments: ["g.yaml:19: payoffs.proposer: bad expression"],
    },
  ];
  for (const c of cases) it(c.name, () => refused("g.yaml", c.study, c.fragments));
});

const STAG_HUNT = join(PACKAGE_DIR, "src", "designs", "alter-ego", "testdata", "silico_stag_hunt_built.json");

/** The stag hunt scenario with its user prompt changed, and its threads on the OpenAI test server. */
function builtJson(user: (text: string) => string): string {
  const sc = JSON.parse(readFileSync(STAG_HUNT, "utf8")) as {
    threads: unknown[];
    prompts: { user: string };
  };
  sc.threads = [
    [1, ["GPTThread", "silico-test"]],
    [2, ["GPTThread", "silico-test"]],
  ];
  sc.prompts.user = user(sc.prompts.user);
  return JSON.stringify(sc, null, 2);
}

describe("built.json: a bad template is refused before any call, located", () => {
  const cases: { name: string; user: (t: string) => string; fragments: string[] }[] = [
    {
      name: "syntax",
      user: (t) => `${t} {% if %}`,
      fragments: ["b.json: prompts.user (after homogenize) (line 32)", "Expected an expression"],
    },
    {
      name: "unknown filter",
      user: (t) => `${t} {{ round | nosuch }}`,
      fragments: ["b.json: prompts.user (after homogenize) (line 32)", "No filter named 'nosuch'"],
    },
    {
      name: "undefined variable",
      user: (t) => `${t} {{ nope }}`,
      fragments: ["b.json: prompts.user: uses `nope`"],
    },
    {
      name: "a limit in the first prompt",
      user: (t) => `${t} {{ 'x' * 2000000 }}`,
      fragments: ["b.json: prompts.user (after homogenize) (line 32)", "TemplateLimitError"],
    },
  ];
  for (const c of cases) it(c.name, () => refused("b.json", builtJson(c.user), c.fragments));
});

describe("stimuli: prompts are data, not templates", () => {
  it("a stimulus prompt and system text with template syntax are sent as written", async () => {
    const d = folder();
    writeFileSync(
      join(d, "stim.csv"),
      'Run,Item,Condition,Prompt\n1,1,a,"Rate {{ a } now"\n1,2,b,"{% if %} {{ nope | nosuch }}"\n',
    );
    writeFileSync(
      join(d, "s.yaml"),
      'kind: stimuli\nstimuli: stim.csv\ndesign: one-trial-per-run\nsystem: "{{ persona }"\nmodel: mock:echo\n',
    );
    const r = await runCli(["run", join(d, "s.yaml"), "--db", join(d, "s.db"), "-q"], { cwd: d });
    expectClean(r, 0);
    const show = await runCli(["show", "last", "--db", join(d, "s.db")], { cwd: d });
    expect(show.stdout).toContain("Rate {{ a } now");
    expect(show.stdout).toContain("{% if %} {{ nope | nosuch }}");
    expect(show.stdout).toContain("{{ persona }");
  });
});

describe("a template that fails only with a model's answer fails its session, located", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startOpenAITestServer({ script: ["OPTION 1"] });
  });
  afterAll(() => server.close());

  async function run(d: string, file: string): Promise<{ r: CliResult; show: CliResult; runs: CliResult }> {
    const db = join(d, "s.db");
    const env = { OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test-template-errors" };
    const r = await runCli(["run", join(d, file), "--db", db, "--seed", "1"], { cwd: d, env });
    const show = await runCli(["show", lastLine(r.stdout), "--db", db], { cwd: d });
    const runs = await runCli(["runs", "--db", db, "--json"], { cwd: d });
    return { r, show, runs };
  }

  const runtime: { name: string; from: string; to: string; reason: string }[] = [
    {
      name: "a prompt",
      from: RESPOND,
      to: "They keep {{ offer.keep }} of {{ 10 // (offer.keep - 3) }}. ACCEPT or REJECT?",
      reason: "g.yaml: stages[1].prompt (line 16): ZeroDivisionError: integer division or modulo by zero",
    },
    {
      name: "a limit in a prompt",
      from: RESPOND,
      to: "They keep {{ offer.keep }}.{% if offer.keep == 3 %}{{ 'x' * 2000000 }}{% endif %} ACCEPT or REJECT?",
      reason: "g.yaml: stages[1].prompt (line 16): TemplateLimitError: a list or string of 2000000 items",
    },
    {
      name: "a stage condition",
      from: "    roles: [responder]\n",
      to: '    roles: [responder]\n    when: "10 // (offer.keep - 3) > 0"\n',
      reason:
        "g.yaml:16: stages[1].when: ZeroDivisionError: integer division or modulo by zero (participant responder, round 1)",
    },
  ];
  for (const c of runtime)
    it(`game: ${c.name}`, async () => {
      const d = folder();
      writeFileSync(join(d, "g.yaml"), game(c.from, c.to));
      const { r, show, runs } = await run(d, "g.yaml");
      expectClean(r, 1);
      expect(r.stderr).toContain("0 done, 0 invalid, 2 failed");
      expect(r.stderr).toContain(`2 × ${c.reason}`);
      expect(r.stderr).toContain("(permanent: a retry repeats it)");
      expect(r.stderr).toContain("fix the study");
      expect(r.stderr).not.toContain("--retry-failed");
      expect(show.stdout).toContain(`[failed]  ${c.reason}`);
      const [listed] = JSON.parse(runs.stdout) as {
        status: string;
        summary: { failureReasons: { kind: string }[] };
      }[];
      expect(listed?.status).toBe("failed");
      expect(listed?.summary.failureReasons.map((f) => f.kind)).toEqual(["permanent"]);
    });

  it("game: a payoff that fails with the answers is an invalid payoff, with the located reason", async () => {
    const d = folder();
    writeFileSync(
      join(d, "g.yaml"),
      game(`proposer: "offer.keep if`, `proposer: "10 // (offer.keep - 3) if`),
    );
    const { r } = await run(d, "g.yaml");
    expectClean(r, 0);
    const data = await runCli(["data", "last", "--db", join(d, "s.db"), "--format", "jsonl"], { cwd: d });
    const payoffs = data.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { name: string; role: string; valid: boolean; reason: string | null })
      .filter((o) => o.name === "payoff" && o.role === "proposer");
    expect(payoffs).toHaveLength(2);
    for (const p of payoffs) {
      expect(p.valid).toBe(false);
      expect(p.reason).toBe(
        "g.yaml:19: payoffs.proposer: ZeroDivisionError: integer division or modulo by zero",
      );
    }
  });

  it("built.json: the conversation is tainted (as alter_ego does) with the located reason", async () => {
    const d = folder();
    const json = builtJson((t) => `${t} {% if round > 2 %}{{ 10 // (choices[-1] - 1) }}{% endif %}`);
    writeFileSync(join(d, "b.json"), json);
    const { r, show } = await run(d, "b.json");
    expectClean(r, 1);
    expect(show.stdout).toContain(
      "[invalid]  threads[0] (i=1), round 3: user prompt: b.json: prompts.user (after homogenize) (line 32): ZeroDivisionError: integer division or modulo by zero",
    );
  });
});
