import { afterEach, describe, expect, it } from "vitest";
import {
  type OpenAITestServerOptions,
  startOpenAITestServer,
  type TestServer,
} from "./openai-test-server.js";

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

async function call(s: TestServer, method: string, path: string, body?: unknown): Promise<Json> {
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { ...((await res.json()) as Json), http: res.status };
}

async function text(s: TestServer, path: string): Promise<string> {
  const res = await fetch(`${s.url}${path}`);
  expect(res.status).toBe(200);
  return res.text();
}

const chat = (i: number) => ({
  model: "silico-test",
  messages: [{ role: "user", content: `Rate item ${i} from 0 to 100. Respond with a number.` }],
  temperature: 1,
  seed: 1000 + i,
});

async function upload(s: TestServer, lines: unknown[]): Promise<string> {
  const form = new FormData();
  form.append("purpose", "batch");
  const jsonl = `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`;
  form.append("file", new Blob([jsonl], { type: "application/jsonl" }), "input.jsonl");
  const res = await fetch(`${s.url}/files`, { method: "POST", body: form });
  const file = (await res.json()) as Json;
  expect(res.status).toBe(200);
  expect(file).toMatchObject({ object: "file", purpose: "batch", filename: "input.jsonl" });
  return file.id;
}

async function openaiBatch(s: TestServer, n: number): Promise<string> {
  const lines = Array.from({ length: n }, (_, i) => ({
    custom_id: `call-${i}`,
    method: "POST",
    url: "/v1/chat/completions",
    body: chat(i),
  }));
  const fileId = await upload(s, lines);
  const batch = await call(s, "POST", "/batches", {
    input_file_id: fileId,
    endpoint: "/v1/chat/completions",
    completion_window: "24h",
  });
  expect(batch).toMatchObject({ http: 200, object: "batch", status: "validating" });
  return batch.id;
}

const jsonl = (t: string) =>
  t
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Json);

