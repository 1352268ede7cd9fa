#!/usr/bin/env node
/**
 * oTree bots against what the oTree server itself allows. One devserver plays the bench's tiny
 * project (bench/otree/project: 2-player groups, 3 rounds, a wait page and one number field per
 * round). Each part gets a fresh session of the same server and the same participant count:
 *
 *   ceiling  scripted HTTP clients with no model, every participant at once (ceiling.mjs), run
 *            before the bots and again after (a third time when those two differ by > 15 %); the
 *            highest pages/s is the ceiling (the stricter reference);
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
 * Options: --bots N (100, even), --ceiling-runs N (2), --ceiling-wait socket|poll (how the scripted
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
import { countPages, pageTimes } from "./page-times.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const CONFIG = "bench_pairs";
const LLM_LATENCY_MS = 0;
/** Ceiling runs further apart than this (fastest ÷ slowest) count as unstable. */
const UNSTABLE_SPREAD = 1.15;
const spread = (runs) => {
  const rates = runs.map((r) => r.pages_per_s);
  return Math.max(...rates) / Math.min(...rates);
};
const TARGETS = { completed_share: 1, ratio: 0.9, rss_mb_per_bot: 2 };

function parseArgs(argv) {
  const o = {
    json: false,
    bots: 100,
    ceilingRuns: 2,
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
    close: () =>
      new Promise((resolve) => {
        child.once("exit", resolve);
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
    const r = await runChild("ceiling-child.mjs", {
      baseUrl: server.baseUrl,
      config: CONFIG,
      participants: opts.bots,
      ...(opts.ceilingWait ? { wait: opts.ceilingWait } : {}),
    });
    if (r.error) throw new Error(`the ceiling run failed: ${r.error}`);
    known.add(r.sessionCode);
    ceilingRuns.push({ when, ...r });
  };
  await ceiling("before");

  const rows0 = await pageTimes(server.baseUrl);
  const firstCeiling = ceilingRuns[0];
  // The last page's index, from a run in which every participant finished.
  const lastPageIndex = Math.max(
    ...rows0.filter((r) => r.session_code === firstCeiling.sessionCode).map((r) => Number(r.page_index)),
  );

  let bots;
  if (opts.only !== "ceiling") {
    llm = await startLlmServer({ latencyMs: LLM_LATENCY_MS, record: false });
    const study = join(work, "study.yaml");
    writeFileSync(study, studyYaml(server.baseUrl, opts.bots));
    log(`bots: ${opts.bots} bots in one silico process, test LLM at ${LLM_LATENCY_MS} ms …`);
    const tb = performance.now();
    bots = await runChild(
      "bots-child.mjs",
      { study, db: join(work, "bench.db"), baseUrl: llm.url, bots: opts.bots },
      { execArgv: ["--expose-gc"], timeoutMs: opts.botsTimeoutS * 1000 },
    );
    // The child's own timing; the wall time around it when it has none (it failed or was killed).
    bots.run_seconds ??= (performance.now() - tb) / 1000;
    bots.seconds ??= bots.run_seconds;
    await llm.close();
    llm = undefined;
  }

  for (let i = 1; i < opts.ceilingRuns; i++) await ceiling("after");
  // A busy machine moves the ceiling a lot: when the runs disagree, one more run (once).
  if (opts.ceilingRuns > 1 && spread(ceilingRuns) > UNSTABLE_SPREAD) await ceiling("again");

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
  const best = ceilingRuns.reduce((a, b) => (b.pages_per_s > a.pages_per_s ? b : a));
  Object.assign(results, {
    bots: opts.bots,
    completed: null,
    pages: null,
    seconds: null,
    pages_per_s: null,
    ceiling_pages_per_s: best.pages_per_s,
    ratio: null,
    rss_mb_per_bot: null,
    groups: opts.bots / 2,
    rounds: 3,
    pages_per_participant: best.pages / best.participants,
    llm_latency_ms: LLM_LATENCY_MS,
    llm_answers: "fit the page's JSON Schema",
    bots_concurrency: opts.bots,
    bots_max_in_flight: opts.bots,
    ceiling_concurrency: opts.bots,
    ceiling_wait: best.wait_mode,
    ceiling_spread: spread(ceilingRuns),
    ceiling_runs: ceilingRuns.map((r) => ({
      when: r.when,
      completed: r.completed,
      pages: r.pages,
      seconds: r.seconds,
      run_seconds: r.run_seconds,
      pages_per_s: r.pages_per_s,
    })),
    otree_version: version,
  });
  if (bots) {
    if (bots.error) {
      results.bots_error = bots.error;
      exitCode = 1;
    }
    if (bots.unavailable) {
      // nothing ran: no counts
    } else {
      const botSessions = new Set(rows.map((r) => r.session_code).filter((c) => !known.has(c)));
      const counted = countPages(rows, botSessions, lastPageIndex);
      const seconds = bots.seconds;
      const rssPerBot =
        bots.rss_peak_mb === undefined ? null : (bots.rss_peak_mb - bots.rss_baseline_mb) / opts.bots;
      Object.assign(results, {
        completed: counted.completed,
        pages: counted.pages,
        seconds,
        run_seconds: bots.run_seconds,
        pages_per_s: counted.pages / seconds,
        ratio: counted.pages / seconds / best.pages_per_s,
        rss_mb_per_bot: rssPerBot,
        bots_status: bots.status,
        bots_run_id: bots.runId,
        bots_calls: bots.totals?.calls ?? null,
        // CPU of the bots process per page: what it takes from the cores oTree also needs.
        bots_cpu_ms_per_page: bots.cpu_ms === undefined ? null : bots.cpu_ms / Math.max(1, counted.pages),
        bots_sessions_seen: botSessions.size,
        rss_baseline_mb: bots.rss_baseline_mb,
        rss_peak_mb: bots.rss_peak_mb,
      });
      if (
        results.completed < opts.bots * TARGETS.completed_share ||
        results.ratio < TARGETS.ratio ||
        !(results.rss_mb_per_bot <= TARGETS.rss_mb_per_bot)
      )
        exitCode = 1;
    }
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
  ];
  if (results.ceiling_spread > UNSTABLE_SPREAD)
    out.push(`(the ceiling runs differ by ×${results.ceiling_spread}: is something else using the CPU?)`);
  if (results.bots_error) out.push(`bots            ${results.bots_error}`);
  if (results.pages_per_s !== null) {
    const mark = (ok) => (ok ? "PASS" : "MISS");
    out.push(
      `bots            ${results.pages_per_s} pages/s  (${results.pages} pages in ${results.seconds} s; ${results.run_seconds} s for the whole run, ${results.bots_status ?? "unfinished"}, test LLM at ${results.llm_latency_ms} ms, ${results.bots_cpu_ms_per_page} ms CPU per page in the bots process)`,
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
