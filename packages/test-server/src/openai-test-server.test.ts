import { afterEach, describe, expect, it } from "vitest";
import {
  countWords,
  defaultResponder,
  findJsonExample,
  type ResponderRequest,
  truncateWords,
} from "./default-responder.js";
import {
  formatResetDuration,
  type OpenAITestServerOptions,
  startOpenAITestServer,
  type TestServer,
} from "./openai-test-server.js";
import { parseCliArgs, runCli } from "./cli.js";

const servers: TestServer[] = [];

async function start(options: OpenAITestServerOptions = {}): Promise<TestServer> {
  const s = await startOpenAITestServer(options);
  servers.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field
type Json = Record<string, any>;

async function post(
  s: TestServer,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: Json }> {
  const res = await fetch(`${s.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Json };
}

function chat(s: TestServer, content: string, extra: Json = {}, headers: Record<string, string> = {}) {
  return post(
    s,
    "/chat/completions",
    { model: "test-model", messages: [{ role: "user", content }], ...extra },
    headers,
  );
}

function expectErrorShape(json: Json) {
  expect(typeof json.error.message).toBe("string");
  expect(typeof json.error.type).toBe("string");
  expect(json.error).toHaveProperty("code");
}

describe("response shapes", () => {
  it("answers chat completions in the OpenAI shape", async () => {
    const s = await start();
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const { status, json, headers } = await post(s, "/chat/completions", {
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "You are a participant." },
        { role: "user", content: "How are you today?" },
      ],
      temperature: 0.7,
      seed: 42,
    });
    expect(status).toBe(200);
    expect(headers.get("content-type")).toBe("application/json");
    expect(json.id).toMatch(/^chatcmpl-/);
    expect(json.object).toBe("chat.completion");
    expect(Number.isInteger(json.created)).toBe(true);
    expect(json.model).toBe("gpt-4o-mini");
    expect(json.choices).toHaveLength(1);
    const c = json.choices[0];
    expect(c.index).toBe(0);
    expect(c.message.role).toBe("assistant");
    expect(typeof c.message.content).toBe("string");
    expect(c.message.content.length).toBeGreaterThan(0);
    expect(c.finish_reason).toBe("stop");
    expect(c.logprobs).toBeNull();
    expect(json.usage.prompt_tokens).toBe(8); // words in all messages
    expect(json.usage.completion_tokens).toBe(countWords(c.message.content));
    expect(json.usage.total_tokens).toBe(json.usage.prompt_tokens + json.usage.completion_tokens);
  });

  it("accepts content given as an array of text parts", async () => {
    const s = await start();
    const { status, json } = await post(s, "/chat/completions", {
      model: "m",
      messages: [{ role: "user", content: [{ type: "text", text: 'Say "YES" or "NO".' }] }],
    });
    expect(status).toBe(200);
    expect(["YES", "NO"]).toContain(json.choices[0].message.content);
  });

  it("answers legacy completions, one set of n choices per prompt", async () => {
    const s = await start();
    const { status, json } = await post(s, "/completions", { model: "davinci", prompt: "Once upon a time" });
    expect(status).toBe(200);
    expect(json.id).toMatch(/^cmpl-/);
    expect(json.object).toBe("text_completion");
    expect(json.model).toBe("davinci");
    expect(json.choices).toHaveLength(1);
    expect(json.choices[0]).toMatchObject({ index: 0, logprobs: null, finish_reason: "stop" });
    expect(typeof json.choices[0].text).toBe("string");
    expect(json.usage).toEqual({
      prompt_tokens: 4,
      completion_tokens: countWords(json.choices[0].text),
      total_tokens: 4 + countWords(json.choices[0].text),
    });

    const multi = await post(s, "/completions", { model: "m", prompt: ["a", "b"], n: 2 });
    expect(multi.json.choices.map((c: Json) => c.index)).toEqual([0, 1, 2, 3]);
  });

  it("lists models", async () => {
    const s = await start({ models: ["alpha", "beta"] });
    const res = await fetch(`${s.url}/models`);
    expect(res.status).toBe(200);
    const json = (await res.json()) as Json;
    expect(json.object).toBe("list");
    expect(json.data.map((m: Json) => m.id)).toEqual(["alpha", "beta"]);
    expect(json.data[0]).toMatchObject({ object: "model", owned_by: "silico" });
    expect((await fetch(`${s.url}/models/beta`)).status).toBe(200);
    expect((await fetch(`${s.url}/models/nope`)).status).toBe(404);
  });

  it("strictModels: a model id that is not listed gets OpenAI's 404 model_not_found", async () => {
    const s = await start({ models: ["alpha"], strictModels: true });
    const unknown = await post(s, "/chat/completions", {
      model: "alpah",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(unknown.status).toBe(404);
    expectErrorShape(unknown.json);
    expect(unknown.json.error.code).toBe("model_not_found");
    expect(unknown.json.error.message).toContain("alpah");
    const known = await post(s, "/chat/completions", {
      model: "alpha",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(known.status).toBe(200);
    s.setOptions({ strictModels: false });
    expect((await chat(s, "hi")).status).toBe(200);
  });

  it("listModels: false leaves the server without a listing (404) while completions still answer", async () => {
    const s = await start({ listModels: false });
    expect((await fetch(`${s.url}/models`)).status).toBe(404);
    expect((await fetch(`${s.url}/models/silico-test`)).status).toBe(404);
    expect((await chat(s, "hi")).status).toBe(200);
    expect(parseCliArgs(["--strict-models", "--no-model-list"]).options).toMatchObject({
      strictModels: true,
      listModels: false,
    });
  });

  it("rejects streaming, bad JSON, bad parameters and unknown routes with OpenAI error bodies", async () => {
    const s = await start();
    const stream = await chat(s, "hi", { stream: true });
    expect(stream.status).toBe(400);
    expect(stream.json.error.message).toMatch(/stream/i);
    expect(stream.json.error.param).toBe("stream");

    const bad = await post(s, "/chat/completions", "{not json");
    expect(bad.status).toBe(400);
    expectErrorShape(bad.json);

    for (const extra of [
      { n: 0 },
      { max_tokens: -1 },
      { temperature: 3 },
      { top_logprobs: 2 },
      { seed: 1.5 },
    ]) {
      const r = await chat(s, "hi", extra);
      expect(r.status, JSON.stringify(extra)).toBe(400);
      expectErrorShape(r.json);
    }
    const noModel = await post(s, "/chat/completions", { messages: [{ role: "user", content: "x" }] });
    expect(noModel.status).toBe(400);
    expect(noModel.json.error.param).toBe("model");
    const noMessages = await post(s, "/chat/completions", { model: "m", messages: [] });
    expect(noMessages.status).toBe(400);

    const unknown = await post(s, "/embeddings", { model: "m", input: "x" });
    expect(unknown.status).toBe(404);
    expectErrorShape(unknown.json);
    expect((await fetch(`${s.url}/chat/completions`)).status).toBe(405);
  });
});

describe("default responder", () => {
  it("is deterministic in the messages and model", async () => {
    const a = await start();
    const b = await start();
    const messages = [{ role: "user", content: "Describe your ideal weekend." }];
    const r1 = await post(a, "/chat/completions", { model: "m", messages, temperature: 1 });
    const r2 = await post(b, "/chat/completions", { model: "m", messages, temperature: 0, seed: 9 });
    expect(r1.json.choices[0].message.content).toBe(r2.json.choices[0].message.content);

    const answers = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await chat(a, `Question ${i}: what do you think about topic ${i}?`);
      answers.add(r.json.choices[0].message.content);
    }
    expect(answers.size).toBeGreaterThanOrEqual(5);
  });

  it("samples by seed at temperature > 0: same seed same answer, other seeds other draws", async () => {
    const s = await start();
    const prompt = "Give a number from 0 to 1000000.";
    const answer = async (extra: Json) => (await chat(s, prompt, extra)).json.choices[0].message.content;
    const bySeed = new Map<number, string>();
    for (let seed = 1; seed <= 8; seed++) bySeed.set(seed, await answer({ temperature: 1, seed }));
    expect(new Set(bySeed.values()).size).toBeGreaterThanOrEqual(7);
    expect(await answer({ temperature: 1, seed: 3 })).toBe(bySeed.get(3));
    expect(await answer({ seed: 3 })).toBe(bySeed.get(3)); // unset temperature samples (API default 1)
    // Greedy answers and unseeded ones do not depend on a seed.
    const greedy = await answer({ temperature: 0 });
    expect(await answer({ temperature: 0, seed: 1 })).toBe(greedy);
    expect(await answer({ temperature: 0, seed: 2 })).toBe(greedy);
    expect(await answer({ temperature: 1 })).toBe(greedy);
  });

  it("picks one of the quoted choices or OPTIONs", async () => {
    const s = await start();
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const r = await chat(s, `Round ${i}. Do you "ACCEPT" or "REJECT" the offer?`);
      const text = r.json.choices[0].message.content;
      expect(["ACCEPT", "REJECT"]).toContain(text);
      seen.add(text);
    }
    expect(seen.size).toBe(2);
    const o = await chat(s, "Respond with OPTION 1 or OPTION 2.");
    expect(["OPTION 1", "OPTION 2"]).toContain(o.json.choices[0].message.content);
  });

  it("answers number questions with one integer in range", async () => {
    const s = await start();
    for (let i = 0; i < 10; i++) {
      const r = await chat(s, `Case ${i}: on a scale of 0 to 100, how likely is it to rain?`);
      const nums = (r.json.choices[0].message.content as string).match(/-?\d+/g) ?? [];
      expect(nums).toHaveLength(1);
      expect(Number(nums[0])).toBeGreaterThanOrEqual(0);
      expect(Number(nums[0])).toBeLessThanOrEqual(100);
    }
    const r = await chat(s, "Please rate the item from 1 to 7.");
    const n = Number((r.json.choices[0].message.content as string).match(/\d+/)![0]);
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThanOrEqual(7);
  });

  it("fills a JSON example from the prompt", async () => {
    const s = await start();
    for (let i = 0; i < 5; i++) {
      const r = await chat(
        s,
        `Game ${i}. You have $10. Answer in JSON exactly like {"keep": /*amount*/, "give": <amount>, "reason": "..."}`,
      );
      const obj = JSON.parse(r.json.choices[0].message.content);
      expect(Object.keys(obj)).toEqual(["keep", "give", "reason"]);
      for (const k of ["keep", "give"]) {
        expect(Number.isInteger(obj[k])).toBe(true);
        expect(obj[k]).toBeGreaterThanOrEqual(0);
        expect(obj[k]).toBeLessThanOrEqual(10);
      }
      expect(typeof obj.reason).toBe("string");
    }
    const choice = await chat(s, 'Reply in JSON: {"decision": "ACCEPT" or "REJECT"}');
    expect(["ACCEPT", "REJECT"]).toContain(JSON.parse(choice.json.choices[0].message.content).decision);
    const plain = await chat(s, "Reply in JSON.");
    expect(JSON.parse(plain.json.choices[0].message.content)).toHaveProperty("answer");
  });

  it("follows a json_schema response_format", async () => {
    const s = await start();
    const schema = {
      type: "object",
      properties: {
        rating: { type: "integer", minimum: 1, maximum: 7 },
        label: { type: "string", enum: ["low", "high"] },
        ok: { type: "boolean" },
        notes: { type: "array", items: { type: "string" } },
      },
      required: ["rating", "label", "ok", "notes"],
    };
    const r = await chat(s, "Rate it.", {
      response_format: { type: "json_schema", json_schema: { name: "r", schema } },
    });
    const obj = JSON.parse(r.json.choices[0].message.content);
    expect(obj.rating).toBeGreaterThanOrEqual(1);
    expect(obj.rating).toBeLessThanOrEqual(7);
    expect(["low", "high"]).toContain(obj.label);
    expect(typeof obj.ok).toBe("boolean");
    expect(Array.isArray(obj.notes)).toBe(true);
  });

  it("answers in the shape of an object schema written in a ```json block of the prompt", async () => {
    const s = await start();
    const schema = {
      type: "object",
      properties: {
        age: { type: "integer", minimum: 18, maximum: 120 },
        color: {
          oneOf: [
            { const: "r", title: "Red" },
            { const: "g", title: "Green" },
          ],
        },
        agree: { type: "boolean" },
      },
      required: ["age", "color"],
    };
    const prompt = `Page: Widgets\n\nAnswer with one JSON object that fits this JSON Schema.\n\`\`\`json\n${JSON.stringify(schema, null, 2)}\n\`\`\``;
    const r = await chat(s, prompt);
    const obj = JSON.parse(r.json.choices[0].message.content);
    expect(obj.age).toBeGreaterThanOrEqual(18);
    expect(obj.age).toBeLessThanOrEqual(120);
    expect(["r", "g"]).toContain(obj.color);
    expect(typeof obj.agree).toBe("boolean");
    // An example (not a schema) in a block is still filled as an example.
    const ex = await chat(s, 'Answer in JSON like\n```json\n{"keep": 5}\n```');
    expect(Object.keys(JSON.parse(ex.json.choices[0].message.content))).toEqual(["keep"]);
  });

  it("is usable directly and parses examples leniently", () => {
    const req: ResponderRequest = {
      model: "m",
      messages: [{ role: "user", content: "hello" }],
      params: {},
      choiceIndex: 0,
      endpoint: "chat.completions",
    };
    expect(defaultResponder(req)).toBe(
      defaultResponder({ ...req, messages: [{ role: "user", content: "hello" }] }),
    );
    expect(findJsonExample('Use {"a": 1, "b": "x"}')).toEqual({ a: 1, b: "x" });
    expect(findJsonExample('Use {"keep": /*amount*/}')).toEqual({ keep: 0 });
    expect(findJsonExample("no example {here}")).toBeUndefined();
  });
});

