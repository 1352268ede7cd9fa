/**
 * Differential test against the real alter_ego (PyPI alter_ego_llm, run by Python): the same
 * built.json scenarios run under `ego run -n N built` and under silico, each against its own
 * instance of the project's OpenAI test server (answers depend only on the messages), with the
 * same treatment per conversation. Asserted:
 *
 * - the `messages` arrays the servers received are identical, request by request, in order, and
 *   grouped per conversation and thread;
 * - `ego data`'s CSV and silico's `--format ego` CSV agree per conversation on
 *   choice, i, round, treatment and tainted (and both have the same header and CRLF line ends).
 *
 * The fixtures use CLIThread (a terminal human) for both threads; the test copies turn every
 * thread into ["GPTThread", "gpt-4o"] and change nothing else. alter_ego's treatment draw is an
 * unseeded random.choice, so scripts/alter-ego-diff/run_ego.py seeds Python's `random` and logs
 * the draw; silico then replays that sequence through the `treatmentSequence` compile option.
 *
 * Needs Python with alter_ego: `npm test` installs scripts/alter-ego-diff/requirements.txt into the
 * repository's .venv-test/, which this test uses (see test-support/python.ts; ALTER_EGO_PYTHON
 * overrides it). Fails, never skips, when it is missing. A slow test: `npm run test:quick` leaves it out.
 */
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRun } from "../../engine/run-study.js";
import { RunStore } from "../../store/run-store.js";
import { readStudyFile } from "../../study/source.js";
import {
  defaultResponder,
  type Responder,
  type ResponderRequest,
  startOpenAITestServer,
} from "@silico/test-server";
import { PYTHON_SETUP_HINT, testPython } from "../../test-support/python.js";
import { alterEgoDesign } from "./alter-ego-design.js";
import { writeEgoCsv } from "./ego-export.js";
import { fixture, STAG_HUNT, tempDir, ULTIMATUM, withGptThreads, writeScenario } from "./test-helpers.js";
import { testSql } from "../../store/test-sql.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const RUN_EGO = resolve(HERE, "../../../../../scripts/alter-ego-diff/run_ego.py");
const PYTHON = testPython();

type Msg = { role: string; content: string };
/** conversations → threads (array order) → requests (in order) → messages sent. */
type Grouped = Msg[][][][];

interface EgoRun {
  experiment: string;
  version: string;
  conversations: {
    convo: string;
    treatment: string;
    threads: {
      thread: string;
      i: number;
      type: string;
      tainted: boolean;
      history: Msg[];
      choices: string[];
    }[];
  }[];
}

/** Runs a child asynchronously: the test servers live in this process and must keep answering. */
function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      cmd,
      args,
      { ...opts, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const status = error
          ? typeof (error as { code?: unknown }).code === "number"
            ? (error as { code: number }).code
            : 1
          : 0;
        done({ status, stdout, stderr });
      },
    );
  });
}

function checkPython(): string {
  const probe = spawnSync(
    PYTHON,
    [
      "-c",
      "import importlib.metadata, jinja2, alter_ego, ego.cli; print(importlib.metadata.version('alter_ego_llm'))",
    ],
    { encoding: "utf8" },
  );
  if (probe.status !== 0) {
    throw new Error(
      `alter_ego is not importable with ${PYTHON} (${(probe.stderr || String(probe.error)).trim().split("\n").pop()}).\n` +
        `To get it: ${PYTHON_SETUP_HINT}.`,
    );
  }
  return probe.stdout.trim();
}

/**
 * Answers that exercise floats, non-ASCII text, JSON null, missing tokens and two numbers; both
 * sides must agree on all of them. The k-th request gets the k-th answer of a fixed cycle (mixed
 * with the messages' hash), so conversations of the same treatment differ; since both runs send
 * their requests in the same order (which the test checks), both get the same answers.
 */
function trickyResponder(): Responder {
  let k = 0;
  return (req: ResponderRequest) => {
    const last = [...req.messages].reverse().find((m) => m.role === "user");
    const text = typeof last?.content === "string" ? last.content : "";
    const h = createHash("sha256").update(JSON.stringify(req.messages)).digest().readUInt32BE(0);
    const n = k++;
    const pick = (xs: string[]) => xs[(h + n) % xs.length] as string;
    if (/\bJSON\b/.test(text)) {
      return pick([
        '{"keep": 4.5}',
        '{"keep": 6}',
        '{"keep": 5.0}',
        "null",
        '{"keep": 7, "note": "caf\u00e9 \u201cok\u201d"}',
        ' {"keep": 3}\n',
        "{'keep': 4}",
      ]);
    }
    if (/ACCEPT/.test(text))
      return pick(["ACCEPT", "REJECT", "I accept.", "Hmm, no idea", "reject", "ACCEPT, not REJECT"]);
    if (/OPTION 1 or OPTION 2/.test(text)) {
      return pick([
        "OPTION 1",
        "OPTION 2",
        "I choose OPTION 2",
        "OPTION 1",
        "2",
        "OPTION 2",
        "OPTION 1",
        "OPTION 1 or OPTION 2",
      ]);
    }
    return defaultResponder(req);
  };
}

