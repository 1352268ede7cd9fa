#!/usr/bin/env node
/**
 * One benchmark run of the engine, alone in this process: compile a study file, run it through
 * the library (startRun → executor → real `openai-compatible` provider via the AI SDK → SQLite
 * file), then print one JSON line with wall time, CPU time, peak RSS and store checks.
 *
 *   node bench/engine-child.mjs '{"study": "...", "db": "...", "baseUrl": "http://127.0.0.1:N/v1"}'
 */
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { distDir } from "./dist-path.mjs";

const config = JSON.parse(process.argv[2] ?? "{}");
process.env.OPENAI_COMPATIBLE_BASE_URL = config.baseUrl;

const load = (p) => import(pathToFileURL(`${distDir}/${p}`).href);
const { compileStudyFile } = await load("designs/index.js");
const { startRun } = await load("engine/run-study.js");
const { RunStore } = await load("store/run-store.js");

function vmHwmMb() {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Store checks: sessions finished, and anything recorded twice (the "nothing lost, nothing doubled" part). */
function checkStore(db, runId) {
  const one = (sql) => db.prepare(sql).get(runId);
  const sessions = one("SELECT COUNT(*) AS n, SUM(status = 'done') AS done FROM sessions WHERE run_id = ?");
  const observations = one("SELECT COUNT(*) AS n FROM observations WHERE run_id = ?");
  const duplicateObservations = one(
    `SELECT COALESCE(SUM(c - 1), 0) AS n FROM (SELECT COUNT(*) AS c FROM observations WHERE run_id = ?
     GROUP BY session_key, pid, name, choice_index HAVING c > 1)`,
  );
  const duplicateCalls = one(
    `SELECT COALESCE(SUM(c - 1), 0) AS n FROM (SELECT COUNT(*) AS c FROM calls WHERE run_id = ?
     AND status IN ('ok', 'invalid') AND cached_from IS NULL GROUP BY call_key HAVING c > 1)`,
  );
  const sessionsWithoutObservation = one(
    `SELECT COUNT(*) AS n FROM sessions s WHERE s.run_id = ? AND s.status = 'done' AND NOT EXISTS
     (SELECT 1 FROM observations o WHERE o.run_id = s.run_id AND o.session_key = s.key)`,
  );
  const callErrors = one("SELECT COUNT(*) AS n FROM calls WHERE run_id = ? AND status = 'error'");
  return {
    sessions: sessions.n,
    sessionsDone: sessions.done ?? 0,
    observations: observations.n,
    duplicateObservations: duplicateObservations.n,
    duplicateCalls: duplicateCalls.n,
    sessionsWithoutObservation: sessionsWithoutObservation.n,
    callErrors: callErrors.n,
  };
}

const study = compileStudyFile(config.study);
const store = RunStore.open(config.db);
let retries = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const result = await startRun(study, {
  store,
  ...(config.backoffMs !== undefined ? { backoffMs: config.backoffMs } : {}),
  onEvent: (e) => {
    if (e.type === "retry") retries++;
  },
});
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const maxRssMb = process.resourceUsage().maxRSS / 1024;
const hwm = vmHwmMb();
const checks = config.checks === false ? undefined : checkStore(store.db, result.runId);
store.close();

process.stdout.write(
  `${JSON.stringify({
    runId: result.runId,
    status: result.status,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    cpuUserMs: cpu.user / 1000,
    cpuSysMs: cpu.system / 1000,
    maxRssMb,
    vmHwmMb: hwm,
    retries,
    totals: result.totals,
    ...(checks ? { checks } : {}),
  })}\n`,
);
