import { spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, type CliResult, lastLine, PACKAGE_DIR, runCli, spawnCli } from "../test-support/cli.js";

// Input the CLI must refuse as a person would want: a located message, exit code 2 for bad input
// or 1 for a fault, never a stack trace, and nothing written — no store file for a refused study,
// an unchanged store for read commands.

const GOOD = `kind: factorial
prompt: "Rate {{ politician }} at the {{ time }}."
levels:
  politician: [A, B]
  time: [start, end]
model: mock:random
parse: number
`;

let dir: string;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "silico-bad-input-"));
  chmodSync(dir, 0o755); // another user (see runAsReader) must reach the stores inside
});
afterAll(() => {
  chmodTree(dir);
  rmSync(dir, { recursive: true, force: true });
});

function chmodTree(d: string) {
  chmodSync(d, 0o755);
  for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) chmodTree(join(d, e.name));
}

/** A fresh sub-folder per test, so each test's "no store file" check sees only its own files. */
function folder(): string {
  const d = join(dir, `t${++n}`);
  mkdirSync(d);
  return d;
}

function expectClean(r: CliResult, code: number): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toContain("unexpected error");
}

/** Runs a study that must be refused: exit 2, the fragments in stderr, no store file created. */
async function refused(file: string, content: string | Buffer, fragments: string[]): Promise<CliResult> {
  const d = folder();
  writeFileSync(join(d, file), content);
  const db = join(d, "s.db");
  const r = await spawnCli(["run", join(d, file), "--db", db, "--quiet"], { cwd: d });
  expectClean(r, 2);
  for (const f of fragments) expect(r.stderr).toContain(f);
  expect(r.stdout).toBe("");
  expect(readdirSync(d)).toEqual([file]);
  return r;
}

describe("a study file that is not UTF-8 is refused, naming the encoding or the first bad byte", () => {
  it("Latin-1 / Windows-1252 bytes: the byte, its line and column", async () => {
    const text = Buffer.from(GOOD.replace("Rate {{", "Évaluez {{"), "latin1");
    await refused("s.yaml", text, [
      "s.yaml:2: not UTF-8: byte 0xC9 at line 2, column 10",
      "Latin-1 or Windows-1252",
      "save it as UTF-8",
    ]);
  });

  it("UTF-16 LE with a byte-order mark", async () => {
    await refused("s.yaml", Buffer.from(`\uFEFF${GOOD}`, "utf16le"), ["s.yaml: the file is UTF-16 LE"]);
  });

  it("UTF-16 BE without a byte-order mark, told by where the NUL bytes fall", async () => {
    const be = Buffer.from(GOOD, "utf16le").swap16();
    await refused("s.json", be, ["s.json: the file is UTF-16 BE"]);
  });

  it("a stimulus CSV the stimuli study reads", async () => {
    const d = folder();
    writeFileSync(
      join(d, "stim.csv"),
      Buffer.from("Run,Item,Condition,Prompt\n1,1,a,Hello\n1,2,b,Caf\xe9\n", "latin1"),
    );
    writeFileSync(
      join(d, "s.yaml"),
      "kind: stimuli\nstimuli: stim.csv\ndesign: one-trial-per-run\nmodel: mock:echo\n",
    );
    const r = await runCli(["run", join(d, "s.yaml"), "--db", join(d, "s.db"), "-q"], { cwd: d });
    expectClean(r, 2);
    expect(r.stderr).toContain("stim.csv:3: not UTF-8: byte 0xE9 at line 3, column 10");
    expect(readdirSync(d).sort()).toEqual(["s.yaml", "stim.csv"]);
  });
});

