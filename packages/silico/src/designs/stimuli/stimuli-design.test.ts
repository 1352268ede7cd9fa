import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import ExcelJS from "exceljs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { commandRun } from "../../cli/commands-run.js";
import { resumeRun, startRun } from "../../engine/run-study.js";
import { StudyError } from "../../errors.js";
import { TidyExport } from "../../export/tidy-rows.js";
import { RunStore } from "../../store/run-store.js";
import { readStudyFile } from "../../study/source.js";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { compileStudyFile, registerDesign } from "../index.js";
import { stimuliDesign } from "./index.js";
import { testSql } from "../../store/test-sql.js";

registerDesign(stimuliDesign);

let server: TestServer;
let dir: string;
const stores: RunStore[] = [];

beforeAll(async () => {
  server = await startOpenAITestServer({ responder: ({ messages }) => `ok ${messages.length}` });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "silico-stimuli-"));
  server.reset();
  server.setOptions({ responder: ({ messages }) => `ok ${messages.length}` });
});
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

type Row = (string | number)[];

function csv(rows: Row[], name = "stimuli.csv"): string {
  const esc = (v: string | number) =>
    /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v);
  writeFileSync(join(dir, name), `${rows.map((r) => r.map(esc).join(",")).join("\r\n")}\r\n`);
  return name;
}

