import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ExcelJS from "exceljs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startRun } from "../../engine/run-study.js";
import { StudyError } from "../../errors.js";
import { registerMockModel } from "../../models/mock-model.js";
import { registerProvider, unregisterProvider } from "../../models/providers.js";
import type { ModelRequest, TokenLogprob } from "../../models/types.js";
import { RunStore } from "../../store/run-store.js";
import { readStudyFile } from "../../study/source.js";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { MACBEHAVIOUR_COLUMNS, macbehaviourExport, stimuliDesign, writeMacbehaviour } from "./index.js";
import { testSql } from "../../store/test-sql.js";
import { createTestRun } from "../../store/test-run.js";

let server: TestServer;
let dir: string;
const stores: RunStore[] = [];
// A 1×1 PNG.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);

beforeAll(async () => {
  server = await startOpenAITestServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "silico-stimuli-f-"));
  server.reset();
  server.setOptions({ responder: undefined, script: undefined });
});
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string | Buffer): void {
  writeFileSync(join(dir, name), text);
}

function study(body: string, model = "ts:m"): string {
  file(
    "study.yaml",
    `kind: stimuli\nmodel: ${model}\nproviders:\n  ts: { type: openai-compatible, base_url: "${server.url}" }\nsettings: { concurrency: 1 }\n${body}`,
  );
  return join(dir, "study.yaml");
}

async function run(path: string) {
  const store = RunStore.open(join(dir, "runs.db"));
  stores.push(store);
  const result = await startRun(stimuliDesign.compile(readStudyFile(path), {}), { store, seed: 3 });
  return { store, result, run: store.getRun(result.runId) };
}

function problems(path: string): string[] {
  try {
    stimuliDesign.compile(readStudyFile(path), {});
  } catch (e) {
    if (e instanceof StudyError) return e.problems.map((p) => `${p.where}: ${p.message}`);
    throw e;
  }
  throw new Error("expected the study to be rejected");
}

// biome-ignore lint/suspicious/noExplicitAny: request bodies are checked field by field
type Body = Record<string, any>;
const bodies = (path: string): Body[] =>
  server.requests.filter((r) => r.path === path).map((r) => r.body as Body);

const PRONOUNS =
  "Run,Item,Condition,Prompt\n1,1,male,Please complete the sentence: After Corlak went to bed\n1,2,female,Please complete the sentence: After Corla went to bed\n";

describe("log probabilities", () => {
  it("records p_<target> and covered per trial from the first answer token (end to end)", async () => {
    file("stimuli.csv", PRONOUNS);
    server.setOptions({
      responder: ({ messages }) => (JSON.stringify(messages).includes("Corlak") ? "he slept" : "she slept"),
    });
    const path = study(
      "stimuli: stimuli.csv\ndesign: one-trial-per-run\nparams: {logprobs: true, top_logprobs: 5, max_tokens: 10}\n" +
        "parse: {type: regex, pattern: '^\\s*(\\w+)', group: 1}\nmeasure: {targets: [he, she]}\n",
    );
    const { store, result } = await run(path);
    expect(result.status).toBe("done");
    const sent = bodies("/v1/chat/completions");
    expect(sent[0]).toMatchObject({ logprobs: true, top_logprobs: 5 });
    const obs = testSql(store)
      .prepare(
        "SELECT name, value, meta, json_extract(coords, '$.condition') AS condition FROM observations WHERE run_id = ? ORDER BY id",
      )
      .all(result.runId) as { name: string; value: string; meta: string | null; condition: string }[];
    expect(obs.map((o) => [o.condition, o.name])).toEqual([
      ["male", "answer"],
      ["male", "p_he"],
      ["male", "p_she"],
      ["male", "covered"],
      ["female", "answer"],
      ["female", "p_he"],
      ["female", "p_she"],
      ["female", "covered"],
    ]);
    // The test server's alternatives never name a pronoun, so each answer's own first token is all
    // the covered mass: p = 1 for the word said, covered = exp(its logprob).
    const first = JSON.parse(obs[0]?.meta as string).logprobs[0] as TokenLogprob;
    expect(first.token.trim()).toBe("he");
    expect(first.top?.length).toBe(5);
    expect(JSON.parse(obs[1]?.value as string)).toBe(1);
    expect(JSON.parse(obs[2]?.value as string)).toBe(0);
    expect(JSON.parse(obs[3]?.value as string)).toBeCloseTo(Math.exp(first.logprob), 12);
    expect(JSON.parse(obs[5]?.value as string)).toBe(0);
    expect(JSON.parse(obs[6]?.value as string)).toBe(1);
  });

  it("derives option probabilities from a choice parser without a measure key", async () => {
    file("stimuli.csv", 'Run,Item,Condition,Prompt\n1,1,a,"Answer ""ACCEPT"" or ""REJECT"""\n');
    const { store, result } = await run(
      study(
        "stimuli: stimuli.csv\ndesign: one-trial-per-run\nparams: {logprobs: true, top_logprobs: 3}\nparse: {type: choice, options: [ACCEPT, REJECT]}\n",
      ),
    );
    const names = testSql(store)
      .prepare("SELECT name FROM observations WHERE run_id = ? ORDER BY id")
      .pluck()
      .all(result.runId);
    expect(names).toEqual(["answer", "p_ACCEPT", "p_REJECT", "covered"]);
  });
});

