import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ExcelJS from "exceljs";
import { compileStudyText, readStimulusTable, StudyError } from "silico";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStudio, type StudioHandle } from "./server.js";
import { http, type Reply } from "./testing/fixtures.js";

const SCHEMAS = join(import.meta.dirname, "..", "..", "silico", "schemas");
const EGO_FIXTURES = join(
  import.meta.dirname,
  "..",
  "..",
  "silico",
  "src",
  "designs",
  "alter-ego",
  "testdata",
);

const STIMULI_STUDY = `kind: stimuli
name: pronouns
stimuli: lists/items.csv
model: mock:random
design: one-trial-per-run
`;
// Semicolons, CRLF line ends and a quoted field: the saved file must keep all three.
const ITEMS_CSV =
  'Run;Item;Condition;Prompt\r\n1;1;male;"Complete: After Corlak woke up, ..."\r\n1;2;female;After Lissa woke up, ...\r\n';

const OTREE_STUDY = `kind: otree
name: ug bots
otree:
  url: http://127.0.0.1:9
session:
  config: ultimatum
  participants: 3
humans: 1
bots:
  model: mock:random
  system: "You are {{ persona.name }}, seat {{ seat }}, playing {{ session_config.name }}."
  personas:
    - { name: Ada }
    - { name: Ben }
providers:
  ts: { type: openai-compatible, base_url: "http://127.0.0.1:9" }
`;

const AGENTS_STUDY = `kind: agents
name: helpers
model: mock:random
agents:
  advisor:
    system: "You advise on {{ app }}, round {{ round }}. Budget {{ budget }}."
    prompt: "Participant says: {{ message }}"
  judge:
    owner: group
`;

/** silico's own problems for a study file as the CLI compiles it: `where: message`. */
function cliProblems(text: string, path: string): string[] {
  try {
    compileStudyText(text, path);
    return [];
  } catch (e) {
    if (e instanceof StudyError) return e.problems.map((p) => `${p.where}: ${p.message}`);
    throw e;
  }
}

