import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runs } from "../api/verbs.js";
import { parseCsv } from "../designs/stimuli/csv-reader.js";
import { RunStore } from "../store/run-store.js";
import { runCli } from "../test-support/cli.js";
import { startServe } from "./serve.js";

// `silico data RUN --format otree` on a kind: agents run, as a user runs it: a real run made by
// silico serve (the project's test server as the model), then the join with oTree's CSV exports.

let dir: string;
let llm: TestServer;
let db: string;
let runId: string;
let servedSessions: number | undefined;

// The header of a real oTree 6.0.15 per-app export (agent_pd of the example project).
const PD_HEADER =
  "participant.id_in_session,participant.code,participant.label,participant._is_bot,player.id_in_group,player.payoff,player.choice,player.agent_choice,group.id_in_subsession,subsession.round_number,session.code";
const PD_CSV = [
  PD_HEADER,
  "1,aaa,,0,1,0,COOPERATE,DEFECT,1,1,s1",
  "1,aaa,,0,1,8,DEFECT,DEFECT,1,2,s1",
  '2,bbb,"a, label",0,1,28,DEFECT,COOPERATE,2,1,s1',
  "",
].join("\n");
// The same data as oTree's wide export (all apps) lays it out.
const WIDE_CSV = [
  "participant.id_in_session,participant.code,participant.label,agent_pd.1.player.id_in_group,agent_pd.1.player.payoff,agent_pd.1.player.choice,agent_pd.1.group.id_in_subsession,agent_pd.1.subsession.round_number,agent_pd.2.player.id_in_group,agent_pd.2.player.payoff,agent_pd.2.player.choice,agent_pd.2.group.id_in_subsession,agent_pd.2.subsession.round_number,session.code",
  "1,aaa,,1,0,COOPERATE,1,1,1,8,DEFECT,1,2,s1",
  '2,bbb,"a, label",1,28,DEFECT,2,1,1,0,COOPERATE,2,2,s1',
].join("\n");