describe("hostile structure is a located problem, not a crash", () => {
  it("a YAML alias bomb", async () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (const [p, q] of [
      ["b", "a"],
      ["c", "b"],
      ["d", "c"],
      ["e", "d"],
      ["f", "e"],
    ])
      levels.push(`${p}: &${p} [${Array(9).fill(`*${q}`).join(", ")}]`);
    await refused("s.yaml", `kind: factorial\n${levels.join("\n")}\n`, [
      "s.yaml:4: not valid YAML: aliases (*name) expand to too much data",
    ]);
  });

  it("YAML nested thousands deep", async () => {
    await refused("s.yaml", `${GOOD}x: ${"[".repeat(20000)}${"]".repeat(20000)}\n`, [
      "s.yaml:8: not valid YAML: nested too deeply",
    ]);
  });

  it("JSON nested thousands deep", async () => {
    const json = `{\n"kind": "factorial", "prompt": "{{a}}", "model": "mock:echo",\n"levels": {"a": [${"[".repeat(100000)}${"]".repeat(100000)}]}\n}\n`;
    await refused("s.json", json, ["s.json:3: levels.a[0]…: nested more than 64 levels deep"]);
  });

  it("a template expression nested thousands deep", async () => {
    const prompt = `{{ ${"(".repeat(5000)}politician${")".repeat(5000)} }}`;
    await refused(
      "s.yaml",
      GOOD.replace('"Rate {{ politician }} at the {{ time }}."', `"${prompt} {{ time }}"`),
      ["s.yaml: prompt (line 2)", "nested too deeply (limit: 100 levels)"],
    );
  });

  it("a game payoff expression nested thousands deep, by unary operators or brackets", async () => {
    const game = readFileSync(
      join(PACKAGE_DIR, "..", "..", "examples", "ultimatum", "study.yaml"),
      "utf8",
    ).replace("local:smollm2-135m", "mock:random");
    const payoff = `proposer: "offer.keep if respond == 'ACCEPT' else 0"`;
    expect(game).toContain(payoff);
    const line = game.split("\n").findIndex((l) => l.includes(payoff)) + 1;
    for (const deep of ["not ".repeat(20000), "-".repeat(20000), `${"(".repeat(5000)}1${")".repeat(5000)}`]) {
      const r = await refused("g.yaml", game.replace(payoff, `proposer: "${deep} offer.keep"`), [
        `g.yaml:${line}: payoffs.proposer: bad expression`,
        "expression nested too deeply",
      ]);
      expect(r.stderr.length).toBeLessThan(1000);
    }
  });

  it("a key given twice in a JSON study, at the second key's line", async () => {
    const json = `{\n  "kind": "factorial",\n  "prompt": "{{ a }}",\n  "levels": {"a": [1, 2]},\n  "model": "mock:echo",\n  "prompt": "again {{ a }}"\n}\n`;
    await refused("s.json", json, [
      's.json:6: not valid JSON: duplicate key "prompt" (first given on line 3)',
    ]);
  });
});

describe("a study refused after it compiles writes no store file either", () => {
  it("a missing API key", async () => {
    const d = folder();
    writeFileSync(join(d, "s.yaml"), GOOD.replace("mock:random", "openai:gpt-4o-mini"));
    const r = await runCli(["run", join(d, "s.yaml"), "--db", join(d, "s.db"), "-q"], {
      cwd: d,
      env: { OPENAI_API_KEY: undefined },
    });
    expectClean(r, 2);
    expect(r.stderr).toContain("OPENAI_API_KEY");
    expect(readdirSync(d)).toEqual(["s.yaml"]);
  });

  it("an unknown local model", async () => {
    const d = folder();
    writeFileSync(join(d, "s.yaml"), GOOD.replace("mock:random", "local:no-such-model"));
    // The built CLI in a child process: @silico/local-model throws silico's (built) ConfigError,
    // which the sources vitest runs in-process would not recognise as the same class.
    const r = await spawnCli(["run", join(d, "s.yaml"), "--db", join(d, "s.db"), "-q"], { cwd: d });
    expectClean(r, 2);
    expect(r.stderr).toContain('Unknown local model "no-such-model"');
    expect(readdirSync(d)).toEqual(["s.yaml"]);
  });
});

const asRoot = process.getuid?.() === 0;

/**
 * The CLI as a user who may not write `d`: as root (who may write anything) it runs as nobody;
 * otherwise the folder and its files are made read-only for the duration.
 */