function study(body: string, name = "study.yaml"): string {
  const text = `kind: stimuli
model: ts:m
providers:
  ts: { type: openai-compatible, base_url: "${server.url}" }
settings: { concurrency: 1 }
${body}`;
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

function compile(path: string) {
  return stimuliDesign.compile(readStudyFile(path), {});
}

async function run(path: string, seed?: number) {
  const store = RunStore.open(join(dir, "runs.db"));
  stores.push(store);
  // No cache: repeated runs in one test must reach the server again.
  const result = await startRun(compile(path), {
    store,
    cache: "off",
    ...(seed !== undefined ? { seed } : {}),
  });
  return { store, result };
}

type Msg = { role: string; content: unknown };
const chats = (): Msg[][] =>
  server.requests
    .filter((r) => r.path === "/v1/chat/completions")
    .map((r) => (r.body as { messages: Msg[] }).messages);
const text = (m: Msg | undefined) =>
  typeof m?.content === "string" ? m.content : JSON.stringify(m?.content);
const userTexts = (msgs: Msg[]) => msgs.filter((m) => m.role === "user").map(text);

function compileProblems(path: string): string[] {
  try {
    compile(path);
  } catch (e) {
    if (e instanceof StudyError) return e.problems.map((p) => `${p.where}: ${p.message}`);
    throw e;
  }
  throw new Error("expected the study to be rejected");
}

/** Two lists (runs), two items each, prime (event 1) and target (event 2). */
const PRIME_TARGET: Row[] = [
  ["Run", "Item", "Event", "Condition", "Prompt", "Freq"],
  [1, 1, 1, "male", "L1 I1 prime", 12],
  [1, 1, 2, "male", "L1 I1 target", 12],
  [1, 2, 1, "female", "L1 I2 prime", "high"],
  [1, 2, 2, "female", "L1 I2 target", "high"],
  [2, 1, 2, "female", "L2 I1 target", 3],
  [2, 1, 1, "female", "L2 I1 prime", 3],
  [2, 2, 1, "male", "L2 I2 prime", ""],
  [2, 2, 2, "male", "L2 I2 target", ""],
];

describe("one-trial-per-run", () => {
  it("sends each item's events, in Event order, in a fresh conversation, and records coordinates and extra columns", async () => {
    csv(PRIME_TARGET);
    const path = study("stimuli: stimuli.csv\ndesign: one-trial-per-run\nsystem: Be brief.\nseed: 7\n");
    const { store, result } = await run(path);
    expect(result.status).toBe("done");
    expect(result.totals.sessions).toBe(4);
    const sent = chats();
    expect(sent).toHaveLength(8);
    // Each conversation: system, prime, answer, target — and nothing from other items.
    const conversations = sent.filter((m) => m.length === 4);
    expect(conversations.map((m) => [m[0]?.role, ...userTexts(m)])).toEqual([
      ["system", "L1 I1 prime", "L1 I1 target"],
      ["system", "L1 I2 prime", "L1 I2 target"],
      ["system", "L2 I1 prime", "L2 I1 target"],
      ["system", "L2 I2 prime", "L2 I2 target"],
    ]);
    expect(text(conversations[0]?.[2])).toBe("ok 2");

    const t = new TidyExport(store, store.getRun(result.runId));
    expect(t.columns.slice(0, 12)).toEqual([
      "run",
      "session",
      "model",
      "repetition",
      "list",
      "trial",
      "item",
      "event",
      "position",
      "condition",
      "Freq",
      "participant",
    ]);
    const rows = [...t.rows()].map((r) => [
      r.list,
      r.item,
      r.trial,
      r.event,
      r.position,
      r.condition,
      r.Freq,
      r.name,
    ]);
    expect(rows).toEqual([
      [1, 1, 1, 1, 1, "male", 12, "answer"],
      [1, 1, 1, 2, 2, "male", 12, "answer"],
      [1, 2, 2, 1, 1, "female", "high", "answer"],
      [1, 2, 2, 2, 2, "female", "high", "answer"],
      [2, 1, 1, 1, 1, "female", 3, "answer"],
      [2, 1, 1, 2, 2, "female", 3, "answer"],
      [2, 2, 2, 1, 1, "male", null, "answer"],
      [2, 2, 2, 2, 2, "male", null, "answer"],
    ]);
    const keys = testSql(store)
      .prepare("SELECT key FROM sessions WHERE run_id = ? ORDER BY idx")
      .pluck()
      .all(result.runId);
    expect(new Set(keys).size).toBe(4);
    // Keys come from the coordinates, so a second compile gives the same ones.
    const again = [...compile(path).plan(1).sessions()].map((s) => s.key);
    expect(again).toEqual(keys);
  });

  it("parses only parse_events; other events are recorded as text responses", async () => {
    csv(PRIME_TARGET);
    server.setOptions({ responder: ({ messages }) => (messages.length > 2 ? "B" : "whatever") });
    const path = study(
      "stimuli: stimuli.csv\ndesign: one-trial-per-run\nparse: {type: choice, options: [A, B]}\nparse_events: [2]\n",
    );
    const { store, result } = await run(path);
    expect(result.status).toBe("done");
    const obs = testSql(store)
      .prepare("SELECT name, value, valid FROM observations WHERE run_id = ? ORDER BY id")
      .all(result.runId);
    expect(obs.slice(0, 2)).toEqual([
      { name: "response", value: '"whatever"', valid: 1 },
      { name: "answer", value: '"B"', valid: 1 },
    ]);
  });

  it("gives identical conversations in different lists their own draws instead of one cached answer", async () => {
    csv([
      ["Run", "Item", "Condition", "Prompt"],
      [1, 1, "filler", "Same filler"],
      [2, 1, "filler", "Same filler"],
    ]);
    const { result } = await run(study("stimuli: stimuli.csv\ndesign: one-trial-per-run\n"));
    expect(result.totals.cacheHits).toBe(0);
    expect(chats()).toHaveLength(2);
  });
});

describe("many-trials-per-run", () => {
  it("runs one conversation per Run with every earlier prompt and answer as context", async () => {
    csv(PRIME_TARGET);
    const { store, result } = await run(
      study("stimuli: stimuli.csv\ndesign: many-trials-per-run\nsystem: S\n"),
    );
    expect(result.totals.sessions).toBe(2);
    const sent = chats();
    expect(sent).toHaveLength(8);
    const last = sent[3] as Msg[];
    expect(last.map((m) => m.role)).toEqual([
      "system",
      "user",
      "assistant",
      "user",
      "assistant",
      "user",
      "assistant",
      "user",
    ]);
    expect(userTexts(last)).toEqual(["L1 I1 prime", "L1 I1 target", "L1 I2 prime", "L1 I2 target"]);
    expect(last.filter((m) => m.role === "assistant").map(text)).toEqual(["ok 2", "ok 4", "ok 6"]);
    // The second Run starts afresh; its events are sent by Event number, not file order.
    expect(userTexts(sent[5] as Msg[])).toEqual(["L2 I1 prime", "L2 I1 target"]);
    const trials = testSql(store)
      .prepare("SELECT json_extract(coords, '$.trial') AS t FROM observations WHERE run_id = ? ORDER BY id")
      .pluck()
      .all(result.runId);
    expect(trials).toEqual([1, 1, 2, 2, 1, 1, 2, 2]);
  });

  it("with n > 1 records every choice and continues the conversation with the first", async () => {
    csv(PRIME_TARGET.slice(0, 3));
    server.setOptions({
      responder: ({ choiceIndex, messages }) => `choice${choiceIndex} after ${messages.length}`,
    });
    const { store, result } = await run(
      study("stimuli: stimuli.csv\ndesign: many-trials-per-run\nparams: {n: 2}\n"),
    );
    expect(result.status).toBe("done");
    expect(result.warnings.join()).toMatch(/continues with the first choice/);
    const obs = testSql(store)
      .prepare("SELECT choice_index, raw FROM observations WHERE run_id = ? AND name = 'answer' ORDER BY id")
      .all(result.runId) as { choice_index: number; raw: string }[];
    expect(obs.map((o) => o.choice_index)).toEqual([0, 1, 0, 1]);
    const sent = chats();
    const second = sent.at(-1) as Msg[];
    expect(second.map(text)).toEqual(["L1 I1 prime", obs[0]?.raw, "L1 I1 target"]);
  });
});

describe("randomisation", () => {
  const MANY: Row[] = [["Run", "Item", "Event", "Condition", "Prompt"]];
  for (let item = 1; item <= 6; item++)
    for (let event = 1; event <= 3; event++) MANY.push([1, item, event, "c", `i${item}e${event}`]);

  const order = () => userTexts(chats().at(-1) as Msg[]);

  it("shuffles items and events reproducibly from the seed and really changes what is sent", async () => {
    csv(MANY);
    const path = study("stimuli: stimuli.csv\ndesign: many-trials-per-run\nrandomize: [items, events]\n");
    const { store, result } = await run(path, 11);
    const first = order();
    expect(first).toHaveLength(18);
    expect([...first].sort()).toEqual(
      MANY.slice(1)
        .map((r) => r[4])
        .sort(),
    );
    const itemOrder = first.filter((_, i) => i % 3 === 0).map((s) => s.slice(0, 2));
    const eventOrders = [0, 3, 6, 9, 12, 15].map((i) =>
      first
        .slice(i, i + 3)
        .map((s) => s.slice(2))
        .join(" "),
    );
    // Events of an item stay together, and their order varies (a real reorder, not a relabel).
    expect(eventOrders.some((o) => o !== "e1 e2 e3")).toBe(true);
    expect(itemOrder.join(" ")).not.toBe("i1 i2 i3 i4 i5 i6");

    // The recorded position and trial match what was sent.
    const rows = testSql(store)
      .prepare(
        "SELECT json_extract(coords,'$.trial') t, json_extract(coords,'$.item') i, json_extract(coords,'$.event') e, json_extract(coords,'$.position') p FROM observations WHERE run_id = ? ORDER BY id",
      )
      .all(result.runId) as { t: number; i: number; e: number; p: number }[];
    expect(rows.map((r) => `i${r.i}e${r.e}`)).toEqual(first);
    expect(rows.map((r) => r.p)).toEqual(Array.from({ length: 18 }, (_, k) => (k % 3) + 1));
    expect(rows.map((r) => r.t)).toEqual(Array.from({ length: 18 }, (_, k) => Math.floor(k / 3) + 1));

    server.reset();
    await run(path, 11);
    expect(order()).toEqual(first);
    server.reset();
    await run(path, 12);
    expect(order()).not.toEqual(first);
  });

  it("re-randomises each repetition (sessions: k) and records the repetition", async () => {
    csv(MANY);
    const { store, result } = await run(
      study("stimuli: stimuli.csv\ndesign: many-trials-per-run\nrandomize: items\nsessions: 3\n"),
      5,
    );
    expect(result.totals.sessions).toBe(3);
    const finals = chats()
      .filter((m) => m.filter((x) => x.role === "user").length === 18)
      .map(userTexts);
    expect(finals).toHaveLength(3);
    expect(new Set(finals.map((f) => f.join())).size).toBe(3);
    // Events are not shuffled here.
    for (const f of finals)
      for (let i = 0; i < 18; i += 3)
        expect(f.slice(i, i + 3).map((s) => s.slice(2))).toEqual(["e1", "e2", "e3"]);
    const reps = testSql(store)
      .prepare(
        "SELECT DISTINCT json_extract(coords, '$.repetition') FROM sessions WHERE run_id = ? ORDER BY 1",
      )
      .pluck()
      .all(result.runId);
    expect(reps).toEqual([1, 2, 3]);
  });
});

describe("resume", () => {
  it("re-runs a failed Run with the same key and order, without duplicating observations", async () => {
    csv(PRIME_TARGET);
    const path = study("stimuli: stimuli.csv\ndesign: many-trials-per-run\nrandomize: [items, events]\n");
    server.setOptions({ failFirst: { count: 1, status: 400 } });
    const { store, result } = await run(path, 21);
    expect(result.status).toBe("partial");
    expect(result.totals.failed).toBe(1);
    // The first request (refused) opened Run 1; Run 2 ran through.
    const refused = userTexts(chats()[0] as Msg[]);
    const firstOrder = userTexts(chats().at(-1) as Msg[]);
    server.setOptions({ failFirst: { count: 0, status: 400 } });
    server.reset();
    const resumed = await resumeRun(result.runId, { store, retryFailed: true });
    expect(resumed.totals).toMatchObject({ done: 2 });
    expect(resumed.status).toBe("done");
    // Only the failed Run was sent again, in the order the seed gave it the first time.
    const again = chats();
    expect(again).toHaveLength(4);
    const lists = new Set(again.map((m) => userTexts(m)[0]?.slice(0, 2)));
    expect(lists.size).toBe(1);
    expect(firstOrder[0]?.slice(0, 2)).toBe("L2");
    expect(userTexts(again[0] as Msg[])).toEqual(refused);
    const rows = [...new TidyExport(store, store.getRun(result.runId)).rows()];
    expect(rows).toHaveLength(8);
    expect(new Set(rows.map((r) => `${r.list}/${r.item}/${r.event}`)).size).toBe(8);
    const keys = [...compile(path).plan(21).sessions()].map((s) => s.key).sort();
    expect([...new Set(rows.map((r) => r.session))].sort()).toEqual(keys);
  });
});

describe("xlsx stimuli", () => {
  async function workbook(sheets: Record<string, unknown[][]>, name = "stimuli.xlsx") {
    const wb = new ExcelJS.Workbook();
    for (const [sheet, rows] of Object.entries(sheets)) {
      const ws = wb.addWorksheet(sheet);
      for (const r of rows) ws.addRow(r);
    }
    await wb.xlsx.writeFile(join(dir, name));
  }

  it("reads the chosen sheet (rich text, numbers, renamed columns) and runs it", async () => {
    await workbook({
      Other: [["nothing", "here"]],
      Stim: [
        ["List", "ItemNo", "Cond", "Text", "Note"],
        [1, 1, "a", { richText: [{ text: "Rich " }, { text: "prompt", font: { bold: true } }] }, "x"],
        [1, 2, "b", "Second\nline", 2.5],
      ],
    });
    const path = study(
      "stimuli: stimuli.xlsx\nsheet: Stim\ncolumns: {run: List, item: ItemNo, condition: Cond, prompt: Text}\ndesign: many-trials-per-run\n",
    );
    const { store, result } = await run(path);
    expect(result.status).toBe("done");
    expect(userTexts(chats().at(-1) as Msg[])).toEqual(["Rich prompt", "Second\nline"]);
    const notes = testSql(store)
      .prepare("SELECT json_extract(coords, '$.Note') FROM observations WHERE run_id = ? ORDER BY id")
      .pluck()
      .all(result.runId);
    expect(notes).toEqual(["x", 2.5]);
    const manifest = store.getRun(result.runId).manifest as { stimuli: { sheet: string; sha256: string } };
    expect(manifest.stimuli.sheet).toBe("Stim");
    expect(manifest.stimuli.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("names the sheets when the chosen one does not exist, and locates bad rows by sheet and row", async () => {
    await workbook({
      Stim: [
        ["Run", "Item", "Condition", "Prompt"],
        [1, 1, "a", "ok"],
        [1, 2, "a", ""],
        [1, 2.5, "a", "x"],
      ],
    });
    expect(compileProblems(study("stimuli: stimuli.xlsx\nsheet: Nope\ndesign: one-trial-per-run\n"))).toEqual(
      ['stimuli.xlsx: no sheet "Nope" in the workbook (sheets: "Stim")'],
    );
    expect(compileProblems(study("stimuli: stimuli.xlsx\ndesign: one-trial-per-run\n"))).toEqual([
      "stimuli.xlsx[Stim]:3: Prompt is empty",
      "stimuli.xlsx[Stim]:4: Item must be a whole number ≥ 0, got 2.5",
    ]);
  });

  it("reports a file that is not a workbook", () => {
    writeFileSync(join(dir, "stimuli.xlsx"), "not a zip");
    const problems = compileProblems(study("stimuli: stimuli.xlsx\ndesign: one-trial-per-run\n"));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^stimuli\.xlsx: cannot read the workbook/);
  });
});

describe("validation", () => {
  it("lists the columns that are there when a required one is missing, and writes nothing", async () => {
    csv([
      ["Run", "Item", "Cond", "Text"],
      [1, 1, "a", "x"],
    ]);
    const path = study("stimuli: stimuli.csv\ndesign: one-trial-per-run\n");
    expect(compileProblems(path)).toEqual([
      'stimuli.csv:1: no column "Condition" (map another column to it with columns: {condition: NAME}); the file has: "Run", "Item", "Cond", "Text"',
      'stimuli.csv:1: no column "Prompt" (map another column to it with columns: {prompt: NAME}); the file has: "Run", "Item", "Cond", "Text"',
    ]);
    const db = join(dir, "never.db");
    await expect(commandRun(path, { db, quiet: true }, db)).rejects.toBeInstanceOf(StudyError);
    expect(existsSync(db)).toBe(false);
    expect(server.requests).toHaveLength(0);
  });

  it("locates empty prompts, duplicates, non-integers and field-count errors at their lines", () => {
    writeFileSync(
      join(dir, "stimuli.csv"),
      [
        "Run,Item,Event,Condition,Prompt",
        "1,1,1,a,first",
        '1,2,1,a,"multi',
        'line"',
        "1,3,1,a,",
        "1,1,1,b,again",
        "x,4,1,a,p",
        "1,5,1.5,a,p",
        "1,6,1,a,p,extra",
        "1,7,1,a,<img>missing.png</img>",
        "",
      ].join("\n"),
    );
    expect(compileProblems(study("stimuli: stimuli.csv\ndesign: many-trials-per-run\n"))).toEqual([
      "stimuli.csv:5: Prompt is empty",
      "stimuli.csv:6: duplicate Run 1, Item 1, Event 1 (first at stimuli.csv:2)",
      'stimuli.csv:7: Run must be a whole number ≥ 0, got "x"',
      'stimuli.csv:8: Event must be a whole number ≥ 0, got "1.5"',
      "stimuli.csv:9: has 6 fields but the header has 5 (a delimiter or quote is off?)",
      expect.stringMatching(/^stimuli\.csv:10: Prompt: image file "missing\.png" not found/),
    ]);
  });

  it("reports an unreadable stimulus file and study-level mistakes together", () => {
    const path = study(
      "stimuli: nothing.csv\ndesign: one-per-run\nrandomize: trials\nsessions: 0\nmeasure: {targets: [he, she]}\nmode: completion\nreask: 2\n",
    );
    const problems = compileProblems(path);
    expect(problems).toEqual([
      'study.yaml:7: design: must be one-trial-per-run or many-trials-per-run, got the text "one-per-run"',
      "study.yaml:9: sessions: must be a whole number ≥ 1 (repetitions of the whole list), got number 0",
      'study.yaml:8: randomize: must be items, events, [items, events] or none, got the text "trials"',
      "study.yaml:12: reask: re-asking is not available in completion mode (there is no conversation to correct)",
      `nothing.csv: cannot read the stimulus file: no such file (looked for ${join(dirname(path), "nothing.csv")}; paths are relative to the study file's folder)`,
      "study.yaml:10: measure: needs log probabilities: add params: {logprobs: true, top_logprobs: 5}",
    ]);
  });

  it("rejects parse_events naming an Event no row has", () => {
    csv(PRIME_TARGET);
    expect(
      compileProblems(study("stimuli: stimuli.csv\ndesign: one-trial-per-run\nparse_events: [3]\n")),
    ).toEqual(["study.yaml:8: parse_events[0]: no row has Event 3 (events: 1, 2)"]);
  });
});

describe("stimulus rows in the study itself", () => {
  const study = (stimuli: string) =>
    `kind: stimuli\ndesign: one-trial-per-run\nmodel: mock:echo\nseed: 1\nstimuli: ${stimuli}\n`;

  it("runs a list of rows given under stimuli:, and resumes it from the stored text", async () => {
    const path = join(dir, "inline.yaml");
    writeFileSync(
      path,
      study(
        "\n  - {Run: 1, Item: 1, Condition: a, Prompt: Say yes.}\n  - {Run: 2, Item: 1, Condition: b, Prompt: Say no.}",
      ),
    );
    const store = RunStore.open(join(dir, "inline.db"));
    stores.push(store);
    const result = await startRun(compileStudyFile(path), { store });
    expect(result.status).toBe("done");
    const values = [...new TidyExport(store, store.getRun(result.runId)).rows()].map((r) => [
      r.condition,
      r.value,
    ]);
    expect(values).toEqual([
      ["a", "Say yes."],
      ["b", "Say no."],
    ]);
    const resumed = await resumeRun(result.runId, { store });
    expect(resumed.status).toBe("done");
  });

  it("says what stimuli: takes, and refuses an empty list or a row that is not a record", () => {
    const problems = (text: string) => {
      const path = join(dir, "bad.yaml");
      writeFileSync(path, text);
      try {
        stimuliDesign.compile(readStudyFile(path), {});
      } catch (e) {
        return (e as StudyError).problems.map((p) => `${p.where}: ${p.message}`);
      }
      return [];
    };
    expect(problems(study("5"))).toEqual([
      'bad.yaml:5: stimuli: needs "stimuli": the path of a .csv or .xlsx file (relative to the study file), or a list of rows',
    ]);
    expect(problems(study("[]"))).toEqual(["bad.yaml:5: stimuli: needs at least one row"]);
    expect(problems(study("\n  - just text"))).toEqual([
      "bad.yaml:6: stimuli[0]: must be a record of column names to values",
    ]);
  });
});
