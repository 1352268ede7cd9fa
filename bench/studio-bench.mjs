#!/usr/bin/env node
/**
 * silico studio at scale: a run of 100,000 observations (a factorial on the mock model, made with
 * the library), opened in headless Chromium. Prints the time to the results page's first paint
 * (from navigation start to the frame in which the run's first sessions page is drawn, as the
 * page marks it; the page never loads the run's rows, it pages them) and the 95th percentile of the page's data requests (session and observation pages at
 * random offsets, filtered pages, transcripts, the aggregates once computed).
 *
 *   npm run bench:studio                  human-readable report
 *   npm run bench:studio -- --json        { first_paint_ms, api_p95_ms, deep_page_ms, scroll_to_end_ms, … }
 *   --db FILE                             reuse (or create) this store instead of a temporary one
 *
 * Needs `npm run build` (the studio's web app) and a system Chromium (SILICO_CHROMIUM or
 * `chromium` on PATH).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";

const TARGETS = { first_paint_ms: 1000, deep_page_ms: 50 };
const argv = process.argv.slice(2);
const json = argv.includes("--json");
const dbArg = argv.includes("--db") ? argv[argv.indexOf("--db") + 1] : undefined;
const log = (m) => json || process.stderr.write(`${m}\n`);

const { factorialStudy, run, RunReader, findChromium } = await import("silico");
const { startStudio } = await import("@silico/studio");
const { chromium } = await import("playwright-core");

const temp = dbArg ? undefined : mkdtempSync(join(tmpdir(), "silico-studio-bench-"));
const db = dbArg ? resolve(dbArg) : join(temp, "bench.db");

async function ensureRun() {
  if (existsSync(db)) {
    const reader = RunReader.open(db);
    try {
      const r = reader.runs({ limit: 1 }).items[0];
      if (r && reader.countObservations(r.id) >= 100_000) return r.id;
    } finally {
      reader.close();
    }
  }
  // 100 × 100 cells × 10 draws = 100,000 sessions of one answer each.
  const levels = (p, n) => Array.from({ length: n }, (_, i) => `${p}${i}`);
  const study = factorialStudy({
    name: "studio-bench",
    prompt: "Rate {{ a }} with {{ b }} from 0 to 10.",
    levels: { a: levels("a", 100), b: levels("b", 100) },
    model: "mock:random",
    times: 10,
    parse: { type: "number", min: 0, max: 10 },
    seed: 1,
  });
  const t0 = performance.now();
  const outcome = await run(study, { db, concurrency: 512, modelCheck: false });
  log(
    `made run ${outcome.runId} (${outcome.totals.sessions} sessions) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return outcome.runId;
}

const p95 = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)];
};

const runId = await ensureRun();
const reader = RunReader.open(db);
const observations = reader.countObservations(runId);
const total = reader.countSessions(runId);
const sessionKeys = reader.sessions(runId, {}, { offset: 50_000, limit: 20 }).items.map((s) => s.key);
reader.close();

const studio = await startStudio({ db, projectDir: dirname(db), port: 0 });
const browser = await chromium.launch({ executablePath: findChromium(), headless: true });

/** Times a same-origin request from the page (cookie sent), in the browser's clock. */
const timedFetch = (page, url) =>
  page.evaluate(async (u) => {
    const s = performance.now();
    const r = await fetch(u);
    const body = await r.text();
    if (!r.ok) throw new Error(`${u}: ${r.status} ${body.slice(0, 200)}`);
    return { ms: performance.now() - s, body };
  }, url);

