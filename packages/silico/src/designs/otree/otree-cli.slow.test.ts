// `silico run` / `resume` / `data` on a kind: otree study against a real oTree devserver: REST
// refusals (exit 2, nothing written), the REST key kept out of everything, and kill -9 + resume.
// Needs oTree 6.0 (SILICO_TEST_OTREE or .venv-test-otree/) and a built CLI (npm run build).
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Devserver, groupAlive, startDevserver } from "../../otree/devserver.js";
import { OtreeRestClient } from "../../otree/rest-client.js";
import { RunStore } from "../../store/run-store.js";
import { testSql } from "../../store/test-sql.js";
import { CLI, runCli, spawnCli } from "../../test-support/cli.js";
import { answeredRows, waitForCalls } from "../../test-support/store-rows.js";
import type { OtreeRunState } from "./otree-session.js";
import {
  lastRunState,
  pageResponder,
  projectCopy,
  requireOtree,
  stopDevserverGroups,
  WIDGETS_OK,
} from "./test-helpers.js";

const otree = requireOtree();
const REST_KEY = "otree-rest-key-Xq81-not-for-logs";

let llm: TestServer;
const dirs: string[] = [];
beforeAll(async () => {
  llm = await startOpenAITestServer({ responder: pageResponder(WIDGETS_OK) });
});
afterAll(async () => {
  await llm?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const providers = () => `providers:\n  ts: { type: openai-compatible, base_url: "${llm.url}" }\n`;

describe("silico run on a running oTree server with a REST key", () => {
  let server: Devserver;
  let dir: string;
  beforeAll(async () => {
    const copy = projectCopy();
    dir = copy.dir;
    dirs.push(dir);
    server = await startDevserver({ projectDir: copy.project, otree, restKey: REST_KEY });
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
  }, 60_000);

  function write(name: string, session: string): string {
    const file = join(dir, name);
    writeFileSync(
      file,
      `kind: otree\notree:\n  url: ${server.baseUrl}\n  rest_key_env: OTREE_TEST_KEY\nsession: ${session}\nbots: { model: ts:silico-test }\nseed: 1\n${providers()}`,
    );
    return file;
  }

  const refusals: [string, string, Record<string, string | undefined>, RegExp][] = [
    [
      "a wrong REST key",
      "{ config: widgets, participants: 1 }",
      { OTREE_TEST_KEY: "wrong-key-123456" },
      /403.*REST key was refused/,
    ],
    [
      "no REST key in the environment",
      "{ config: widgets, participants: 1 }",
      { OTREE_TEST_KEY: undefined },
      /OTREE_TEST_KEY .* is not set/,
    ],
    [
      "an unknown session config",
      "{ config: nope, participants: 1 }",
      { OTREE_TEST_KEY: REST_KEY },
      /no session config "nope"; its configs are: .*widgets/,
    ],
    [
      "a size that is no multiple of the group",
      "{ config: waiting, participants: 3 }",
      { OTREE_TEST_KEY: REST_KEY },
      /oTree answered 400: .*/,
    ],
  ];
  for (const [what, session, env, message] of refusals) {
    it(`refuses ${what}: exit 2, a clear message, no store written`, async () => {
      const file = write(`refused-${refusals.findIndex((r) => r[0] === what)}.yaml`, session);
      const db = join(dir, `refused-${what.replace(/\W+/g, "-")}.db`);
      const r = await runCli(["--db", db, "run", file, "--quiet"], { env });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr + r.stdout).not.toContain(REST_KEY);
      expect(existsSync(db)).toBe(false);
    });
  }

  it("refuses a project whose otree command does not exist: exit 2, a hint, no store written", async () => {
    const copy = projectCopy();
    dirs.push(copy.dir);
    const file = join(copy.dir, "no-otree.yaml");
    writeFileSync(
      file,
      `kind: otree\notree: { project: ./project, command: ./no/such/otree }\nsession: { config: widgets, participants: 1 }\nbots: { model: ts:silico-test }\n${providers()}`,
    );
    const db = join(copy.dir, "no-otree.db");
    const r = await runCli(["--db", db, "run", file, "--quiet"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /cannot run the otree command "\/[^"]*\/no\/such\/otree": not found\. Install oTree 6/,
    );
    expect(existsSync(db)).toBe(false);
  });

  it("refuses driver: browser without Chromium, and a live hook that does not load: exit 2, no store written", async () => {
    const cases: [string, string, Record<string, string | undefined>, RegExp][] = [
      [
        "browser",
        "bots: { model: ts:silico-test, driver: browser }",
        { OTREE_TEST_KEY: REST_KEY, SILICO_CHROMIUM: join(dir, "no-chromium") },
        /SILICO_CHROMIUM is .* not an executable file: on Debian or Ubuntu install it/,
      ],
      [
        "hook",
        "bots:\n  model: ts:silico-test\n  live:\n    Bargain: { hook: ./bad-hook.mjs }",
        { OTREE_TEST_KEY: REST_KEY },
        /hook-study\.yaml:\d+: bots\.live\.Bargain\.hook: live hook \.\/bad-hook\.mjs must export a function/,
      ],
    ];
    writeFileSync(join(dir, "bad-hook.mjs"), "export const notAHook = 1;\n");
    for (const [name, bots, env, message] of cases) {
      const file = join(dir, `${name}-study.yaml`);
      writeFileSync(
        file,
        `kind: otree\notree:\n  url: ${server.baseUrl}\n  rest_key_env: OTREE_TEST_KEY\nsession: { config: widgets, participants: 1 }\n${bots}\nseed: 1\n${providers()}`,
      );
      const db = join(dir, `${name}-refused.db`);
      const r = await runCli(["--db", db, "run", file, "--quiet"], { env });
      expect(r.stderr).toMatch(message);
      expect(r.code, r.stderr).toBe(2);
      expect(existsSync(db)).toBe(false);
    }
  }, 120_000);

  it("runs with the key and never writes it: not in the store, the exports or the output", async () => {
    const file = write(
      "ok.yaml",
      "{ config: widgets, participants: 1, label: pilot-7, modified_config: { silico_note: hello } }",
    );
    const db = join(dir, "ok.db");
    const r = await runCli(["--db", db, "run", file], { env: { OTREE_TEST_KEY: REST_KEY } });
    expect(r.code, r.stderr).toBe(0);
    // oTree got the label and the modified config fields.
    const code = /oTree session (\w+) \(widgets\)/.exec(r.stderr)?.[1] as string;
    const session = await new OtreeRestClient(server.baseUrl, { restKey: REST_KEY }).session(code);
    expect(session.raw.label).toBe("pilot-7");
    expect((session.raw.config as Record<string, unknown>).silico_note).toBe("hello");
    expect(r.stderr).toMatch(/admin: http:\/\/127\.0\.0\.1:\d+\/SessionStartLinks\//);
    const data = await runCli(["--db", db, "data", "last", "--format", "jsonl"], {
      env: { OTREE_TEST_KEY: REST_KEY },
    });
    expect(data.code).toBe(0);
    const rows = data.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const age = rows.find((x) => x.name === "age");
    expect(age).toMatchObject({
      app: "widgets",
      page: "Widgets",
      round: 1,
      value: 69,
      valid: true,
      attempts: 1,
      timeout: false,
    });
    expect(typeof age?.participant_code).toBe("string");
    expect(age?.reason).toBe("it seems sensible");
    expect(age?.input_tokens).toBeGreaterThan(0);
    // oTree's own wide export, the bot's columns joined on participant.code.
    const wide = await runCli(["--db", db, "data", "last", "--format", "otree"], {
      env: { OTREE_TEST_KEY: REST_KEY },
    });
    expect(wide.code, wide.stderr).toBe(0);
    const [head, row, ...more] = wide.stdout
      .trim()
      .split("\n")
      .map((l) => l.split(","));
    expect(more).toEqual([]);
    const cell = (name: string) => row?.[head?.indexOf(name) ?? -1];
    expect(cell("participant.code")).toBe(age?.participant_code);
    expect(cell("widgets.1.player.age")).toBe("69");
    expect(cell("silico.bot")).toBe("TRUE");
    expect(cell("silico.status")).toBe("done");
    expect(Number(cell("silico.calls"))).toBeGreaterThanOrEqual(3);
    for (const text of [
      r.stdout,
      r.stderr,
      data.stdout,
      data.stderr,
      wide.stdout,
      wide.stderr,
      readFileSync(db).toString("latin1"),
    ]) {
      expect(text).not.toContain(REST_KEY);
    }
    for (const extra of ["-wal", "-shm"]) {
      if (existsSync(db + extra)) expect(readFileSync(db + extra).toString("latin1")).not.toContain(REST_KEY);
    }
  }, 120_000);
  it("resumes a url run after kill -9 on the same session, with the key from the environment", async () => {
    const slow = await startOpenAITestServer({ responder: pageResponder(WIDGETS_OK), latencyMs: 300 });
    const file = join(dir, "resume-url.yaml");
    writeFileSync(
      file,
      `kind: otree\notree:\n  url: ${server.baseUrl}\n  rest_key_env: OTREE_TEST_KEY\nsession: { config: two_apps, participants: 2 }\nbots: { model: ts:silico-test }\nseed: 5\nproviders:\n  ts: { type: openai-compatible, base_url: "${slow.url}" }\n`,
    );
    const db = join(dir, "resume-url.db");
    try {
      const child = spawn(process.execPath, [CLI, "--db", db, "run", file, "--quiet"], {
        stdio: "ignore",
        env: { ...process.env, OTREE_TEST_KEY: REST_KEY },
      });
      await waitForCalls(db, 4);
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      const first = lastRunState(db);
      // No key: the resume is refused before anything runs.
      const refused = await spawnCli(["--db", db, "resume", "last"], { env: { OTREE_TEST_KEY: "" } });
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toMatch(/OTREE_TEST_KEY .* is not set/);
      const untouched = RunStore.open(db);
      try {
        expect(untouched.getRun("last").status).not.toBe("failed");
      } finally {
        untouched.close();
      }
      const resumed = await spawnCli(["--db", db, "resume", "last", "--quiet"], {
        timeoutMs: 120_000,
        env: { OTREE_TEST_KEY: REST_KEY },
      });
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(lastRunState(db)?.session_code).toBe(first?.session_code);
      expect(answeredRows(db)).toEqual({ n: 36, d: 36 });
      for (const text of [resumed.stdout, resumed.stderr, readFileSync(db).toString("latin1")]) {
        expect(text).not.toContain(REST_KEY);
      }
    } finally {
      await slow.close();
    }
  }, 300_000);
});

describe("silico resume after kill -9", () => {
  it("re-attaches to the same oTree session; no page is answered twice and none is lost", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    // Slow answers, so the kill lands mid-session.
    const slow = await startOpenAITestServer({ responder: pageResponder(WIDGETS_OK), latencyMs: 400 });
    const file = join(dir, "study.yaml");
    writeFileSync(
      file,
      `kind: otree\notree:\n  project: ${JSON.stringify(project)}\n  command: ${JSON.stringify(otree)}\nsession: { config: two_apps, participants: 2 }\nbots: { model: ts:silico-test }\nseed: 3\nproviders:\n  ts: { type: openai-compatible, base_url: "${slow.url}" }\n`,
    );
    const db = join(dir, "silico.db");
    let state: OtreeRunState | undefined;
    try {
      const child = spawn(process.execPath, [CLI, "--db", db, "run", file, "--quiet"], { stdio: "ignore" });
      // Kill once some pages are answered (a few calls recorded), mid-session.
      await waitForCalls(db, 4);
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      const store = RunStore.open(db);
      const runId = store.getRun("last").id;
      state = store.designState(runId, "").get() as OtreeRunState;
      const before = testSql(store).prepare("SELECT COUNT(*) AS n FROM observations").get() as { n: number };
      store.close();
      expect(state.session_code).toBeTruthy();
      // Killed mid-session: some pages answered and recorded, not all.
      expect(before.n).toBeGreaterThan(0);
      expect(before.n).toBeLessThan(2 * 18);

      const resumed = await spawnCli(["--db", db, "resume", runId, "--quiet"], { timeoutMs: 180_000 });
      expect(resumed.code, resumed.stderr).toBe(0);
      const after = RunStore.open(db);
      try {
        const again = after.designState(runId, "").get() as OtreeRunState;
        expect(again.session_code).toBe(state.session_code);
        // The killed process's devserver (its own process group) outlived it and was re-attached to.
        expect(again.devserver?.pgid).toBe(state.devserver?.pgid);
        const obs = testSql(after)
          .prepare("SELECT pid, name, coords FROM observations WHERE run_id = ? AND name != 'persona'")
          .all(runId) as { name: string; coords: string }[];
        const keys = obs.map((o) => {
          const c = JSON.parse(o.coords) as Record<string, unknown>;
          return `${c.participant_code}/${c.page_index}/${o.name}`;
        });
        // Each bot: 3 contributions, then 15 widget fields: 18 rows, none twice.
        expect(new Set(keys).size).toBe(keys.length);
        expect(keys.length).toBe(2 * 18);
        for (const seat of again.seats) {
          const contributions = obs.filter(
            (o) => o.name === "contribution" && JSON.parse(o.coords).participant_code === seat.code,
          );
          expect(contributions).toHaveLength(3);
        }
      } finally {
        after.close();
      }
      // The devserver of the killed process was re-attached to (or restarted) and stopped at the end.
      expect(groupAlive(state.devserver?.pgid as number)).toBe(false);
    } finally {
      await slow.close();
      // Whatever happened, no devserver of this test is left running.
      stopDevserverGroups(state?.devserver?.pgid, lastRunState(db)?.devserver?.pgid);
    }
  }, 300_000);
});

/** Read-only, so the running process's store is not touched. */
describe("silico resume after Ctrl-C", () => {
  it("stops the devserver with SIGTERM (oTree saves its database), and a resume restarts it on the same session", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    const slow = await startOpenAITestServer({ responder: pageResponder(WIDGETS_OK), latencyMs: 400 });
    const file = join(dir, "study.yaml");
    writeFileSync(
      file,
      `kind: otree\notree:\n  project: ${JSON.stringify(project)}\n  command: ${JSON.stringify(otree)}\nsession: { config: two_apps, participants: 2 }\nbots: { model: ts:silico-test }\nseed: 4\nproviders:\n  ts: { type: openai-compatible, base_url: "${slow.url}" }\n`,
    );
    const db = join(dir, "silico.db");
    let first: OtreeRunState | undefined;
    try {
      const child = spawn(process.execPath, [CLI, "--db", db, "run", file, "--quiet"], { stdio: "ignore" });
      await waitForCalls(db, 4);
      child.kill("SIGINT");
      const code = await new Promise((r) => child.once("exit", r));
      expect(code).toBe(130);
      first = lastRunState(db);
      expect(groupAlive(first?.devserver?.pgid as number)).toBe(false);
      expect(existsSync(join(project, "db.sqlite3"))).toBe(true);
      const resumed = await spawnCli(["--db", db, "resume", "last", "--quiet"], { timeoutMs: 180_000 });
      expect(resumed.code, resumed.stderr).toBe(0);
      const after = lastRunState(db);
      expect(after?.session_code).toBe(first?.session_code);
      expect(after?.devserver?.pgid).not.toBe(first?.devserver?.pgid);
      expect(answeredRows(db)).toEqual({ n: 36, d: 36 });
      // The joined export starts a devserver on the saved database and stops it again.
      const wide = await spawnCli(
        ["--db", db, "data", "last", "--format", "otree", "-o", join(dir, "wide.csv")],
        {
          timeoutMs: 120_000,
        },
      );
      expect(wide.code, wide.stderr).toBe(0);
      const lines = readFileSync(join(dir, "wide.csv"), "utf8").trim().split("\n");
      expect(lines).toHaveLength(3);
      expect(lines[0]).toContain("participant.code");
      expect(lines[0]).toContain("waiting.3.player.contribution");
      expect(lines.slice(1).every((l) => l.includes(",TRUE,") && l.includes(",done,"))).toBe(true);
    } finally {
      await slow.close();
      stopDevserverGroups(first?.devserver?.pgid, lastRunState(db)?.devserver?.pgid);
    }
  }, 300_000);
});