describe("studio builder: schema forms, stimulus tables, kind otree and agents", () => {
  let studio: StudioHandle;
  let dir: string;
  const auth = () => ({ "x-silico-token": studio.token });
  const get = (path: string) => http(studio.port, path, { headers: auth() });
  const post = (path: string, body: unknown, method = "POST") =>
    http(studio.port, path, { method, headers: auth(), body });
  const json = <T = Record<string, unknown>>(r: Reply): T => JSON.parse(r.text) as T;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "silico-studio-builder-"));
    mkdirSync(join(dir, "lists"));
    writeFileSync(join(dir, "stimuli.yaml"), STIMULI_STUDY);
    writeFileSync(join(dir, "lists", "items.csv"), ITEMS_CSV);
    studio = await startStudio({ db: "silico.db", projectDir: dir, port: 0, env: {} });
  });

  afterAll(async () => {
    await studio?.close();
  });

  it("serves the JSON Schema of every kind, the same as the schema files silico ships", async () => {
    const r = await get("/api/schemas");
    expect(r.status).toBe(200);
    const schemas = json<Record<string, Record<string, unknown>>>(r);
    expect(Object.keys(schemas).sort()).toEqual([
      "agents",
      "alter_ego",
      "factorial",
      "game",
      "otree",
      "stimuli",
    ]);
    for (const kind of Object.keys(schemas))
      expect(schemas[kind]).toEqual(JSON.parse(readFileSync(join(SCHEMAS, `${kind}.schema.json`), "utf8")));
    const otree = schemas.otree as { properties: Record<string, { properties?: Record<string, unknown> }> };
    expect(Object.keys(otree.properties.bots?.properties ?? {})).toContain("memory");
  });

  it("a form edit of a setting changes only that line; a text field stays text", async () => {
    const text = `kind: factorial
# the prompt
prompt: "Rate {{ thing }}"
levels: { thing: [tea, coffee] }
model: mock:random
settings:
  concurrency: 2 # two at a time
  max_cost: 1
`;
    const r = await post("/api/study/edit", {
      path: "f.yaml",
      text,
      edits: [{ op: "set", path: ["settings", "concurrency"], value: "8" }],
    });
    expect(r.status).toBe(200);
    const out = json<{ text: string; ok: boolean; data: Record<string, unknown> }>(r);
    expect(out.ok).toBe(true);
    const before = text.split("\n");
    const after = out.text.split("\n");
    expect(after.length).toBe(before.length);
    expect(after.filter((l, i) => l !== before[i])).toEqual(["  concurrency: 8 # two at a time"]);
    expect(out.data.settings).toEqual({ concurrency: 8, max_cost: 1 });
    // `as: text`: a name that reads as a number or true/false stays a string.
    const named = json<{ text: string }>(
      await post("/api/study/edit", {
        path: "f.yaml",
        text,
        edits: [{ op: "set", path: ["name"], value: "true", as: "text" }],
      }),
    );
    expect(named.text).toBe(`${text}name: "true"\n`);
  });

  it("reads a CSV stimulus list as a table, in the file's own columns", async () => {
    const r = await post("/api/study/stimuli", { path: "stimuli.yaml", text: STIMULI_STUDY });
    expect(r.status).toBe(200);
    const { grid } = json<{ grid: Record<string, unknown> }>(r);
    expect(grid).toMatchObject({
      source: "file",
      file: "lists/items.csv",
      path: "lists/items.csv",
      format: "csv",
      delimiter: ";",
      header: ["Run", "Item", "Condition", "Prompt"],
      rows: [
        ["1", "1", "male", "Complete: After Corlak woke up, ..."],
        ["1", "2", "female", "After Lissa woke up, ..."],
      ],
    });
  });

  it("checks an edited, unsaved table as the CLI would: same messages, same locations, on the row and column", async () => {
    const header = ["Run", "Item", "Condition", "Prompt"];
    const rows = [
      ["1", "1", "male", "Line one\nline two"],
      ["1", "x", "female", "After Lissa woke up, ..."],
      ["1", "3", "male", ""],
    ];
    const r = await post("/api/study/preview", {
      path: "stimuli.yaml",
      text: STIMULI_STUDY,
      stimuli: { header, rows },
    });
    expect(r.status).toBe(200);
    const out = json<{
      ok: boolean;
      problems: { where: string; message: string; line?: number }[];
      stimuliProblems: { row: number; column: number; where: string; message: string }[];
    }>(r);
    expect(out.ok).toBe(false);
    // The CLI on the same table saved as a file (in another folder: the project is not touched).
    const other = mkdtempSync(join(tmpdir(), "silico-studio-cli-"));
    mkdirSync(join(other, "lists"));
    writeFileSync(
      join(other, "lists", "items.csv"),
      'Run;Item;Condition;Prompt\r\n1;1;male;"Line one\r\nline two"\r\n1;x;female;After Lissa woke up, ...\r\n1;3;male;\r\n',
    );
    const cli = cliProblems(STIMULI_STUDY, join(other, "stimuli.yaml"));
    expect(cli.length).toBeGreaterThan(0);
    expect(out.problems.map((p) => `${p.where}: ${p.message}`)).toEqual(cli);
    // The record after the two-line one starts on line 4.
    expect(out.stimuliProblems).toEqual([
      { row: 1, column: 1, where: "lists/items.csv:4", message: 'Item must be a whole number ≥ 0, got "x"' },
      { row: 2, column: 3, where: "lists/items.csv:5", message: "Prompt is empty" },
    ]);
    // A stimulus file's line is not a line of the study: the editor marks the study's `stimuli:` line.
    expect(out.problems.map((p) => p.line)).toEqual(out.problems.map(() => 3));
    // The check left nothing behind, and the file is unchanged until saved.
    expect(readdirSync(join(dir, "lists"))).toEqual(["items.csv"]);
    expect(readFileSync(join(dir, "lists", "items.csv"), "utf8")).toBe(ITEMS_CSV);
  });

  it("previews the edited table before it is saved, then saves it as CSV in the file's own style", async () => {
    const header = ["Run", "Item", "Condition", "Prompt", "Length"];
    const rows = [
      ["1", "1", "male", "After Corlak woke up, he; said", "short"],
      ["1", "2", "female", 'She said "hi"', "long"],
      ["2", "1", "female", "A third item", ""],
    ];
    const p = json<{
      ok: boolean;
      preview: { total: number; participants: { turns: { messages: { content: string }[] }[] }[] };
    }>(
      await post("/api/study/preview", {
        path: "stimuli.yaml",
        text: STIMULI_STUDY,
        stimuli: { header, rows },
      }),
    );
    expect(p.ok).toBe(true);
    expect(p.preview.total).toBe(3);
    expect(JSON.stringify(p.preview.participants)).toContain("After Corlak woke up, he; said");
    const r = await post(
      "/api/stimuli",
      { path: "stimuli.yaml", text: STIMULI_STUDY, stimuli: { header, rows } },
      "PUT",
    );
    expect(r.status).toBe(200);
    expect(readFileSync(join(dir, "lists", "items.csv"), "utf8")).toBe(
      'Run;Item;Condition;Prompt;Length\r\n1;1;male;"After Corlak woke up, he; said";short\r\n1;2;female;"She said ""hi""";long\r\n2;1;female;A third item;\r\n',
    );
    expect(json<{ grid: { rows: string[][] } }>(r).grid.rows).toEqual(rows);
    // The saved file is what the CLI reads.
    expect(cliProblems(STIMULI_STUDY, join(dir, "stimuli.yaml"))).toEqual([]);
    writeFileSync(join(dir, "lists", "items.csv"), ITEMS_CSV);
  });

  it("saves an XLSX list with exceljs: its sheet rewritten, the other sheets kept", async () => {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet("Items");
    ws.addRow(["Run", "Item", "Condition", "Prompt"]);
    ws.addRow([1, 1, "a", "First"]);
    ws.addRow([1, 2, "b", "Second"]);
    wb.addWorksheet("Notes").addRow(["keep me"]);
    await wb.xlsx.writeFile(join(dir, "list.xlsx"));
    const text = STIMULI_STUDY.replace("lists/items.csv", "list.xlsx");
    const { grid } = json<{ grid: { format: string; sheet: string; rows: string[][] } }>(
      await post("/api/study/stimuli", { path: "stimuli.yaml", text }),
    );
    expect(grid).toMatchObject({
      format: "xlsx",
      sheet: "Items",
      rows: [
        ["1", "1", "a", "First"],
        ["1", "2", "b", "Second"],
      ],
    });
    const bad = json<{ stimuliProblems: { row: number; column: number; where: string }[] }>(
      await post("/api/study/preview", {
        path: "stimuli.yaml",
        text,
        stimuli: {
          header: ["Run", "Item", "Condition", "Prompt"],
          rows: [
            ["1", "1", "a", "First"],
            ["1", "1", "b", "Again"],
          ],
        },
      }),
    );
    expect(bad.stimuliProblems).toEqual([expect.objectContaining({ row: 1, where: "list.xlsx[Items]:3" })]);
    const r = await post(
      "/api/stimuli",
      {
        path: "stimuli.yaml",
        text,
        stimuli: { header: ["Run", "Item", "Condition", "Prompt"], rows: [["1", "1", "a", "Edited"]] },
      },
      "PUT",
    );
    expect(r.status).toBe(200);
    const back = readStimulusTable(join(dir, "list.xlsx"), "list.xlsx");
    expect(back.header).toEqual(["Run", "Item", "Condition", "Prompt"]);
    expect(back.rows.map((x) => x.cells)).toEqual([[1, 1, "a", "Edited"]]);
    const again = new ExcelJS.Workbook();
    await again.xlsx.readFile(join(dir, "list.xlsx"));
    expect(again.worksheets.map((w) => w.name)).toEqual(["Items", "Notes"]);
    expect(again.getWorksheet("Notes")?.getRow(1).getCell(1).value).toBe("keep me");
  });

  it("places problems of inline rows on the table, and edits them in the study text", async () => {
    const text = `kind: stimuli
model: mock:random
design: one-trial-per-run
stimuli:
  - { Run: 1, Item: 1, Condition: a, Prompt: "First" }
  - { Run: 1, Item: 2, Condition: b, Prompt: "" }
`;
    const grid = json<{ grid: { source: string; header: string[]; rows: string[][] } }>(
      await post("/api/study/stimuli", { path: "inline.yaml", text }),
    ).grid;
    expect(grid).toEqual({
      source: "inline",
      file: "stimuli",
      format: "rows",
      header: ["Run", "Item", "Condition", "Prompt"],
      rows: [
        ["1", "1", "a", "First"],
        ["1", "2", "b", ""],
      ],
    });
    const p = json<{ problems: { where: string; message: string }[]; stimuliProblems: unknown[] }>(
      await post("/api/study/preview", { path: "inline.yaml", text }),
    );
    expect(p.problems).toEqual([{ where: "inline.yaml:6: stimuli[1]", message: "Prompt is empty", line: 6 }]);
    expect(p.stimuliProblems).toEqual([
      { row: 1, column: 3, where: "inline.yaml:6: stimuli[1]", message: "Prompt is empty" },
    ]);
    const e = json<{ text: string; ok: boolean }>(
      await post("/api/study/edit", {
        path: "inline.yaml",
        text,
        edits: [{ op: "set", path: ["stimuli", 1, "Prompt"], value: "Second: yes", as: "text" }],
      }),
    );
    expect(e.ok).toBe(true);
    expect(e.text).toBe(text.replace('Prompt: "" }', 'Prompt: "Second: yes" }'));
  });

  it("previews an otree study without a server: each bot seat's rendered system prompt", async () => {
    const r = await post("/api/study/preview", { path: "ug.yaml", text: OTREE_STUDY });
    const out = json<{
      ok: boolean;
      scope: string[];
      preview: {
        kind: string;
        humans: number[];
        participants: {
          id: string;
          model: string;
          turns: { messages: { role: string; content: string }[] }[];
        }[];
      };
    }>(r);
    expect(out.ok).toBe(true);
    expect(out.preview.kind).toBe("otree");
    expect(out.preview.humans).toEqual([1]);
    expect(out.preview.participants.map((p) => p.id)).toEqual(["seat 2", "seat 3"]);
    const systems = out.preview.participants.map((p) => p.turns[0]?.messages[0]);
    for (const [i, m] of systems.entries()) {
      expect(m?.role).toBe("system");
      expect(m?.content).toMatch(new RegExp(`^You are (Ada|Ben), seat ${i + 2}, playing ultimatum\\.$`));
    }
    expect(out.scope).toEqual(
      expect.arrayContaining(["persona", "persona.name", "seat", "session_config.name"]),
    );
    // Its model is chosen at run time like any other: the bots' model.
    const chosen = json<{ preview: { participants: { model: string }[] } }>(
      await post("/api/study/preview", { path: "ug.yaml", text: OTREE_STUDY, models: ["ts:other"] }),
    );
    expect(chosen.preview.participants.map((p) => p.model)).toEqual(["ts:other", "ts:other"]);
  });

  it("shows an otree study's problems inline, located as the CLI locates them", async () => {
    const text = OTREE_STUDY.replace("{{ persona.name }}", "{{ persona.nme }}").replace(
      "humans: 1",
      "humans: 5",
    );
    const out = json<{ ok: boolean; problems: { where: string; message: string; line?: number }[] }>(
      await post("/api/study/preview", { path: "ug.yaml", text }),
    );
    expect(out.ok).toBe(false);
    expect(out.problems.map((p) => `${p.where}: ${p.message}`)).toEqual(
      cliProblems(text, join(dir, "ug.yaml")),
    );
    expect(out.problems.find((p) => p.where.includes("humans"))?.line).toBe(8);
  });

  it("previews agents with example turn variables, which the page may change", async () => {
    const out = json<{
      ok: boolean;
      scope: string[];
      preview: {
        variables: Record<string, string>;
        participants: {
          id: string;
          role: string;
          model: string;
          turns: { messages: { role: string; content: string }[] }[];
        }[];
      };
    }>(
      await post("/api/study/preview", {
        path: "agents.yaml",
        text: AGENTS_STUDY,
        vars: { budget: "40", message: "Hi there" },
      }),
    );
    expect(out.ok).toBe(true);
    expect(out.scope).toEqual(expect.arrayContaining(["message", "agent", "participant", "round", "app"]));
    const advisor = out.preview.participants.find((p) => p.id === "advisor");
    expect(advisor?.turns[0]?.messages).toEqual([
      { role: "system", content: "You advise on my_app, round 1. Budget 40." },
      { role: "user", content: "Participant says: Hi there" },
    ]);
    expect(out.preview.participants.find((p) => p.id === "judge")).toMatchObject({
      role: "group",
      model: "mock:random",
      turns: [{ messages: [{ role: "user", content: "Hi there" }] }],
    });
    expect(out.preview.variables).toMatchObject({ budget: "40", message: "Hi there", app: "my_app" });
    // A name the page did not fill gets a placeholder rather than an error.
    const plain = json<{ preview: { participants: { turns: { messages: { content: string }[] }[] }[] } }>(
      await post("/api/study/preview", { path: "agents.yaml", text: AGENTS_STUDY }),
    );
    expect(plain.preview.participants[0]?.turns[0]?.messages[0]?.content).toContain("Budget ‹budget›");
    // Agents are served, not run: the dry run says so instead of failing.
    const est = json<{ ok: boolean; problems: { message: string }[] }>(
      await post("/api/study/estimate", { path: "agents.yaml", text: AGENTS_STUDY }),
    );
    expect(est.ok).toBe(false);
    expect(est.problems[0]?.message).toMatch(/silico serve/);
  });

  it("offers the names in scope for every kind, fields as a.b", async () => {
    const scope = async (path: string, text: string) =>
      json<{ scope: string[] }>(await post("/api/study/preview", { path, text })).scope;
    const game = await scope(
      "g.yaml",
      `kind: game
model: mock:random
roles: { proposer: {}, responder: {} }
treatments: { low: { pie: 10 } }
stages:
  - { name: offer, roles: proposer, prompt: "Offer from {{ pie }}", parse: number }
  - { name: respond, as: accept, roles: responder, prompt: "Accept {{ offer }}?", parse: text }
payoffs: { proposer: "0", responder: "0" }
`,
    );
    expect(game).toEqual(
      expect.arrayContaining([
        "pie",
        "variables.pie",
        "me.payoff",
        "proposer.offer",
        "other.accept",
        "accept",
        "history",
      ]),
    );
    const factorial = await scope(
      "f.yaml",
      'kind: factorial\nmodel: mock:random\nprompt: "{{ a }} {{ b }}"\nlevels: { a: [1, 2], b: [x] }\n',
    );
    expect(factorial).toEqual(["a", "b"]);
    // alter_ego's built.json: the scenario's variables and every thread's attributes.
    const ego = await scope(
      "stag.json",
      readFileSync(join(EGO_FIXTURES, "silico_stag_hunt_built.json"), "utf8"),
    );
    expect(ego).toEqual(
      expect.arrayContaining(["stag_together", "framing", "round", "other", "treatment.name"]),
    );
    // An oTree study's personas from a CSV file: its columns are the persona's fields.
    writeFileSync(join(dir, "personas.csv"), "name,age,mood\nAda,31,calm\n");
    const otree = await scope(
      "ug.yaml",
      OTREE_STUDY.replace(/ {2}personas:\n(.*\n){2}/, "  personas: personas.csv\n"),
    );
    expect(otree).toEqual(expect.arrayContaining(["persona.name", "persona.age", "persona.mood", "seat"]));
    // While the study has problems, completion still offers what is written so far.
    const broken = await scope("a.yaml", "kind: agents\nagents: {}\n");
    expect(broken).toEqual(expect.arrayContaining(["message", "turn"]));
  });

  it("starts a list the study names but that does not exist yet; saving creates the file", async () => {
    const text = STIMULI_STUDY.replace("lists/items.csv", "new/list.csv");
    const { grid } = json<{ grid: { header: string[]; rows: string[][] } }>(
      await post("/api/study/stimuli", { path: "stimuli.yaml", text }),
    );
    expect(grid).toMatchObject({ header: ["Run", "Item", "Condition", "Prompt"], rows: [] });
    const r = await post(
      "/api/stimuli",
      { path: "stimuli.yaml", text, stimuli: { header: grid.header, rows: [["1", "1", "a", "Hello"]] } },
      "PUT",
    );
    expect(r.status).toBe(200);
    expect(readFileSync(join(dir, "new", "list.csv"), "utf8")).toBe(
      "Run,Item,Condition,Prompt\n1,1,a,Hello\n",
    );
  });

  it("does not show or overwrite a stimulus file silico cannot read", async () => {
    // UTF-16 (a spreadsheet's "Unicode text"): silico refuses it, naming why.
    const bytes = Buffer.from("\uFEFFRun,Item,Condition,Prompt\n1,1,a,Hi\n", "utf16le");
    writeFileSync(join(dir, "utf16.csv"), bytes);
    const text = STIMULI_STUDY.replace("lists/items.csv", "utf16.csv");
    const { grid } = json<{ grid: { error?: string; rows: string[][] } }>(
      await post("/api/study/stimuli", { path: "stimuli.yaml", text }),
    );
    expect(grid.error).toMatch(/^utf16\.csv:1: .*UTF-16/);
    const r = await post(
      "/api/stimuli",
      { path: "stimuli.yaml", text, stimuli: { header: ["Run"], rows: [] } },
      "PUT",
    );
    expect(r.status).toBe(409);
    expect(readFileSync(join(dir, "utf16.csv"))).toEqual(bytes);
  });

  it("refuses stimulus paths outside the project folder, and tables for studies that name none", async () => {
    const out = await post("/api/study/stimuli", {
      path: "stimuli.yaml",
      text: STIMULI_STUDY.replace("lists/items.csv", "../../etc/items.csv"),
    });
    expect(out.status).toBe(403);
    const none = await post(
      "/api/stimuli",
      { path: "f.yaml", text: "kind: factorial\n", stimuli: { header: [], rows: [] } },
      "PUT",
    );
    expect(none.status).toBe(400);
    const badGrid = await post("/api/study/preview", {
      path: "stimuli.yaml",
      text: STIMULI_STUDY,
      stimuli: { header: [1] },
    });
    expect(badGrid.status).toBe(400);
  });
});
