#!/usr/bin/env node
/**
 * `silico serve` under load: 50 concurrent conversations (oTree participants chatting with an
 * agent) against the project's OpenAI test server answering every call after exactly 1 s. The
 * test server and `silico serve` (the real command, dist/cli/main.js) each run in a process of
 * their own; this process plays the participants over HTTP.
 *
 *   npm run bench:serve                 human-readable report
 *   npm run bench:serve -- --json       one JSON object on stdout:
 *      { added_latency_p95_ms, added_latency_p50_ms, turns_per_s, turns, errors, … }
 *
 * added latency = a turn's round trip minus its model call's time as the test server applied it
 * (arrival of the request to the end of the answer, timed in the server's process): what the
 * service, the executor, the store and the HTTP hops add. nominal_added_* = round trip − 1 s.
 * service_overhead_* = a turn's round trip minus its model call's latency as the store recorded
 * it (the executor's HTTP client and the AI SDK's time left out too). Options: --conversations N (50), --turns N (turns per conversation, 5),
 * --latency MS (1000), --think-ms MS (0: every participant sends its next message the moment it
 * has the reply, so the 50 conversations move in lockstep and their turns arrive in bursts of 50;
 * N: a seeded pause of 0–N ms before each message, like a human typing), --floor (instead of
 * silico serve, a bare node:http relay doing only a turn's two HTTP hops, serve-floor.mjs: what any
 * Node service costs on this machine, to read silico's numbers against).
 */
import { fork, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ensureBuilt } from "./build.mjs";
import { distDir } from "./dist-path.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const TARGETS = { added_latency_p95_ms: 20, errors: 0 };

const o = { json: false, conversations: 50, turns: 5, latency: 1000, thinkMs: 0, floor: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--json") o.json = true;
  else if (a === "--conversations") o.conversations = Number(argv[++i]);
  else if (a === "--turns") o.turns = Number(argv[++i]);
  else if (a === "--latency") o.latency = Number(argv[++i]);
  else if (a === "--think-ms") o.thinkMs = Number(argv[++i]);
  else if (a === "--floor") o.floor = true;
  else {
    process.stderr.write(`unknown argument: ${a}\n`);
    process.exit(2);
  }
}
const log = (m) => process.stderr.write(`${m}\n`);

ensureBuilt(log);
const work = mkdtempSync(join(tmpdir(), "silico-serve-bench-"));

function startLlm() {
  const child = fork(
    join(here, "server-child.mjs"),
    [JSON.stringify({ latencyMs: o.latency, script: ["Fine, thanks."] }), "timings"],
    {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    },
  );
  return new Promise((resolve, reject) => {
    child.once("message", (m) =>
      m.type === "ready" ? resolve({ child, url: m.url }) : reject(new Error("no ready")),
    );
    child.once("exit", (code) => reject(new Error(`test server exited (${code})`)));
  });
}

function startServe(llmUrl) {
  const file = join(work, "agents.yaml");
  writeFileSync(
    file,
    `kind: agents
name: serve bench
model: bench:silico-test
providers:
  bench: {type: openai-compatible, base_url: "${llmUrl}"}
settings:
  max_in_flight: 256
agents:
  chat:
    system: "You chat with a participant of a study."
`,
  );
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_PROF] : []),
      ...(o.floor
        ? [join(here, "serve-floor.mjs"), llmUrl]
        : [join(distDir, "cli", "main.js"), "serve", file, "--port", "0", "--db", join(work, "bench.db")]),
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let err = "";
  child.stderr.on("data", (c) => {
    err += c;
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
      const line = out.split("\n")[0];
      if (out.includes("\n") && line.startsWith("http"))
        resolve({ child, url: line.trim(), stderr: () => err });
    });
    child.once("exit", (code) => reject(new Error(`silico serve exited (${code}): ${err}`)));
  });
}

/** CPU time (user + system) a process has used so far, from /proc (Linux); null elsewhere. */
function cpuMsOf(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
};

const llm = await startLlm();
const serve = await startServe(llm.url);
/** One turn; resolves with its round trip in ms, or null on an error. */
async function turn(participant, t) {
  const start = performance.now();
  const message = `Message ${t} of participant ${participant}: how are you?`;
  try {
    const res = await fetch(`${serve.url}/v1/turn`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        agent: "chat",
        session: "bench",
        participant,
        app: "chat",
        round: 1,
        turn: `m${t}`,
        message,
      }),
    });
    const body = await res.json();
    if (res.status !== 200 || body.text !== "Fine, thanks.") return null;
    return { ms: performance.now() - start, session: body.session_key, message };
  } catch {
    return null;
  }
}

