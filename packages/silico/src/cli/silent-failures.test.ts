import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, lastLine, runCli, spawnCli } from "../test-support/cli.js";

// Input that used to be ignored, or to fail as an "unexpected fault", is refused with a message
// that says what and where, exit 2, and nothing written: contradicting or ignored flags, --out
// files that cannot be written, a resume with another seed, stimulus files that cannot be read,
// and .env lines silico cannot read.

const STUDY = `kind: factorial
prompt: "Rate {{ a }} from 0 to 100."
levels: {a: [1, 2]}
model: mock:random
parse: number
seed: 3
`;

let dir: string;
let store: string;
let runId: string;
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-silent-"));
  writeFileSync(join(dir, "s.yaml"), STUDY);
  store = join(dir, "s.db");
  const r = await runCli(["run", join(dir, "s.yaml"), "--db", store, "-q"]);
  expect(r.code, r.stderr).toBe(0);
  runId = lastLine(r.stdout);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function folder(): string {
  const d = join(dir, `t${++n}`);
  mkdirSync(d);
  return d;
}

function expectRefused(r: CliResult, fragment: string): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toContain(fragment);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toContain("unexpected fault");
  expect(r.stdout).toBe("");
}

describe("silico data: flags that contradict each other or would be ignored", () => {
  const cases: { args: string[]; fragment: string }[] = [
    { args: ["--wide", "--layout", "tidy"], fragment: "--wide and --layout tidy do not go together" },
    {
      args: ["--wide", "--layout", "macbehaviour"],
      fragment: "--wide and --layout macbehaviour do not go together",
    },
    {
      args: ["--describe", "--out", "cols.csv"],
      fragment: "--describe prints the column dictionary and writes no file",
    },
    {
      args: ["--describe", "--format", "ego"],
      fragment: "--describe describes the tidy or wide columns (csv, jsonl, xlsx, parquet), not --format ego",
    },
    { args: ["--describe", "--format", "otree"], fragment: "not --format otree" },
    {
      args: ["--describe", "--otree-url", "http://127.0.0.1:1"],
      fragment: "--otree-url goes with --format otree, not --describe",
    },
  ];
  for (const c of cases)
    it(c.args.join(" "), async () => {
      const d = folder();
      const before = readFileSync(store);
      const r = await runCli(["data", "last", "--db", store, ...c.args], { cwd: d });
      expectRefused(r, c.fragment);
      expect(readdirSync(d)).toEqual([]);
      expect(readFileSync(store).equals(before)).toBe(true);
    });

  it("what still goes together: --wide --layout wide, --describe --format jsonl, --describe --wide", async () => {
    for (const args of [
      ["--wide", "--layout", "wide"],
      ["--describe", "--format", "jsonl"],
      ["--describe", "--wide"],
    ]) {
      const r = await runCli(["data", "last", "--db", store, ...args]);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
    }
  });
});

describe("silico data --out: a file that cannot be written is a bad flag, checked before anything is written", () => {
  const cases: { out: (d: string) => string; fragment: (d: string) => string }[] = [
    {
      out: (d) => join(d, "missing", "x.csv"),
      fragment: (d) => `: the folder ${join(d, "missing")} does not exist`,
    },
    { out: (d) => d, fragment: () => ": is a folder; name a file in it" },
    { out: (d) => `${d}/`, fragment: () => ": is a folder; name a file in it" },
    { out: (d) => join(d, "file.txt", "x.csv"), fragment: (d) => `: ${join(d, "file.txt")} is not a folder` },
    { out: () => store, fragment: () => ": that is the store being read; write to another file" },
    { out: () => `${store}-wal`, fragment: () => ": that is the store being read" },
  ];
  for (const [i, c] of cases.entries())
    it(`case ${i + 1}`, async () => {
      const d = folder();
      writeFileSync(join(d, "file.txt"), "keep me");
      const before = readFileSync(store);
      for (const format of ["csv", "xlsx"]) {
        const r = await runCli(["data", "last", "--db", store, "--format", format, "--out", c.out(d)]);
        expectRefused(r, `--out ${c.out(d)}${c.fragment(d)}`);
      }
      expect(readdirSync(d)).toEqual(["file.txt"]);
      expect(readFileSync(join(d, "file.txt"), "utf8")).toBe("keep me");
      expect(readFileSync(store).equals(before)).toBe(true);
    });
});

