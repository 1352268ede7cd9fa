import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { compileStudyFile } from "../designs/index.js";
import { AiSdkModel } from "../models/ai-sdk-model.js";
import { RunStore } from "../store/run-store.js";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { type RunOptions, startRun } from "./run-study.js";
import { testSql } from "../store/test-sql.js";

// Rate limits, retries and the provider path against the project's test server over real HTTP
// on 127.0.0.1, recorded in real SQLite files.

let dir: string;
let server: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-throughput-"));
  server = await startOpenAITestServer({ script: ["42"] });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  server.setOptions({ latencyMs: 0, failFirst: { count: 0, status: 500 }, script: ["42"] });
  server.reset();
});

let studyCount = 0;
/** A factorial study of `items × times` one-call sessions on the test server. */
function study(opts: { items: number; times?: number; settings?: string; params?: string; parse?: string }) {
  const path = join(dir, `study-${++studyCount}.yaml`);
  const items = Array.from({ length: opts.items }, (_, i) => i + 1).join(", ");
  writeFileSync(
    path,
    `kind: factorial
prompt: "Item {{ item }}: how much would you pay, from 0 to 100? Answer with a number."
levels:
  item: [${items}]
times: ${opts.times ?? 1}
model: ts:silico-test
parse: ${opts.parse ?? "{type: number}"}
${opts.params ? `params: ${opts.params}\n` : ""}${opts.settings ? `settings: ${opts.settings}\n` : ""}providers:
  ts: {type: openai-compatible, base_url: "${server.url}"}
`,
  );
  return compileStudyFile(path);
}

async function run(s: ReturnType<typeof study>, extra: Partial<RunOptions> = {}) {
  const store = RunStore.open(join(dir, `runs-${studyCount}.db`));
  const result = await startRun(s, { store, backoffMs: 20, ...extra });
  return { store, result };
}

function callRows(store: RunStore, runId: string) {
  return testSql(store)
    .prepare("SELECT status, attempts, error FROM calls WHERE run_id = ? ORDER BY id")
    .all(runId) as {
    status: string;
    attempts: string;
    error: string | null;
  }[];
}

const completions = () => server.requests.filter((r) => r.path === "/v1/chat/completions");

describe("rate limits", () => {
  it("paces requests to the study's RPM and keeps at most max_in_flight calls open", async () => {
    server.setOptions({ latencyMs: 40 });
    const s = study({ items: 30, settings: "{rpm: 600, max_in_flight: 4}" });
    const { store, result } = await run(s);
    store.close();
    expect(result.status).toBe("done");
    const times = completions().map((r) => r.receivedAt);
    expect(times).toHaveLength(30);
    // 600 RPM = one request per 100 ms, with up to one second's worth (10) saved up: a token
    // bucket. So any run of requests i..j spans at least (j − i − 10) × 100 ms (with one request
    // and 30 ms of slack for arrival jitter).
    for (let i = 0; i < times.length; i++) {
      for (let j = i + 12; j < times.length; j++) {
        expect(times[j]! - times[i]!).toBeGreaterThanOrEqual((j - i - 11) * 100 - 30);
      }
    }
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(1700);
    expect(times.at(-1)! - times[0]!).toBeLessThan(4500);
    expect(server.stats().inFlightMax).toBeLessThanOrEqual(4);
  });

  it("a 429 with Retry-After: 2 holds back the whole provider for ≥ 2 s", async () => {
    server.setOptions({ failFirst: { count: 1, status: 429, retryAfter: 2 } });
    const s = study({ items: 4, settings: "{max_in_flight: 2}" });
    const { store, result } = await run(s);
    expect(result.status).toBe("done");
    const reqs = completions();
    expect(reqs[0]?.status).toBe(429);
    const t429 = reqs[0]!.receivedAt;
    // The session that got the 429 asks again only after the pause …
    const retried = reqs.filter(
      (r) =>
        (r.body as { messages: { content: string }[] }).messages[0]!.content ===
        (reqs[0]!.body as { messages: { content: string }[] }).messages[0]!.content,
    );
    expect(retried).toHaveLength(2);
    expect(retried[1]!.receivedAt - t429).toBeGreaterThanOrEqual(2000);
    // … and so does every call that started after it (the pause is provider-wide).
    for (const r of reqs.slice(2)) expect(r.receivedAt - t429).toBeGreaterThanOrEqual(1990);
    const attempts = callRows(store, result.runId).map(
      (c) => JSON.parse(c.attempts) as { status?: number }[],
    );
    expect(attempts.filter((a) => a.length === 2 && a[0]?.status === 429)).toHaveLength(1);
    store.close();
  });
});

