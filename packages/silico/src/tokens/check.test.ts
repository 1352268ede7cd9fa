import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tiktoken } from "js-tiktoken/lite";
import o200k from "js-tiktoken/ranks/o200k_base";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { registerDesign } from "../designs/index.js";
import { stimuliDesign } from "../designs/stimuli/index.js";
import { ConfigError } from "../errors.js";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { checkStudy, commandCheck } from "./check.js";
import { contextWindow, IMAGE_TOKENS, openAiEncoding } from "./count.js";

registerDesign(stimuliDesign);

let dir: string;
let server: TestServer;
beforeAll(async () => {
  server = await startOpenAITestServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "silico-check-"));
  server.reset();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const A40 = "a".repeat(40);
// Run 1: prompts of 4 and 8 characters (1 and 2 estimated tokens); Run 2: one prompt of 40 (10).
const STIMULI = `Run,Item,Condition,Prompt\n1,1,x,abcd\n1,2,x,abcdefgh\n2,1,x,${A40}\n`;

function study(body: string, model = "ts:m"): string {
  writeFileSync(join(dir, "stimuli.csv"), STIMULI);
  writeFileSync(
    join(dir, "study.yaml"),
    `kind: stimuli\nstimuli: stimuli.csv\nmodel: ${model}\nsystem: xy\nparams: {max_tokens: 10}\nproviders:\n  ts: { type: openai-compatible, base_url: "${server.url}" }\n${body}`,
  );
  return join(dir, "study.yaml");
}

describe("checkStudy", () => {
  it("counts system, earlier prompts, earlier answers at max_tokens and the reply, per Run, without sending anything", async () => {
    const lines: string[] = [];
    const code = await commandCheck(study("design: many-trials-per-run\n"), { context: "35" }, (l) =>
      lines.push(l),
    );
    expect(code).toBe(1);
    // Estimate: ⌈chars/4⌉ + 4 per message. Run 1: system 1+4, "abcd" 1+4, answer 10+4, "abcdefgh" 2+4, reply 10 = 40.
    // Run 2: system 5, prompt 10+4, reply 10 = 29.
    expect(lines).toEqual([
      "token check for study.yaml (counted offline; nothing was sent)",
      "ts:m: context window 35 tokens (from --context); tokens estimated as ⌈characters / 4⌉ + 4 per message (the model's tokenizer is not available offline)",
      "  Run 1: the last call needs 40 tokens (1 earlier answer and the reply at max_tokens 10) of 35 — DOES NOT FIT: 5 over",
      "  Run 2: the last call needs 29 tokens (0 earlier answers and the reply at max_tokens 10) of 35 — fits (83 %)",
      "result: 1 of 2 do not fit the context window; shorten the lists (more Runs), lower max_tokens or use a model with a larger context",
    ]);
    expect(server.requests).toHaveLength(0);
  });

  it("takes the largest conversation of each Run in one-trial designs, and repetitions do not add up", async () => {
    const r = await checkStudy(study("design: one-trial-per-run\nsessions: 3\nrandomize: items\n"), {
      context: 50,
    });
    expect(r.ok).toBe(true);
    expect(r.groups.map((g) => [g.label, g.tokens, g.calls])).toEqual([
      ["Run 1", 21, 6],
      ["Run 2", 29, 3],
    ]);
  });

  it("uses tiktoken (o200k_base) and the known context window for OpenAI models", async () => {
    const r = await checkStudy(study("design: many-trials-per-run\n", "openai:gpt-4o-2024-08-06"));
    const enc = new Tiktoken(o200k);
    const n = (s: string) => enc.encode(s).length;
    // 3 per message, 3 to prime the reply.
    const run1 = n("xy") + 3 + n("abcd") + 3 + 10 + 3 + n("abcdefgh") + 3 + 3 + 10;
    expect(r.groups.find((g) => g.label === "Run 1")?.tokens).toBe(run1);
    expect(r.ok).toBe(true);
    expect(r.lines[1]).toBe(
      "openai:gpt-4o-2024-08-06: context window 128,000 tokens (data/context-windows.json); tokens counted with tiktoken o200k_base, +3 per message and +3 for the reply",
    );
  });

  it("says so when the context window is unknown, and passes", async () => {
    const r = await checkStudy(study("design: many-trials-per-run\n"));
    expect(r.ok).toBe(true);
    expect(r.unknownModels).toEqual(["ts:m"]);
    expect(r.lines[1]).toMatch(/^ts:m: context window unknown \(pass --context N to check\)/);
    expect(r.lines.at(-1)).toBe("result: not checked for ts:m (unknown context window)");
  });

  it("counts the full text of each completion-mode call", async () => {
    const r = await checkStudy(study("design: many-trials-per-run\nmode: completion\n"), { context: 100 });
    // "xy\nabcd" + answer + "\nabcdefgh": text "xy\nabcd\nabcdefgh" (16 chars = 4) + answer 10 + reply 10.
    expect(r.groups.find((g) => g.label === "Run 1")?.tokens).toBe(24);
  });

  it("checks factorial studies too (one call per session)", async () => {
    writeFileSync(
      join(dir, "f.yaml"),
      "kind: factorial\nprompt: 'Rate {{ x }} from 0 to 100.'\nlevels: {x: [a, a much longer level text]}\nmodel: local:smollm2-135m\nparams: {max_tokens: 12}\n",
    );
    const r = await checkStudy(join(dir, "f.yaml"));
    expect(r.ok).toBe(true);
    // "Rate a much longer level text from 0 to 100." = 44 chars → 11, + 4 per message, + 12 for the reply.
    expect(r.groups).toMatchObject([
      { model: "local:smollm2-135m", label: "all sessions", tokens: 27, window: 2048, fits: true },
    ]);
  });

  it("counts an image as IMAGE_TOKENS", async () => {
    writeFileSync(join(dir, "p.png"), "x");
    writeFileSync(join(dir, "img.csv"), "Run,Item,Condition,Prompt\n1,1,x,abcd<img>p.png</img>\n");
    writeFileSync(
      join(dir, "img.yaml"),
      `kind: stimuli\nstimuli: img.csv\ndesign: one-trial-per-run\nmodel: ts:m\nparams: {max_tokens: 10}\nproviders:\n  ts: { type: openai-compatible, base_url: "${server.url}" }\n`,
    );
    const r = await checkStudy(join(dir, "img.yaml"));
    expect(r.groups[0]?.tokens).toBe(1 + IMAGE_TOKENS + 4 + 10);
  });

  it("rejects a bad --context", async () => {
    await expect(
      commandCheck(study("design: many-trials-per-run\n"), { context: "0" }),
    ).rejects.toBeInstanceOf(ConfigError);
  });
});

