import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultResponder, startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../test-support/cli.js";
import { PYTHON_SETUP_HINT, REPO_ROOT, testPython } from "../test-support/python.js";
import { type ColumnType, typedValue } from "./column-types.js";
import type { ColumnInfo } from "./table.js";

const here = dirname(fileURLToPath(import.meta.url));
const KEY = "sk-test-FAKEKEY-parquet";

/** The Arrow type pyarrow reports for each of silico's column types. */
const ARROW: Record<ColumnType, string> = {
  integer: "int64",
  number: "double",
  boolean: "bool",
  string: "string",
  json: "string",
};

interface PyTable {
  types: Record<string, string>;
  rows: Record<string, unknown>[];
  columns: ColumnInfo[] | null;
}

describe("silico data --format parquet, read back by pyarrow", () => {
  let server: TestServer;
  let dir: string;
  const python = testPython();

  beforeAll(async () => {
    const probe = spawnSync(python, ["-c", "import pyarrow"], { encoding: "utf8" });
    if (probe.status !== 0) throw new Error(`pyarrow is not importable by ${python}: ${PYTHON_SETUP_HINT}`);
    server = await startOpenAITestServer({
      responder: (req) => {
        const last = String(req.messages.at(-1)?.content ?? "");
        const item = /Rate the (\w+)/.exec(last)?.[1];
        // Nested objects, lists, floats and booleans, so every typing rule is met.
        if (item)
          return JSON.stringify({
            rating: item.length,
            sure: item.length % 2 === 0,
            weight: item.length / 4,
            tags: [item, "fruit"],
            detail: { colour: item === "pears" ? "green" : "red", ripe: true },
          });
        if (last.includes("missing words")) return last.includes("Bremm") ? "she" : "he";
        return defaultResponder(req);
      },
    });
    dir = mkdtempSync(join(tmpdir(), "silico-parquet-"));
    const providers = `providers:\n  ts: {type: openai-compatible, base_url: "${server.url}", key_env: TS_KEY}\n`;
    writeFileSync(
      join(dir, "factorial.yaml"),
      `kind: factorial
name: parquet-factorial
prompt: "Rate the {{ item }} as JSON."
levels:
  item: [apples, pears, figs]
times: 2
model: ts:silico-test
parse: {type: json}
params: {temperature: 0.7, max_tokens: 60, n: 2}
seed: 5
${providers}`,
    );
    const game = readFileSync(join(REPO_ROOT, "examples", "ultimatum", "study.yaml"), "utf8");
    writeFileSync(
      join(dir, "game.yaml"),
      `${game.replace("local:smollm2-135m", "ts:silico-test")}\n${providers}`,
    );
    const stim = readFileSync(join(REPO_ROOT, "examples", "pronoun-gender", "one-trial.yaml"), "utf8");
    writeFileSync(
      join(dir, "stimuli.yaml"),
      `${stim.replace("local:smollm2-135m", "ts:silico-test")}\n${providers}`,
    );
    writeFileSync(
      join(dir, "stimuli.csv"),
      readFileSync(join(REPO_ROOT, "examples", "pronoun-gender", "stimuli.csv"), "utf8"),
    );
  });

  afterAll(async () => {
    await server?.close();
  });

  const env = { TS_KEY: KEY };

  async function exportBoth(study: string, wide: boolean) {
    const db = join(dir, `${study}.db`);
    if (!existsSync(db)) {
      const run = await runCli(["run", join(dir, `${study}.yaml`), "--db", db], { env, cwd: dir });
      expect(run.code, run.stderr).toBe(0);
    }
    const layout = wide ? ["--wide"] : [];
    const out = join(dir, `${study}${wide ? "-wide" : ""}.parquet`);
    const pq = await runCli(["data", "last", "--db", db, "--format", "parquet", "--out", out, ...layout]);
    expect(pq.code, pq.stderr).toBe(0);
    const jsonl = await runCli(["data", "last", "--db", db, "--format", "jsonl", ...layout]);
    expect(jsonl.code, jsonl.stderr).toBe(0);
    const read = spawnSync(python, [join(here, "read_parquet.py"), out], { encoding: "utf8" });
    expect(read.status, read.stderr).toBe(0);
    const columns = JSON.parse(readFileSync(`${out}.columns.json`, "utf8")).columns as ColumnInfo[];
    return {
      py: JSON.parse(read.stdout) as PyTable,
      rows: jsonl.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
      columns,
    };
  }

  /** Every column has the Arrow type its dictionary entry says, and every cell the jsonl value. */
  function expectSame({ py, rows, columns }: Awaited<ReturnType<typeof exportBoth>>) {
    expect(py.columns).toEqual(columns);
    expect(Object.keys(py.types)).toEqual(columns.map((c) => c.name));
    for (const c of columns) expect(py.types[c.name], c.name).toBe(ARROW[c.type]);
    expect(py.rows).toHaveLength(rows.length);
    expect(rows.length).toBeGreaterThan(0);
    rows.forEach((r, i) => {
      for (const c of columns)
        expect(py.rows[i]?.[c.name], `${c.name} of row ${i}`).toEqual(typedValue(r[c.name], c.type));
    });
  }

  it("a factorial run: tidy and wide, JSON answers split into typed columns", async () => {
    const tidy = await exportBoth("factorial", false);
    expectSame(tidy);
    const type = (t: typeof tidy, n: string) => t.columns.find((c) => c.name === n)?.type;
    expect(type(tidy, "sample")).toBe("integer");
    expect(type(tidy, "value")).toBe("json");
    expect(tidy.py.rows.map((r) => r.sample)).toEqual(tidy.rows.map((r) => r.sample));
    expect(new Set(tidy.py.rows.map((r) => r.sample))).toEqual(new Set([0, 1]));

    const wide = await exportBoth("factorial", true);
    expectSame(wide);
    expect(wide.columns.map((c) => [c.name, c.type]).filter(([n]) => String(n).startsWith("answer"))).toEqual(
      [
        ["answer_valid", "boolean"],
        ["answer_rating", "integer"],
        ["answer_sure", "boolean"],
        ["answer_weight", "number"],
        ["answer_tags", "json"],
        ["answer_detail_colour", "string"],
        ["answer_detail_ripe", "boolean"],
      ],
    );
    const pears = wide.py.rows.find((r) => r.item === "pears");
    expect(pears).toMatchObject({
      answer_rating: 5,
      answer_sure: false,
      answer_weight: 1.25,
      answer_detail_colour: "green",
    });
    expect(JSON.parse(String(pears?.answer_tags))).toEqual(["pears", "fruit"]);
    // 3 cells × 2 draws × 2 samples, one row each.
    expect(wide.rows).toHaveLength(12);
  });

  it("a game run: one wide row per participant and round, offer_keep an integer", async () => {
    expectSame(await exportBoth("game", false));
    const wide = await exportBoth("game", true);
    expectSame(wide);
    const type = (n: string) => wide.columns.find((c) => c.name === n)?.type;
    expect(type("offer_keep")).toBe("integer");
    expect(type("respond")).toBe("string");
    expect(type("payoff")).toBe("integer");
    expect(wide.columns.some((c) => c.name === "payoff_valid")).toBe(false);
    // 6 groups × 2 participants × 1 round.
    expect(wide.rows).toHaveLength(12);
    for (const r of wide.py.rows.filter((r) => r.role === "proposer"))
      expect(typeof r.offer_keep).toBe("number");
  });

  it("a stimuli run: tidy and wide", async () => {
    expectSame(await exportBoth("stimuli", false));
    const wide = await exportBoth("stimuli", true);
    expectSame(wide);
    expect(wide.py.rows.map((r) => r.answer)).toEqual(
      wide.rows.map((r) => (String(r.Stem) === "Bremm" ? "she" : "he")),
    );
  });
});
