#!/usr/bin/env node
/**
 * oTree bots against what the oTree server itself allows. One devserver plays the bench's tiny
 * project (bench/otree/project: 2-player groups, 3 rounds, a wait page and one number field per
 * round). Each part gets a fresh session of the same server and the same participant count:
 *
 *   ceiling  scripted HTTP clients with no model, every participant at once (ceiling.mjs), run
 *            just before the bots and again just after; the ceiling of a bots run is the mean of
 *            those two (the server's rate while the bots ran, on a machine whose load drifts: the
 *            highest of several runs against one bots run would be biased high by that noise);
 *   bots     a `kind: otree` study file with `otree.url` of the same server, all bots in one
 *            silico process through the library's `run` (bots-child.mjs), every model call
 *            answered by the project's OpenAI test server at 0 ms latency with an object that
 *            fits the page's JSON Schema (llm-child.mjs).
 *
 * Pages and completions of both parts are counted by oTree itself (`/api/export_page_times`):
 * pages = form pages submitted (wait pages not counted), completed = participants who submitted
 * the last page. `seconds` is playing time, the same for both parts: from the first participant's
 * start (for the bots: the first bot session's start) to the last participant's end;
 * `run_seconds` adds what comes before (for the bots, the whole `run` call: compile, model check,
 * the session's creation over REST, the store).
 *
 *   npm run bench:otree                  human-readable report
 *   npm run bench:otree -- --json        one JSON object on stdout:
 *      { bots, completed, pages, seconds, pages_per_s, ceiling_pages_per_s, ratio, rss_mb_per_bot, … }
 *
 * Both children count what they ask of oTree (request-counter.mjs): `bots_requests_per_page` and
 * `ceiling_requests_per_page` (page loads and sockets per accepted form page) should be equal.
 * CPU per page, less sensitive to the machine's load than pages/s: `bots_cpu_ms_per_page` (the
 * bots process), `llm_cpu_ms_per_page` (the test LLM), `otree_cpu_ms_per_page_bots` and
 * `_ceiling` (the devserver's process group, from /proc, while each part ran) and each ceiling
 * run's `client_cpu_ms_per_page` (the scripted clients).
 *
 * Options: --bots N (100, even), --repeat N (1: N bots runs, each between two ceiling runs, c b c b
 * c; the run with the median ratio (the lower middle one for an even N) is reported and all are
 * listed in `bots_runs`), --ceiling-runs N
 * (2; with --only ceiling: how many ceiling runs), --ceiling-wait socket|poll (how the scripted
 * clients sit on wait pages: oTree's /wait_page socket, the default, or a GET every 100 ms; both
 * gave the same pages/s here), --only ceiling, --bots-timeout S (150: the bots part is killed
 * after that; pages oTree saw until then are still counted), --otree CMD (default: env
 * SILICO_OTREE, else SILICO_TEST_OTREE, else .venv-test-otree/bin/otree, else `otree` on PATH).
 * Exit 1 when the bots part could not run (e.g. "kind otree not available") or missed a target.
 */
import { fork } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ensureBuilt } from "../build.mjs";
import { distDir, repoRoot } from "../dist-path.mjs";
import { groupCpuMs } from "./group-cpu.mjs";
import { countPages, pageTimes } from "./page-times.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const CONFIG = "bench_pairs";
const LLM_LATENCY_MS = 0;
/** Ceiling runs further apart than this (fastest ÷ slowest): the report asks what else ran. */
const UNSTABLE_SPREAD = 1.15;
const spread = (runs) => {
  const rates = runs.map((r) => r.pages_per_s);
  return Math.max(...rates) / Math.min(...rates);
};
/** Requests to oTree per form page the server accepted: page loads (GET and POST) and sockets. */
const perPage = (requests, pages) =>
  requests && pages > 0
    ? {
        http: Math.round((requests.pages / pages) * 1000) / 1000,
        sockets: Math.round((requests.sockets / pages) * 1000) / 1000,
        rest_calls: requests.rest,
      }
    : null;
const TARGETS = { completed_share: 1, ratio: 0.9, rss_mb_per_bot: 2 };