describe("OpenAI Batch API", () => {
  it("answers each request as the synchronous endpoint does, after the polls it is told to wait", async () => {
    const s = await start({ batch: { completeAfterPolls: 3 } });
    const id = await openaiBatch(s, 5);
    const states: string[] = [];
    let b: Json = {};
    for (let i = 0; i < 3; i++) {
      b = await call(s, "GET", `/batches/${id}`);
      states.push(b.status);
    }
    expect(states).toEqual(["in_progress", "in_progress", "completed"]);
    expect(b.request_counts).toEqual({ total: 5, completed: 5, failed: 0 });
    expect(b.error_file_id).toBeNull();
    const out = jsonl(await text(s, `/files/${b.output_file_id}/content`));
    expect(out.map((l) => l.custom_id).sort()).toEqual(["call-0", "call-1", "call-2", "call-3", "call-4"]);
    for (const line of out) {
      const i = Number(line.custom_id.slice(5));
      const sync = await call(s, "POST", "/chat/completions", chat(i));
      expect(line.response.status_code).toBe(200);
      expect(line.response.body.choices[0].message.content).toBe(sync.choices[0].message.content);
      expect(line.response.body.usage).toEqual(sync.usage);
    }
    expect(s.batchStats()).toMatchObject({ filesUploaded: 1, batchesCreated: 1, polls: 3, succeeded: 5 });
    expect(Object.values(s.batchStats().billed)).toEqual([1, 1, 1, 1, 1]);
  });

  it("fails a share of requests into the error file and bills only the others", async () => {
    const s = await start({ batch: { errorRate: 0.3 }, faultSeed: 7 });
    const id = await openaiBatch(s, 40);
    const b = await call(s, "GET", `/batches/${id}`);
    expect(b.status).toBe("completed");
    const out = jsonl(await text(s, `/files/${b.output_file_id}/content`));
    const err = jsonl(await text(s, `/files/${b.error_file_id}/content`));
    expect(err.length).toBeGreaterThan(3);
    expect(out.length + err.length).toBe(40);
    expect(b.request_counts).toEqual({ total: 40, completed: out.length, failed: err.length });
    expect(err[0]?.response.status_code).toBe(500);
    expect(err[0]?.response.body.error.type).toBe("server_error");
    expect(s.batchStats().succeeded).toBe(out.length);
    expect(Object.keys(s.batchStats().billed).sort()).toEqual(out.map((l) => l.custom_id).sort());
  });

  it("expires whole batches (expireFirst) or part of one (expireRate)", async () => {
    const s = await start({ batch: { expireFirst: 1 } });
    const first = await openaiBatch(s, 4);
    const b1 = await call(s, "GET", `/batches/${first}`);
    expect(b1.status).toBe("expired");
    expect(b1.output_file_id).toBeNull();
    const err = jsonl(await text(s, `/files/${b1.error_file_id}/content`));
    expect(err.map((l) => l.error.code)).toEqual(Array(4).fill("batch_expired"));
    const second = await openaiBatch(s, 4);
    expect((await call(s, "GET", `/batches/${second}`)).status).toBe("completed");

    s.setOptions({ batch: { expireRate: 0.5 } });
    const third = await openaiBatch(s, 30);
    const b3 = await call(s, "GET", `/batches/${third}`);
    expect(b3.status).toBe("expired");
    expect(b3.request_counts.completed).toBeGreaterThan(0);
    expect(b3.request_counts.failed).toBeGreaterThan(0);
  });

  it("cancels, refuses bad input files, and counts every HTTP request", async () => {
    const s = await start({ batch: { completeAfterPolls: 10 } });
    const id = await openaiBatch(s, 3);
    expect((await call(s, "POST", `/batches/${id}/cancel`)).status).toBe("cancelling");
    const b = await call(s, "GET", `/batches/${id}`);
    expect(b.status).toBe("cancelled");
    expect(jsonl(await text(s, `/files/${b.error_file_id}/content`))[0]?.error.code).toBe("batch_cancelled");

    const bad = await upload(s, [{ custom_id: "a", method: "POST", url: "/v1/embeddings", body: {} }]);
    const created = await call(s, "POST", "/batches", {
      input_file_id: bad,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    const failed = await call(s, "GET", `/batches/${created.id}`);
    expect(failed.status).toBe("failed");
    expect(failed.errors.data[0]).toMatchObject({ code: "mismatched_endpoint", line: 1 });
    expect((await call(s, "GET", "/batches/batch_nope")).http).toBe(404);
    expect(s.stats().requests).toBe(9);
  });
});

describe("Anthropic Message Batches", () => {
  const params = (i: number) => ({
    model: "claude-test",
    max_tokens: 50,
    system: "You rate things.",
    messages: [{ role: "user", content: [{ type: "text", text: `Rate item ${i} from 0 to 100.` }] }],
  });

  it("answers as POST /v1/messages does, with processing_status and request_counts", async () => {
    const s = await start({ batch: { completeAfterPolls: 2, errorRate: 0.25 }, faultSeed: 3 });
    const created = await call(s, "POST", "/messages/batches", {
      requests: Array.from({ length: 12 }, (_, i) => ({ custom_id: `c${i}`, params: params(i) })),
    });
    expect(created).toMatchObject({
      type: "message_batch",
      processing_status: "in_progress",
      results_url: null,
    });
    expect(created.request_counts.processing).toBe(12);
    expect((await call(s, "GET", `/messages/batches/${created.id}`)).processing_status).toBe("in_progress");
    const ended = await call(s, "GET", `/messages/batches/${created.id}`);
    expect(ended.processing_status).toBe("ended");
    expect(ended.results_url).toBe(`${s.url}/messages/batches/${created.id}/results`);
    const results = jsonl(await text(s, `/messages/batches/${created.id}/results`));
    const ok = results.filter((r) => r.result.type === "succeeded");
    const errored = results.filter((r) => r.result.type === "errored");
    expect(ok.length + errored.length).toBe(12);
    expect(errored.length).toBeGreaterThan(0);
    expect(ended.request_counts).toMatchObject({
      succeeded: ok.length,
      errored: errored.length,
      processing: 0,
    });
    expect(errored[0]?.result.error).toMatchObject({ type: "error", error: { type: "api_error" } });
    for (const r of ok) {
      const sync = await call(s, "POST", "/messages", params(Number(r.custom_id.slice(1))));
      expect(r.result.message.content).toEqual(sync.content);
      expect(r.result.message).toMatchObject({ type: "message", role: "assistant", stop_reason: "end_turn" });
      // The same conversation as a chat completion gets the same text.
      const asChat = await call(s, "POST", "/chat/completions", {
        model: "claude-test",
        max_tokens: 50,
        messages: [
          { role: "system", content: "You rate things." },
          { role: "user", content: `Rate item ${r.custom_id.slice(1)} from 0 to 100.` },
        ],
      });
      expect(sync.content[0].text).toBe(asChat.choices[0].message.content);
    }
  });

  it("marks expired and canceled requests, and refuses bad custom ids", async () => {
    const s = await start({ batch: { expireFirst: 1, completeAfterPolls: 5 } });
    const a = await call(s, "POST", "/messages/batches", {
      requests: [{ custom_id: "x", params: params(1) }],
    });
    for (let i = 0; i < 5; i++) await call(s, "GET", `/messages/batches/${a.id}`);
    expect(jsonl(await text(s, `/messages/batches/${a.id}/results`))[0]?.result).toEqual({ type: "expired" });
    const b = await call(s, "POST", "/messages/batches", {
      requests: [{ custom_id: "y", params: params(2) }],
    });
    expect((await call(s, "POST", `/messages/batches/${b.id}/cancel`)).processing_status).toBe("canceling");
    expect((await call(s, "GET", `/messages/batches/${b.id}`)).request_counts.canceled).toBe(1);
    const bad = await call(s, "POST", "/messages/batches", {
      requests: [{ custom_id: "a/b", params: params(3) }],
    });
    expect(bad).toMatchObject({ http: 400, type: "error", error: { type: "invalid_request_error" } });
  });
});

describe("batch knobs on the command line", () => {
  it("parses the --batch-* flags into the batch options", async () => {
    const { parseCliArgs } = await import("./cli.js");
    expect(
      parseCliArgs([
        "--batch-complete-after-polls",
        "3",
        "--batch-complete-after-ms",
        "500",
        "--batch-expire-first",
        "1",
        "--batch-expire-rate",
        "0.1",
        "--batch-error-rate",
        "0.05",
        "--batch-error-status",
        "503",
      ]).options.batch,
    ).toEqual({
      completeAfterPolls: 3,
      completeAfterMs: 500,
      expireFirst: 1,
      expireRate: 0.1,
      errorRate: 0.05,
      errorStatus: 503,
    });
    expect(() => parseCliArgs(["--batch-error-rate", "2"])).toThrow(/--batch-error-rate/);
    expect(parseCliArgs([]).options.batch).toBeUndefined();
  });
});