describe("images", () => {
  it("sends local images inline as base64 and URLs as URLs", async () => {
    file("pic.png", PNG);
    file(
      "stimuli.csv",
      "Run,Item,Condition,Prompt\n1,1,a,Describe <img>pic.png</img> and <img>https://example.org/x.jpg</img> briefly\n",
    );
    const { result } = await run(study("stimuli: stimuli.csv\ndesign: one-trial-per-run\n"));
    expect(result.status).toBe("done");
    const user = bodies("/v1/chat/completions")[0]?.messages.at(-1);
    expect(user.content).toEqual([
      { type: "text", text: "Describe " },
      { type: "image_url", image_url: { url: `data:image/png;base64,${PNG.toString("base64")}` } },
      { type: "text", text: " and " },
      { type: "image_url", image_url: { url: "https://example.org/x.jpg" } },
      { type: "text", text: " briefly" },
    ]);
  });

  it("rejects images for a text-only model and in completion mode before any call", () => {
    file("pic.png", PNG);
    file(
      "stimuli.csv",
      "Run,Item,Condition,Prompt\n1,1,a,plain\n1,2,a,<text>Look</text><img>pic.png</img>\n",
    );
    expect(
      problems(study("stimuli: stimuli.csv\ndesign: one-trial-per-run\n", "local:smollm2-135m")),
    ).toEqual([
      "study.yaml:2: model: local:smollm2-135m takes text only, but stimuli.csv:3 has an image (<img>); use a model with image input",
    ]);
    expect(problems(study("stimuli: stimuli.csv\ndesign: one-trial-per-run\nmode: completion\n"))).toEqual([
      "stimuli.csv:3: has an <img> but mode: completion sends text only",
    ]);
    file("stimuli.csv", "Run,Item,Condition,Prompt\n1,1,a,<img>photo.bmp</img>\n1,2,a,<img>pic.png\n");
    expect(problems(study("stimuli: stimuli.csv\ndesign: one-trial-per-run\n"))).toEqual([
      'stimuli.csv:2: Prompt: image "photo.bmp": unsupported type (use .png, .jpg, .jpeg, .gif, .webp)',
      "stimuli.csv:3: Prompt: an <img> tag is not closed with </img>",
    ]);
    expect(server.requests).toHaveLength(0);
  });
});

describe("completion mode", () => {
  const STIMULI = "Run,Item,Condition,Prompt\n1,1,a,Once upon a time\n1,2,a,The end was\n";

  it("gives the design's exact text to the model: system, then each prompt directly followed by its answer, joined by newlines", async () => {
    const requests: ModelRequest[] = [];
    registerMockModel("stimuli-completion", (req) => {
      requests.push(req);
      return ` answer${requests.length}`;
    });
    file("stimuli.csv", STIMULI);
    const { result } = await run(
      study(
        "stimuli: stimuli.csv\ndesign: many-trials-per-run\nmode: completion\nsystem: A story.\n",
        "mock:stimuli-completion",
      ),
    );
    expect(result.status).toBe("done");
    expect(requests.map((r) => [r.mode, r.messages])).toEqual([
      ["completion", [{ role: "user", content: "A story.\nOnce upon a time" }]],
      ["completion", [{ role: "user", content: "A story.\nOnce upon a time answer1\nThe end was" }]],
    ]);
  });

  it("reaches /v1/completions of an OpenAI-compatible server with that text", async () => {
    file("stimuli.csv", STIMULI);
    server.setOptions({ script: [" far away", " near"] });
    const { store, result } = await run(
      study("stimuli: stimuli.csv\ndesign: many-trials-per-run\nmode: completion\nparams: {max_tokens: 5}\n"),
    );
    expect(result.status).toBe("done");
    expect(bodies("/v1/chat/completions")).toHaveLength(0);
    const sent = bodies("/v1/completions");
    expect(sent).toHaveLength(2);
    // Exactly the documented text: no chat labels, no added stop sequences.
    expect(sent[0]?.prompt).toBe("Once upon a time");
    expect(sent[1]?.prompt).toBe("Once upon a time far away\nThe end was");
    expect(sent[0]?.stop).toBeUndefined();
    expect(sent[0]?.max_tokens).toBe(5);
    const raws = testSql(store)
      .prepare("SELECT raw FROM observations WHERE run_id = ? ORDER BY id")
      .pluck()
      .all(result.runId);
    expect(raws).toEqual([" far away", " near"]);
  });
});

