#!/usr/bin/env node
/**
 * Standalone OpenAI test server:
 *
 *   node packages/test-server/dist/cli.js --port 8787 [--latency-ms N] [--rpm N] ...
 *
 * Prints the base URL (http://127.0.0.1:PORT/v1) on one line, serves until SIGINT/SIGTERM, then
 * prints its stats as JSON on stderr.
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  type OpenAITestServerOptions,
  startOpenAITestServer,
  type TestServer,
} from "./openai-test-server.js";

export const CLI_USAGE = `Usage: openai-test-server [options]

A local server speaking the OpenAI API (POST /v1/chat/completions, POST /v1/completions,
GET /v1/models, the Files and Batch APIs) and Anthropic's POST /v1/messages and Message Batches,
with deterministic answers. Binds 127.0.0.1 only.

Options:
  --port N                 port (default 8787; 0 = any free port)
  --latency-ms N           fixed delay before each answer
  --latency-jitter-ms N    extra random delay in [0, N]
  --rpm N                  requests per minute limit (429 + Retry-After beyond it)
  --tpm N                  tokens per minute limit (prompt words + n * max_tokens)
  --rate-500 P             probability (0-1) of a 500 per request
  --rate-drop P            probability (0-1) of dropping the connection
  --rate-429 P             probability (0-1) of an injected 429
  --retry-after S          Retry-After seconds sent with injected 429s (default 1)
  --fail-first N           the first N completion requests fail ...
  --fail-first-status S    ... with this status (default 500; or "drop")
  --fail-first-retry-after S  ... and this Retry-After
  --api-key KEY            require Authorization: Bearer KEY
  --fault-seed N           seed of the failure/jitter PRNG (default 0)
  --script TEXT            answer TEXT (repeat the flag for a cycling script)
  --model ID               model listed by GET /v1/models (repeatable)
  --strict-models          answer 404 model_not_found for a model id not listed
  --no-model-list          no listing: GET /v1/models answers 404
  --record                 keep requests in memory (off by default here)
  --batch-complete-after-polls N  a batch ends at its Nth poll (default 1)
  --batch-complete-after-ms N     ... and no sooner than N ms after it was created
  --batch-expire-first N   the first N batches expire as a whole
  --batch-expire-rate P    share (0-1) of each batch's requests left unrun (the batch ends expired)
  --batch-error-rate P     share (0-1) of batch requests that fail ...
  --batch-error-status S   ... with this status (default 500)
  --batch-create-delay-ms N  answer a batch create N ms after the batch exists
  --token-count MODE       usage.prompt_tokens as "words" (default) or "estimate" (silico's offline estimate)
  -h, --help               show this help
`;

export interface CliConfig {
  port: number;
  options: OpenAITestServerOptions;
  help: boolean;
}

function toNumber(
  flag: string,
  value: string | undefined,
  { integer = false, min = 0, max = Infinity } = {},
) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    const what = integer ? "an integer" : "a number";
    throw new Error(`--${flag}: expected ${what} between ${min} and ${max}, got '${value}'`);
  }
  return n;
}

/** Parse CLI flags into server options. Throws an Error with a readable message on bad flags. */
export function parseCliArgs(argv: readonly string[]): CliConfig {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: "string" },
      "latency-ms": { type: "string" },
      "latency-jitter-ms": { type: "string" },
      rpm: { type: "string" },
      tpm: { type: "string" },
      "rate-500": { type: "string" },
      "rate-drop": { type: "string" },
      "rate-429": { type: "string" },
      "retry-after": { type: "string" },
      "fail-first": { type: "string" },
      "fail-first-status": { type: "string" },
      "fail-first-retry-after": { type: "string" },
      "api-key": { type: "string" },
      "fault-seed": { type: "string" },
      script: { type: "string", multiple: true },
      model: { type: "string", multiple: true },
      "strict-models": { type: "boolean" },
      "no-model-list": { type: "boolean" },
      record: { type: "boolean" },
      "token-count": { type: "string" },
      "batch-complete-after-polls": { type: "string" },
      "batch-complete-after-ms": { type: "string" },
      "batch-expire-first": { type: "string" },
      "batch-expire-rate": { type: "string" },
      "batch-error-rate": { type: "string" },
      "batch-error-status": { type: "string" },
      "batch-create-delay-ms": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const num = (flag: keyof typeof values, opts?: { integer?: boolean; min?: number; max?: number }) =>
    toNumber(flag, values[flag] as string | undefined, opts);

  const options: OpenAITestServerOptions = { record: values.record === true };
  const set = <K extends keyof OpenAITestServerOptions>(
    key: K,
    v: OpenAITestServerOptions[K] | undefined,
  ) => {
    if (v !== undefined) options[key] = v;
  };
  set("latencyMs", num("latency-ms"));
  set("latencyJitterMs", num("latency-jitter-ms"));
  set("rpm", num("rpm", { integer: true }));
  set("tpm", num("tpm", { integer: true }));
  set("faultSeed", num("fault-seed", { integer: true, min: 0, max: 2 ** 32 - 1 }));
  set("apiKey", values["api-key"]);
  set("script", values.script);
  set("models", values.model);
  const tokenCount = values["token-count"];
  if (tokenCount !== undefined) {
    if (tokenCount !== "words" && tokenCount !== "estimate")
      throw new Error(`--token-count must be "words" or "estimate", got "${tokenCount}"`);
    options.tokenCount = tokenCount;
  }
  if (values["strict-models"]) options.strictModels = true;
  if (values["no-model-list"]) options.listModels = false;

  const batch: NonNullable<OpenAITestServerOptions["batch"]> = {};
  const setBatch = <K extends keyof typeof batch>(key: K, v: (typeof batch)[K] | undefined) => {
    if (v !== undefined) batch[key] = v;
  };
  setBatch("completeAfterPolls", num("batch-complete-after-polls", { integer: true }));
  setBatch("completeAfterMs", num("batch-complete-after-ms"));
  setBatch("expireFirst", num("batch-expire-first", { integer: true }));
  setBatch("expireRate", num("batch-expire-rate", { max: 1 }));
  setBatch("errorRate", num("batch-error-rate", { max: 1 }));
  setBatch("errorStatus", num("batch-error-status", { integer: true, min: 400, max: 599 }));
  setBatch("createDelayMs", num("batch-create-delay-ms"));
  if (Object.keys(batch).length > 0) options.batch = batch;

  const rate500 = num("rate-500", { max: 1 });
  const rateDrop = num("rate-drop", { max: 1 });
  const rate429 = num("rate-429", { max: 1 });
  const retryAfter = num("retry-after");
  if (rate500 !== undefined || rateDrop !== undefined || rate429 !== undefined || retryAfter !== undefined) {
    options.failures = {};
    if (rate500 !== undefined) options.failures.rate500 = rate500;
    if (rateDrop !== undefined) options.failures.rateDrop = rateDrop;
    if (rate429 !== undefined) options.failures.rate429 = rate429;
    if (retryAfter !== undefined) options.failures.retryAfter = retryAfter;
  }

  const failCount = num("fail-first", { integer: true });
  if (failCount !== undefined) {
    const rawStatus = values["fail-first-status"] ?? "500";
    const status =
      rawStatus === "drop"
        ? "drop"
        : toNumber("fail-first-status", rawStatus, { integer: true, min: 400, max: 599 });
    options.failFirst = { count: failCount, status: status as number | "drop" };
    const ra = num("fail-first-retry-after");
    if (ra !== undefined) options.failFirst.retryAfter = ra;
  } else if (values["fail-first-status"] !== undefined || values["fail-first-retry-after"] !== undefined) {
    throw new Error("--fail-first-status/--fail-first-retry-after need --fail-first N");
  }

  return {
    port: num("port", { integer: true, max: 65535 }) ?? 8787,
    options,
    help: values.help === true,
  };
}

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Start the server from CLI flags; resolves with it once listening (null after --help). */
export async function runCli(
  argv: readonly string[],
  io: CliIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) },
): Promise<TestServer | null> {
  const config = parseCliArgs(argv);
  if (config.help) {
    io.out(CLI_USAGE);
    return null;
  }
  const server = await startOpenAITestServer({ ...config.options, port: config.port });
  io.out(server.url);
  return server;
}

async function main(): Promise<void> {
  let server: TestServer | null;
  try {
    server = await runCli(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`openai-test-server: ${e instanceof Error ? e.message : String(e)}\n\n${CLI_USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (!server) return;
  const running = server;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void running.close().then(() => {
      process.stderr.write(`${JSON.stringify(running.stats())}\n`);
      process.exit(0);
    });
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isMain()) void main();