describe("retries", () => {
  it("retries HTTP 500s and records every attempt on the call", async () => {
    server.setOptions({ failFirst: { count: 2, status: 500 } });
    const { store, result } = await run(study({ items: 1 }));
    expect(result.status).toBe("done");
    expect(result.totals.retries).toBe(2);
    expect(completions().map((r) => r.status)).toEqual([500, 500, 200]);
    const [call] = callRows(store, result.runId);
    expect(call?.status).toBe("ok");
    const attempts = JSON.parse(call!.attempts) as { ok: boolean; status?: number }[];
    expect(attempts.map((a) => [a.ok, a.status])).toEqual([
      [false, 500],
      [false, 500],
      [true, undefined],
    ]);
    store.close();
  });

  it("retries dropped connections", async () => {
    server.setOptions({ failFirst: { count: 2, status: "drop" } });
    const { store, result } = await run(study({ items: 2 }));
    expect(result.status).toBe("done");
    expect(server.stats().dropped).toBe(2);
    const attempts = callRows(store, result.runId).map((c) => (JSON.parse(c.attempts) as unknown[]).length);
    expect(attempts.reduce((a, b) => a + b, 0)).toBe(4);
    store.close();
  });

  it("does not retry a 400: one request, the session fails with the provider's message", async () => {
    server.setOptions({
      failFirst: { count: 1, status: 400, message: "Invalid 'messages': the test says no." },
    });
    const { store, result } = await run(study({ items: 1 }));
    expect(completions()).toHaveLength(1);
    expect(result.status).toBe("failed");
    expect(result.totals.retries).toBe(0);
    const session = testSql(store)
      .prepare("SELECT status, error FROM sessions WHERE run_id = ?")
      .get(result.runId) as {
      status: string;
      error: string;
    };
    expect(session.status).toBe("failed");
    expect(session.error).toContain("HTTP 400");
    expect(session.error).toContain("the test says no");
    expect(callRows(store, result.runId).map((c) => c.status)).toEqual(["error"]);
    store.close();
  });

  it("gives up on a call that times out after max_attempts and says so", async () => {
    server.setOptions({ latencyMs: 1000 });
    const { store, result } = await run(
      study({ items: 1, params: "{timeout_ms: 150}", settings: "{max_attempts: 2}" }),
    );
    expect(result.status).toBe("failed");
    expect(completions()).toHaveLength(2);
    const [call] = callRows(store, result.runId);
    expect(call?.error).toMatch(/timed out|aborted/);
    expect(JSON.parse(call!.attempts)).toHaveLength(2);
    store.close();
  });
});

describe("the OpenAI provider path", () => {
  const model = () =>
    new AiSdkModel({
      flavour: "openai-compatible",
      id: "ts:silico-test",
      modelName: "silico-test",
      baseURL: server.url,
    });

  it("sends every parameter and reads choices, usage and logprobs", async () => {
    server.setOptions({ script: ["alpha beta", "gamma"] });
    const r = await model().generate({
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Say something." },
        { role: "assistant", content: "Something." },
        { role: "user", content: "Again." },
      ],
      params: { temperature: 0.5, topP: 0.9, maxTokens: 7, seed: 3, stop: ["END"], n: 2, topLogprobs: 2 },
    });
    expect(r.choices.map((c) => c.text)).toEqual(["alpha beta", "gamma"]);
    expect(r.choices[0]?.finishReason).toBe("stop");
    expect(r.choices[0]?.logprobs?.map((t) => t.token.trim())).toEqual(["alpha", "beta"]);
    expect(r.choices[0]?.logprobs?.[0]?.top).toHaveLength(2);
    expect(r.usage).toEqual({ inputTokens: 12, outputTokens: 3 }); // 6 prompt words × 2 requests
    expect(r.warnings.some((w) => w.includes("n=2"))).toBe(true);
    const bodies = completions().map((q) => q.body as Record<string, unknown>);
    expect(bodies).toHaveLength(2);
    expect(bodies[0]).toMatchObject({
      model: "silico-test",
      temperature: 0.5,
      top_p: 0.9,
      max_tokens: 7,
      seed: 3,
      stop: ["END"],
      logprobs: true,
      top_logprobs: 2,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Say something." },
        { role: "assistant", content: "Something." },
        { role: "user", content: "Again." },
      ],
    });
    expect(bodies[1]?.seed).toBe(4);
  });

  it("asks for JSON following a response schema", async () => {
    server.setOptions({ script: undefined });
    const schema = {
      type: "object",
      properties: { choice: { type: "string", enum: ["A", "B"] } },
      required: ["choice"],
      additionalProperties: false,
    };
    const r = await model().generate({
      messages: [{ role: "user", content: "Pick." }],
      params: { responseSchema: schema },
    });
    expect(["A", "B"]).toContain((JSON.parse(r.choices[0]!.text) as { choice: string }).choice);
    const body = completions()[0]?.body as {
      response_format: { type: string; json_schema: { schema: unknown } };
    };
    expect(body.response_format.type).toBe("json_schema");
    expect(body.response_format.json_schema.schema).toMatchObject(schema);
  });

  it("uses the completions endpoint in completion mode, and sends images", async () => {
    const c = await model().generate({
      messages: [{ role: "user", content: "Once upon a time" }],
      params: {},
      mode: "completion",
    });
    expect(c.choices[0]?.text).toBe("42");
    expect(server.requests[0]?.path).toBe("/v1/completions");
    const img = await model().generate({
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image", url: "https://example.invalid/cat.png" },
          ],
        },
      ],
      params: {},
    });
    expect(img.choices[0]?.text).toBe("42");
    const body = server.requests[1]?.body as {
      messages: { content: { type: string; image_url?: { url: string } }[] }[];
    };
    expect(body.messages[0]?.content.find((p) => p.type === "image_url")?.image_url?.url).toBe(
      "https://example.invalid/cat.png",
    );
  });

  it("turns a refused connection into a retryable error", async () => {
    const closed = await startOpenAITestServer();
    const url = closed.url;
    await closed.close();
    const m = new AiSdkModel({ flavour: "openai-compatible", id: "ts:x", modelName: "x", baseURL: url });
    await expect(
      m.generate({ messages: [{ role: "user", content: "Hi" }], params: {} }),
    ).rejects.toMatchObject({
      isRetryable: true,
    });
  });
});