function runAsReader(args: string[], d: string, opts: { folderWritable?: boolean } = {}): Promise<CliResult> {
  if (opts.folderWritable) chmodSync(d, 0o777);
  if (!asRoot) {
    for (const f of readdirSync(d)) chmodSync(join(d, f), 0o444);
    if (!opts.folderWritable) chmodSync(d, 0o555);
  }
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: d,
      env: process.env,
      stdio: ["ignore", "pipe", "pipe"],
      ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b) => {
      stdout += b;
    });
    child.stderr.on("data", (b) => {
      stderr += b;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (!asRoot || opts.folderWritable) chmodSync(d, 0o755);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Every file in `d` with its bytes, to show nothing was written. */
function snapshot(d: string): Record<string, string> {
  return Object.fromEntries(readdirSync(d).map((f) => [f, readFileSync(join(d, f)).toString("base64")]));
}

describe("stores", () => {
  let store: string;
  let runId: string;
  beforeAll(async () => {
    const d = folder();
    writeFileSync(join(d, "s.yaml"), GOOD);
    store = join(d, "s.db");
    const r = await runCli(["run", join(d, "s.yaml"), "--db", store, "-q"], { cwd: d });
    expect(r.code, r.stderr).toBe(0);
    runId = lastLine(r.stdout);
  });

  /** A copy of the good store alone in a folder the CLI may read but not write. */
  function readOnlyCopy(): { d: string; db: string } {
    const d = folder();
    const db = join(d, "s.db");
    writeFileSync(db, readFileSync(store));
    chmodSync(d, 0o755);
    chmodSync(db, 0o644);
    return { d, db };
  }

  it("read commands read a store in a read-only folder, and write nothing", async () => {
    const { d, db } = readOnlyCopy();
    const before = snapshot(d);
    const runs = await runAsReader(["runs", "--db", db], d);
    expectClean(runs, 0);
    expect(runs.stdout).toContain(runId);
    const data = await runAsReader(["data", "last", "--db", db, "--format", "jsonl"], d);
    expectClean(data, 0);
    expect(data.stdout.trim().split("\n")).toHaveLength(4);
    const show = await runAsReader(["show", runId.slice(0, 12), "--db", db, "--session", "2"], d);
    expectClean(show, 0);
    expect(show.stdout).toContain("── session 2");
    const summary = await runAsReader(["summary", "last", "--db", db, "--json"], d);
    expectClean(summary, 0);
    expect(JSON.parse(summary.stdout).rows).toHaveLength(4);
    expect(snapshot(d)).toEqual(before);
  });

  it("read commands read a store file the user may not write, in a folder they may", async () => {
    const { d, db } = readOnlyCopy();
    const before = readFileSync(db);
    for (const args of [["runs"], ["data", "last"], ["show", "last"], ["summary", "last"]]) {
      const r = await runAsReader([...args, "--db", db], d, { folderWritable: true });
      expectClean(r, 0);
      expect(r.stdout).toContain(
        args[0] === "summary" ? "answer" : args[0] === "data" ? "politician" : runId,
      );
    }
    const write = await runAsReader(["resume", "last", "--db", db, "-q"], d, { folderWritable: true });
    expectClean(write, 1);
    expect(write.stderr).toContain("it is read-only");
    expect(readFileSync(db).equals(before)).toBe(true);
  });

  it("run and resume on a read-only store: a clear error, exit 1, nothing written", async () => {
    const { d, db } = readOnlyCopy();
    writeFileSync(join(dir, "good.yaml"), GOOD);
    chmodSync(join(dir, "good.yaml"), 0o644);
    const before = snapshot(d);
    for (const args of [
      ["run", join(dir, "good.yaml"), "--db", db, "-q"],
      ["resume", "last", "--db", db, "-q"],
    ]) {
      const r = await runAsReader(args, d);
      expectClean(r, 1);
      expect(r.stderr).toContain(`cannot write to the store ${db}: it is read-only`);
    }
    expect(snapshot(d)).toEqual(before);
  });

  it("a file that is not a database: exit 2, named", async () => {
    const d = folder();
    const db = join(d, "s.db");
    writeFileSync(db, "not a database at all\n".repeat(100));
    for (const args of [["runs"], ["data", "last"], ["run", join(d, "x.yaml"), "-q"]]) {
      if (args[0] === "run") writeFileSync(join(d, "x.yaml"), GOOD);
      const r = await runCli([...args, "--db", db], { cwd: d });
      expectClean(r, 2);
      expect(r.stderr).toContain(`${db} is not a SQLite database`);
    }
  });

  it("a damaged store: exit 1, named, with a way out", async () => {
    const d = folder();
    const db = join(d, "s.db");
    writeFileSync(db, readFileSync(store).subarray(0, 3 * 4096));
    const r = await runCli(["data", "last", "--db", db], { cwd: d });
    expectClean(r, 1);
    expect(r.stderr).toContain(`the store ${db} is damaged`);
  });

  it("a store whose tables were altered: exit 1, naming what is missing, for reads and writes", async () => {
    const d = folder();
    const db = join(d, "s.db");
    writeFileSync(db, readFileSync(store));
    const raw = new Database(db);
    raw.exec("DROP TABLE observations; ALTER TABLE runs DROP COLUMN summary");
    raw.close();
    writeFileSync(join(d, "x.yaml"), GOOD);
    for (const args of [
      ["summary", "last"],
      ["run", join(d, "x.yaml"), "-q"],
    ]) {
      const r = await runCli([...args, "--db", db], { cwd: d });
      expectClean(r, 1);
      expect(r.stderr).toContain("table runs lacks column summary; table observations is missing");
    }
  });

  it("another program's SQLite file is neither read nor given silico's tables", async () => {
    const d = folder();
    const db = join(d, "other.db");
    const raw = new Database(db);
    raw.exec("CREATE TABLE notes (x TEXT)");
    raw.close();
    writeFileSync(join(d, "x.yaml"), GOOD);
    const before = readFileSync(db);
    for (const args of [["runs"], ["run", join(d, "x.yaml"), "-q"]]) {
      const r = await runCli([...args, "--db", db], { cwd: d });
      expectClean(r, 2);
      expect(r.stderr).toContain("is a SQLite database but not a silico store (it has tables notes)");
    }
    expect(readFileSync(db).equals(before)).toBe(true);
  });

  it("an empty file is not read as a store, nor changed by a read command", async () => {
    const d = folder();
    const db = join(d, "empty.db");
    writeFileSync(db, "");
    const r = await runCli(["runs", "--db", db], { cwd: d });
    expectClean(r, 2);
    expect(r.stderr).toContain("is empty, not a silico store");
    expect(readFileSync(db).length).toBe(0);
    expect(readdirSync(d)).toEqual(["empty.db"]);
  });

  it("show --session that names no session says which sessions there are", async () => {
    const r = await runCli(["show", "last", "--db", store, "--session", "999"]);
    expectClean(r, 2);
    expect(r.stderr).toContain(
      `no session "999" in run ${runId}; sessions are 1–4 by number, or keys such as "f-`,
    );
    expect(r.stdout).toBe("");
  });

  it("summary --name that names no observation lists the observations", async () => {
    const r = await runCli(["summary", "last", "--db", store, "--name", "answer,nosuch"]);
    expectClean(r, 2);
    expect(r.stderr).toContain(`no observation "nosuch" in run ${runId}; observations: answer`);
    expect(r.stdout).toBe("");
  });

  it("an unknown run id or prefix names the runs there are, for every command that takes one", async () => {
    const before = readFileSync(store);
    for (const cmd of ["data", "show", "summary", "resume"]) {
      for (const ref of ["nosuch", "%", "_"]) {
        const r = await runCli([cmd, ref, "--db", store, ...(cmd === "resume" ? ["-q"] : [])]);
        expectClean(r, 2);
        expect(r.stderr).toContain(`no run "${ref}" in ${store}; its one run is ${runId}`);
      }
    }
    expect(readFileSync(store).equals(before)).toBe(true);
  });

  it("an unknown --format is refused with the formats there are", async () => {
    const r = await runCli(["data", "last", "--db", store, "--format", "nosuch"]);
    expectClean(r, 2);
    expect(r.stderr).toContain("Allowed choices are csv, jsonl, xlsx");
    expect(r.stdout).toBe("");
  });

  it("a read command on a missing store creates none", async () => {
    const d = folder();
    for (const cmd of [["runs"], ["data", "last"], ["show", "last"], ["summary", "last"]]) {
      const r = await runCli([...cmd, "--db", join(d, "none.db")], { cwd: d });
      expectClean(r, 2);
      expect(r.stderr).toContain(`no store at ${join(d, "none.db")}`);
    }
    expect(existsSync(join(d, "none.db"))).toBe(false);
  });
});
