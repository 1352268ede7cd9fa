#!/usr/bin/env node
/**
 * "Fast, cheap and nothing lost": the engine against the project's own OpenAI test server.
 * The server runs in one child process, each engine run in another, so CPU time and peak memory
 * are the engine's alone. Every run goes through the real path: a factorial study file compiled
 * by the library, `startRun`, the executor, the `openai-compatible` provider via the AI SDK over
 * HTTP on 127.0.0.1, and a SQLite store file.
 *
 *   npm run bench                  human-readable report
 *   npm run bench -- --json        exactly one JSON object on stdout:
 *      { floor_ratio, cpu_ms_per_call, peak_rss_mb, cached_rerun_calls, fault_completion,
 *        fault_duplicates, … }
 *
 * default_floor_ratio (default settings against three server profiles): see default-floor.mjs.
 * Options: --quick (smaller runs, for a smoke test), --only throughput,cpu,rss,faults,batch,default-floor,
 *          --rss-calls N (100000), --cpu-calls N (10000), --profile DIR (node --cpu-prof the engine).
 * SILICO_DIST=path measures another build of the package (default packages/silico/dist, rebuilt
 * when stale).
 */
import { fork } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BATCH_TARGETS, batchFigures, batchRows } from "./batch-bench.mjs";
import { ensureBuilt } from "./build.mjs";
import { defaultFloor, defaultFloorLines } from "./default-floor.mjs";

const here = dirname(fileURLToPath(import.meta.url));

const TARGETS = {
  floor_ratio: 1.15,
  cpu_ms_per_call: 1,
  peak_rss_mb: 300,
  cached_rerun_calls: 0,
  fault_completion: 1,
  fault_duplicates: 0,
  ...BATCH_TARGETS,
};

function parseArgs(argv) {
  const o = {
    json: false,
    quick: false,
    only: null,
    rssCalls: 100_000,
    cpuCalls: 10_000,
    profile: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") o.json = true;
    else if (a === "--quick") o.quick = true;
    else if (a === "--only") o.only = new Set(argv[++i].split(","));
    else if (a === "--rss-calls") o.rssCalls = Number(argv[++i]);
    else if (a === "--cpu-calls") o.cpuCalls = Number(argv[++i]);
    else if (a === "--profile") o.profile = argv[++i];
    else {
      process.stderr.write(`unknown argument: ${a}\n`);
      process.exit(2);
    }
  }
  if (o.quick) {
    o.rssCalls = Math.min(o.rssCalls, 10_000);
    o.cpuCalls = Math.min(o.cpuCalls, 2000);
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const log = (m) => process.stderr.write(`${m}\n`);
const work = mkdtempSync(join(tmpdir(), "silico-bench-"));

/** A factorial study of `levels × times` sessions, one call each. */
function writeStudy(name, { levels, times, settings = {} }) {
  const items = Array.from({ length: levels }, (_, i) => i + 1);
  const lines = [
    "kind: factorial",
    `name: bench-${name}`,
    "seed: 7",
    'prompt: "Item {{ item }}: how much would you pay for it, from 0 to 100? Answer with a number."',
    "levels:",
    `  item: [${items.join(", ")}]`,
    `times: ${times}`,
    "model: openai-compatible:silico-test",
    "parse: {type: number}",
    "params: {temperature: 0.7, max_tokens: 16}",
  ];
  const s = Object.entries(settings);
  if (s.length > 0) lines.push(`settings: {${s.map(([k, v]) => `${k}: ${v}`).join(", ")}}`);
  const path = join(work, `${name}.yaml`);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

/** Start the test server in a child process; resolves to {url, stats(), close()}. */
async function startServer(options) {
  const child = fork(join(here, "server-child.mjs"), [JSON.stringify(options)], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const pending = new Map();
  let nextId = 1;
  const url = await new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`test server exited early (${code})`)));
    child.on("message", (m) => {
      if (m.type === "ready") resolve(m.url);
      else pending.get(m.id)?.(m.stats);
    });
  });
  child.removeAllListeners("exit");
  const ask = (cmd, extra = {}) =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ id, cmd, ...extra });
    });
  return {
    url,
    stats: () => ask("stats"),
    close: () =>
      new Promise((resolve) => {
        child.once("exit", resolve);
        child.send({ cmd: "close" });
      }),
  };
}