describe("request parameters", () => {
  it("returns n choices, different per index but stable", async () => {
    const s = await start();
    const r1 = await chat(s, "Tell me something.", { n: 8 });
    expect(r1.json.choices).toHaveLength(8);
    expect(r1.json.choices.map((c: Json) => c.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const texts = r1.json.choices.map((c: Json) => c.message.content);
    expect(new Set(texts).size).toBeGreaterThan(1);
    const r2 = await chat(s, "Tell me something.", { n: 8 });
    expect(r2.json.choices.map((c: Json) => c.message.content)).toEqual(texts);
    const total = texts.reduce((sum: number, t: string) => sum + countWords(t), 0);
    expect(r1.json.usage.completion_tokens).toBe(total);
  });

  it("truncates to max_tokens words with finish_reason length", async () => {
    const s = await start({ script: ["one two three four five six"] });
    const cut = await chat(s, "x", { max_tokens: 3 });
    expect(cut.json.choices[0].message.content).toBe("one two three");
    expect(cut.json.choices[0].finish_reason).toBe("length");
    expect(cut.json.usage.completion_tokens).toBe(3);
    const fits = await chat(s, "x", { max_completion_tokens: 6 });
    expect(fits.json.choices[0].message.content).toBe("one two three four five six");
    expect(fits.json.choices[0].finish_reason).toBe("stop");
    const legacy = await post(s, "/completions", { model: "m", prompt: "x", max_tokens: 2 });
    expect(legacy.json.choices[0]).toMatchObject({ text: "one two", finish_reason: "length" });
  });

  it("cuts at stop sequences", async () => {
    const s = await start({ script: ["Answer: 42\nReason: because"] });
    const r = await chat(s, "x", { stop: ["\n", "END"] });
    expect(r.json.choices[0].message.content).toBe("Answer: 42");
    expect(r.json.choices[0].finish_reason).toBe("stop");
  });

  it("returns valid, deterministic chat logprobs", async () => {
    const s = await start();
    const r = await chat(s, "Describe a sunset.", { logprobs: true, top_logprobs: 5, n: 2 });
    for (const choice of r.json.choices) {
      const content = choice.logprobs.content as Json[];
      expect(content.map((t) => t.token).join("")).toBe(choice.message.content.trimEnd());
      expect(content).toHaveLength(countWords(choice.message.content));
      for (const t of content) {
        expect(t.logprob).toBeLessThanOrEqual(0);
        expect(t.bytes).toEqual([...Buffer.from(t.token, "utf8")]);
        expect(t.top_logprobs).toHaveLength(5);
        expect(t.top_logprobs[0].token).toBe(t.token);
        expect(t.top_logprobs[0].logprob).toBe(t.logprob);
        const lps = t.top_logprobs.map((x: Json) => x.logprob);
        expect([...lps].sort((a, b) => b - a)).toEqual(lps);
        expect(new Set(t.top_logprobs.map((x: Json) => x.token)).size).toBe(5);
        const mass = lps.reduce((sum: number, lp: number) => sum + Math.exp(lp), 0);
        expect(mass).toBeLessThanOrEqual(1);
        for (const alt of t.top_logprobs) expect(alt.bytes).toEqual([...Buffer.from(alt.token, "utf8")]);
      }
    }
    const again = await chat(s, "Describe a sunset.", { logprobs: true, top_logprobs: 5, n: 2 });
    expect(again.json.choices).toEqual(r.json.choices);

    const noTop = await chat(s, "Describe a sunset.", { logprobs: true });
    expect(noTop.json.choices[0].logprobs.content[0].top_logprobs).toEqual([]);
  });

  it("returns legacy logprobs on /v1/completions", async () => {
    const s = await start({ script: ["alpha beta gamma"] });
    const r = await post(s, "/completions", { model: "m", prompt: "x", logprobs: 2 });
    const lp = r.json.choices[0].logprobs;
    expect(lp.tokens).toEqual(["alpha", " beta", " gamma"]);
    expect(lp.text_offset).toEqual([0, 5, 10]);
    expect(lp.token_logprobs).toHaveLength(3);
    expect(Object.keys(lp.top_logprobs[0])).toHaveLength(2);
  });
});

describe("scripted answers", () => {
  it("answers a script in order, cycling, one entry per choice", async () => {
    const s = await start({ script: ["first", "second", "third"] });
    expect((await chat(s, "a")).json.choices[0].message.content).toBe("first");
    const two = await chat(s, "a", { n: 2 });
    expect(two.json.choices.map((c: Json) => c.message.content)).toEqual(["second", "third"]);
    expect((await chat(s, "a")).json.choices[0].message.content).toBe("first");
    s.setOptions({ script: ["x"] });
    expect((await chat(s, "a")).json.choices[0].message.content).toBe("x");
  });

  it("calls a responder function (sync or async) with model, messages, params and choice index", async () => {
    const seen: ResponderRequest[] = [];
    const s = await start({
      responder: (req) => {
        seen.push(req);
        return req.choiceIndex === 0
          ? `hello ${req.model}`
          : { text: "filtered", finish_reason: "content_filter" };
      },
    });
    const r = await chat(s, "hi", { n: 2, temperature: 0.5 });
    expect(r.json.choices[0].message.content).toBe("hello test-model");
    expect(r.json.choices[1]).toMatchObject({
      message: { content: "filtered" },
      finish_reason: "content_filter",
    });
    expect(seen[0]).toMatchObject({ model: "test-model", choiceIndex: 0, endpoint: "chat.completions" });
    expect(seen[0]!.messages).toEqual([{ role: "user", content: "hi" }]);
    expect(seen[0]!.params.temperature).toBe(0.5);

    s.setOptions({ responder: async (req) => `later ${req.choiceIndex}` });
    expect((await chat(s, "hi")).json.choices[0].message.content).toBe("later 0");

    s.setOptions({
      responder: () => {
        throw new Error("boom");
      },
    });
    const failed = await chat(s, "hi");
    expect(failed.status).toBe(500);
    expect(failed.json.error.message).toMatch(/boom/);
  });
});

describe("rate limits", () => {
  it("answers 429 with Retry-After and x-ratelimit headers beyond rpm", async () => {
    const s = await start({ rpm: 3 });
    const ok = await chat(s, "a");
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-ratelimit-limit-requests")).toBe("3");
    expect(ok.headers.get("x-ratelimit-remaining-requests")).toBe("2");
    await chat(s, "b");
    await chat(s, "c");
    const limited = await chat(s, "d");
    expect(limited.status).toBe(429);
    expectErrorShape(limited.json);
    expect(limited.json.error.code).toBe("rate_limit_exceeded");
    const retryAfter = limited.headers.get("retry-after")!;
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(59);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    expect(limited.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(limited.headers.get("x-ratelimit-reset-requests")).toMatch(/^(\d+m)?[\d.]+m?s$/);
    expect(s.stats().status).toEqual({ 200: 3, 429: 1 });

    s.reset();
    expect((await chat(s, "e")).status).toBe(200);
  });

  it("limits tokens per minute (prompt words + n * max_tokens)", async () => {
    const s = await start({ tpm: 50 });
    const first = await chat(s, "one two three four five", { max_tokens: 20 }); // 25 tokens
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-remaining-tokens")).toBe("25");
    expect((await chat(s, "one two three four five", { max_tokens: 20 })).status).toBe(200);
    const limited = await chat(s, "one", { max_tokens: 1 });
    expect(limited.status).toBe(429);
    expect(limited.json.error.type).toBe("tokens");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(limited.headers.get("x-ratelimit-remaining-tokens")).toBe("0");
    expect(limited.headers.get("x-ratelimit-reset-tokens")).toBeTruthy();
  });

  it("formats reset durations like OpenAI", () => {
    expect(formatResetDuration(0)).toBe("0s");
    expect(formatResetDuration(250)).toBe("250ms");
    expect(formatResetDuration(1000)).toBe("1s");
    expect(formatResetDuration(1500)).toBe("1.5s");
    expect(formatResetDuration(60_000)).toBe("1m0s");
  });
});

describe("injected failures", () => {
  it("fails the first N requests with the given status", async () => {
    for (const status of [429, 500, 400, 404, 422]) {
      const s = await start({ failFirst: { count: 2, status, retryAfter: 2 } });
      for (let i = 0; i < 2; i++) {
        const r = await chat(s, "x");
        expect(r.status).toBe(status);
        expectErrorShape(r.json);
        expect(r.headers.get("retry-after")).toBe("2");
      }
      expect((await chat(s, "x")).status).toBe(200);
      expect(s.stats().status).toEqual({ [status]: 2, 200: 1 });
    }
  });

  it("re-arms failFirst through setOptions, including drops", async () => {
    const s = await start();
    expect((await chat(s, "x")).status).toBe(200);
    s.setOptions({ failFirst: { count: 1, status: "drop" } });
    await expect(chat(s, "x")).rejects.toThrow();
    expect((await chat(s, "x")).status).toBe(200);
    expect(s.stats().dropped).toBe(1);
  });

  it("drops connections so that fetch rejects", async () => {
    const s = await start({ failures: { rateDrop: 1 } });
    await expect(chat(s, "x")).rejects.toThrow();
    await expect(chat(s, "y")).rejects.toThrow();
    const st = s.stats();
    expect(st.dropped).toBe(2);
    expect(st.requests).toBe(2);
    expect(st.completed).toBe(0);
    expect(s.requests.every((r) => r.dropped === true)).toBe(true);
  });

  it("injects 500s and 429s at seeded rates, reproducibly", async () => {
    const run = async () => {
      const s = await start({ failures: { rate500: 0.3, rate429: 0.2, retryAfter: 3 }, faultSeed: 7 });
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) {
        const r = await chat(s, `q${i}`);
        statuses.push(r.status);
        if (r.status === 429) expect(r.headers.get("retry-after")).toBe("3");
        if (r.status !== 200) expectErrorShape(r.json);
      }
      return statuses;
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    expect(a).toContain(500);
    expect(a).toContain(429);
    expect(a).toContain(200);
  });

  it("waits latencyMs before answering", async () => {
    const s = await start({ latencyMs: 120 });
    const t0 = performance.now();
    expect((await chat(s, "x")).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
    s.setOptions({ latencyMs: 0 });
    const t1 = performance.now();
    await chat(s, "x");
    expect(performance.now() - t1).toBeLessThan(100);
  });
});

describe("authentication", () => {
  it("requires the API key when set, without echoing the presented key", async () => {
    const s = await start({ apiKey: "sk-right" });
    const missing = await chat(s, "x");
    expect(missing.status).toBe(401);
    expectErrorShape(missing.json);
    expect(missing.json.error.code).toBe("invalid_api_key");

    const wrong = await chat(s, "x", {}, { authorization: "Bearer sk-wrong-secret" });
    expect(wrong.status).toBe(401);
    expect(JSON.stringify(wrong.json)).not.toContain("sk-wrong-secret");

    const right = await chat(s, "x", {}, { authorization: "Bearer sk-right" });
    expect(right.status).toBe(200);
    expect((await fetch(`${s.url}/models`)).status).toBe(401);

    expect(s.requests.map((r) => r.hasAuthorization)).toEqual([false, true, true, false]);
    for (const r of s.requests) expect(r.headers.authorization).toBeUndefined();
    expect(JSON.stringify(s.requests)).not.toContain("sk-right");
  });
});

describe("stats and recording", () => {
  it("counts requests, statuses and concurrency", async () => {
    const s = await start({ latencyMs: 50 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => chat(s, `q${i}`)));
    await fetch(`${s.url}/models`);
    await post(s, "/chat/completions", { model: "m" });
    const st = s.stats();
    expect(st.requests).toBe(12);
    expect(st.completed).toBe(12);
    expect(st.status).toEqual({ 200: 11, 400: 1 });
    expect(st.dropped).toBe(0);
    expect(st.inFlight).toBe(0);
    expect(st.inFlightMax).toBeGreaterThanOrEqual(2);
    expect(st.inFlightMax).toBeLessThanOrEqual(10);
  });

  it("records requests with body, path and status", async () => {
    const s = await start();
    await chat(s, "hello", { temperature: 0.2 });
    expect(s.requests).toHaveLength(1);
    const r = s.requests[0]!;
    expect(r).toMatchObject({
      seq: 1,
      method: "POST",
      path: "/v1/chat/completions",
      status: 200,
      hasAuthorization: false,
    });
    expect(r.body).toEqual({
      model: "test-model",
      messages: [{ role: "user", content: "hello" }],
      temperature: 0.2,
    });
    expect(r.headers["content-type"]).toBe("application/json");
    s.reset();
    expect(s.requests).toHaveLength(0);
    expect(s.stats().requests).toBe(0);
  });

  it("keeps nothing with record: false but still counts", async () => {
    const s = await start({ record: false });
    for (let i = 0; i < 5; i++) await chat(s, `q${i}`);
    expect(s.requests).toHaveLength(0);
    expect(s.stats()).toMatchObject({ requests: 5, completed: 5, status: { 200: 5 } });
  });

  it("serves many concurrent requests", async () => {
    const s = await start({ record: false });
    const total = 2000;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        next++;
        const r = await chat(s, `How much do you give, participant ${next}?`, { max_tokens: 20 });
        expect(r.status).toBe(200);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    expect(s.stats()).toMatchObject({
      requests: total,
      completed: total,
      status: { 200: total },
      inFlight: 0,
    });
  });
});

describe("CLI", () => {
  it("parses flags into options", () => {
    const c = parseCliArgs([
      "--port",
      "0",
      "--latency-ms",
      "5",
      "--rpm",
      "100",
      "--tpm",
      "1000",
      "--rate-500",
      "0.1",
      "--rate-drop",
      "0.05",
      "--fail-first",
      "2",
      "--fail-first-status",
      "429",
      "--fail-first-retry-after",
      "3",
      "--api-key",
      "k",
      "--fault-seed",
      "9",
      "--script",
      "a",
      "--script",
      "b",
    ]);
    expect(c.port).toBe(0);
    expect(c.options).toEqual({
      record: false,
      latencyMs: 5,
      rpm: 100,
      tpm: 1000,
      faultSeed: 9,
      apiKey: "k",
      script: ["a", "b"],
      failures: { rate500: 0.1, rateDrop: 0.05 },
      failFirst: { count: 2, status: 429, retryAfter: 3 },
    });
    expect(parseCliArgs([]).port).toBe(8787);
    expect(() => parseCliArgs(["--rate-500", "2"])).toThrow(/rate-500/);
    expect(() => parseCliArgs(["--bogus"])).toThrow();
  });

  it("starts a server and prints its URL", async () => {
    const lines: string[] = [];
    const s = await runCli(["--port", "0", "--script", "hi there"], {
      out: (l) => lines.push(l),
      err: () => {},
    });
    expect(s).not.toBeNull();
    servers.push(s!);
    expect(lines).toEqual([s!.url]);
    expect((await chat(s!, "x")).json.choices[0].message.content).toBe("hi there");
  });
});

describe("word helpers", () => {
  it("counts and truncates whitespace-separated words", () => {
    expect(countWords("  a  b\nc\t")).toBe(3);
    expect(countWords("")).toBe(0);
    expect(truncateWords("a b c d", 2)).toBe("a b");
    expect(truncateWords("a b ", 2)).toBeNull();
    expect(truncateWords("a  b", 5)).toBeNull();
  });
});

describe("tokenCount: estimate", () => {
  it("bills prompt tokens as silico's offline estimate: ⌈characters / 4⌉ + 4 per chat message", async () => {
    const s = await start({ tokenCount: "estimate", script: ["ok"] });
    const system = "You are a careful participant."; // 30 characters → 8
    const user = "Pick one: é or ü? Answer in one word."; // 37 code points → 10
    const chat = await post(s, "/chat/completions", {
      model: "m",
      messages: [
        { role: "system", content: system },
        { role: "user", content: user },
      ],
    });
    expect(chat.json.usage.prompt_tokens).toBe(8 + 4 + 10 + 4);
    expect(chat.json.usage.completion_tokens).toBe(1); // answers are still counted in words
    const legacy = await post(s, "/completions", { model: "m", prompt: user });
    expect(legacy.json.usage.prompt_tokens).toBe(10);
    expect(parseCliArgs(["--token-count", "estimate"]).options.tokenCount).toBe("estimate");
    expect(() => parseCliArgs(["--token-count", "chars"])).toThrow(
      /--token-count must be "words" or "estimate"/,
    );
  });
});