describe("silico data --out: a file named like another format than the one written", () => {
  const cases: { args: string[]; file: string; fragment: string }[] = [
    {
      args: [],
      file: "data.xlsx",
      fragment: "is named like a xlsx file but --format csv writes csv; add --format xlsx (or name the file",
    },
    {
      args: ["--format", "xlsx"],
      file: "data.csv",
      fragment: "is named like a csv file but --format xlsx writes xlsx; add --format csv",
    },
    {
      args: ["--format", "jsonl"],
      file: "data.parquet",
      fragment: "is named like a parquet file but --format jsonl writes jsonl",
    },
    {
      args: ["--wide"],
      file: "data.JSONL",
      fragment: "is named like a jsonl file but --format csv writes csv",
    },
  ];
  for (const c of cases)
    it(`${c.args.join(" ")} --out ${c.file}`, async () => {
      const d = folder();
      const r = await runCli(["data", "last", "--db", store, ...c.args, "--out", join(d, c.file)]);
      expectRefused(r, `--out ${join(d, c.file)} ${c.fragment}`);
      expect(readdirSync(d)).toEqual([]);
    });

  it("matching or unknown extensions are written", async () => {
    const d = folder();
    for (const [args, file] of [
      [["--format", "jsonl"], "a.json"],
      [[], "b.tsv"],
      [[], "c.dat"],
      [["--format", "xlsx"], "d.xlsx"],
    ] as const) {
      const r = await runCli(["data", "last", "--db", store, ...args, "--out", join(d, file)]);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(
      readdirSync(d)
        .filter((f) => !f.endsWith(".columns.json"))
        .sort(),
    ).toEqual(["a.json", "b.tsv", "c.dat", "d.xlsx"]);
  });
});

describe("silico run and resume: numbers that would be read as something else", () => {
  const cases: { args: string[]; fragment: string }[] = [
    { args: ["--rpm", "0"], fragment: '--rpm must be a number > 0, got "0"' },
    { args: ["--tpm", "0"], fragment: '--tpm must be a number > 0, got "0"' },
    { args: ["--max-cost", ""], fragment: '--max-cost must be a number ≥ 0, got ""' },
    { args: ["--concurrency", " "], fragment: '--concurrency must be a whole number ≥ 1, got " "' },
    { args: ["--seed", ""], fragment: '--seed must be a whole number ≥ 0, got ""' },
  ];
  for (const c of cases)
    it(`run ${c.args.join(" ")}`, async () => {
      const d = folder();
      writeFileSync(join(d, "s.yaml"), STUDY);
      const r = await runCli(["run", join(d, "s.yaml"), "--db", join(d, "new.db"), "-q", ...c.args]);
      expectRefused(r, c.fragment);
      expect(readdirSync(d)).toEqual(["s.yaml"]);
    });

  it("resume with another seed is refused, before the progress line, with the store unchanged", async () => {
    const before = readFileSync(store);
    const r = await runCli(["resume", "last", "--db", store, "--seed", "4"]);
    expectRefused(
      r,
      `--seed 4: run ${runId} was started with seed 3 and resumes with it; another seed is a new run (silico run STUDY --seed 4)`,
    );
    expect(r.stderr).not.toContain("sessions");
    expect(readFileSync(store).equals(before)).toBe(true);
    // The run's own seed is accepted.
    const same = await runCli(["resume", "last", "--db", store, "--seed", "3", "-q"]);
    expect(same.code, same.stderr).toBe(0);
  });
});

describe("--db that names no file", () => {
  it("an empty --db or SILICO_DB, or a folder, is a bad flag for every command; nothing is created", async () => {
    const d = folder();
    writeFileSync(join(d, "s.yaml"), STUDY);
    for (const cmd of [["runs"], ["data", "last"], ["show", "last"], ["run", join(d, "s.yaml"), "-q"]]) {
      expectRefused(
        await runCli([...cmd, "--db", ""], { cwd: d }),
        "--db is empty; name the store file (e.g. silico.db)",
      );
      expectRefused(await runCli(cmd, { cwd: d, env: { SILICO_DB: "" } }), "SILICO_DB is empty");
      expectRefused(
        await runCli([...cmd, "--db", d], { cwd: d }),
        `--db ${d} is a folder; name the store file in it (e.g. ${join(d, "silico.db")})`,
      );
    }
    expect(readdirSync(d)).toEqual(["s.yaml"]);
  });
});

describe("a re-ask message is plain text with {reason} and {expected}, not a template", () => {
  const cases: { file: string; text: string; fragment: string }[] = [
    {
      file: "f.yaml",
      text: `${STUDY}reask: {max: 1, message: "Bad: {{ reason }}"}\n`,
      fragment: "f.yaml:7: reask.message: is not a template: write {reason} and {expected} (single braces)",
    },
    {
      file: "f.yaml",
      text: `${STUDY}reask:\n  max: 1\n  message: "Bad: {reasons}. {expected}"\n`,
      fragment: "f.yaml:9: reask.message: {reasons} is not filled in (did you mean {reason}?)",
    },
    {
      file: "g.yaml",
      text: `kind: game\nmodel: mock:random\nroles: { a: { count: 1 } }\nstages:\n  - { name: pick, prompt: Pick., parse: number }\ninvalid: { reask: 1, message: "{% if true %}{reason}{% endif %}" }\n`,
      fragment: "g.yaml:6: invalid.message: is not a template",
    },
  ];
  for (const c of cases)
    it(c.fragment, async () => {
      const d = folder();
      writeFileSync(join(d, c.file), c.text);
      const r = await runCli(["run", join(d, c.file), "--db", join(d, "s.db"), "-q"]);
      expectRefused(r, c.fragment);
      expect(readdirSync(d)).toEqual([c.file]);
    });

  it("braces that are not placeholders stay allowed", async () => {
    const d = folder();
    writeFileSync(
      join(d, "f.yaml"),
      `${STUDY}reask: {max: 1, message: 'Not usable: {reason}. Answer like {"score": 5} or {score}.'}\n`,
    );
    const r = await runCli(["run", join(d, "f.yaml"), "--db", join(d, "s.db"), "-q"]);
    expect(r.code, r.stderr).toBe(0);
  });
});

describe("a stimulus file that cannot be read says why, in words", () => {
  it("a missing file names where it was looked for; a folder is named as one", async () => {
    const d = folder();
    mkdirSync(join(d, "stim.csv"));
    const study = (file: string) =>
      `kind: stimuli\nstimuli: ${file}\ndesign: one-trial-per-run\nmodel: mock:echo\n`;
    writeFileSync(join(d, "missing.yaml"), study("nothing.csv"));
    writeFileSync(join(d, "folder.yaml"), study("stim.csv"));
    const missing = await runCli(["run", join(d, "missing.yaml"), "--db", join(d, "s.db"), "-q"]);
    expectRefused(
      missing,
      `nothing.csv: cannot read the stimulus file: no such file (looked for ${join(d, "nothing.csv")}; paths are relative to the study file's folder)`,
    );
    const isFolder = await runCli(["run", join(d, "folder.yaml"), "--db", join(d, "s.db"), "-q"]);
    expectRefused(
      isFolder,
      `stim.csv: cannot read the stimulus file: ${join(d, "stim.csv")} is a folder, not a file`,
    );
    expect(readdirSync(d).sort()).toEqual(["folder.yaml", "missing.yaml", "stim.csv"]);
  });
});

describe(".env: lines silico cannot read are refused with their line, never with a value", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startOpenAITestServer({ apiKey: "sk-from-dotenv-file", script: ["50"] });
  });
  afterAll(() => server.close());

  /** Runs the study on the test server from `d`, with no key in the environment (only .env's). */
  function runIn(d: string): Promise<CliResult> {
    writeFileSync(join(d, "s.yaml"), STUDY.replace("mock:random", "openai:silico-test"));
    return spawnCli(["run", "s.yaml", "--db", "s.db", "-q"], {
      cwd: d,
      env: { OPENAI_API_KEY: undefined, OPENAI_BASE_URL: server.url },
    });
  }

  it("a good .env: export, quotes, comments; the key is read from it", async () => {
    const d = folder();
    writeFileSync(
      join(d, ".env"),
      `\uFEFF# keys\n\nexport OPENAI_API_KEY="sk-from-dotenv-file" # for the test server\r\nOTHER='a # not a comment'\nPLAIN=x y # comment\n`,
    );
    const r = await runIn(d);
    expect(r.code, r.stderr).toBe(0);
    expect(server.stats().status[200]).toBeGreaterThan(0);
  });

  it("every bad line at once, located; values are not printed", async () => {
    const d = folder();
    writeFileSync(
      join(d, ".env"),
      [
        "# keys",
        "OPENAI_API_KEY: sk-secret-colon-1234",
        "OPENAI_API_KEY sk-secret-space-1234",
        "OPENAI-API-KEY=sk-secret-dash-1234",
        "sk-secret-alone-1234",
        "GOOD=1",
        "GOOD=2",
        'OTHER="sk-secret-unclosed-1234',
        "still-unclosed",
      ].join("\n"),
    );
    const r = await runIn(d);
    const env = join(d, ".env");
    expectRefused(r, `6 lines of ${env} cannot be read:`);
    for (const line of [
      `${env}:2: write OPENAI_API_KEY=value, not "OPENAI_API_KEY: value"`,
      `${env}:3: write OPENAI_API_KEY=value (the "=" is missing)`,
      `${env}:4: "OPENAI-API-KEY" is not a variable name (letters, digits and _, not starting with a digit)`,
      `${env}:5: not a NAME=value line (a comment starts with #)`,
      `${env}:7: GOOD is set again (first on line 6); keep one`,
      `${env}:8: the value of OTHER opens a quote (") that is never closed`,
    ])
      expect(r.stderr).toContain(line);
    expect(r.stderr).not.toContain("sk-secret");
    expect(readdirSync(d).sort()).toEqual([".env", "s.yaml"]);
  });

  it("a .env that is a folder", async () => {
    const d = folder();
    mkdirSync(join(d, ".env"));
    const r = await runIn(d);
    expectRefused(r, `cannot read ${join(d, ".env")} (it is a folder); silico reads API keys from it`);
    expect(readdirSync(d).sort()).toEqual([".env", "s.yaml"]);
  });
});