describe("silico run with human seats still playing when the bots are done", () => {
  it("Ctrl-C then stops the devserver cleanly: the run is done (exit 0) and the note says where the humans were", async () => {
    const { dir, project } = projectCopy();
    dirs.push(dir);
    const file = join(dir, "study.yaml");
    writeFileSync(
      file,
      `kind: otree\notree:\n  project: ${JSON.stringify(project)}\n  command: ${JSON.stringify(otree)}\nsession: { config: widgets, participants: 2 }\nhumans: [2]\nbots: { model: ts:silico-test }\nseed: 4\n${providers()}`,
    );
    const db = join(dir, "silico.db");
    const child = spawn(process.execPath, [CLI, "--db", db, "run", file], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let opened = false;
    const waiting = new Promise<void>((resolve, reject) => {
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        const link = /human seat 2: (\S+)/.exec(stderr)?.[1];
        if (link && !opened) {
          opened = true;
          // The human opens its first page and stays there.
          void fetch(link).then((r) => r.text());
        }
        if (/bots done; 1 human still playing/.test(stderr)) resolve();
      });
      child.once("exit", (code) =>
        reject(new Error(`silico exited (${code}) before the bots were done:\n${stderr}`)),
      );
    });
    let state: OtreeRunState | undefined;
    try {
      await waiting;
      child.kill("SIGINT");
      const code = await new Promise((r) => child.once("exit", r));
      expect(code, stderr).toBe(0);
      // No call is in flight while humans play: the CLI does not claim to wait for calls.
      expect(stderr).toContain("SIGINT: stopping: every session has ended; finishing up");
      expect(stderr).not.toContain("waiting up to 10 s for the calls in flight");
      expect(stderr).toMatch(
        /SIGINT while humans were still playing; humans: 1 playing \(seat 2 on widgets\/\w+\), 0 not started, 0 finished: stopping the oTree server \(what they answered so far is saved\)/,
      );
      state = lastRunState(db);
      expect(state?.humans).toMatchObject({ outcome: "interrupted", playing: [2], finished: [] });
      expect(groupAlive(state?.devserver?.pgid as number)).toBe(false);
      // SIGTERM to the group: oTree saved its database.
      expect(existsSync(join(project, "db.sqlite3"))).toBe(true);
      const store = RunStore.open(db);
      try {
        expect(store.getRun("last").status).toBe("done");
      } finally {
        store.close();
      }
    } finally {
      child.kill("SIGKILL");
      stopDevserverGroups(lastRunState(db)?.devserver?.pgid);
    }
  }, 180_000);
});
