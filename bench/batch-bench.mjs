/**
 * The `--batch` figures of `npm run bench`: a 2,000-call factorial run once normally and once
 * through the OpenAI Batch API of the project's test server (both in this process; the figures
 * are counts and prices, not times).
 *
 *   batch_requests_per_call  HTTP requests of the batch run ÷ its calls (target ≤ 0.01)
 *   batch_cost_ratio         batch run's cost ÷ the normal run's, from the price table (target ≤ 0.5)
 *   batch_same_answers       1 when both runs stored the same answers
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { distDir, testServerDist } from "./dist-path.mjs";

export const BATCH_TARGETS = { batch_requests_per_call: 0.01, batch_cost_ratio: 0.5 };

const load = (dir, p) => import(pathToFileURL(join(dir, p)).href);

export async function batchFigures({ work, log, quick = false }) {
  const { startOpenAITestServer } = await load(testServerDist, "index.js");
  const { compileStudyFile } = await load(distDir, "designs/index.js");
  const { startRun } = await load(distDir, "engine/run-study.js");
  const { RunReader } = await load(distDir, "store/run-reader.js");
  const { RunStore } = await load(distDir, "store/run-store.js");
  const N = quick ? 500 : 2000;
  const path = join(work, "batch.yaml");
  writeFileSync(
    path,
    [
      "kind: factorial",
      "name: bench-batch",
      "seed: 7",
      'prompt: "Item {{ item }}: how much would you pay for it, from 0 to 100? Answer with a number."',
      "levels:",
      `  item: [${Array.from({ length: 20 }, (_, i) => i + 1).join(", ")}]`,
      `times: ${N / 20}`,
      "model: openai:gpt-4o-mini",
      "parse: {type: number}",
      "params: {temperature: 0.7, max_tokens: 16, seed: 3}",
      "settings: {rpm: 1000000, tpm: 1000000000, max_in_flight: 64}",
      "",
    ].join("\n"),
  );
  const server = await startOpenAITestServer({ record: false });
  const apiKeys = { OPENAI_API_KEY: "sk-bench", OPENAI_BASE_URL: server.url };
  const answers = (db, runId) => {
    const reader = new RunReader(db);
    const out = [];
    for (const o of reader.iterateObservations(runId, {}))
      out.push(`${o.sessionKey}\u0000${JSON.stringify(o.value)}`);
    return out.join("\n");
  };
  try {
    log(`batch: ${N} calls one by one, then through the Batch API …`);
    const normalDb = RunStore.open(join(work, "batch-normal.db"));
    const normal = await startRun(compileStudyFile(path), { store: normalDb, models: { apiKeys } });
    server.reset();
    const batchDb = RunStore.open(join(work, "batch.db"));
    const t0 = performance.now();
    const batched = await startRun(compileStudyFile(path), {
      store: batchDb,
      batch: true,
      batchPollMs: 20,
      models: { apiKeys },
    });
    const wallMs = performance.now() - t0;
    const requests = server.stats().requests;
    const same = answers(normalDb, normal.runId) === answers(batchDb, batched.runId);
    normalDb.close();
    batchDb.close();
    return {
      batch_requests_per_call: requests / Math.max(1, batched.totals.calls),
      // Rounded to 1e-9: summing thousands of float costs leaves the last bit off.
      batch_cost_ratio: Math.round((batched.totals.costUsd / normal.totals.costUsd) * 1e9) / 1e9,
      batch_calls: batched.totals.calls,
      batch_http_requests: requests,
      batch_batches: server.batchStats().batchesCreated,
      batch_same_answers: same ? 1 : 0,
      batch_status: batched.status,
      batch_wall_s: wallMs / 1000,
    };
  } finally {
    await server.close();
  }
}

/** Rows of the human-readable report: [label, key, format, op, note]. */
export function batchRows(results) {
  return [
    [
      "HTTP requests per call with --batch",
      "batch_requests_per_call",
      (v) => v.toFixed(4),
      "≤",
      () =>
        `(${results.batch_http_requests} requests for ${results.batch_calls} calls, ${results.batch_batches} batch, same answers: ${results.batch_same_answers ? "yes" : "NO"})`,
    ],
    ["cost with --batch ÷ cost without", "batch_cost_ratio", (v) => v.toFixed(3), "≤", () => "(price table)"],
  ];
}