const turn = (participant: string, round: number) => ({
  agent: "partner",
  session: "s1",
  participant,
  app: "agent_pd",
  round,
  page: "Decide",
  turn: `r${round}`,
  message: "",
  vars: {},
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-otree-data-"));
  llm = await startOpenAITestServer({
    responder: async (req) => {
      const last = req.messages.at(-1);
      const text = typeof last?.content === "string" ? last.content : "";
      return text.startsWith("Round") ? `${text.includes("aaa") ? "DEFECT" : "COOPERATE"}` : "Hello.";
    },
  });
  const file = join(dir, "agents.yaml");
  writeFileSync(
    file,
    `kind: agents
model: ts:silico-test
providers:
  ts: {type: openai-compatible, base_url: "${llm.url}"}
agents:
  partner:
    system: "Repeated prisoner's dilemma."
    prompt: "Round {{ round }} with {{ participant }}. COOPERATE or DEFECT?"
    parse: {type: choice, options: [COOPERATE, DEFECT]}
  chat:
    system: "Be brief."
`,
  );
  db = join(dir, "agents.db");
  const store = RunStore.open(db);
  const h = await startServe({ file, store, port: 0 });
  try {
    for (const body of [
      turn("aaa", 1),
      turn("bbb", 1),
      turn("aaa", 2),
      {
        agent: "chat",
        session: "s1",
        participant: "ccc",
        app: "agent_chat",
        round: 1,
        turn: "m1",
        message: "hi",
      },
    ]) {
      const res = await fetch(`${h.url}/v1/turn`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
    }
    // `silico runs` while the run is served: its sessions so far, not the 0 of an open plan's start.
    servedSessions = (await runs({ db })).find((r) => r.id === h.runId)?.sessions;
  } finally {
    await h.close();
    store.close();
  }
  runId = h.runId;
});
afterAll(async () => {
  await llm.close();
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

let outs = 0;
async function exportOtree(args: string[], env: Record<string, string | undefined> = {}) {
  const out = join(dir, `out-${++outs}.csv`);
  const r = await runCli(["data", runId, "--db", db, "--format", "otree", "--out", out, ...args], { env });
  const rows = existsSync(out) ? rowsOf(readFileSync(out, "utf8")) : undefined;
  return { ...r, out, rows };
}

function rowsOf(csv: string): Record<string, string>[] {
  const [header = [], ...rest] = parseCsv(csv).records.map((r) => r.fields);
  return rest
    .filter((f) => !(f.length === 1 && f[0] === ""))
    .map((f) => Object.fromEntries(header.map((h, i) => [h, f[i] ?? ""])));
}

const PD_EXPECTED = [
  ["aaa", "1", "DEFECT", "COOPERATE", "0"],
  ["bbb", "1", "COOPERATE", "DEFECT", "28"],
  ["aaa", "2", "DEFECT", "DEFECT", "8"],
];
const pdView = (rows: Record<string, string>[] | undefined) =>
  (rows ?? [])
    .filter((r) => r.app === "agent_pd")
    .map((r) => [r.participant, r.round, r.value, r["player.choice"], r["player.payoff"]]);

describe("silico data --format otree on a kind: agents run", () => {
  it("counts the run's sessions in silico runs while it is served", () => {
    expect(servedSessions).toBe(4);
  });

  it("joins each turn with its participant's row of that round from a per-app export file", async () => {
    const file = write("agent_pd-2026-12-06.csv", PD_CSV);
    const r = await exportOtree(["--otree-export", file]);
    expect(r.stderr).toMatch(/1 of 4 agent turn\(s\) have no row in oTree's data/);
    expect(r.code).toBe(0);
    expect(pdView(r.rows)).toEqual(PD_EXPECTED);
    expect(r.rows?.find((x) => x.participant === "bbb")?.["participant.label"]).toBe("a, label");
    // The chat turn's app has no export: its row is kept, oTree's columns empty.
    const chat = r.rows?.find((x) => x.app === "agent_chat");
    expect(chat).toMatchObject({ participant: "ccc", reply: "Hello.", "player.choice": "" });
    expect(Object.keys(r.rows?.[0] ?? {}).slice(0, 5)).toEqual([
      "otree_session",
      "participant",
      "app",
      "round",
      "turn",
    ]);
  });

  it("takes the app from APP=FILE, and oTree's wide export (all apps) as it is", async () => {
    const named = write("downloaded.csv", PD_CSV);
    expect(pdView((await exportOtree(["--otree-export", `agent_pd=${named}`])).rows)).toEqual(PD_EXPECTED);
    const wide = await exportOtree(["--otree-export", write("all_apps_wide-2026-12-06.csv", WIDE_CSV)]);
    expect(wide.code).toBe(0);
    expect(pdView(wide.rows)).toEqual(PD_EXPECTED);
    expect(
      wide.rows?.find((x) => x.participant === "aaa" && x.round === "2")?.["subsession.round_number"],
    ).toBe("2");
  });

  it("refuses missing or bad flags and files: exit 2, a located message, no file written", async () => {
    const cases: [string[], RegExp][] = [
      [[], /needs oTree's data: --otree-url URL .* or --otree-export FILE/],
      [["--otree-export", join(dir, "nope.csv")], /--otree-export .*nope\.csv: no such file/],
      [["--otree-export", write("junk.csv", "a,b\n1,2\n")], /junk\.csv: not an oTree export/],
      [
        ["--otree-export", write("data.csv", PD_CSV)],
        /data\.csv: a per-app export does not say which app .* agent_pd, agent_chat: write APP=/,
      ],
      [
        ["--otree-export", `agent_pd=${write("w.csv", WIDE_CSV)}`],
        /wide export \(all apps\): give it without APP=/,
      ],
      [
        ["--otree-url", "http://127.0.0.1:1", "--otree-export", "x.csv"],
        /--otree-url or --otree-export, not both/,
      ],
      [["--otree-url", "not a url"], /--otree-url: "not a url" is not a URL/],
      [
        ["--otree-url", "http://127.0.0.1:1", "--otree-rest-key-env", "SILICO_NO_SUCH_KEY_VAR"],
        /SILICO_NO_SUCH_KEY_VAR is not set/,
      ],
      [
        ["--otree-url", "http://127.0.0.1:1"],
        /--otree-url: could not export app "agent_pd" of session s1: no answer from oTree/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await exportOtree(args);
      expect(r.stderr, args.join(" ")).toMatch(message);
      expect(r.code, args.join(" ")).toBe(2);
      expect(existsSync(r.out), args.join(" ")).toBe(false);
    }
    // The oTree flags belong to --format otree.
    const csv = await runCli(["data", runId, "--db", db, "--otree-url", "http://127.0.0.1:1"]);
    expect(csv.code).toBe(2);
    expect(csv.stderr).toMatch(/--otree-url go\(es\) with --format otree, not --format csv/);
  });

  it("--format otree on another kind of run says which kinds it is for (exit 2)", async () => {
    const study = write(
      "factorial.yaml",
      `kind: factorial
prompt: "Say hello."
model: ts:silico-test
providers:
  ts: {type: openai-compatible, base_url: "${llm.url}"}
`,
    );
    const ran = await runCli(["run", study, "--db", db]);
    expect(ran.code, ran.stderr).toBe(0);
    const id = ran.stdout.trim().split("\n").at(-1) as string;
    const out = join(dir, "factorial-otree.csv");
    const r = await runCli([
      "data",
      id,
      "--db",
      db,
      "--format",
      "otree",
      "--otree-export",
      "x.csv",
      "-o",
      out,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /--format otree is for kind: otree and kind: agents runs; run \S+ is kind factorial/,
    );
    expect(existsSync(out)).toBe(false);
  });

  describe("from a running oTree server (--otree-url)", () => {
    // Stands in for oTree's REST export endpoint (the devserver test uses a real one): answers
    // /api/export_app like oTree in STUDY mode, checking the otree-rest-key header.
    let server: Server;
    let url: string;
    const asked: string[] = [];
    const KEY = "rest-key-not-to-be-printed-4711";
    beforeAll(async () => {
      server = createServer((req, res) => {
        const u = new URL(req.url ?? "/", "http://x");
        asked.push(`${u.pathname}?${u.searchParams}`);
        if (req.headers["otree-rest-key"] !== KEY) {
          res
            .writeHead(403)
            .end(
              req.headers["otree-rest-key"]
                ? "HTTP Request Header otree-rest-key is incorrect"
                : "HTTP Request Header otree-rest-key is missing",
            );
          return;
        }
        const app = u.searchParams.get("app");
        const csv =
          app === "agent_pd"
            ? PD_CSV
            : "participant.code,player.id_in_group,subsession.round_number,session.code\n";
        res.writeHead(200, { "content-type": "text/csv" }).end(`\uFEFF${csv}`);
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("fetches each app's export of each session the turns name, with the REST key from the environment", async () => {
      asked.length = 0;
      const r = await exportOtree(["--otree-url", url], { OTREE_REST_KEY: KEY });
      expect(r.code).toBe(0);
      expect(asked.sort()).toEqual([
        "/api/export_app?app=agent_chat&session_code=s1",
        "/api/export_app?app=agent_pd&session_code=s1",
      ]);
      expect(pdView(r.rows)).toEqual(PD_EXPECTED);
      expect(`${r.stdout}${r.stderr}${readFileSync(r.out, "utf8")}`).not.toContain(KEY);
      // Another variable, named with --otree-rest-key-env.
      const named = await exportOtree(["--otree-url", url, "--otree-rest-key-env", "MY_OTREE_KEY"], {
        OTREE_REST_KEY: undefined,
        MY_OTREE_KEY: KEY,
      });
      expect(named.code).toBe(0);
      expect(pdView(named.rows)).toEqual(PD_EXPECTED);
    });

    it("says which variable to set when oTree wants a key, or refuses it; exit 2, no file", async () => {
      const none = await exportOtree(["--otree-url", url], { OTREE_REST_KEY: undefined });
      expect(none.code).toBe(2);
      expect(none.stderr).toMatch(
        /oTree answered 403: .*missing \(oTree wants its REST key: set OTREE_REST_KEY/,
      );
      expect(existsSync(none.out)).toBe(false);
      const wrong = await exportOtree(["--otree-url", url], { OTREE_REST_KEY: "wrong-key-0000" });
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toMatch(/403: .*incorrect \(the REST key was refused\)/);
      expect(wrong.stderr).not.toContain("wrong-key-0000");
      expect(existsSync(wrong.out)).toBe(false);
    });
  });
});
