/**
 * `default_floor_ratio`: wall time of a study run with DEFAULT settings (no max_in_flight, rpm or
 * tpm in the study, no flags) ÷ the physical floor, max(N ÷ RPM, N × latency ÷ the server's
 * concurrency cap), against three server profiles; the figure is the worst of the three.
 *
 *   fast       200 ms latency, 6,000 RPM enforced with 429s (100 a second)   N = 2,000 → floor 20 s
 *   slow       2 s latency, the server serves at most 200 at once (queue)      N = 2,000 → floor 20 s
 *   limited    200 ms latency, 600 RPM enforced with 429s (10 a second)        N = 200   → floor 20 s
 *
 * N is chosen so that each floor is 20 s: long enough that start-up (the first round trip, the
 * first 429s) is a small share of the wall time, as it is in real studies, short enough that the
 * three profiles together take about a minute. RPM limits are enforced over 1 s windows
 * (`rateWindowMs`), as providers that quantize per-minute limits do; a 60 s window would let
 * every N below the RPM through at once and the profile would measure nothing. The server sends
 * OpenAI-style x-ratelimit-* headers with every answer (limit, remaining, reset).
 */

export const DEFAULT_FLOOR_TARGET = 1.1;

export const PROFILES = [
  { name: "fast", calls: 2000, latencyMs: 200, rpm: 6000, rateWindowMs: 1000 },
  { name: "slow", calls: 2000, latencyMs: 2000, maxInFlight: 200 },
  { name: "limited", calls: 200, latencyMs: 200, rpm: 600, rateWindowMs: 1000 },
];

/** The floor in ms: the server cannot answer N calls faster than this. */
export function floorMs({ calls, latencyMs, rpm, maxInFlight }) {
  return Math.max(
    rpm ? (calls / rpm) * 60_000 : 0,
    maxInFlight ? (calls * latencyMs) / maxInFlight : latencyMs,
  );
}

/**
 * Runs every profile through `runEngine` (one process per run, real HTTP, a SQLite file) and
 * returns the bench fields: default_floor_ratio and, per profile, its ratio, wall, floor, 429s
 * and the most calls the server saw at once.
 */
export async function defaultFloor({ startServer, runEngine, writeStudy, join, work, log, quick = false }) {
  const out = {};
  let worst = 0;
  // BENCH_PROFILES=slow,limited runs only those (for tuning; the figure is then their worst).
  const only = process.env.BENCH_PROFILES?.split(",");
  for (const p of PROFILES.filter((q) => !only || only.includes(q.name))) {
    const calls = quick ? Math.max(20, Math.round(p.calls / 4)) : p.calls;
    const profile = { ...p, calls };
    const server = await startServer({
      latencyMs: p.latencyMs,
      ...(p.rpm ? { rpm: p.rpm, rateWindowMs: p.rateWindowMs } : {}),
      ...(p.maxInFlight ? { maxInFlight: p.maxInFlight } : {}),
    });
    const levels = 20;
    const study = writeStudy(`default-${p.name}`, { levels, times: Math.ceil(calls / levels) });
    const floor = floorMs(profile);
    log(
      `default settings, ${p.name}: ${calls} calls, ${p.latencyMs} ms${p.rpm ? `, ${p.rpm} RPM` : ""}${p.maxInFlight ? `, ${p.maxInFlight} served at once` : ""} (floor ${(floor / 1000).toFixed(1)} s) …`,
    );
    const r = await runEngine(`default-${p.name}`, {
      study,
      db: join(work, `default-${p.name}.db`),
      baseUrl: server.url,
    });
    const s = await server.stats();
    await server.close();
    const ratio = r.wallMs / floor;
    worst = Math.max(worst, ratio);
    Object.assign(out, {
      [`default_floor_ratio_${p.name}`]: ratio,
      [`default_${p.name}_wall_s`]: r.wallMs / 1000,
      [`default_${p.name}_floor_s`]: floor / 1000,
      [`default_${p.name}_calls`]: r.totals.calls,
      [`default_${p.name}_sessions_done`]: r.checks?.sessionsDone,
      [`default_${p.name}_server_429`]: s.status[429] ?? 0,
      [`default_${p.name}_server_in_flight_max`]: s.inFlightMax,
      [`default_${p.name}_status`]: r.status,
    });
  }
  out.default_floor_ratio = worst;
  return out;
}

/** Report lines for the human-readable bench output. */
export function defaultFloorLines(results) {
  if (results.default_floor_ratio === undefined) return [];
  const ok = results.default_floor_ratio <= DEFAULT_FLOOR_TARGET;
  const lines = [
    `${ok ? "PASS" : "MISS"}  ${"wall ÷ floor with default settings (worst)".padEnd(48)} ${results.default_floor_ratio.toFixed(3).padStart(10)}   target ≤ ${DEFAULT_FLOOR_TARGET}`,
  ];
  for (const p of PROFILES) {
    const r = results[`default_floor_ratio_${p.name}`];
    if (r === undefined) continue;
    lines.push(
      `        ${`  ${p.name}: ${p.latencyMs} ms${p.rpm ? `, ${p.rpm} RPM` : ""}${p.maxInFlight ? `, ≤ ${p.maxInFlight} at once` : ""}`.padEnd(48)} ${r.toFixed(3).padStart(10)}   (wall ${results[`default_${p.name}_wall_s`].toFixed(1)} s, floor ${results[`default_${p.name}_floor_s`].toFixed(1)} s, ${results[`default_${p.name}_server_429`]} × 429, ≤ ${results[`default_${p.name}_server_in_flight_max`]} in flight)`,
    );
  }
  return lines;
}
