import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../test-support/cli.js";

// The wide layout's naming rules and the column dictionary, through the CLI on a real run.

describe("silico data --wide / --describe", () => {
  let server: TestServer;
  let dir: string;
  let db: string;
  const env = { TS_KEY: "sk-test-FAKEKEY-wide" };

  beforeAll(async () => {
    server = await startOpenAITestServer({
      // A field named "valid" meets the answer's own _valid column; "a b" is not a plain name;
      // "sample" meets the fixed column.
      responder: ({ messages }) => {
        const item = /Item (\d+)/.exec(String(messages.at(-1)?.content))?.[1] ?? "0";
        return JSON.stringify({
          valid: "yes",
          "a b": Number(item),
          sample: [1, 2],
          nested: { deep: { x: item === "1" } },
        });
      },
    });
    dir = mkdtempSync(join(tmpdir(), "silico-wide-"));
    db = join(dir, "runs.db");
    writeFileSync(
      join(dir, "study.yaml"),
      `kind: factorial
name: wide-names
prompt: "Item {{ item }}: answer in JSON."
levels:
  item: [1, 2]
model: ts:silico-test
parse: {type: json}
seed: 1
providers:
  ts: {type: openai-compatible, base_url: "${server.url}", key_env: TS_KEY}
`,
    );
    const r = await runCli(["run", join(dir, "study.yaml"), "--db", db], { env });
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("splits answers into typed columns; clashing names get _2; odd characters become _", async () => {
    const r = await runCli(["data", "last", "--db", db, "--wide", "--format", "jsonl"]);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      item: 1,
      sample: 0,
      answer_valid: true,
      answer_valid_2: "yes",
      answer_a_b: 1,
      answer_sample: [1, 2],
      answer_nested_deep_x: true,
    });
    expect(rows[1]).toMatchObject({ item: 2, answer_a_b: 2, answer_nested_deep_x: false });
  });

  it("--describe prints name, type and meaning of every column", async () => {
    const r = await runCli(["data", "last", "--db", db, "--wide", "--describe"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^name\s+type\s+meaning$/);
    const row = (name: string) => lines.find((l) => l.startsWith(`${name} `))?.split(/\s{2,}/);
    expect(row("answer_valid")).toEqual([
      "answer_valid",
      "boolean",
      'answer "answer" passed its parser and checks',
    ]);
    expect(row("answer_valid_2")).toEqual(["answer_valid_2", "string", 'field valid of answer "answer"']);
    expect(row("answer_a_b")?.[1]).toBe("integer");
    expect(row("answer_sample")?.[1]).toBe("json");
    expect(row("cost_usd")?.[1]).toBe("number");
    const tidy = await runCli(["data", "last", "--db", db, "--describe"]);
    expect(tidy.stdout).toMatch(/\nsample\s+integer\s+index of the sample/);
    expect(tidy.stdout).not.toMatch(/\nchoice\s/);
  });

  it("writes <file>.columns.json beside a file export, with the columns in file order", async () => {
    const out = join(dir, "wide.csv");
    const r = await runCli(["data", "last", "--db", db, "--wide", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${out}.columns.json`);
    const dict = JSON.parse(readFileSync(`${out}.columns.json`, "utf8"));
    expect(dict.layout).toBe("wide");
    expect(dict.format).toBe("csv");
    const header = readFileSync(out, "utf8").split("\n")[0];
    expect(header).toBe(dict.columns.map((c: { name: string }) => c.name).join(","));
  });

  it("bad flag combinations exit 2 and write nothing", async () => {
    const pq = join(dir, "nothing.parquet");
    const cases = [
      ["--format", "parquet"],
      ["--wide", "--format", "ego"],
      ["--wide", "--layout", "macbehaviour"],
      ["--describe", "--layout", "macbehaviour"],
    ];
    for (const flags of cases) {
      const r = await runCli(["data", "last", "--db", db, ...flags]);
      expect(r.code, flags.join(" ")).toBe(2);
      expect(r.stderr.length).toBeGreaterThan(0);
    }
    expect(existsSync(pq)).toBe(false);
  });
});