/** Python csv output back into rows (quotes doubled, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let k = 0; k < text.length; k++) {
    const c = text[k] as string;
    if (quoted) {
      if (c === '"' && text[k + 1] === '"') {
        field += '"';
        k++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[k + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      k++;
    } else field += c;
  }
  if (field !== "" || row.length > 0) rows.push([...row, field]);
  return rows;
}

/** Splits the requests a server received (in order) by the expected per-conversation structure. */
function requestsOf(server: { requests: { path: string; body: unknown }[] }): Msg[][] {
  return server.requests
    .filter((r) => r.path === "/v1/chat/completions")
    .map((r) =>
      ((r.body as { messages: Msg[] }).messages ?? []).map((m) => ({ role: m.role, content: m.content })),
    );
}

/** Requests in alter_ego's (and silico's) turn order: round-major, then array position. */
function flatten(grouped: Grouped): Msg[][] {
  const out: Msg[][] = [];
  for (const convo of grouped) {
    const rounds = Math.max(0, ...convo.map((t) => t.length));
    for (let r = 0; r < rounds; r++) for (const thread of convo) if (thread[r]) out.push(thread[r] as Msg[]);
  }
  return out;
}

function egoGrouped(run: EgoRun): Grouped {
  return run.conversations.map((c) =>
    c.threads.map((t) => {
      const requests: Msg[][] = [];
      t.history.forEach((m, k) => {
        if (m.role === "user") requests.push(t.history.slice(0, k + 1));
      });
      return requests;
    }),
  );
}

function silicoGrouped(store: RunStore, runId: string, threads: number): Grouped {
  const sessions = testSql(store)
    .prepare("SELECT key FROM sessions WHERE run_id = ? ORDER BY idx")
    .pluck()
    .all(runId) as string[];
  const calls = testSql(store)
    .prepare("SELECT session_key, pid, request FROM calls WHERE run_id = ? ORDER BY id")
    .all(runId) as { session_key: string; pid: string; request: string }[];
  return sessions.map((key) =>
    Array.from({ length: threads }, (_, k) =>
      calls
        .filter((c) => c.session_key === key && c.pid === `t${k + 1}`)
        .map((c) =>
          (JSON.parse(c.request) as { messages: Msg[] }).messages.map((m) => ({
            role: m.role,
            content: m.content,
          })),
        ),
    ),
  );
}

interface Case {
  name: string;
  fixture: string;
  times: number;
  seed: number;
  responder?: () => Responder;
}

const CASES: Case[] = [
  { name: "framed ultimatum (builder default), default answers", fixture: ULTIMATUM, times: 9, seed: 3 },
  { name: "repeated stag hunt (our own scenario), default answers", fixture: STAG_HUNT, times: 4, seed: 5 },
  {
    name: "framed ultimatum, tricky answers (floats, null, no token)",
    fixture: ULTIMATUM,
    times: 14,
    seed: 11,
    responder: trickyResponder,
  },
  {
    name: "repeated stag hunt, tricky answers (two numbers → taint)",
    fixture: STAG_HUNT,
    times: 5,
    seed: 7,
    responder: trickyResponder,
  },
];

