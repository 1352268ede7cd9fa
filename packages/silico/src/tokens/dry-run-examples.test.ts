import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastLine, PACKAGE_DIR, runCli } from "../test-support/cli.js";
import { defaultResponder, startOpenAITestServer, type TestServer } from "@silico/test-server";

// Every example, its model pointed at the test server: the dry run's input-token estimate must be
// within ±15 % of what the server bills for the real run. The server counts prompt tokens with
// silico's offline estimate (tokenCount: "estimate", tokens/char-estimate.ts), the counting the
// dry run uses for a model whose tokenizer it does not have, so the comparison checks what the
// estimate simulates (history growth, system prompts, every turn), not two tokenizers.

const EXAMPLES = resolve(PACKAGE_DIR, "..", "..", "examples");
const STUDIES = [
  "approval/study.yaml",
  "ultimatum/study.yaml",
  "framed-pd/study.yaml",
  "public-goods/study.yaml",
  "pronoun-gender/one-trial.yaml",
  "pronoun-gender/many-trials.yaml",
];

let dir: string;
let server: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-dry-run-examples-"));
  server = await startOpenAITestServer({
    tokenCount: "estimate",
    record: false,
    // The pronoun examples name no options in their prompts, so the default responder answers them
    // with an (invalid) sentence; the model they are written for is constrained to "he" or "she".
    // Answer as it would, so their many-trial conversations carry what a real run's would.
    responder: (req) => {
      const last = req.messages.at(-1)?.content;
      if (typeof last === "string" && last.startsWith("Please complete the sentence"))
        return last.length % 2 === 0 ? "he" : "she";
      return defaultResponder(req);
    },
  });
  copyFileSync(join(EXAMPLES, "pronoun-gender", "stimuli.csv"), join(dir, "stimuli.csv"));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The example with its model replaced by the test server (an openai-compatible provider). */
function pointAtServer(study: string): string {
  const text = readFileSync(join(EXAMPLES, study), "utf8");
  const models = text.match(/^model: .*$/gm) ?? [];
  expect(models, `${study} names one model`).toHaveLength(1);
  const path = join(dir, study.replace("/", "-"));
  writeFileSync(
    path,
    `${text.replace(/^model: .*$/m, "model: ts:silico-test")}
settings: {rpm: 600000}
providers:
  ts: {type: openai-compatible, base_url: "${server.url}"}
`,
  );
  return path;
}

const cli = (args: string[]) =>
  runCli(args, { cwd: dir, env: { OPENAI_API_KEY: "sk-test-dryrun-0000", SILICO_DB: undefined } });

describe("silico run --dry-run on every example", () => {
  for (const study of STUDIES) {
    it(`estimates ${study}'s input tokens within ±15 % of what the run is billed`, async () => {
      const file = pointAtServer(study);
      const dry = await cli(["run", file, "--dry-run", "--seed", "11"]);
      expect(dry.code, dry.stderr).toBe(0);
      const estimate = Number(dry.stdout.match(/ts:silico-test: \d+ calls, ≈ (\d+) input tokens/)?.[1]);
      expect(estimate, dry.stdout).toBeGreaterThan(0);
      // Every example caps its answers, so output and cost are bounds.
      expect(dry.stdout).toMatch(/≤ \d+ output tokens \(max_tokens \d+\)/);

      const db = join(dir, `${study.replace("/", "-")}.db`);
      const run = await cli(["run", file, "--db", db, "--seed", "11", "--quiet"]);
      // Some invalid answers are data: exit 0 or 3.
      expect([0, 3], run.stderr).toContain(run.code);
      const conn = new Database(db, { readonly: true });
      let billed: number;
      try {
        const failed = conn.prepare("SELECT COUNT(*) FROM sessions WHERE status = 'failed'").pluck().get();
        expect(failed, run.stderr).toBe(0);
        billed = conn
          .prepare("SELECT SUM(input_tokens) FROM calls WHERE run_id = ? AND cached_from IS NULL")
          .pluck()
          .get(lastLine(run.stdout)) as number;
      } finally {
        conn.close();
      }
      expect(billed).toBeGreaterThan(0);
      const error = Math.abs(estimate - billed) / billed;
      expect(error, `estimate ${estimate}, billed ${billed}`).toBeLessThan(0.15);
    }, 120_000);
  }
});