describe("macbehaviour layout", () => {
  it("writes MacBehaviour's columns in order, then provenance, answer and measures, to CSV and XLSX", async () => {
    file(
      "stimuli.csv",
      "Run,Item,Event,Condition,Prompt,Freq\n1,1,1,prime,Prime one,5\n1,1,2,target,Target one,5\n1,2,1,prime,Prime two,7\n1,2,2,target,Target two,7\n",
    );
    server.setOptions({ responder: ({ messages, choiceIndex }) => `he ${messages.length}.${choiceIndex}` });
    const { store, run: r } = await run(
      study(
        "stimuli: stimuli.csv\ndesign: many-trials-per-run\nsystem: Be brief.\nsessions: 2\nparams: {n: 2, logprobs: true, top_logprobs: 2, temperature: 0.5}\nparse_events: [2]\nparse: {type: choice, options: [he, she]}\n",
      ),
    );
    const { columns, rows } = macbehaviourExport(store, r);
    expect(columns).toEqual([
      ...MACBEHAVIOUR_COLUMNS,
      "model",
      "parameters",
      "input_tokens",
      "output_tokens",
      "cost_usd",
      "position",
      "answer",
      "valid",
      "p_he",
      "p_she",
      "covered",
      "Freq",
    ]);
    const all = [...rows()];
    expect(all).toHaveLength(16); // 2 repetitions × 4 events × 2 choices
    const head = all.slice(0, 4);
    expect(
      head.map((x) => [
        x.Session,
        x.Run,
        x.Item,
        x.Event,
        x.Trial,
        x.Condition,
        x.Prompt,
        x.N,
        x.answer,
        x.Freq,
      ]),
    ).toEqual([
      [1, 1, 1, 1, 1, "prime", "Prime one", 1, null, 5],
      [1, 1, 1, 1, 1, "prime", "Prime one", 2, null, 5],
      [1, 1, 1, 2, 1, "target", "Target one", 1, "he", 5],
      [1, 1, 1, 2, 1, "target", "Target one", 2, "he", 5],
    ]);
    expect(head[2]?.Response).toBe("he 4.0");
    expect(head[2]?.Message).toBe("system: Be brief.\nuser: Prime one\nassistant: he 2.0\nuser: Target one");
    expect(JSON.parse(head[2]?.parameters as string)).toMatchObject({ n: 2, temperature: 0.5 });
    expect(JSON.parse(head[2]?.rawResponse as string)).toHaveLength(2);
    expect(head[2]?.model).toBe("ts:m");
    expect(typeof head[2]?.input_tokens).toBe("number");
    expect(head[3]?.input_tokens).toBeNull();
    // Measures sit on the parsed event's rows only.
    expect(head[0]?.p_he).toBeNull();
    expect(head[2]?.p_he).toBe(1);
    expect(head[3]?.p_he).toBe(1);
    expect(head[2]?.covered).toBeGreaterThan(0.5);
    expect(all[8]?.Session).toBe(2);

    const out = join(dir, "mb.csv");
    expect(await writeMacbehaviour(store, r, "csv", out)).toBe(16);
    const csvText = readFileSync(out, "utf8");
    expect(csvText.split("\n")[0]).toBe(
      "Session,Run,Item,Event,Trial,Condition,Prompt,Response,N,Message,rawResponse,model,parameters,input_tokens,output_tokens,cost_usd,position,answer,valid,p_he,p_she,covered,Freq",
    );
    const xlsx = join(dir, "mb.xlsx");
    expect(await writeMacbehaviour(store, r, "xlsx", xlsx)).toBe(16);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(xlsx);
    const ws = wb.worksheets[0];
    expect(ws?.getRow(1).values).toEqual([undefined, ...columns]);
    expect(ws?.getRow(4).getCell(7).value).toBe("Target one");
    expect(ws?.rowCount).toBe(17);
  });

  it("refuses runs of other kinds", async () => {
    const store = RunStore.open(":memory:");
    stores.push(store);
    const id = createTestRun(store, { kind: "factorial" });
    expect(() => macbehaviourExport(store, store.getRun(id))).toThrow(/for stimulus-list runs/);
  });
});

describe("capabilities of a registered provider", () => {
  it("are asked, not its name: text only, no completion mode", () => {
    registerProvider(
      "plain",
      (_name, id) => ({
        info: { id, provider: "plain" },
        generate: async () => ({ choices: [{ text: "x", finishReason: "stop" }], warnings: [] }),
      }),
      { images: false, completionMode: false },
    );
    try {
      file("pic.png", PNG);
      file("stimuli.csv", "Run,Item,Condition,Prompt\n1,1,a,<text>Look</text><img>pic.png</img>\n");
      expect(problems(study("stimuli: stimuli.csv\ndesign: one-trial-per-run\n", "plain:v1"))).toEqual([
        "study.yaml:2: model: plain:v1 takes text only, but stimuli.csv:2 has an image (<img>); use a model with image input",
      ]);
      file("stimuli.csv", "Run,Item,Condition,Prompt\n1,1,a,plain text\n");
      expect(
        problems(study("stimuli: stimuli.csv\ndesign: one-trial-per-run\nmode: completion\n", "plain:v1")),
      ).toEqual(["study.yaml:2: model: plain:v1 has no text-completion endpoint (mode: completion)"]);
    } finally {
      unregisterProvider("plain");
    }
  });
});
