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
 * it (the executor's HTTP client and the AI SDK's time left out too).
 *
 * Two phases on the same service. The headline (added_latency_*, turns_per_s,
 * serve_cpu_ms_per_turn): the conversations start at seeded random moments within the first
 * model-latency period, as participants reaching a page do, and then each sends its next message
 * the moment it has the reply (no think time). Then lockstep (lockstep_added_latency_*): all
 * conversations start in the same instant, so every turn arrives in a burst of N and the last of a
 * burst waits for the CPU of the N − 1 before it — a worst case, always printed alongside.
 *
 * Options: --conversations N (50), --turns N (turns per conversation, 5), --latency MS (1000),
 * --think-ms MS (0; N: a seeded pause of 0–N ms before each message, like a human typing),
 * --lockstep (the headline is the lockstep phase, no staggered phase), --floor (instead of
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

const o = {
  json: false,
  conversations: 50,
  turns: 5,
  latency: 1000,
  thinkMs: 0,
  floor: false,
  lockstep: false,
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--json") o.json = true;
  else if (a === "--conversations") o.conversations = Number(argv[++i]);
  else if (a === "--turns") o.turns = Number(argv[++i]);
  else if (a === "--latency") o.latency = Number(argv[++i]);
  else if (a === "--think-ms") o.thinkMs = Number(argv[++i]);
  else if (a === "--floor") o.floor = true;
  else if (a === "--lockstep") o.lockstep = true;
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
// Seeded randomness: think times (--think-ms) and the conversations' start offsets.
let seed = 12345;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};
/** Round trip of each turn by the message it sent, to compare with the test server's own time for it. */
const byMessage = new Map();
/** Round trip of each turn by its session key, to compare with the model call the store recorded. */
const roundTrips = new Map();

/**
 * One phase: the conversations (participants `${name}-p0…`) each send their turns one after the
 * other, the first one `offsets[c]` ms after the phase starts.
 */
async function phase(name, offsets) {
  const result = { name, errors: 0, messages: [], sessions: [], nominal: [] };
  const cpuAtStart = cpuMsOf(serve.child.pid);
  const t0 = performance.now();
  await Promise.all(
    offsets.map(async (offset, c) => {
      if (offset > 0) await new Promise((r) => setTimeout(r, offset));
      for (let t = 1; t <= o.turns; t++) {
        if (o.thinkMs > 0) await new Promise((r) => setTimeout(r, random() * o.thinkMs));
        const r = await turn(`${name}-p${c}`, t);
        if (r === null) result.errors++;
        else {
          result.nominal.push(r.ms - o.latency);
          result.messages.push(r.message);
          result.sessions.push(r.session);
          roundTrips.set(r.session, r.ms);
          byMessage.set(r.message, r.ms);
        }
      }
    }),
  );
  result.seconds = (performance.now() - t0) / 1000;
  const cpuAtEnd = cpuMsOf(serve.child.pid);
  result.cpuMs = cpuAtStart === null || cpuAtEnd === null ? null : cpuAtEnd - cpuAtStart;
  return result;
}

// Headline: the conversations start at seeded random moments within the first model-latency
// period, as people arriving at a page do (then each sends its next message the moment it has
// the reply). Then the same again in lockstep: every conversation starts in the same instant, so
// every turn arrives in a burst of N and the last of a burst waits for the others' CPU.
const offsets = o.lockstep
  ? Array.from({ length: o.conversations }, () => 0)
  : Array.from({ length: o.conversations }, () => random() * o.latency);
const headline = await phase(o.lockstep ? "lockstep" : "staggered", offsets);
const lockstep = o.lockstep
  ? headline
  : await phase(
      "lockstep",
      Array.from({ length: o.conversations }, () => 0),
    );
const errors = headline.errors + (lockstep === headline ? 0 : lockstep.errors);
const stopped = new Promise((resolve) => serve.child.once("exit", resolve));
serve.child.kill("SIGTERM");
const exitCode = await stopped;
// What silico adds around the model call: the round trip minus the call's own latency as the
// executor recorded it (the test server's and the HTTP client's time under load included there).
/** Round trip − the store's recorded call latency, by session key. */
const overheadOf = new Map();
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
        if (rt !== undefined && c.latencyMs !== null) overheadOf.set(c.sessionKey, rt - c.latencyMs);
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
/** A phase's added latencies (round trip − the test server's time for that request) and model times. */
function addedOf(p) {
  const added = [];
  const modelTimes = [];
  for (const message of p.messages) {
    const llmMs = llmTimes.get(message);
    if (llmMs === undefined) continue;
    added.push(byMessage.get(message) - llmMs);
    modelTimes.push(llmMs);
  }
  const overhead = p.sessions.map((k) => overheadOf.get(k)).filter((x) => x !== undefined);
  return { added, modelTimes, overhead };
}
const head = addedOf(headline);
const lock = addedOf(lockstep);
const { added, modelTimes, overhead } = head;
const nominal = headline.nominal;
const r1 = (x) => Math.round(x * 10) / 10;
const cpuPerTurn = (p) =>
  p.cpuMs === null ? null : Math.round((p.cpuMs / (o.conversations * o.turns)) * 100) / 100;
llm.child.send({ cmd: "close" });
rmSync(work, { recursive: true, force: true });

const turns = o.conversations * o.turns;
const result = {
  conversations: o.conversations,
  turns,
  model_latency_ms: o.latency,
  think_ms: o.thinkMs,
  // How the headline's conversations start: "staggered" (seeded random offsets within the first
  // model-latency period) or "lockstep" (--lockstep: all in the same instant).
  arrivals: headline.name,
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
  turns_per_s: Math.round((turns / headline.seconds) * 100) / 100,
  // CPU the service process spent per turn (its start-up left out).
  serve_cpu_ms_per_turn: cpuPerTurn(headline),
  // The same conversations all starting in the same instant (bursts of N turns at once).
  lockstep_added_latency_p50_ms: r1(percentile(lock.added, 50)),
  lockstep_added_latency_p95_ms: r1(percentile(lock.added, 95)),
  lockstep_added_latency_max_ms: r1(Math.max(0, ...lock.added)),
  lockstep_turns_per_s: Math.round((turns / lockstep.seconds) * 100) / 100,
  lockstep_serve_cpu_ms_per_turn: cpuPerTurn(lockstep),
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
  log(
    `lockstep (all ${o.conversations} at once): added latency p50 ${result.lockstep_added_latency_p50_ms} ms, p95 ${result.lockstep_added_latency_p95_ms} ms, max ${result.lockstep_added_latency_max_ms} ms`,
  );
  log(`${result.turns_per_s} turns/s, ${errors} errors (target 0)`);
}
process.exit(errors > 0 ? 1 : 0);