/** One engine run in its own process; resolves to the JSON it prints. */
function runEngine(label, config) {
  const execArgv = opts.profile
    ? ["--cpu-prof", "--cpu-prof-dir", opts.profile, "--cpu-prof-name", `${label}.cpuprofile`]
    : [];
  if (opts.profile) mkdirSync(opts.profile, { recursive: true });
  return new Promise((resolve, reject) => {
    const child = fork(join(here, "engine-child.mjs"), [JSON.stringify(config)], {
      stdio: ["ignore", "pipe", "inherit", "ipc"],
      execArgv,
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      const last = out.trim().split("\n").pop() ?? "";
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`engine run "${label}" failed (exit ${code}): ${out.slice(-500)}`));
      }
    });
  });
}

const wanted = (name) => !opts.only || opts.only.has(name);
const results = {};
const started = performance.now();

try {
  ensureBuilt(log);

  if (wanted("throughput")) {
    // 2,000 calls, 200 ms latency, 6,000 RPM on both sides, up to 100 calls in flight.
    const N = 2000;
    const latencyMs = 200;
    const rpm = 6000;
    const maxInFlight = 100;
    const server = await startServer({ latencyMs, rpm });
    const study = writeStudy("throughput", {
      levels: 20,
      times: N / 20,
      settings: { rpm, max_in_flight: maxInFlight },
    });
    const db = join(work, "throughput.db");
    log(`throughput: ${N} calls, ${latencyMs} ms latency, ${rpm} RPM, ${maxInFlight} in flight …`);
    const first = await runEngine("throughput", { study, db, baseUrl: server.url });
    const afterFirst = await server.stats();
    const floorMs = Math.max((N / rpm) * 60_000, (N * latencyMs) / maxInFlight);
    log(`cached re-run of the same study …`);
    const again = await runEngine("cached-rerun", { study, db, baseUrl: server.url });
    const afterAgain = await server.stats();
    await server.close();
    Object.assign(results, {
      floor_ratio: first.wallMs / floorMs,
      throughput_wall_s: first.wallMs / 1000,
      throughput_floor_s: floorMs / 1000,
      throughput_status: first.status,
      throughput_server_requests: afterFirst.requests,
      throughput_server_429: afterFirst.status[429] ?? 0,
      throughput_sessions_done: first.checks.sessionsDone,
      throughput_cpu_ms_per_call: first.cpuMs / Math.max(1, first.totals.calls),
      cached_rerun_calls: afterAgain.requests - afterFirst.requests,
      cached_rerun_wall_s: again.wallMs / 1000,
      cached_rerun_cache_hits: again.totals.cacheHits,
      cached_rerun_status: again.status,
    });
  }

  if (wanted("cpu")) {
    const N = opts.cpuCalls;
    const server = await startServer({ latencyMs: 0 });
    const study = writeStudy("cpu", {
      levels: 50,
      times: Math.ceil(N / 50),
      settings: { max_in_flight: 32 },
    });
    log(`engine CPU: ${Math.ceil(N / 50) * 50} calls at 0 ms latency …`);
    const r = await runEngine("cpu", { study, db: join(work, "cpu.db"), baseUrl: server.url, checks: false });
    await server.close();
    Object.assign(results, {
      cpu_ms_per_call: r.cpuMs / Math.max(1, r.totals.calls),
      cpu_user_ms_per_call: r.cpuUserMs / Math.max(1, r.totals.calls),
      cpu_sys_ms_per_call: r.cpuSysMs / Math.max(1, r.totals.calls),
      cpu_calls: r.totals.calls,
      cpu_calls_per_s: r.totals.calls / (r.wallMs / 1000),
    });
  }

  if (wanted("rss")) {
    const N = opts.rssCalls;
    const server = await startServer({ latencyMs: 0 });
    const study = writeStudy("rss", {
      levels: 100,
      times: Math.ceil(N / 100),
      settings: { max_in_flight: 64 },
    });
    log(`peak RSS: ${Math.ceil(N / 100) * 100} calls …`);
    const r = await runEngine("rss", { study, db: join(work, "rss.db"), baseUrl: server.url });
    await server.close();
    Object.assign(results, {
      peak_rss_mb: r.maxRssMb,
      rss_vm_hwm_mb: r.vmHwmMb,
      rss_calls: r.totals.calls,
      rss_sessions_done: r.checks.sessionsDone,
      rss_wall_s: r.wallMs / 1000,
      rss_cpu_ms_per_call: r.cpuMs / Math.max(1, r.totals.calls),
    });
    rmSync(join(work, "rss.db"), { force: true });
  }

  if (wanted("faults")) {
    const N = opts.quick ? 500 : 2000;
    const server = await startServer({
      latencyMs: 20,
      failures: { rate500: 0.1, rateDrop: 0.05 },
      faultSeed: 11,
    });
    const study = writeStudy("faults", { levels: 20, times: N / 20, settings: { max_in_flight: 64 } });
    log(`faults: ${N} sessions with 10 % HTTP 500s and 5 % dropped connections …`);
    const r = await runEngine("faults", { study, db: join(work, "faults.db"), baseUrl: server.url });
    const s = await server.stats();
    await server.close();
    const c = r.checks;
    Object.assign(results, {
      fault_completion: c.sessionsDone / N,
      fault_duplicates: c.duplicateObservations + c.duplicateCalls,
      fault_sessions_expected: N,
      fault_sessions_done: c.sessionsDone,
      fault_observations: c.observations,
      fault_sessions_without_observation: c.sessionsWithoutObservation,
      fault_retries: r.retries,
      fault_server_500: s.status[500] ?? 0,
      fault_server_dropped: s.dropped,
      fault_status: r.status,
      fault_wall_s: r.wallMs / 1000,
    });
  }
  if (wanted("batch")) Object.assign(results, await batchFigures({ work, log, quick: opts.quick }));

  if (wanted("default-floor")) {
    Object.assign(
      results,
      await defaultFloor({ startServer, runEngine, writeStudy, join, work, log, quick: opts.quick }),
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

results.bench_seconds = (performance.now() - started) / 1000;

if (opts.json) {
  process.stdout.write(`${JSON.stringify(results)}\n`);
} else {
  const rows = [
    [
      "wall ÷ floor (2,000 calls, 200 ms, 6,000 RPM)",
      "floor_ratio",
      (v) => v.toFixed(3),
      "≤",
      () =>
        `(wall ${results.throughput_wall_s?.toFixed(1)} s, floor ${results.throughput_floor_s?.toFixed(1)} s)`,
    ],
    [
      "engine CPU per call at 0 ms latency",
      "cpu_ms_per_call",
      (v) => `${v.toFixed(3)} ms`,
      "≤",
      () => `(${results.cpu_calls} calls, ${results.cpu_calls_per_s?.toFixed(0)} calls/s)`,
    ],
    [
      "peak RSS of a large run",
      "peak_rss_mb",
      (v) => `${v.toFixed(0)} MB`,
      "≤",
      () => `(${results.rss_calls} calls in ${results.rss_wall_s?.toFixed(1)} s)`,
    ],
    [
      "calls made by the cached re-run",
      "cached_rerun_calls",
      (v) => String(v),
      "=",
      () =>
        `(wall ${results.cached_rerun_wall_s?.toFixed(2)} s, ${results.cached_rerun_cache_hits} cache hits)`,
    ],
    [
      "sessions completed with 10 % 500s + 5 % drops",
      "fault_completion",
      (v) => `${(v * 100).toFixed(2)} %`,
      "=",
      () =>
        `(${results.fault_sessions_done}/${results.fault_sessions_expected}, ${results.fault_retries} retries)`,
    ],
    ["duplicates under faults", "fault_duplicates", (v) => String(v), "=", () => ""],
    ...batchRows(results),
  ];
  const out = ["silico engine benchmark", ""];
  for (const [label, key, fmt, op, note] of rows) {
    const v = results[key];
    if (v === undefined) continue;
    const target = TARGETS[key];
    const ok = op === "≤" ? v <= target : v === target;
    const ratio = target === 0 ? "" : `  ratio ${(v / target).toFixed(2)}`;
    out.push(
      `${ok ? "PASS" : "MISS"}  ${label.padEnd(48)} ${fmt(v).padStart(10)}   target ${op} ${key === "fault_completion" ? "100 %" : target}${ratio}  ${note(v)}`,
    );
  }
  out.push(...defaultFloorLines(results));
  out.push("", `bench time ${results.bench_seconds.toFixed(0)} s`);
  process.stdout.write(`${out.join("\n")}\n`);
}
