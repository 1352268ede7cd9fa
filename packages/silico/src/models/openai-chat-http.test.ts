import http from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AiSdkModel } from "./ai-sdk-model.js";
import { nodeHttpFetch } from "./node-http-fetch.js";
import { leanChatEligible } from "./openai-chat-http.js";
import { registerSecret } from "./secrets.js";
import type { ModelRequest, ModelResponse, ProviderError } from "./types.js";

/**
 * The lean Chat/Completions client must answer exactly as the AI SDK's adapter does: every case
 * is sent once through the lean path (no fetch given) and once through the SDK (the same node:http
 * fetch given explicitly, which keeps the SDK path), and the results — or the ProviderErrors —
 * are compared field by field, as are the request bodies the server received.
 */

type Outcome =
  | { ok: true; response: ModelResponse }
  | {
      ok: false;
      error: {
        name: string;
        message: string;
        code: string;
        status?: number;
        retryable: boolean;
        fatal: boolean;
        retryAfterMs?: number;
        rateLimit?: unknown;
      };
    };

function model(baseURL: string, sdk: boolean, apiKey = "sk-test-lean-0000", modelName = "silico-test") {
  return new AiSdkModel({
    flavour: "openai-compatible",
    id: `ts:${modelName}`,
    modelName,
    apiKey,
    baseURL,
    ...(sdk ? { fetch: nodeHttpFetch } : {}),
  });
}

async function outcome(m: AiSdkModel, req: ModelRequest): Promise<Outcome> {
  try {
    return { ok: true, response: await m.generate(req) };
  } catch (e) {
    const err = e as ProviderError;
    return {
      ok: false,
      error: {
        name: err.name,
        message: err.message,
        code: err.code,
        retryable: err.isRetryable,
        fatal: err.fatal,
        ...(err.status !== undefined ? { status: err.status } : {}),
        ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
        ...(err.rateLimit !== undefined ? { rateLimit: err.rateLimit } : {}),
      },
    };
  }
}

/** A server answering every request with the next canned reply, recording what it received. */
interface Canned {
  status: number;
  body: string | Buffer;
  headers?: Record<string, string>;
}
let canned: Canned[] = [];
const received: { body: unknown; userAgent: string | undefined; authorization: string | undefined }[] = [];
let raw: http.Server;
let rawUrl: string;
let server: TestServer;

beforeAll(async () => {
  registerSecret("sk-test-lean-0000");
  server = await startOpenAITestServer({ script: ["Fine, thanks."], record: true });
  raw = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({
        body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
        userAgent: req.headers["user-agent"],
        authorization: req.headers.authorization,
      });
      const c = canned.shift() ?? { status: 500, body: "" };
      res.writeHead(c.status, { "content-type": "application/json", ...(c.headers ?? {}) });
      res.end(c.body);
    });
  });
  await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
  rawUrl = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
  await server.close();
  await new Promise((r) => raw.close(r));
});

const conversation: ModelRequest["messages"] = [
  { role: "system", content: "You chat with a participant of a study." },
  { role: "user", content: "Hello" },
  { role: "assistant", content: "Hi." },
  { role: "user", content: "How are you?" },
];

/** Both paths against the canned server with the same reply; returns both outcomes and bodies. */
async function againstCanned(reply: Canned, req: ModelRequest = { messages: conversation, params: {} }) {
  received.length = 0;
  canned = [reply, reply];
  const lean = await outcome(model(rawUrl, false), req);
  const sdk = await outcome(model(rawUrl, true), req);
  expect(received).toHaveLength(2);
  return { lean, sdk, leanRequest: received[0], sdkRequest: received[1] };
}

const completion = (extra: Record<string, unknown> = {}, message: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: "c1",
    object: "chat.completion",
    created: 1700000000,
    model: "silico-test-0613",
    choices: [
      { index: 0, message: { role: "assistant", content: "Yes.", ...message }, finish_reason: "stop" },
    ],
    usage: { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14 },
    ...extra,
  });

