#!/usr/bin/env node
/**
 * The bots part of `npm run bench:otree`, alone in this process: one `kind: otree` study file run
 * through silico's library API (`run`, the same call as `silico run`), every bot in this one
 * process, models answered by the OpenAI test server. Prints one JSON line:
 *   { status, seconds, run_seconds, cpu_ms, totals, rss_baseline_mb, rss_peak_mb, bots, requests } or
 *   { error, unavailable? } (requests: what was asked of oTree, see request-counter.mjs)
 *
 *   node bench/otree/bots-child.mjs '{"study": "...", "db": "...", "baseUrl": "http://127.0.0.1:N/v1", "otreeUrl": "http://127.0.0.1:M", "bots": 100}'
 */
import { pathToFileURL } from "node:url";
import { distDir } from "../dist-path.mjs";
import { countRequests } from "./request-counter.mjs";

const config = JSON.parse(process.argv[2] ?? "{}");
process.env.OPENAI_COMPATIBLE_BASE_URL = config.baseUrl;

const silico = await import(pathToFileURL(`${distDir}/index.js`).href);

/**
 * The one seam to the `kind: otree` design: run the study file and resolve to the library's
 * outcome. Nothing here knows how bots play; the bench reads pages and completions from oTree.
 */
async function runBots(studyPath, db, onEvent) {
  return silico.run(studyPath, { db, onEvent });
}

// Playing time, as the ceiling measures it: from the first bot session's start to the last one's
// end (compile, model check, the session's creation over REST and the store's set-up come before).
let firstStart;
let lastEnd;
const onEvent = (e) => {
  if (e.type === "session-start") firstStart ??= performance.now();
  else if (e.type === "session-end") lastEnd = performance.now();
};

/** True when this build of silico has no `kind: otree` (the compiler lists the kinds it knows). */
function kindMissing(err) {
  return /unknown kind "otree"/.test(String(err?.message ?? err));
}

// Memory per bot = (peak RSS while the bots run − RSS just before they start) / bots. The baseline
// is taken after the library is imported and a full GC, so module code and V8's start-up heap are
// not counted; what is counted is everything the run adds: each bot's state, its page HTML and
// parsed page, its pending fetches and sockets, the executor's per-session state and the store's
// page cache (a fixed part shared by all bots, so the figure is an upper bound for one bot).
// RSS is sampled every 100 ms; the peak is the highest sample, or the process's max RSS when that
// rose during the run (a spike between samples), never a spike from before the baseline. (Every
// 20 ms, reading RSS was ≈ 6 % of this process's CPU while the bots played: measuring cost that
// the bots' CPU per page then included.)
globalThis.gc?.();
await new Promise((resolve) => setTimeout(resolve, 50));
const baseline = process.memoryUsage.rss();
const maxRssBefore = process.resourceUsage().maxRSS;
let peak = baseline;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage.rss());
}, 100);

const requests = config.otreeUrl ? countRequests(config.otreeUrl) : undefined;
const mb = (bytes) => bytes / (1024 * 1024);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
let line;
try {
  const outcome = await runBots(config.study, config.db, onEvent);
  const runSeconds = (performance.now() - t0) / 1000;
  const seconds =
    firstStart !== undefined && lastEnd !== undefined ? (lastEnd - firstStart) / 1000 : runSeconds;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  const maxRss = process.resourceUsage().maxRSS;
  peak = Math.max(peak, process.memoryUsage.rss(), maxRss > maxRssBefore ? maxRss * 1024 : 0);
  line = {
    status: outcome.status,
    runId: outcome.runId,
    seconds,
    run_seconds: runSeconds,
    cpu_ms: (cpu.user + cpu.system) / 1000,
    totals: outcome.totals,
    rss_baseline_mb: mb(baseline),
    rss_peak_mb: mb(peak),
    bots: config.bots,
    ...(requests ? { requests: requests() } : {}),
  };
} catch (err) {
  clearInterval(sampler);
  line = kindMissing(err)
    ? {
        error: `kind otree not available: this build of silico cannot run a \`kind: otree\` study yet (${String(err.message).split("\n").pop().trim()})`,
        unavailable: true,
      }
    : { error: String(err?.stack ?? err) };
}
process.stdout.write(`${JSON.stringify(line)}\n`);
