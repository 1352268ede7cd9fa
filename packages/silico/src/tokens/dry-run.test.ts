import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileStudyFile } from "../designs/index.js";
import { lastLine, runCli } from "../test-support/cli.js";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { estimatePlan, formatDryRun } from "./dry-run.js";

let dir: string;
let server: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-dry-run-"));
  server = await startOpenAITestServer({ script: ["42"], models: ["gpt-4o-mini"] });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function study(params: string, items = 3): string {
  const path = join(dir, `study-${++n}.yaml`);
  writeFileSync(
    path,
    `kind: factorial
name: dry-${n}
seed: 3
prompt: "Item {{ item }}: how much would you pay, from 0 to 100? Answer with a number."
levels:
  item: [${Array.from({ length: items }, (_, i) => i + 1).join(", ")}]
times: 4
model: openai:gpt-4o-mini
parse: {type: number}
settings: {rpm: 60000}
${params}
`,
  );
  return path;
}

const cli = (args: string[]) =>
  runCli(args, {
    cwd: dir,
    env: { OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test-dry-000000", SILICO_DB: undefined },
  });
const sentMaxTokens = () =>
  server.requests
    .filter((r) => r.path === "/v1/chat/completions")
    .map((r) => (r.body as { max_tokens?: number; max_completion_tokens?: number }).max_tokens ?? null);

describe("dry-run bounds", () => {
  it("prints ≤ only when every request carries the max_tokens cap it counted", async () => {
    const file = study("params: {max_tokens: 20}");
    const dry = await cli(["run", file, "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/≤ 240 output tokens \(max_tokens 20\)/);
    expect(dry.stdout).toMatch(/estimated cost: ≤ \$\d+\.\d{4}/);
    expect(dry.stdout).not.toContain("≈ $");

    server.reset();
    const run = await cli(["run", file, "--db", join(dir, "capped.db"), "--quiet"]);
    expect(run.code, run.stderr).toBe(0);
    expect(sentMaxTokens()).toEqual(Array(12).fill(20));
  });

  it("says output is uncapped and prints ≈ when requests carry no max_tokens", async () => {
    const file = study("");
    const dry = await cli(["run", file, "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(
      /≈ 3072 output tokens \(output uncapped: no max_tokens set, the provider's default applies; 256 per answer assumed\)/,
    );
    expect(dry.stdout).toMatch(/estimated cost: ≈ \$\d+\.\d{4} — output is uncapped/);
    expect(dry.stdout).not.toContain("≤");

    server.reset();
    const run = await cli(["run", file, "--db", join(dir, "uncapped.db"), "--quiet"]);
    expect(run.code, run.stderr).toBe(0);
    expect(lastLine(run.stdout)).toMatch(/^\d{8}-/);
    expect(sentMaxTokens()).toEqual(Array(12).fill(null));
  });

  it("counts each request's conversation with the model's tokenizer (tiktoken for OpenAI models)", async () => {
    const file = study("params: {max_tokens: 5}", 1);
    const est = await estimatePlan(compileStudyFile(file).plan(3), { seed: 3 });
    const m = est.models[0];
    expect(m?.counter.name).toBe("o200k_base (tiktoken)");
    const prompt = "Item 1: how much would you pay, from 0 to 100? Answer with a number.";
    // 4 draws × (the prompt's tokens + 3 for the message + 3 to prime the reply)
    expect(m?.inputTokens).toBe(4 * (m?.counter.count(prompt) ?? 0) + 4 * 6);
    expect(m?.outputTokens).toBe(20);
  });

  it("samples large plans evenly and scales the totals", async () => {
    const file = study("params: {max_tokens: 5}", 50);
    const plan = compileStudyFile(file).plan(3);
    const full = await estimatePlan(plan, { seed: 3 });
    const sampled = await estimatePlan(plan, { seed: 3, maxSessions: 20 });
    expect(full.simulated).toBe(200);
    expect(sampled.simulated).toBe(20);
    expect(sampled.calls).toBe(200);
    expect(Math.abs((sampled.models[0]?.inputTokens ?? 0) - (full.models[0]?.inputTokens ?? 0))).toBeLessThan(
      0.05 * (full.models[0]?.inputTokens ?? 0),
    );
  });

  it("says which sessions the simulation could not finish and why", async () => {
    const path = join(dir, "schemaless.yaml");
    writeFileSync(
      path,
      `kind: game
name: schemaless
seed: 1
groups: 2
rounds: 1
model: openai:gpt-4o-mini
params: {max_tokens: 10}
roles:
  proposer: { count: 1 }
  responder: { count: 1 }
treatments:
  only: {}
stages:
  - name: offer
    roles: [proposer]
    prompt: "How much do you keep? Answer in JSON."
    parse: { type: json }
  - name: respond
    roles: [responder]
    prompt: "The proposer keeps {{ offer.keep }}. ACCEPT or REJECT?"
    parse: { type: choice, options: [ACCEPT, REJECT] }
`,
    );
    const est = await estimatePlan(compileStudyFile(path).plan(1), { seed: 1 });
    // A JSON parser without a schema, and no example in the prompt: the example answer is {}, and
    // the responder's prompt cannot render.
    expect(est.calls).toBe(2);
    expect(est.stopped).toHaveLength(2);
    expect(formatDryRun(est).join("\n")).toMatch(
      /note: session 1 stopped after 1 calls in the simulation \(.*keep.*\); its later calls are not counted/,
    );
    // With an example in the prompt the simulated answer follows it and both decisions are counted.
    writeFileSync(
      path,
      readFileSync(path, "utf8").replace(
        "Answer in JSON.",
        'Respond with JSON like this: {\\"keep\\": /*amount*/}',
      ),
    );
    const full = await estimatePlan(compileStudyFile(path).plan(1), { seed: 1 });
    expect(full.stopped).toEqual([]);
    expect(full.calls).toBe(4);
  });
});