describe("differential: silico vs real alter_ego", () => {
  let version = "";
  const totals = { conversations: 0, requests: 0, messages: 0, rows: 0, tainted: 0 };
  beforeAll(() => {
    version = checkPython();
  });
  afterAll(() => {
    process.stderr.write(
      `alter_ego ${version}: compared ${totals.conversations} conversations, ${totals.requests} requests (${totals.messages} messages), ${totals.rows} CSV rows, ${totals.tainted} tainted conversations\n`,
    );
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const dir = tempDir("silico-ego-diff-");
      const built = writeScenario(dir, withGptThreads(fixture(c.fixture)));
      const threadCount = (fixture(c.fixture).threads as unknown[]).length;
      const egoServer = await startOpenAITestServer(c.responder ? { responder: c.responder() } : {});
      const silicoServer = await startOpenAITestServer(c.responder ? { responder: c.responder() } : {});
      try {
        // 1. alter_ego
        const env = { ...process.env, OPENAI_BASE_URL: egoServer.url, OPENAI_KEY: "sk-differential-test" };
        const egoRun = await run(
          PYTHON,
          [RUN_EGO, "--built", built, "--times", String(c.times), "--seed", String(c.seed), "--workdir", dir],
          { env },
        );
        expect(egoRun.status, `run_ego.py failed:\n${egoRun.stderr}`).toBe(0);
        expect(egoRun.stderr).toMatch(/Experiment [0-9a-f-]+ OK/);
        const ego = JSON.parse(readFileSync(join(dir, "ego-run.json"), "utf8")) as EgoRun;
        expect(ego.conversations).toHaveLength(c.times);
        const data = await run(
          PYTHON,
          [
            "-c",
            "import sys\nfrom ego.cli import main\nsys.argv = ['ego'] + sys.argv[1:]\nmain()",
            "data",
            "built",
            ego.experiment,
          ],
          { cwd: dir, env: { ...env, BUILT_FILE: built } },
        );
        expect(data.status, `ego data failed:\n${data.stderr}`).toBe(0);
        const egoCsv = data.stdout;
        if (process.env.DEBUG_EGO) process.stderr.write(`${egoCsv}\n${egoRun.stderr}\n`);

        // 2. silico, replaying alter_ego's treatment draw
        const sequence = ego.conversations.map((x) => x.treatment);
        process.env.OPENAI_BASE_URL = silicoServer.url;
        process.env.OPENAI_API_KEY = "sk-differential-test";
        const study = alterEgoDesign.compile(readStudyFile(built), { treatmentSequence: sequence });
        const store = RunStore.open(join(dir, "silico.db"));
        const result = await startRun(study, { store, seed: 1, concurrency: 1 });
        const csvPath = join(dir, "silico-ego.csv");
        await writeEgoCsv(store, store.getRun(result.runId), csvPath);
        const silicoCsv = readFileSync(csvPath, "utf8");

        // 3. messages: the servers' logs, in order, and grouped per conversation and thread
        const egoRequests = requestsOf(egoServer);
        const silicoRequests = requestsOf(silicoServer);
        const egoGroups = egoGrouped(ego);
        const silicoGroups = silicoGrouped(store, result.runId, threadCount);
        expect(flatten(egoGroups)).toEqual(egoRequests); // the pickled histories are what was sent
        expect(flatten(silicoGroups)).toEqual(silicoRequests); // the store is what was sent
        expect(silicoRequests.length).toBe(egoRequests.length);
        for (let k = 0; k < egoRequests.length; k++) {
          expect(JSON.stringify(silicoRequests[k]), `request ${k + 1}`).toBe(JSON.stringify(egoRequests[k]));
        }
        expect(silicoGroups).toEqual(egoGroups);

        // 4. the exported choices
        const egoRows = parseCsv(egoCsv);
        const silicoRows = parseCsv(silicoCsv);
        expect(egoCsv.endsWith("\r\n") && silicoCsv.endsWith("\r\n")).toBe(true);
        expect(silicoCsv.replace(/\r\n/g, "").includes("\n")).toBe(false);
        expect(silicoRows[0]).toEqual(egoRows[0]);
        const header = egoRows[0] as string[];
        const col = (name: string) => header.indexOf(name);
        const egoConvoIndex = new Map(ego.conversations.map((x, k) => [x.convo, k]));
        const silicoKeys = testSql(store)
          .prepare("SELECT key FROM sessions WHERE run_id = ? ORDER BY idx")
          .pluck()
          .all(result.runId) as string[];
        const silicoConvoIndex = new Map(silicoKeys.map((key, k) => [key, k]));
        const pickCols = (rows: string[][], index: Map<string, number>) =>
          rows
            .slice(1)
            .map((r) => ({
              convo: index.get(r[col("convo")] as string),
              round: Number(r[col("round")]),
              i: r[col("i")],
              choice: r[col("choice")],
              treatment: r[col("treatment")],
              tainted: r[col("tainted")],
              thread_type: r[col("thread_type")],
            }))
            .sort(
              (a, b) =>
                (a.convo as number) - (b.convo as number) || a.round - b.round || Number(a.i) - Number(b.i),
            );
        const egoChoices = pickCols(egoRows, egoConvoIndex);
        const silicoChoices = pickCols(silicoRows, silicoConvoIndex);
        expect(egoChoices.every((r) => r.convo !== undefined)).toBe(true);
        expect(silicoChoices).toEqual(egoChoices);
        expect(egoChoices.length).toBeGreaterThan(0);

        // The case must have exercised what it claims to (else it proves little).
        const tainted = ego.conversations.filter((x) => x.threads[0]?.tainted).length;
        expect(new Set(sequence).size).toBeGreaterThan(1);
        if (c.responder) expect(tainted).toBeGreaterThan(0);
        if (c.responder) expect(tainted).toBeLessThan(c.times);
        totals.conversations += c.times;
        totals.requests += egoRequests.length;
        totals.messages += egoRequests.reduce((n, m) => n + m.length, 0);
        totals.rows += egoChoices.length;
        totals.tainted += tainted;
        store.close();
      } finally {
        await egoServer.close();
        await silicoServer.close();
      }
    }, 180_000);
  }
});