describe("context windows and encodings", () => {
  it("finds dated and routed model ids", () => {
    expect(contextWindow("openai:gpt-4o-mini-2024-07-18")).toBe(128000);
    expect(contextWindow("openai:gpt-4-0613")).toBe(8192);
    expect(contextWindow("anthropic:claude-sonnet-4-20250514")).toBe(200000);
    expect(contextWindow("openrouter:openai/gpt-4.1")).toBe(1047576);
    expect(contextWindow("local:smollm2-135m")).toBe(2048);
    expect(contextWindow("openai:gpt-4oops")).toBeUndefined();
    expect(contextWindow("vllm:llama")).toBeUndefined();
  });

  it("picks o200k_base for the gpt-4o/4.1/5 and o-series families, cl100k_base for gpt-4/3.5", () => {
    expect(openAiEncoding("openai:gpt-4o")).toBe("o200k_base");
    expect(openAiEncoding("openai:gpt-4.1-mini")).toBe("o200k_base");
    expect(openAiEncoding("openai:gpt-5")).toBe("o200k_base");
    expect(openAiEncoding("openai:o3-mini")).toBe("o200k_base");
    expect(openAiEncoding("openai:gpt-4-turbo")).toBe("cl100k_base");
    expect(openAiEncoding("openai:gpt-3.5-turbo")).toBe("cl100k_base");
    expect(openAiEncoding("openrouter:openai/gpt-4o")).toBe("o200k_base");
    expect(openAiEncoding("anthropic:claude-3-5-sonnet")).toBeUndefined();
  });
});