// A service that has just started loads its model client and opens connections on the first
// turn: one turn before the clock starts, as a running experiment would have had.
await turn("warm-up", 1);
// Seeded think times (--think-ms): a human pauses before each message.
let seed = 12345;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};
const nominal = [];
/** Round trip of each turn by the message it sent, to compare with the test server's own time for it. */
const byMessage = new Map();
/** Round trip of each turn by its session key, to compare with the model call the store recorded. */
const roundTrips = new Map();
let errors = 0;
const cpuAtStart = cpuMsOf(serve.child.pid);
const t0 = performance.now();
await Promise.all(
  Array.from({ length: o.conversations }, async (_, c) => {
    for (let t = 1; t <= o.turns; t++) {
      if (o.thinkMs > 0) await new Promise((r) => setTimeout(r, random() * o.thinkMs));
      const r = await turn(`p${c}`, t);
      if (r === null) errors++;
      else {
        nominal.push(r.ms - o.latency);
        roundTrips.set(r.session, r.ms);
        byMessage.set(r.message, r.ms);
      }
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
const serveCpuMs = cpuMsOf(serve.child.pid);
const stopped = new Promise((resolve) => serve.child.once("exit", resolve));
serve.child.kill("SIGTERM");
const exitCode = await stopped;
// What silico adds around the model call: the round trip minus the call's own latency as the
// executor recorded it (the test server's and the HTTP client's time under load included there).
const overhead = [];
// The floor relay keeps no store: no model latencies recorded there.
if (!o.floor) {
  const { RunReader } = await import(pathToFileURL(join(distDir, "index.js")).href);
  const reader = RunReader.open(join(work, "bench.db"));
  try {
    const run = reader.run("last");
    for (let offset = 0; offset !== null; ) {
      const page = reader.calls(run.id, {}, { offset, limit: 10_000 });
      for (const c of page.items) {
        const rt = roundTrips.get(c.sessionKey);
        if (rt !== undefined && c.latencyMs !== null) overhead.push(rt - c.latencyMs);
      }
      offset = page.nextOffset;
    }
  } finally {
    reader.close();
  }
}
// Added latency: a turn's round trip minus the time the test server (a process of its own) took to
// answer its model call, from the request's arrival to the end of its answer. So the model's 1 s
// as the server applied it is left out, with any delay of the loaded server's timer.
const llmTimes = await new Promise((resolve) => {
  llm.child.on("message", (m) => {
    if (m.id === "timings") resolve(new Map(m.timings));
  });
  llm.child.send({ id: "timings", cmd: "timings" });
});
const added = [];
const modelTimes = [];
for (const [message, ms] of byMessage) {
  const llmMs = llmTimes.get(message);
  if (llmMs === undefined) continue;
  added.push(ms - llmMs);
  modelTimes.push(llmMs);
}
llm.child.send({ cmd: "close" });
rmSync(work, { recursive: true, force: true });

const turns = o.conversations * o.turns;
const result = {
  conversations: o.conversations,
  turns,
  model_latency_ms: o.latency,
  think_ms: o.thinkMs,
  added_latency_p50_ms: Math.round(percentile(added, 50) * 10) / 10,
  added_latency_p95_ms: Math.round(percentile(added, 95) * 10) / 10,
  added_latency_max_ms: Math.round(Math.max(0, ...added) * 10) / 10,
  // Round trip minus the nominal 1 s (the test server's own timer delays counted as added).
  nominal_added_p50_ms: Math.round(percentile(nominal, 50) * 10) / 10,
  nominal_added_p95_ms: Math.round(percentile(nominal, 95) * 10) / 10,
  // Turns whose model call the test server timed (all of them, unless something is wrong).
  timed_turns: added.length,
  // The model's time as the test server applied it (nominal latency + its own delays under load).
  model_time_p95_ms: Math.round(percentile(modelTimes, 95) * 10) / 10,
  ...(o.floor
    ? { floor: true }
    : {
        service_overhead_p50_ms: Math.round(percentile(overhead, 50) * 10) / 10,
        service_overhead_p95_ms: Math.round(percentile(overhead, 95) * 10) / 10,
      }),
  turns_per_s: Math.round((turns / seconds) * 100) / 100,
  // CPU the service process spent per turn (its start-up left out).
  serve_cpu_ms_per_turn:
    serveCpuMs === null || cpuAtStart === null
      ? null
      : Math.round(((serveCpuMs - cpuAtStart) / turns) * 100) / 100,
  load_average: Math.round(loadavg()[0] * 10) / 10,
  errors,
  serve_exit_code: exitCode,
  targets: TARGETS,
};
if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  log(`${o.conversations} conversations × ${o.turns} turns, model latency ${o.latency} ms`);
  log(
    `added latency p50 ${result.added_latency_p50_ms} ms, p95 ${result.added_latency_p95_ms} ms (target ≤ ${TARGETS.added_latency_p95_ms}), max ${result.added_latency_max_ms} ms`,
  );
  log(`${result.turns_per_s} turns/s, ${errors} errors (target 0)`);
}
process.exit(errors > 0 ? 1 : 0);