function parseArgs(argv) {
  const o = {
    json: false,
    bots: 100,
    ceilingRuns: 2,
    repeat: 1,
    only: undefined,
    otree: undefined,
    botsTimeoutS: 150,
    ceilingWait: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") o.json = true;
    else if (a === "--bots") o.bots = Number(argv[++i]);
    else if (a === "--ceiling-runs") o.ceilingRuns = Number(argv[++i]);
    else if (a === "--repeat") o.repeat = Number(argv[++i]);
    else if (a === "--only") o.only = argv[++i];
    else if (a === "--otree") o.otree = argv[++i];
    else if (a === "--bots-timeout") o.botsTimeoutS = Number(argv[++i]);
    else if (a === "--ceiling-wait") o.ceilingWait = argv[++i];
    else {
      process.stderr.write(`unknown argument: ${a}\n`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(o.bots) || o.bots < 2 || o.bots % 2 !== 0) {
    process.stderr.write("--bots must be an even number ≥ 2 (the game has 2-player groups)\n");
    process.exit(2);
  }
  if (!Number.isInteger(o.ceilingRuns) || o.ceilingRuns < 1) {
    process.stderr.write("--ceiling-runs must be ≥ 1\n");
    process.exit(2);
  }
  if (!Number.isInteger(o.repeat) || o.repeat < 1) {
    process.stderr.write("--repeat must be ≥ 1\n");
    process.exit(2);
  }
  if (o.ceilingWait !== undefined && o.ceilingWait !== "socket" && o.ceilingWait !== "poll") {
    process.stderr.write("--ceiling-wait takes `socket` or `poll`\n");
    process.exit(2);
  }
  if (o.only !== undefined && o.only !== "ceiling") {
    process.stderr.write("--only takes `ceiling`\n");
    process.exit(2);
  }
  return o;
}

/** The `otree` command: the flag, SILICO_OTREE, SILICO_TEST_OTREE, the test venv's, or PATH's. */
function otreeCommand(flag) {
  if (flag) return flag;
  if (process.env.SILICO_OTREE) return process.env.SILICO_OTREE;
  if (process.env.SILICO_TEST_OTREE) return process.env.SILICO_TEST_OTREE;
  const venv = join(repoRoot, ".venv-test-otree", "bin", "otree");
  return existsSync(venv) ? venv : "otree";
}

/** Node 20 has WebSocket (oTree's wait-page socket) only behind a flag; children get it. */
const childExecArgv =
  typeof globalThis.WebSocket === "function"
    ? []
    : ["--experimental-websocket", "--disable-warning=ExperimentalWarning"];

/**
 * Runs a bench child and resolves to the JSON object on its last stdout line; after `timeoutMs`
 * the child is killed and the result says so (a hung bot must not hang the bench).
 */
function runChild(script, config, { execArgv = [], timeoutMs = 600_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, script), [JSON.stringify(config)], {
      stdio: ["ignore", "pipe", "inherit", "ipc"],
      execArgv: [...childExecArgv, ...execArgv],
    });
    let out = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (timedOut)
        return resolve({ error: `${script} did not finish within ${timeoutMs / 1000} s`, timedOut: true });
      const last = out.trim().split("\n").pop() ?? "";
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${script} failed (exit ${code}): ${out.slice(-500)}`));
      }
    });
  });
}

/** The OpenAI test server in a child process, answering in the shape of each page (llm-child.mjs). */
async function startLlmServer(options) {
  const child = fork(join(here, "llm-child.mjs"), [JSON.stringify(options)], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const url = await new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`test server exited early (${code})`)));
    child.once("message", (m) => resolve(m.url));
  });
  child.removeAllListeners("exit");
  return {
    url,
    /** Resolves to what the child reports when it closes ({ cpu_ms }), or undefined. */
    close: () =>
      new Promise((resolve) => {
        let report;
        child.on("message", (m) => {
          if (m?.type === "closed") report = m;
        });
        child.once("exit", () => resolve(report));
        child.send({ cmd: "close" });
      }),
  };
}

function studyYaml(baseUrl, bots) {
  return [
    "# Written by npm run bench:otree: all bots in one silico process against the bench's devserver.",
    "kind: otree",
    "name: bench-otree",
    "otree:",
    `  url: ${baseUrl}`,
    "session:",
    `  config: ${CONFIG}`,
    `  participants: ${bots}`,
    "  label: silico-bench-bots",
    "bots:",
    "  model: openai-compatible:silico-test",
    "  system: You are a participant in an economics experiment. Answer every question on the page.",
    "  params: { temperature: 1 }",
    "seed: 1",
    `settings: { concurrency: ${bots}, max_in_flight: ${bots} }`,
    "",
  ].join("\n");
}

const opts = parseArgs(process.argv.slice(2));
const log = (m) => process.stderr.write(`${m}\n`);
const started = performance.now();
const work = mkdtempSync(join(tmpdir(), "silico-bench-otree-"));
// oTree writes db.sqlite3 into the project when it stops: play a copy, never the repository's.
const projectDir = join(work, "project");
cpSync(join(here, "project"), projectDir, { recursive: true });

const results = {};
let llm;
let server;
let exitCode = 0;
try {
  ensureBuilt(log);
  const { startDevserver } = await import(pathToFileURL(join(distDir, "otree", "devserver.js")).href);
  const otree = otreeCommand(opts.otree);
  log(`starting oTree devserver (${otree}) …`);
  server = await startDevserver({ projectDir, otree });
  const version = JSON.parse(await (await fetch(`${server.baseUrl}/api/otree_version`)).text()).version;

  // Untimed: oTree compiles its templates on first use; neither part should pay for that.
  const warm = await runChild("ceiling-child.mjs", {
    baseUrl: server.baseUrl,
    config: CONFIG,
    participants: 2,
  });
  if (warm.error) throw new Error(`the warm-up session failed: ${warm.error}`);
  const known = new Set([warm.sessionCode]);

  const ceilingRuns = [];
  const ceiling = async (when) => {
    log(`ceiling (${when}): ${opts.bots} scripted participants at once, no model …`);
    const cpu0 = groupCpuMs(server.pgid);
    const r = await runChild("ceiling-child.mjs", {
      baseUrl: server.baseUrl,
      config: CONFIG,
      participants: opts.bots,
      ...(opts.ceilingWait ? { wait: opts.ceilingWait } : {}),
    });
    if (r.error) throw new Error(`the ceiling run failed: ${r.error}`);
    r.otree_cpu_ms = cpu0 === undefined ? undefined : groupCpuMs(server.pgid) - cpu0;
    known.add(r.sessionCode);
    const run = { when, ...r };
    ceilingRuns.push(run);
    return run;
  };

  // The bots run between two ceiling runs, and are compared with their mean: the server's rate
  // while the bots ran, as well as it can be read on a machine whose load drifts. With --repeat N,
  // N such comparisons share their ceilings (c b c b c) and the median ratio is reported.
  const botRuns = [];
  let lastPageIndex;
  let previous = await ceiling(opts.only === "ceiling" ? "run 1" : "before");
  {
    const rows0 = await pageTimes(server.baseUrl);
    // The last page's index, from a run in which every participant finished.
    lastPageIndex = Math.max(
      ...rows0.filter((r) => r.session_code === previous.sessionCode).map((r) => Number(r.page_index)),
    );
  }
  if (opts.only === "ceiling") {
    for (let i = 2; i <= opts.ceilingRuns; i++) await ceiling(`run ${i}`);
  } else {
    for (let i = 1; i <= opts.repeat; i++) {
      llm = await startLlmServer({ latencyMs: LLM_LATENCY_MS, record: false });
      const study = join(work, `study-${i}.yaml`);
      writeFileSync(study, studyYaml(server.baseUrl, opts.bots));
      log(
        `bots${opts.repeat > 1 ? ` (${i}/${opts.repeat})` : ""}: ${opts.bots} bots in one silico process, test LLM at ${LLM_LATENCY_MS} ms …`,
      );
      const tb = performance.now();
      const cpu0 = groupCpuMs(server.pgid);
      const bots = await runChild(
        "bots-child.mjs",
        {
          study,
          db: join(work, `bench-${i}.db`),
          baseUrl: llm.url,
          otreeUrl: server.baseUrl,
          bots: opts.bots,
        },
        { execArgv: ["--expose-gc"], timeoutMs: opts.botsTimeoutS * 1000 },
      );
      // The child's own timing; the wall time around it when it has none (it failed or was killed).
      bots.otree_cpu_ms = cpu0 === undefined ? undefined : groupCpuMs(server.pgid) - cpu0;
      bots.run_seconds ??= (performance.now() - tb) / 1000;
      bots.seconds ??= bots.run_seconds;
      bots.llm_cpu_ms = (await llm.close())?.cpu_ms;
      llm = undefined;
      // Sessions oTree has that no ceiling or earlier bots run made: this run's.
      const rows = await pageTimes(server.baseUrl);
      bots.sessions = new Set(rows.map((r) => r.session_code).filter((c) => !known.has(c)));
      for (const code of bots.sessions) known.add(code);
      bots.counted = countPages(rows, bots.sessions, lastPageIndex);
      const after = await ceiling(i === opts.repeat ? "after" : `between ${i}/${i + 1}`);
      botRuns.push({ bots, before: previous, after });
      previous = after;
      if (bots.unavailable) break;
    }
  }

  const rows = await pageTimes(server.baseUrl);
  for (const run of ceilingRuns) {
    // oTree's own count; the client's count must agree with it.
    const byOtree = countPages(rows, new Set([run.sessionCode]), lastPageIndex);
    if (byOtree.pages !== run.pages || byOtree.completed !== run.completed) {
      throw new Error(
        `the ceiling client counted ${run.pages} pages / ${run.completed} completed, oTree ${byOtree.pages} / ${byOtree.completed}`,
      );
    }
  }
  const first = ceilingRuns[0];
  /** The devserver's CPU per page in the ceiling runs (mean), to set beside the bots'. */
  const ceilingOtreeCpu = () => {
    const known = ceilingRuns.filter((r) => r.otree_cpu_ms !== undefined);
    return known.length === 0 ? null : known.reduce((a, r) => a + r.otree_cpu_ms / r.pages, 0) / known.length;
  };
  const ceilingMean = ceilingRuns.reduce((a, r) => a + r.pages_per_s, 0) / ceilingRuns.length;
  Object.assign(results, {
    bots: opts.bots,
    completed: null,
    pages: null,
    seconds: null,
    pages_per_s: null,
    ceiling_pages_per_s: ceilingMean,
    ratio: null,
    rss_mb_per_bot: null,
    groups: opts.bots / 2,
    rounds: 3,
    pages_per_participant: first.pages / first.participants,
    llm_latency_ms: LLM_LATENCY_MS,
    llm_answers: "fit the page's JSON Schema",
    bots_concurrency: opts.bots,
    bots_max_in_flight: opts.bots,
    ceiling_concurrency: opts.bots,
    ceiling_wait: first.wait_mode,
    ceiling_spread: spread(ceilingRuns),
    ceiling_requests_per_page: perPage(first.requests, first.pages),
    ceiling_runs: ceilingRuns.map((r) => ({
      when: r.when,
      completed: r.completed,
      pages: r.pages,
      seconds: r.seconds,
      run_seconds: r.run_seconds,
      pages_per_s: r.pages_per_s,
      requests: r.requests,
      otree_cpu_ms_per_page: r.otree_cpu_ms === undefined ? null : r.otree_cpu_ms / r.pages,
      client_cpu_ms_per_page: r.cpu_ms === undefined ? null : r.cpu_ms / r.pages,
    })),
    otree_version: version,
  });
  const errors = botRuns.flatMap((r) => (r.bots.error ? [r.bots.error] : []));
  if (errors.length > 0) {
    results.bots_error = errors[0];
    exitCode = 1;
  }
  const measured = botRuns
    .filter((r) => !r.bots.unavailable)
    .map(({ bots, before, after }) => {
      const ceilingAround = (before.pages_per_s + after.pages_per_s) / 2;
      const pagesPerS = bots.counted.pages / bots.seconds;
      return {
        completed: bots.counted.completed,
        pages: bots.counted.pages,
        seconds: bots.seconds,
        run_seconds: bots.run_seconds,
        pages_per_s: pagesPerS,
        ceiling_before: before.pages_per_s,
        ceiling_after: after.pages_per_s,
        ceiling_pages_per_s: ceilingAround,
        ratio: pagesPerS / ceilingAround,
        rss_mb_per_bot:
          bots.rss_peak_mb === undefined ? null : (bots.rss_peak_mb - bots.rss_baseline_mb) / opts.bots,
        // CPU of the bots process per page: what it takes from the cores oTree also needs.
        cpu_ms_per_page: bots.cpu_ms === undefined ? null : bots.cpu_ms / Math.max(1, bots.counted.pages),
        llm_cpu_ms_per_page:
          bots.llm_cpu_ms === undefined ? null : bots.llm_cpu_ms / Math.max(1, bots.counted.pages),
        // The oTree devserver's CPU per page while the bots played (its whole run: REST included).
        otree_cpu_ms_per_page:
          bots.otree_cpu_ms === undefined ? null : bots.otree_cpu_ms / Math.max(1, bots.counted.pages),
        requests: bots.requests ?? null,
        status: bots.status,
        run_id: bots.runId,
        calls: bots.totals?.calls ?? null,
        sessions_seen: bots.sessions.size,
        rss_baseline_mb: bots.rss_baseline_mb,
        rss_peak_mb: bots.rss_peak_mb,
      };
    });
  if (measured.length > 0) {
    // One run: its figures. Several: the run with the median ratio, and the other runs listed.
    const byRatio = [...measured].sort((a, b) => a.ratio - b.ratio);
    const mid = byRatio[Math.floor((byRatio.length - 1) / 2)];
    Object.assign(results, {
      completed: Math.min(...measured.map((m) => m.completed)),
      pages: mid.pages,
      seconds: mid.seconds,
      run_seconds: mid.run_seconds,
      pages_per_s: mid.pages_per_s,
      ceiling_pages_per_s: mid.ceiling_pages_per_s,
      ratio: mid.ratio,
      rss_mb_per_bot: measured.some((m) => m.rss_mb_per_bot === null)
        ? null
        : Math.max(...measured.map((m) => m.rss_mb_per_bot)),
      ceiling_before: mid.ceiling_before,
      ceiling_after: mid.ceiling_after,
      bots_status: mid.status,
      bots_run_id: mid.run_id,
      bots_calls: mid.calls,
      bots_cpu_ms_per_page: mid.cpu_ms_per_page,
      llm_cpu_ms_per_page: mid.llm_cpu_ms_per_page,
      otree_cpu_ms_per_page_bots: mid.otree_cpu_ms_per_page,
      otree_cpu_ms_per_page_ceiling: ceilingOtreeCpu(),
      bots_requests_per_page: mid.requests ? perPage(mid.requests, mid.pages) : null,
      bots_sessions_seen: mid.sessions_seen,
      rss_baseline_mb: mid.rss_baseline_mb,
      rss_peak_mb: mid.rss_peak_mb,
    });
    if (measured.length > 1) {
      results.repeat = measured.length;
      results.bots_runs = measured.map((m) => ({
        completed: m.completed,
        pages_per_s: m.pages_per_s,
        ceiling_before: m.ceiling_before,
        ceiling_after: m.ceiling_after,
        ratio: m.ratio,
        cpu_ms_per_page: m.cpu_ms_per_page,
        otree_cpu_ms_per_page: m.otree_cpu_ms_per_page,
        rss_mb_per_bot: m.rss_mb_per_bot,
      }));
    }
    if (
      results.completed < opts.bots * TARGETS.completed_share ||
      results.ratio < TARGETS.ratio ||
      !(results.rss_mb_per_bot <= TARGETS.rss_mb_per_bot)
    )
      exitCode = 1;
  }
} finally {
  await llm?.close();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
}
results.bench_seconds = (performance.now() - started) / 1000;

const round = (v, d) => (typeof v === "number" ? Math.round(v * 10 ** d) / 10 ** d : v);
for (const key of [
  "bots_cpu_ms_per_page",
  "llm_cpu_ms_per_page",
  "otree_cpu_ms_per_page_bots",
  "otree_cpu_ms_per_page_ceiling",
  "ceiling_before",
  "ceiling_after",
  "ceiling_spread",
  "seconds",
  "run_seconds",
  "pages_per_s",
  "ceiling_pages_per_s",
  "bench_seconds",
  "rss_peak_mb",
  "rss_baseline_mb",
])
  results[key] = round(results[key], 2);
results.ratio = round(results.ratio, 3);
results.rss_mb_per_bot = round(results.rss_mb_per_bot, 3);
for (const r of results.ceiling_runs ?? []) {
  r.seconds = round(r.seconds, 2);
  r.run_seconds = round(r.run_seconds, 2);
  r.pages_per_s = round(r.pages_per_s, 2);
  r.otree_cpu_ms_per_page = round(r.otree_cpu_ms_per_page, 2);
  r.client_cpu_ms_per_page = round(r.client_cpu_ms_per_page, 2);
}
for (const r of results.bots_runs ?? []) {
  for (const key of [
    "pages_per_s",
    "ceiling_before",
    "ceiling_after",
    "cpu_ms_per_page",
    "otree_cpu_ms_per_page",
  ])
    r[key] = round(r[key], 2);
  r.ratio = round(r.ratio, 3);
  r.rss_mb_per_bot = round(r.rss_mb_per_bot, 3);
}

function fmtRequests(r) {
  return r ? `${r.http} HTTP + ${r.sockets} sockets (${r.rest_calls} REST calls in all)` : "not counted";
}

if (opts.json) {
  process.stdout.write(`${JSON.stringify(results)}\n`);
} else {
  const out = [
    `oTree bots benchmark (oTree ${results.otree_version}; ${results.bots} participants = ${results.groups} groups × ${results.rounds} rounds, ${results.pages_per_participant} form pages each)`,
    "",
    ...results.ceiling_runs.map(
      (r) =>
        `ceiling ${r.when.padEnd(6)}  ${r.pages_per_s} pages/s  (${r.completed} completed, ${r.pages} pages in ${r.seconds} s, scripted, no model)`,
    ),
    ...(results.bots_runs ?? []).map(
      (r, i) =>
        `bots run ${i + 1}      ${r.pages_per_s} pages/s between ceilings of ${r.ceiling_before} and ${r.ceiling_after}: ratio ${r.ratio} (${r.completed} completed, ${r.cpu_ms_per_page} ms CPU per page)`,
    ),
  ];
  if (results.ceiling_spread > UNSTABLE_SPREAD)
    out.push(`(the ceiling runs differ by ×${results.ceiling_spread}: is something else using the CPU?)`);
  if (results.bots_error) out.push(`bots            ${results.bots_error}`);
  if (results.pages_per_s !== null) {
    const mark = (ok) => (ok ? "PASS" : "MISS");
    out.push(
      `bots            ${results.pages_per_s} pages/s  (${results.pages} pages in ${results.seconds} s; ${results.run_seconds} s for the whole run, ${results.bots_status ?? "unfinished"}, test LLM at ${results.llm_latency_ms} ms, ${results.bots_cpu_ms_per_page} ms CPU per page in the bots process, ${results.llm_cpu_ms_per_page} ms in the test LLM's)`,
      `ceiling         ${results.ceiling_pages_per_s} pages/s  (mean of the runs just before and after the bots${results.repeat ? "; the median of the bots runs' ratios is shown" : ""})`,
      `requests/page  bots ${fmtRequests(results.bots_requests_per_page)}; ceiling ${fmtRequests(results.ceiling_requests_per_page)}`,
      "",
      `${mark(results.completed >= results.bots)}  completed        ${results.completed} / ${results.bots}`,
      `${mark(results.ratio >= TARGETS.ratio)}  ratio            ${results.ratio}   target ≥ ${TARGETS.ratio}`,
      results.rss_mb_per_bot === null
        ? "MISS  rss_mb_per_bot   not measured (the bots process did not report)"
        : `${mark(results.rss_mb_per_bot <= TARGETS.rss_mb_per_bot)}  rss_mb_per_bot   ${results.rss_mb_per_bot}   target ≤ ${TARGETS.rss_mb_per_bot}  (peak ${results.rss_peak_mb} MB − baseline ${results.rss_baseline_mb} MB)`,
    );
  }
  out.push("", `bench time ${results.bench_seconds.toFixed(0)} s`);
  process.stdout.write(`${out.join("\n")}\n`);
}
process.exitCode = exitCode;