describe("lean OpenAI chat client = the AI SDK's adapter", () => {
  it("takes the lean path only for what the adapter sends unchanged", () => {
    expect(leanChatEligible("silico-test", conversation, {})).toBe(true);
    expect(leanChatEligible("gpt-4o-mini", conversation, { temperature: 1 })).toBe(true);
    expect(leanChatEligible("gpt-5-mini", conversation, {})).toBe(false);
    expect(leanChatEligible("o3", conversation, {})).toBe(false);
    expect(leanChatEligible("gpt-4o-search-preview", conversation, {})).toBe(false);
    expect(leanChatEligible("silico-test", conversation, { responseSchema: { type: "object" } })).toBe(false);
    expect(
      leanChatEligible("silico-test", [{ role: "user", content: [{ type: "text", text: "hi" }] }], {}),
    ).toBe(false);
  });

  it("same answers, usage, logprobs, seeds and n as the SDK (test server), and the same request bodies", async () => {
    const req: ModelRequest = {
      messages: conversation,
      params: {
        temperature: 0.7,
        topP: 0.9,
        maxTokens: 20,
        seed: 41,
        stop: ["\n\n"],
        n: 2,
        logprobs: true,
        topLogprobs: 3,
        timeoutMs: 10_000,
      },
    };
    server.requests.length = 0;
    const lean = await outcome(model(server.url, false), req);
    const leanRequests = server.requests.splice(0);
    const sdk = await outcome(model(server.url, true), req);
    const sdkRequests = server.requests.splice(0);
    expect(lean.ok).toBe(true);
    // The test server numbers its completions and stamps the second: the only fields that differ.
    const norm = (o: Outcome) =>
      JSON.parse(
        JSON.stringify(o)
          .replaceAll(/chatcmpl-silico\d+/g, "ID")
          .replaceAll(/"created":\d+/g, '"created":0'),
      );
    expect(norm(lean)).toEqual(norm(sdk));
    if (lean.ok) {
      expect(lean.response.choices).toHaveLength(2);
      expect(lean.response.choices[0]?.logprobs?.[0]?.top).toHaveLength(3);
      expect(lean.response.usage?.inputTokens).toBeGreaterThan(0);
    }
    expect(leanRequests.map((r) => r.body)).toEqual(sdkRequests.map((r) => r.body));
    expect((leanRequests[1]?.body as { seed?: number } | undefined)?.seed).toBe(42);
    // The lean path really was taken (the SDK names itself in the user agent).
    expect(String(leanRequests[0]?.headers["user-agent"] ?? "")).not.toContain("ai-sdk");
    expect(String(sdkRequests[0]?.headers["user-agent"] ?? "")).toContain("ai-sdk");
  });

  it("logprobs: true without top sends top_logprobs 0 like the adapter", async () => {
    const { lean, sdk, leanRequest, sdkRequest } = await againstCanned(
      { status: 200, body: completion() },
      { messages: conversation, params: { logprobs: true } },
    );
    expect(lean).toEqual(sdk);
    expect(leanRequest?.body).toEqual(sdkRequest?.body);
    expect(leanRequest?.body).toMatchObject({ logprobs: true, top_logprobs: 0 });
    expect(leanRequest?.authorization).toBe(sdkRequest?.authorization);
  });

  const cases: [string, Canned][] = [
    [
      "a plain answer with rate-limit headers",
      {
        status: 200,
        body: completion(),
        headers: {
          "x-ratelimit-limit-requests": "500",
          "x-ratelimit-remaining-requests": "499",
          "x-ratelimit-reset-requests": "120ms",
        },
      },
    ],
    ["a refusal", { status: 200, body: completion({}, { content: null, refusal: "I can't." }) }],
    [
      "an audio transcript",
      { status: 200, body: completion({}, { content: "", audio: { transcript: "Spoken." } }) },
    ],
    [
      "no finish reason, no usage, no model",
      {
        status: 200,
        body: JSON.stringify({ choices: [{ index: 0, message: { content: "Ok" }, finish_reason: null }] }),
      },
    ],
    [
      "content logprobs and refusal logprobs",
      {
        status: 200,
        body: completion({
          choices: [
            {
              index: 0,
              message: { content: "Ok" },
              finish_reason: "length",
              logprobs: {
                content: [{ token: "Ok", logprob: -0.1, top_logprobs: [{ token: "Ok", logprob: -0.1 }] }],
                refusal: [{ token: "No", logprob: -3, top_logprobs: [] }],
              },
            },
          ],
        }),
      },
    ],
    ["a gzip body", { status: 200, body: gzipSync(completion()), headers: { "content-encoding": "gzip" } }],
    ["no choices", { status: 200, body: completion({ choices: [] }) }],
    ["invalid JSON on 200", { status: 200, body: "{not json" }],
    [
      "a body that breaks the response schema",
      { status: 200, body: completion({ choices: [{ message: { content: 3 } }] }) },
    ],
    [
      "a __proto__ key",
      { status: 200, body: completion({ __proto__: { x: 1 } }).replace('"id"', '"__proto__":{"x":1},"id"') },
    ],
    [
      "429 with Retry-After and headers",
      {
        status: 429,
        body: JSON.stringify({ error: { message: "Rate limit reached", type: "requests" } }),
        headers: {
          "retry-after": "2",
          "x-ratelimit-remaining-requests": "0",
          "x-ratelimit-reset-requests": "1s",
        },
      },
    ],
    ["500 with a text body", { status: 500, body: "upstream exploded" }],
    ["503 with an empty body", { status: 503, body: "" }],
    [
      "401 (the key is refused)",
      {
        status: 401,
        body: JSON.stringify({ error: { message: "Incorrect API key provided: sk-test-lean-0000" } }),
      },
    ],
    [
      "400 with an error object without message",
      { status: 400, body: JSON.stringify({ error: { code: "x" } }) },
    ],
    ["404 with a message field only", { status: 404, body: JSON.stringify({ message: "no such model" }) }],
  ];
  for (const [name, reply] of cases) {
    it(`${name}: same outcome`, async () => {
      const { lean, sdk, leanRequest, sdkRequest } = await againstCanned(reply);
      expect(lean).toEqual(sdk);
      expect(leanRequest?.body).toEqual(sdkRequest?.body);
      expect(leanRequest?.userAgent ?? "").not.toContain("ai-sdk");
      if (!lean.ok) expect(lean.error.message).not.toContain("sk-test-lean-0000");
    });
  }

  it("failures of the test server (429 with Retry-After, a dropped connection, a wrong key): same errors", async () => {
    for (const failFirst of [
      { count: 1, status: 429, retryAfter: 1 },
      { count: 1, status: "drop" as const },
      { count: 1, status: 502, message: "bad gateway" },
    ]) {
      const s = await startOpenAITestServer({ script: ["x"], failFirst });
      try {
        const lean = await outcome(model(s.url, false), { messages: conversation, params: {} });
        const s2 = await startOpenAITestServer({ script: ["x"], failFirst });
        try {
          const sdk = await outcome(model(s2.url, true), { messages: conversation, params: {} });
          expect(lean.ok).toBe(false);
          // The port differs between the two servers; nothing else may.
          const norm = (o: Outcome) => JSON.parse(JSON.stringify(o).replaceAll(/127\.0\.0\.1:\d+/g, "HOST"));
          expect(norm(lean)).toEqual(norm(sdk));
        } finally {
          await s2.close();
        }
      } finally {
        await s.close();
      }
    }
    const keyed = await startOpenAITestServer({ script: ["x"], apiKey: "sk-right-key-1234" });
    try {
      const lean = await outcome(model(keyed.url, false, "sk-wrong-key-9999"), {
        messages: conversation,
        params: {},
      });
      const sdk = await outcome(model(keyed.url, true, "sk-wrong-key-9999"), {
        messages: conversation,
        params: {},
      });
      expect(lean).toEqual(sdk);
      expect(lean.ok === false && lean.error.fatal).toBe(true);
    } finally {
      await keyed.close();
    }
  });

  it("a refused connection, an aborted call and a timeout: same errors", async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/v1`;
    await new Promise((r) => closed.close(r));
    const req: ModelRequest = { messages: conversation, params: {} };
    const refusedLean = await outcome(model(url, false), req);
    expect(refusedLean).toEqual(await outcome(model(url, true), req));
    expect(refusedLean.ok === false && refusedLean.error.retryable).toBe(true);

    const aborted = AbortSignal.abort();
    expect(await outcome(model(rawUrl, false), { ...req, signal: aborted })).toEqual(
      await outcome(model(rawUrl, true), { ...req, signal: aborted }),
    );

    const slow = await startOpenAITestServer({ script: ["x"], latencyMs: 2000 });
    try {
      const timed: ModelRequest = { messages: conversation, params: { timeoutMs: 100 } };
      const lean = await outcome(model(slow.url, false), timed);
      expect(lean).toEqual(await outcome(model(slow.url, true), timed));
      expect(lean.ok === false && lean.error.message).toContain("timed out");
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      const mid = await outcome(model(slow.url, false), { ...req, signal: controller.signal });
      const controller2 = new AbortController();
      setTimeout(() => controller2.abort(), 50);
      expect(mid).toEqual(await outcome(model(slow.url, true), { ...req, signal: controller2.signal }));
      expect(mid.ok).toBe(false);
    } finally {
      await slow.close();
    }
  });

  it("a response schema goes through the SDK (it rewrites the schema)", async () => {
    received.length = 0;
    canned = [{ status: 200, body: completion({}, { content: '{"a":1}' }) }];
    const r = await outcome(model(rawUrl, false), {
      messages: conversation,
      params: { responseSchema: { type: "object", properties: { a: { type: "number" } } } },
    });
    expect(r.ok).toBe(true);
    expect(received[0]?.userAgent).toContain("ai-sdk");
  });
});