/** In the page: runs `act`, then waits for the frame in which the sessions rows in view are all drawn. */
const untilDrawn = (page, act, wantLast) =>
  page.evaluate(
    ({ act, wantLast }) =>
      new Promise((resolve) => {
        const el = document.querySelector("[data-testid=sessions-scroll]");
        const s = performance.now();
        if (act === "end") document.querySelector("[data-testid=sessions-end]").click();
        else if (act === "middle") el.scrollTop = el.scrollHeight / 2;
        else el.scrollBy(0, act);
        const check = () => {
          const box = el.getBoundingClientRect();
          const rows = [...el.querySelectorAll("tbody tr")].filter((tr) => {
            const r = tr.getBoundingClientRect();
            return r.bottom > box.top + 30 && r.top < box.bottom;
          });
          const ready =
            rows.length > 0 &&
            rows.every((tr) => !tr.classList.contains("vt-loading")) &&
            (wantLast === undefined || rows.at(-1).dataset.row === String(wantLast));
          if (ready) resolve({ ms: performance.now() - s, domRows: el.querySelectorAll("tbody tr").length });
          else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
      }),
    { act, wantLast },
  );

try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await page.goto(studio.url); // sets the access cookie
  await page.waitForSelector("[data-testid=runs]");
  // Cold page load of the run's results, timed in the browser from navigation start.
  const paints = [];
  for (let i = 0; i < 3; i++) {
    const p = await context.newPage();
    await p.goto(`${studio.origin}/#/run/${runId}`);
    await p.waitForSelector("[data-testid=sessions] tbody tr");
    // Read in the browser: the page marks the frame its sessions rows are drawn in (this process
    // also runs the studio, so a timer here would count the server's later work too).
    await p.waitForFunction(() => performance.getEntriesByName("silico:first-paint").length > 0);
    paints.push(await p.evaluate(() => performance.getEntriesByName("silico:first-paint")[0].startTime));
    await p.close();
  }
  const firstPaint = Math.round(paints[0]);

  // Small requests while a CSV export of the whole run is written (in a worker thread).
  const exporting = timedFetch(page, `/api/runs/${runId}/export?format=csv`);
  const during = [];
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 50));
    during.push((await timedFetch(page, `/api/runs/${runId}/sessions?limit=50&at=${i * 9_000}&total=0`)).ms);
  }
  const exportMs = (await exporting).ms;

  // The page's data requests, as the page makes them (same origin, cookie): a table's first page
  // waits for its row count briefly only (total=soon), the pages read while scrolling never count
  // (total=0); a filter's first count (a scan, in a worker) is timed on its own below.
  const paths = [];
  for (let i = 0; i < 10; i++)
    paths.push(
      `/api/runs/${runId}/sessions?at=${Math.floor(Math.random() * (total - 100))}&limit=100&total=0`,
    );
  for (let i = 0; i < 10; i++)
    paths.push(`/api/runs/${runId}/sessions?coord.a=a${i * 7}&limit=100&total=soon`);
  for (const k of sessionKeys.slice(0, 10))
    paths.push(`/api/runs/${runId}/transcript/${encodeURIComponent(k)}`);
  const t0 = performance.now();
  await timedFetch(page, `/api/runs/${runId}/plot?name=answer&by=a`);
  const aggregateMs = Math.round(performance.now() - t0);
  for (let i = 0; i < 5; i++) paths.push(`/api/runs/${runId}/plot?name=answer&by=a`);
  paths.push(`/api/runs/${runId}`, `/api/runs/${runId}/coordinates`, `/api/runs/${runId}/counts`);
  paths.push(`/api/runs/${runId}/summary`, `/api/runs/${runId}/sessions?status=valid&limit=100&total=soon`);
  paths.push(
    `/api/runs/${runId}/sessions?last=1&limit=100&total=0`,
    `/api/runs/${runId}/observations?last=1&limit=100&total=0`,
  );
  paths.push(
    `/api/runs/${runId}/observations?valid=true&limit=100&total=soon`,
    `/api/runs/${runId}/observations?coord.b=b3&limit=100&total=soon`,
  );
  const times = [];
  const slowest = [];
  for (const u of paths) {
    const { ms } = await timedFetch(page, u);
    times.push(ms);
    slowest.push([u.replace(`/api/runs/${runId}`, ""), Math.round(ms)]);
  }
  slowest.sort((a, b) => b[1] - a[1]);
  // First counts of filters (not yet counted): what a filtered table's "of N" waits for.
  const counts = [];
  for (let i = 0; i < 5; i++) {
    counts.push((await timedFetch(page, `/api/runs/${runId}/sessions/count?coord.b=b${10 + i}`)).ms);
    counts.push((await timedFetch(page, `/api/runs/${runId}/observations/count?coord.b=b${20 + i}`)).ms);
  }
  // Sequential pages by cursor from deep in the run (as scrolling reads them).
  const deep = [];
  for (const listing of ["sessions", "observations"]) {
    let { body } = await timedFetch(page, `/api/runs/${runId}/${listing}?at=${total - 2_000}&limit=100`);
    for (let i = 0; i < 15; i++) {
      const r = await timedFetch(
        page,
        `/api/runs/${runId}/${listing}?after=${JSON.parse(body).next}&limit=100&total=0`,
      );
      deep.push(r.ms);
      times.push(r.ms);
      body = r.body;
    }
  }

  // Scrolling the sessions table of the results page.
  await page.goto(`${studio.origin}/#/run/${runId}`);
  await page.waitForSelector("[data-testid=summary] tbody tr");
  await page.waitForSelector("[data-testid=observations] tbody tr");
  await page.waitForSelector("[data-testid=plot-means]");
  const steps = [];
  let domRows = 0;
  for (let i = 0; i < 20; i++) {
    const r = await untilDrawn(page, 1_500);
    steps.push(r.ms);
    domRows = Math.max(domRows, r.domRows);
  }
  const middle = await untilDrawn(page, "middle");
  const end = await untilDrawn(page, "end", total - 1);
  domRows = Math.max(domRows, middle.domRows, end.domRows);
  const rangeText = await page.textContent("[data-testid=sessions-range]");

  const result = {
    first_paint_ms: firstPaint,
    first_paint_warm_ms: Math.round(Math.min(...paints.slice(1))),
    api_p95_ms: Math.round(p95(times) * 10) / 10,
    api_requests: times.length,
    api_slowest: slowest.slice(0, 4),
    deep_page_ms: Math.round(p95(deep) * 10) / 10,
    filter_count_p95_ms: Math.round(p95(counts)),
    scroll_step_p95_ms: Math.round(p95(steps)),
    scroll_jump_ms: Math.round(middle.ms),
    scroll_to_end_ms: Math.round(end.ms),
    dom_rows_max: domRows,
    last_range: rangeText,
    api_during_export_p95_ms: Math.round(p95(during) * 10) / 10,
    export_csv_ms: Math.round(exportMs),
    aggregate_first_ms: aggregateMs,
    observations,
    targets: TARGETS,
    ok: firstPaint < TARGETS.first_paint_ms && p95(deep) < TARGETS.deep_page_ms,
  };
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    log(`observations          ${observations}`);
    log(
      `first paint           ${result.first_paint_ms} ms (target < ${TARGETS.first_paint_ms}); warm ${result.first_paint_warm_ms} ms`,
    );
    log(`data requests p95     ${result.api_p95_ms} ms over ${result.api_requests}`);
    log(
      `slowest               ${slowest
        .slice(0, 4)
        .map(([u, ms]) => `${u} ${ms} ms`)
        .join("; ")}`,
    );
    log(`deep pages p95        ${result.deep_page_ms} ms (by cursor; target < ${TARGETS.deep_page_ms})`);
    log(
      `filter's first count  p95 ${result.filter_count_p95_ms} ms (in a worker; the table's rows come first)`,
    );
    log(
      `scroll step p95       ${result.scroll_step_p95_ms} ms; jump to middle ${result.scroll_jump_ms} ms; to the end ${result.scroll_to_end_ms} ms`,
    );
    log(`rows in the page      at most ${domRows} (${rangeText})`);
    log(
      `during a CSV export   small requests p95 ${result.api_during_export_p95_ms} ms (export ${result.export_csv_ms} ms)`,
    );
    log(`first aggregate       ${aggregateMs} ms (then cached)`);
  }
  process.exitCode = result.ok ? 0 : 1;
} finally {
  await browser.close();
  await studio.close();
  if (temp) rmSync(temp, { recursive: true, force: true });
}
