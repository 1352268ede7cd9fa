// The example oTree project (integrations/otree/agents_project) on a real oTree devserver, with
// silico serve answering its agents from the project's test LLM server, and scripted humans
// playing over HTTP and oTree's live websocket.
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { data } from "../api/verbs.js";
import { parseCsv } from "../designs/stimuli/csv-reader.js";
import { otreeHelperSource } from "../cli/commands-serve.js";
import { type Devserver, startDevserver } from "../otree/devserver.js";
import { OtreeRestClient } from "../otree/rest-client.js";
import { RunStore } from "../store/run-store.js";
import { testSql } from "../store/test-sql.js";
import { runCli } from "../test-support/cli.js";
import { OTREE_SETUP_HINT, REPO_ROOT, testOtree } from "../test-support/python.js";
import { joinOtreeAppExport } from "./otree-join.js";
import { type ServeHandle, startServe } from "./serve.js";

const PROJECT = join(REPO_ROOT, "integrations", "otree", "agents_project");

/** This process's environment without the service's address (oTree's bots run without it). */
function withoutServeUrl(): NodeJS.ProcessEnv {
  const { SILICO_SERVE_URL: _, ...env } = process.env;
  return env;
}

type Payload = Record<string, unknown>;

/** A CSV's rows as objects keyed by its header. */
function csvRows(csv: string): Record<string, string>[] {
  const [header = [], ...rest] = parseCsv(csv.replace(/^\uFEFF/, "")).records.map((r) => r.fields);
  return rest
    .filter((f) => !(f.length === 1 && f[0] === ""))
    .map((f) => Object.fromEntries(header.map((h, i) => [h, f[i] ?? ""])));
}

