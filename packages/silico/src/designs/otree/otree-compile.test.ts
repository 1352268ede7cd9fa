import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { StudyError } from "../../errors.js";
import { parseStudyText } from "../../study/source.js";
import { compileSource } from "../index.js";
import { redact } from "../../models/secrets.js";
import { runCli } from "../../test-support/cli.js";
import * as otreeSpecModule from "./otree-design.js";
import { assignSeats } from "./otree-session.js";

const dir = mkdtempSync(join(tmpdir(), "silico-otree-compile-"));
mkdirSync(join(dir, "proj"));
writeFileSync(join(dir, "proj", "settings.py"), "SESSION_CONFIGS = []\n");
writeFileSync(join(dir, "personas.csv"), "name,age\nAda,31\nBen,45\n\nCy,28\n");

const BASE = `kind: otree
otree:
  project: ./proj
session:
  config: ug
  participants: 4
bots:
  model: mock:random
`;

function compile(text: string) {
  return compileSource(parseStudyText(text, join(dir, "study.yaml")));
}

function problems(text: string): string[] {
  try {
    compile(text);
  } catch (e) {
    if (e instanceof StudyError) return e.problems.map((p) => `${p.where}: ${p.message}`);
    throw e;
  }
  return [];
}

describe("kind: otree study files", () => {
  it("compiles a plan of one session per bot seat, all at once, resumed in place", () => {
    const study = compile(`${BASE}humans: [2]\n`);
    const plan = study.plan(1);
    expect(plan.total).toBe(3);
    expect(plan.allAtOnce).toBe(true);
    expect(plan.resumeInPlace).toBe(true);
    expect([...plan.sessions()].map((s) => s.key)).toEqual(["seat-1", "seat-3", "seat-4"]);
    expect(plan.coordinateColumns).toEqual(
      expect.arrayContaining(["participant_code", "app", "round", "page"]),
    );
    expect(study.manifest?.otree).toMatchObject({ human_seats: [2], bot_seats: [1, 3, 4], memory: "full" });
  });

  it("otree.humans_limit_s: 3600 by default, only with project, seconds ≥ 0", () => {
    expect(otreeSpecModule.otreeSpecOf(compile(BASE)).server.humansLimitS).toBe(3600);
    const set = compile(BASE.replace("  project: ./proj\n", "  project: ./proj\n  humans_limit_s: 0\n"));
    expect(otreeSpecModule.otreeSpecOf(set).server.humansLimitS).toBe(0);
    expect(
      problems(BASE.replace("  project: ./proj\n", "  url: http://127.0.0.1:8000\n  humans_limit_s: 60\n")),
    ).toEqual([
      expect.stringMatching(
        /study\.yaml:4: otree\.humans_limit_s: only with project: silico keeps up only a devserver it started/,
      ),
    ]);
    expect(
      problems(BASE.replace("  project: ./proj\n", "  project: ./proj\n  humans_limit_s: -1\n")),
    ).toEqual([
      expect.stringMatching(
        /study\.yaml:4: otree\.humans_limit_s: must be a number of seconds ≥ 0, got number -1/,
      ),
    ]);
  });

  it("reports every problem with file and line", () => {
    const found = problems(`kind: otree
otree:
  project: ./proj
  url: http://127.0.0.1:8000
  rest_key_env: OTREE_KEY
session:
  config: ug
  participants: 2
humans: [1, 3, 1]
bots:
  model: mock:random
  memroy: full
  driver: chrome
`);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/study\.yaml:3: otree: needs either project .* not both/),
        expect.stringMatching(/study\.yaml:5: otree\.rest_key_env: only with url/),
        expect.stringMatching(/study\.yaml:9: humans\[1\]: seat 3 is beyond the session's 2 participants/),
        expect.stringMatching(/study\.yaml:9: humans\[2\]: seat 1 is listed twice/),
        expect.stringMatching(
          /study\.yaml:12: bots\.memroy: unknown key "memroy" \(did you mean "memory"\?\)/,
        ),
        expect.stringMatching(/study\.yaml:13: bots\.driver: must be http or browser/),
      ]),
    );
  });

  it("refuses a study whose every seat is a human, and a project folder without settings.py", () => {
    expect(problems(`${BASE}humans: 4\n`)).toEqual([expect.stringMatching(/humans: every seat is a human/)]);
    expect(problems(BASE.replace("./proj", "./nowhere"))).toEqual([
      expect.stringMatching(/study\.yaml:3: otree\.project: \.\/nowhere is not an oTree project folder/),
    ]);
  });

  it("takes driver: browser with a page bound, and refuses a bad bound where it is", () => {
    expect(problems(`${BASE}  driver: browser\n  browser_pages: 4\n`)).toEqual([]);
    expect(problems(`${BASE}  driver: browser\n  browser_pages: 0\n`)).toEqual([
      expect.stringMatching(
        /study\.yaml:10: bots\.browser_pages: must be a whole number from 1 to 64, got number 0/,
      ),
    ]);
  });

  it("reads chat settings and live adapters, with located errors and hook paths checked", () => {
    writeFileSync(join(dir, "hook.mjs"), "export default async () => {};\n");
    const good = `${BASE}  chat: { max_messages: 2, reply_wait_s: 1.5 }
  live:
    Bargain:
      send: { type: object, properties: { keep: { type: integer } }, required: [keep] }
      done: { when: { finished: true }, max_messages: 4 }
    Other:
      hook: ./hook.mjs
`;
    expect(problems(good)).toEqual([]);
    const bad = `${BASE}  chat: { reply_wait_s: 90 }
  live:
    Bargain:
      done: { max_messages: 0 }
`;
    expect(problems(bad)).toEqual([
      expect.stringMatching(
        /study\.yaml:9: bots\.chat\.reply_wait_s: must be a number of seconds from 0 to 60/,
      ),
      expect.stringMatching(/study\.yaml:12: bots\.live\.Bargain\.done\.max_messages: must be at least 1/),
    ]);
    expect(problems(`${BASE}  live:\n    Bargain: { instructions: hi }\n`)).toEqual([
      expect.stringMatching(/study\.yaml:10: bots\.live\.Bargain.*send: is required/),
    ]);
    expect(problems(`${BASE}  live:\n    not-a-page: { send: { type: object } }\n`)).toEqual([
      expect.stringMatching(
        /study\.yaml:10: bots\.live\.not-a-page: must be the name of an oTree page class/,
      ),
    ]);
    expect(problems(`${BASE}  live:\n    Other:\n      hook: ./no-such-hook.mjs\n`)).toEqual([
      expect.stringMatching(
        /study\.yaml:11: bots\.live\.Other\.hook: the live hook \.\/no-such-hook\.mjs is not there/,
      ),
    ]);
  });

  it("checks the system prompt against every persona at compile time", () => {
    const text = `${BASE}  system: "You are {{ persona.name }}, {{ persona.age }}."\n  personas: [{ name: Ada, age: 3 }, { name: Ben }]\n`;
    expect(problems(text)).toEqual([expect.stringMatching(/bots\.system.*age.*\(persona 2\)/)]);
  });

  it("reads personas from a CSV file and deals them to bots with the run's seed", () => {
    const study = compile(
      `${BASE}  personas: personas.csv\n  system: "I am {{ persona.name }} ({{ persona.age }})."\n`,
    );
    const seats = [1, 2, 3, 4].map((n) => ({ idInSession: n, code: `c${n}` }));
    const spec = { humanSeats: [], bots: { personas: [{}, {}, {}], overrides: [] } } as never;
    const a = assignSeats(spec, seats, 5);
    expect(
      a
        .map((s) => s.persona)
        .slice(0, 3)
        .sort(),
    ).toEqual([0, 1, 2]);
    expect(assignSeats(spec, seats, 5)).toEqual(a);
    const systems = [...study.plan(5).sessions()].map((s) => s.participants[0]?.system);
    expect(systems.filter((s) => /I am (Ada \(31\)|Ben \(45\)|Cy \(28\))\./.test(s ?? ""))).toHaveLength(4);
  });

  it("gives seats of bots.seats their own model, prompt, params, personas and memory; the rest the block's", () => {
    const study = compile(`kind: otree
otree: { project: ./proj }
session: { config: ug, participants: 6 }
humans: [6]
bots:
  model: mock:random
  system: "I am {{ persona.name }} on seat {{ seat }}."
  personas: [{ name: Ada }, { name: Ben }]
  params: { temperature: 1, max_tokens: 50 }
  seats:
    - seats: [3, 1]
      model: mock:echo
      params: { temperature: 0 }
      memory: summary
    - seats: [5]
      system: "Plain bot {{ persona.role }}."
      personas: [{ role: buyer }]
`);
    const plan = study.plan(7);
    expect(plan.models).toEqual(["mock:echo", "mock:random"]);
    expect(study.models).toEqual(["mock:echo", "mock:random"]);
    const bySeat = Object.fromEntries(
      [...plan.sessions()].map((s) => [s.coords.seat, s.participants[0]] as const),
    );
    expect(Object.keys(bySeat)).toEqual(["1", "2", "3", "4", "5"]);
    expect(bySeat[1]).toMatchObject({ model: "mock:echo", params: { temperature: 0, maxTokens: 50 } });
    expect(bySeat[3]).toMatchObject({ model: "mock:echo", params: { temperature: 0, maxTokens: 50 } });
    expect(bySeat[2]).toMatchObject({ model: "mock:random", params: { temperature: 1, maxTokens: 50 } });
    expect(bySeat[1]?.system).toMatch(/^I am (Ada|Ben) on seat 1\.$/);
    expect(bySeat[5]).toMatchObject({ model: "mock:random", system: "Plain bot buyer." });
    expect(study.manifest?.otree).toMatchObject({
      seat_settings: [
        { seats: [1, 3], model: "mock:echo", memory: "summary" },
        { seats: [5], model: "mock:random", memory: "full", personas: 1 },
      ],
    });
    // The block's personas are dealt as without bots.seats; seat 5 draws from its entry's own list.
    const { otreeSpecOf } = otreeSpecModule;
    const spec = otreeSpecOf(study);
    const seats = assignSeats(
      spec,
      [1, 2, 3, 4, 5, 6].map((n) => ({ idInSession: n, code: `c${n}` })),
      7,
    );
    expect(seats.map((s) => [s.seat, s.model ?? null])).toEqual([
      [1, "mock:echo"],
      [2, "mock:random"],
      [3, "mock:echo"],
      [4, "mock:random"],
      [5, "mock:random"],
      [6, null],
    ]);
    expect(seats.find((s) => s.seat === 5)?.persona).toBe(0);
    expect(seats.filter((s) => s.seat <= 4).map((s) => s.persona)).toEqual(
      assignSeats(
        { ...spec, bots: { ...spec.bots, overrides: [] } },
        [1, 2, 3, 4, 5, 6].map((n) => ({ idInSession: n, code: `c${n}` })),
        7,
      )
        .filter((s) => s.seat <= 4)
        .map((s) => s.persona),
    );
    // Only models some seat plays with are listed (and need credentials).
    const all = compile(`${BASE}  seats:\n    - { seats: [1, 2, 3, 4], model: mock:echo }\n`);
    expect(all.models).toEqual(["mock:echo"]);
  });

  it("refuses bots.seats entries that overlap, name human or missing seats, or set nothing: located", () => {
    const found = problems(`kind: otree
otree: { project: ./proj }
session: { config: ug, participants: 4 }
humans: [4]
bots:
  model: mock:random
  seats:
    - seats: [1, 2, 1]
      model: mock:echo
    - seats: [2, 4, 9]
      model: nope:model
    - seats: [3]
    - seats: [2]
      system: "{{ persona.name }"
`);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/study\.yaml:8: bots\.seats\[0\]\.seats\[2\]: seat 1 is listed twice/),
        expect.stringMatching(
          /study\.yaml:10: bots\.seats\[1\]\.seats\[0\]: seat 2 is already in bots\.seats\[0\]/,
        ),
        expect.stringMatching(/study\.yaml:10: bots\.seats\[1\]\.seats\[1\]: seat 4 is a human seat/),
        expect.stringMatching(
          /study\.yaml:10: bots\.seats\[1\]\.seats\[2\]: seat 9 is beyond the session's 4/,
        ),
        expect.stringMatching(/study\.yaml:11: bots\.seats\[1\]\.model: /),
        expect.stringMatching(/study\.yaml:12: bots\.seats\[2\]: sets nothing for its seats/),
        expect.stringMatching(/study\.yaml:13: bots\.seats\[3\]\.seats\[0\]: seat 2 is already in/),
        expect.stringMatching(/study\.yaml: bots\.seats\[3\]\.system \(line 14\), column \d+: unexpected/),
      ]),
    );
    expect(found).toHaveLength(8);
    expect(problems(`${BASE}  seats:\n    - { seats: [], model: mock:echo }\n`)).toEqual([
      expect.stringMatching(/study\.yaml:10: bots\.seats\[0\]\.seats: must name at least one seat/),
    ]);
  });

  it("silico run refuses overlapping or human bots.seats with exit 2 and writes nothing; --dry-run lists each model", async () => {
    const file = join(dir, "seats-bad.yaml");
    writeFileSync(
      file,
      `${BASE}  seats:\n    - { seats: [1, 2], model: mock:echo }\n    - { seats: [1], model: mock:random }\nhumans: [2]\n`,
    );
    const db = join(dir, "seats-bad.db");
    const bad = await runCli(["--db", db, "run", file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/seats-bad\.yaml:10: bots\.seats\[0\]\.seats\[1\]: seat 2 is a human seat/);
    expect(bad.stderr).toMatch(
      /seats-bad\.yaml:11: bots\.seats\[1\]\.seats\[0\]: seat 1 is already in bots\.seats\[0\]/,
    );
    expect(existsSync(db)).toBe(false);
    const good = join(dir, "seats-good.yaml");
    writeFileSync(
      good,
      BASE.replace("mock:random", "openai:gpt-4o-mini") +
        "  seats:\n    - { seats: [2, 4], model: anthropic:claude-3-5-haiku-latest }\n",
    );
    const dry = await runCli(["--db", db, "run", good, "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/openai:gpt-4o-mini: /);
    expect(dry.stdout).toMatch(/anthropic:claude-3-5-haiku-latest: /);
    expect(existsSync(db)).toBe(false);
  });

  it("scrubs the REST key's value from everything written once the study names its variable", () => {
    process.env.OTREE_KEY_FOR_TEST = "rest-key-value-0123456789";
    try {
      compile(`kind: otree
otree: { url: "http://127.0.0.1:9/", rest_key_env: OTREE_KEY_FOR_TEST }
session: { config: ug, participants: 1 }
bots: { model: mock:random }
`);
      expect(redact("oTree said: key rest-key-value-0123456789 refused")).not.toContain(
        "rest-key-value-0123456789",
      );
    } finally {
      delete process.env.OTREE_KEY_FOR_TEST;
    }
  });
});