/** A scripted human: start link, page, live socket, form submit. */
class Human {
  pageUrl = "";
  html = "";
  private ws: WebSocket | undefined;
  private readonly received: Payload[] = [];
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly base: string,
    readonly code: string,
  ) {}

  /** Opens the participant's current page; returns how long it took (ms). */
  async open(): Promise<number> {
    const t0 = performance.now();
    const res = await fetch(`${this.base}/InitializeParticipant/${this.code}`);
    this.html = await res.text();
    const ms = performance.now() - t0;
    expect(res.status).toBe(200);
    this.pageUrl = res.url;
    return ms;
  }

  async connect(): Promise<void> {
    this.ws?.close();
    this.received.length = 0;
    const m = /id="otree-live"[^>]*data-socket-url="([^"]+)"/.exec(this.html);
    if (!m?.[1]) throw new Error(`no live socket on ${this.pageUrl}`);
    const path = m[1].replaceAll("&amp;", "&");
    const ws = new WebSocket(`${this.base.replace("http", "ws")}${path}`);
    ws.on("message", (raw) => {
      const msg = JSON.parse(String(raw)) as { live_method_payload?: Payload };
      if (msg.live_method_payload) this.received.push(msg.live_method_payload);
      for (const w of this.waiters.splice(0)) w();
    });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    this.ws = ws;
  }

  send(data: Payload): void {
    this.ws?.send(JSON.stringify(data));
  }

  /** The first payload (from `from` on) that matches. */
  async waitFor(match: (p: Payload) => boolean, timeoutMs = 20_000, from = 0): Promise<Payload> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.received.slice(from).find(match);
      if (hit) return hit;
      if (Date.now() > deadline)
        throw new Error(`${this.code}: no matching live message; got ${JSON.stringify(this.received)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  get count(): number {
    return this.received.length;
  }

  /** Submits the current page's form; returns the status of the POST (302 on success). */
  async submit(fields: Record<string, string>): Promise<number> {
    const res = await fetch(this.pageUrl, {
      method: "POST",
      body: new URLSearchParams(fields),
      redirect: "manual",
    });
    await res.body?.cancel();
    return res.status;
  }

  close(): void {
    this.ws?.close();
  }
}

describe("LLM agents in oTree through silico serve", () => {
  const otree = testOtree();
  if (!otree) throw new Error(`the oTree integration tests need oTree 6.0. To get it: ${OTREE_SETUP_HINT}.`);
  const dir = mkdtempSync(join(tmpdir(), "silico-otree-agents-"));
  const project = join(dir, "project");
  let llm: TestServer;
  let delayMs = 300;
  let store: RunStore;
  let serve: ServeHandle;
  let oTree: Devserver;
  let rest: OtreeRestClient;
  const humans: Human[] = [];

  beforeAll(async () => {
    cpSync(PROJECT, project, { recursive: true });
    llm = await startOpenAITestServer({
      responder: async (req) => {
        await new Promise((r) => setTimeout(r, delayMs));
        const last = req.messages.at(-1);
        const text = typeof last?.content === "string" ? last.content : "";
        if (text.includes(`"COOPERATE" or "DEFECT"`)) return "DEFECT";
        return `reply ${req.messages.length}: ${text}`;
      },
    });
    const agents = join(dir, "agents.yaml");
    writeFileSync(
      agents,
      readFileSync(join(PROJECT, "agents.yaml"), "utf8").replace("http://127.0.0.1:8787/v1", llm.url),
    );
    store = RunStore.open(join(dir, "silico.db"));
    serve = await startServe({ file: agents, store, port: 0 });
    process.env.SILICO_SERVE_URL = serve.url;
    process.env.SILICO_SERVE_TIMEOUT = "10";
    oTree = await startDevserver({ projectDir: project, otree });
    rest = new OtreeRestClient(oTree.baseUrl);
  }, 150_000);

  afterAll(async () => {
    for (const h of humans) h.close();
    await oTree?.stop();
    await serve?.close().catch(() => undefined);
    store?.close();
    await llm?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("the project's silico_agents.py is what `silico otree helper` writes (versions match)", () => {
    expect(readFileSync(join(PROJECT, "silico_agents.py"), "utf8")).toBe(otreeHelperSource());
  });

  it("10 humans chatting at once all get their answers", async () => {
    const session = await rest.createSession({ configName: "agent_chat", participants: 10 });
    const codes = (await rest.session(session.code)).participants.map((p) => p.code);
    for (const code of codes) humans.push(new Human(oTree.baseUrl, code));
    await Promise.all(humans.map((h) => h.open().then(() => h.connect())));
    for (const [i, h] of humans.entries()) h.send({ type: "say", text: `hello from ${i}` });
    const replies = await Promise.all(humans.map((h) => h.waitFor((p) => p.type === "reply")));
    // system prompt + the user's message: each participant has a conversation of its own
    expect(replies.map((r) => r.text)).toEqual(humans.map((_, i) => `reply 2: hello from ${i}`));
    expect(replies.every((r) => r.ok === true)).toBe(true);
  }, 60_000);

  it("while an agent takes 2 s, another participant's page loads in under 0.3 s", async () => {
    delayMs = 2_000;
    try {
      const [slow, other] = humans as [Human, Human];
      const from = slow.count;
      const before = llm.stats().inFlight;
      slow.send({ type: "say", text: "think slowly" });
      const deadline = Date.now() + 5_000;
      while (llm.stats().inFlight === before && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(llm.stats().inFlight).toBeGreaterThan(before);
      const loads: number[] = [];
      for (let i = 0; i < 3; i++) loads.push(await other.open());
      expect(Math.max(...loads)).toBeLessThan(300);
      const reply = await slow.waitFor((p) => p.type === "reply", 20_000, from);
      expect(reply.text).toBe("reply 4: think slowly");
    } finally {
      delayMs = 300;
    }
  }, 60_000);

  it("a reload restores the transcript from the ExtraModel, and custom_export has it", async () => {
    const h = humans[0] as Human;
    await h.open();
    await h.connect();
    h.send({ type: "load" });
    const history = await h.waitFor((p) => p.type === "history");
    expect(history.messages).toEqual([
      { role: "user", text: "hello from 0", ok: true },
      { role: "assistant", text: "reply 2: hello from 0", ok: true },
      { role: "user", text: "think slowly", ok: true },
      { role: "assistant", text: "reply 4: think slowly", ok: true },
    ]);
    const csv = await (await fetch(`${oTree.baseUrl}/api/export_app_custom?app=agent_chat`)).text();
    expect(csv).toContain("reply 4: think slowly");
    expect(csv).toContain(h.code);
  }, 60_000);

  it("a retried turn gets the stored answer without a second model call", async () => {
    const h = humans[1] as Human;
    const session = (await rest.session((await sessionOf(h.code)) as string)).code;
    const calls = llm.stats().completed;
    const res = await fetch(`${serve.url}/v1/turn`, {
      method: "POST",
      body: JSON.stringify({
        agent: "chat",
        session,
        participant: h.code,
        app: "agent_chat",
        round: 1,
        turn: "m1",
        message: "hello from 1",
        vars: { treatment: "friendly" },
      }),
    });
    expect(await res.json()).toMatchObject({ text: "reply 2: hello from 1", replayed: true });
    expect(llm.stats().completed).toBe(calls);
  });

  it("the prisoner's dilemma: the agent decides through the service; payoffs in oTree and in silico's store", async () => {
    const session = await rest.createSession({ configName: "agent_pd", participants: 1 });
    const [p] = (await rest.session(session.code)).participants;
    const h = new Human(oTree.baseUrl, (p as { code: string }).code);
    humans.push(h);
    for (const [round, choice] of [
      [1, "COOPERATE"],
      [2, "DEFECT"],
    ] as const) {
      await h.open();
      expect(h.pageUrl).toContain("/agent_pd/Decide/");
      await h.connect();
      h.send({ type: "load" });
      await h.waitFor((m) => m.status === "ready");
      expect(await h.submit({ choice })).toBe(302);
      await h.open();
      expect(h.html).toContain(`the AI chose DEFECT`);
      expect(h.html).toContain(choice === "COOPERATE" ? "You earned 0 points" : "You earned 8 points");
      expect(await h.submit({})).toBe(302);
      expect(round).toBeGreaterThan(0);
    }
    const csv = await (
      await fetch(`${oTree.baseUrl}/api/export_app?app=agent_pd&session_code=${session.code}`)
    ).text();
    // oTree's data joined with the agent's turns on participant code, round and session
    const joined = joinOtreeAppExport(store.allAgentTurns(serve.runId), csv, "agent_pd");
    const mine = joined.rows.filter((r) => r.otree_session === session.code);
    expect(
      mine.map((r) => [r.round, r.value, r["player.choice"], r["player.payoff"], r["player.agent_source"]]),
    ).toEqual([
      [1, "DEFECT", "COOPERATE", "0.0", "model"],
      [2, "DEFECT", "DEFECT", "8.0", "model"],
    ]);
    // silico's store: one turn per round, the second round's prompt carries the first's payoffs
    store.flush(); // data() reads through a connection of its own: commit the last batch first
    const rows = (await data(serve.runId, { db: store.path })).rows as Record<string, unknown>[];
    const pd = rows.filter((r) => r.agent === "partner" && r.otree_session === session.code);
    expect(pd.map((r) => [r.round, r.turn, r.value])).toEqual([
      [1, "r1", "DEFECT"],
      [2, "r2", "DEFECT"],
    ]);
    const prompts = testSql(store)
      .prepare("SELECT prompt FROM agent_turns WHERE otree_session = ? ORDER BY seq")
      .pluck()
      .all(session.code) as string[];
    expect(prompts[1]).toContain("the other person chose COOPERATE, and you earned 28 points");
  }, 90_000);

  it("silico data --format otree joins the run's turns with oTree's data, fetched over REST or from a file", async () => {
    store.flush(); // the CLI reads through a connection of its own
    const pdSession = (await sessionsOf("agent_pd"))[0] as string;
    const out = join(dir, "joined.csv");
    const r = await runCli([
      "data",
      serve.runId,
      "--db",
      store.path,
      "--format",
      "otree",
      "--otree-url",
      oTree.baseUrl,
      "--out",
      out,
    ]);
    expect(r.stderr).not.toMatch(/have no row/);
    expect(r.code).toBe(0);
    const rows = csvRows(readFileSync(out, "utf8"));
    // Every answered turn is a row: the chat turns and the two PD rounds.
    const turns = store.allAgentTurns(serve.runId);
    expect(rows).toHaveLength(turns.length);
    const pd = rows.filter((x) => x.app === "agent_pd");
    expect(
      pd.map((x) => [
        x.otree_session,
        x.participant === x["participant.code"],
        x.round,
        x["subsession.round_number"],
        x.agent,
        x.value,
        x["player.agent_choice"],
        x["player.choice"],
        x["player.payoff"],
      ]),
    ).toEqual([
      [pdSession, true, "1", "1", "partner", "DEFECT", "DEFECT", "COOPERATE", "0.0"],
      [pdSession, true, "2", "2", "partner", "DEFECT", "DEFECT", "DEFECT", "8.0"],
    ]);
    // The chat turns sit on their participants' agent_chat rows.
    const chat = rows.filter((x) => x.app === "agent_chat");
    expect(chat.length).toBeGreaterThanOrEqual(10);
    expect(
      chat.every((x) => x["participant.code"] === x.participant && x["session.code"] === x.otree_session),
    ).toBe(true);
    // The same from oTree's wide export, downloaded as an experimenter would for a server that is gone.
    const wideFile = join(dir, "all_apps_wide.csv");
    writeFileSync(wideFile, await (await fetch(`${oTree.baseUrl}/api/export_wide`)).text());
    const fromFile = join(dir, "joined-from-file.csv");
    const w = await runCli([
      "data",
      serve.runId,
      "--db",
      store.path,
      "--format",
      "otree",
      "--otree-export",
      wideFile,
      "--out",
      fromFile,
    ]);
    expect(w.code).toBe(0);
    const wideRows = csvRows(readFileSync(fromFile, "utf8")).filter((x) => x.app === "agent_pd");
    expect(wideRows.map((x) => [x.round, x.value, x["player.choice"], x["player.payoff"]])).toEqual([
      ["1", "DEFECT", "COOPERATE", "0.0"],
      ["2", "DEFECT", "DEFECT", "8.0"],
    ]);
  }, 60_000);

  it("an app's malformed request gets a 400, the helper returns the fallback, nothing is stored", async () => {
    // The helper imported from outside the project: the devserver reloads when its files change.
    const helperDir = join(dir, "helper");
    mkdirSync(helperDir, { recursive: true });
    writeFileSync(join(helperDir, "silico_agents.py"), otreeHelperSource());
    const before = testSql(store).prepare("SELECT count(*) FROM calls").pluck().get();
    const script = `
import asyncio, json, sys
sys.path.insert(0, ${JSON.stringify(helperDir)})
from silico_agents import ask
class O:  # a stand-in for an oTree player
    pass
p = O(); p.session = O(); p.session.code = "sx"; p.participant = O(); p.participant.code = "px"
p.round_number = 1; p.group = None
print(json.dumps(asyncio.run(ask(p, "no_such_agent", "hi", turn="t1"))))
`;
    // Not spawnSync: the service answering it runs in this process.
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        "python3",
        ["-c", script],
        { env: { ...process.env, SILICO_SERVE_URL: serve.url, PYTHONDONTWRITEBYTECODE: "1" } },
        (err, out) => (err ? reject(err) : resolve(out)),
      ),
    );
    const reply = JSON.parse(stdout) as Payload;
    expect(reply).toMatchObject({ ok: false, text: "Sorry, I cannot answer right now." });
    expect(String(reply.error)).toMatch(/400: unknown agent "no_such_agent"/);
    expect(testSql(store).prepare("SELECT count(*) FROM calls").pluck().get()).toBe(before);
  });

  it("with the service down, the agent's turn is the fallback text and the page keeps working", async () => {
    await serve.close();
    const h = humans[2] as Human;
    await h.open();
    await h.connect();
    const from = h.count;
    h.send({ type: "say", text: "anyone there?" });
    const reply = await h.waitFor((p) => p.type === "reply", 20_000, from);
    expect(reply).toMatchObject({ ok: false, text: "Sorry, I cannot answer right now." });
    expect(await h.submit({})).toBe(302);
    await h.open();
    expect(h.html).toContain("The chat had 4 messages");
  }, 60_000);

  it.each(["agent_chat", "agent_pd"])(
    "the project passes its own oTree bots: otree test %s",
    async (config) => {
      // On a copy: `otree test` writes a database, and the devserver reloads on changes to its project.
      const copy = join(dir, `bots-${config}`);
      cpSync(PROJECT, copy, { recursive: true });
      const output = await new Promise<string>((resolve, reject) =>
        execFile(
          otree,
          ["test", config],
          { cwd: copy, env: { ...withoutServeUrl(), PYTHONDONTWRITEBYTECODE: "1" } },
          (err, stdout, stderr) => (err ? reject(new Error(stdout + stderr)) : resolve(stdout + stderr)),
        ),
      );
      expect(output).toContain("Bots completed session");
      expect(output).toContain("using the fallback text");
    },
    120_000,
  );

  it("--otree-url with oTree's REST key (STUDY mode): from OTREE_REST_KEY, never printed; without it, exit 2", async () => {
    // The same project's database under a devserver that wants a REST key: oTree saves its
    // database on SIGTERM and the new devserver loads it.
    await oTree.stop();
    const key = "agents-join-rest-key-8d1f";
    oTree = await startDevserver({ projectDir: project, otree, restKey: key });
    const args = (out: string) => [
      "data",
      serve.runId,
      "--db",
      store.path,
      "--format",
      "otree",
      "--otree-url",
      oTree.baseUrl,
      "--out",
      out,
    ];
    const refused = join(dir, "refused.csv");
    const none = await runCli(args(refused), { env: { OTREE_REST_KEY: undefined } });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--otree-url: could not export app .*403.*set OTREE_REST_KEY/);
    expect(existsSync(refused)).toBe(false);
    const out = join(dir, "joined-with-key.csv");
    const r = await runCli(args(out), { env: { OTREE_REST_KEY: key } });
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(out, "utf8");
    expect(`${r.stdout}${r.stderr}${text}`).not.toContain(key);
    const pd = csvRows(text).filter((x) => x.app === "agent_pd");
    expect(pd.map((x) => [x.round, x.value, x["player.choice"], x["player.payoff"]])).toEqual([
      ["1", "DEFECT", "COOPERATE", "0.0"],
      ["2", "DEFECT", "DEFECT", "8.0"],
    ]);
  }, 180_000);

  async function sessionsOf(app: string): Promise<string[]> {
    return testSql(store)
      .prepare("SELECT DISTINCT otree_session FROM agent_turns WHERE app = ?")
      .pluck()
      .all(app) as string[];
  }

  async function sessionOf(code: string): Promise<string | undefined> {
    const row = testSql(store)
      .prepare("SELECT otree_session FROM agent_turns WHERE participant = ? LIMIT 1")
      .pluck()
      .get(code) as string | undefined;
    return row;
  }
});
