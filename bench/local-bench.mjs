#!/usr/bin/env node
/**
 * Throughput of the embedded local model: the same 32-trial microexperiment (a number-constrained
 * 0–100 approval rating per invented politician, temperature 0.7, fixed seeds, maxTokens 16) run
 * with 1 and with 8 parallel sequences. Each configuration runs in its own child process so that
 * peak RSS is measured per configuration.
 *
 *   npm run bench:local                 human-readable report
 *   npm run bench:local -- --json       one JSON object:
 *        { trials_per_s_1, trials_per_s_8, speedup, tokens_per_s_8, peak_rss_mb }
 *
 * Options: --trials N (32), --parallel N (8), --threads N, --batch-size N, --prompt-block N (the package default, 8), --context-size N (per
 * sequence), --no-reuse-prefix (fresh sequence per call; reuse is the default), --task number|text (text: a free-text sentence of up to 32 tokens, a
 * generation-heavy variant), --model REF (smollm2-135m).
 * Uses the compiled local-model package (packages/local-model/dist; `npm run build`).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ensureBuilt } from "./build.mjs";
import { repoRoot } from "./dist-path.mjs";

// The local model is its own package (packages/local-model); `npm run build` compiles it.
const entry = join(repoRoot, "packages", "local-model", "dist", "index.js");

function parseArgs(argv) {
  const opts = {
    json: false,
    task: "number",
    trials: 32,
    parallel: 8,
    threads: undefined,
    batchSize: undefined,
    model: "smollm2-135m",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === "--json") opts.json = true;
    else if (a === "--trials") opts.trials = Number(next());
    else if (a === "--parallel") opts.parallel = Number(next());
    else if (a === "--threads") opts.threads = Number(next());
    else if (a === "--batch-size") opts.batchSize = Number(next());
    else if (a === "--prompt-block") opts.promptBlock = Number(next());
    else if (a === "--model") opts.model = next();
    else if (a === "--context-size") opts.contextSize = Number(next());
    else if (a === "--reuse-prefix") opts.reusePrefix = true;
    else if (a === "--no-reuse-prefix") opts.reusePrefix = false;
    else if (a === "--task") opts.task = next();
    else if (a === "--child") opts.child = Number(next());
    else {
      console.error(`unknown argument: ${a}`);
      process.exit(2);
    }
  }
  return opts;
}

const POLITICIANS = [
  "Alma Reyes",
  "Bruno Castell",
  "Chiara Lind",
  "Dmitri Vale",
  "Elena Moreau",
  "Farid Haddad",
  "Greta Solberg",
  "Hugo Brandt",
  "Ines Carvalho",
  "Jonas Weber",
  "Kira Novak",
  "Luca Ferri",
  "Maya Okafor",
  "Nils Berg",
  "Olivia Hart",
  "Pavel Kral",
  "Quinn Adler",
  "Rosa Mendez",
  "Sven Ahl",
  "Tara Quinlan",
  "Umar Siddiqui",
  "Vera Kowalski",
  "Wes Dalton",
  "Xenia Petrova",
  "Yusuf Demir",
  "Zoe Laurent",
  "Arne Holm",
  "Bianca Rossi",
  "Cyrus Tehrani",
  "Dana Whitfield",
  "Emil Janssen",
  "Freya Lund",
];

function trialRequest(i, task) {
  const name = POLITICIANS[i % POLITICIANS.length];
  if (task === "text") {
    // A generation-heavy variant: a free-text sentence of up to 32 tokens.
    return {
      messages: [
        { role: "system", content: "You are a survey respondent." },
        { role: "user", content: `In one sentence, what is your opinion of the politician ${name}?` },
      ],
      params: { temperature: 0.7, seed: 1000 + i, maxTokens: 32 },
    };
  }
  return {
    messages: [
      { role: "system", content: "You are a survey respondent. Answer with a number only." },
      {
        role: "user",
        content: `Rate your approval of the politician ${name} on a scale from 0 (strongly disapprove) to 100 (strongly approve).`,
      },
    ],
    params: { temperature: 0.7, seed: 1000 + i, maxTokens: 16 },
    constraint: { type: "number", integer: true },
  };
}

/** Child: run all trials with `parallel` sequences, all submitted at once, and report. */
async function child(opts, parallel) {
  const { createLocalModel } = await import(pathToFileURL(entry).href);
  const model = await createLocalModel(opts.model, {
    parallel,
    ...(opts.threads ? { threads: opts.threads } : {}),
    ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
    ...(opts.promptBlock ? { promptBlock: opts.promptBlock } : {}),
    ...(opts.contextSize ? { contextSize: opts.contextSize } : {}),
    reusePrefix: opts.reusePrefix !== false,
  });
  const t0 = performance.now();
  await model.load();
  const loadMs = performance.now() - t0;
  const settings = await model.settings();
  // Warm-up (not timed): one call per sequence.
  await Promise.all(Array.from({ length: parallel }, (_, i) => model.generate(trialRequest(i, opts.task))));
  const start = performance.now();
  const responses = await Promise.all(
    Array.from({ length: opts.trials }, (_, i) => model.generate(trialRequest(i, opts.task))),
  );
  const seconds = (performance.now() - start) / 1000;
  await model.close();
  const outputTokens = responses.reduce((a, r) => a + (r.usage?.outputTokens ?? 0), 0);
  const inputTokens = responses.reduce((a, r) => a + (r.usage?.inputTokens ?? 0), 0);
  const answers = responses.map((r) => r.choices[0].text);
  process.stdout.write(
    `${JSON.stringify({
      parallel,
      threads: settings.threads,
      batchSize: settings.batchSize,
      contextSize: settings.contextSize,
      seconds,
      loadMs,
      trialsPerS: opts.trials / seconds,
      tokensPerS: outputTokens / seconds,
      outputTokens,
      inputTokens,
      answers,
      valid: opts.task === "text" || answers.every((a) => /^-?\d+$/.test(a)),
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    })}\n`,
  );
}

function runChild(opts, parallel) {
  const args = [fileURLToPath(import.meta.url), "--child", String(parallel), "--trials", String(opts.trials)];
  if (opts.threads) args.push("--threads", String(opts.threads));
  if (opts.batchSize) args.push("--batch-size", String(opts.batchSize));
  if (opts.promptBlock) args.push("--prompt-block", String(opts.promptBlock));
  if (opts.model) args.push("--model", opts.model);
  if (opts.contextSize) args.push("--context-size", String(opts.contextSize));
  if (opts.reusePrefix === false) args.push("--no-reuse-prefix");
  args.push("--task", opts.task);
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d) => {
      out += d;
    });
    p.on("error", reject);
    p.on("close", (code) => {
      if (code !== 0) return reject(new Error(`benchmark child (parallel=${parallel}) exited with ${code}`));
      try {
        resolvePromise(JSON.parse(out.trim().split("\n").pop()));
      } catch (err) {
        reject(err);
      }
    });
  });
}

const opts = parseArgs(process.argv.slice(2));
if (opts.child === undefined) {
  try {
    ensureBuilt(); // compiles packages/silico when dist/ is missing or stale
  } catch (err) {
    if (!existsSync(entry)) throw err;
  }
}
if (!existsSync(entry)) {
  console.error("bench:local needs the compiled package. Build it first:\n  npm run build");
  process.exit(1);
}
if (opts.child !== undefined) {
  await child(opts, opts.child);
} else {
  // Both runs use the same thread count (the model's default is chosen from the load average,
  // which the first run itself raises).
  if (!opts.threads) {
    const { resolveDefaultThreads } = await import(pathToFileURL(entry).href);
    opts.threads = await resolveDefaultThreads();
  }
  if (!opts.json) {
    console.log(
      `local model benchmark: ${opts.trials} ${opts.task} trials, model ${opts.model}, ${opts.threads} thread(s)` +
        `${opts.reusePrefix === false ? ", no prefix reuse" : ", prefix reuse"}, ` +
        `load average ${os.loadavg()[0].toFixed(2)} on ${os.availableParallelism()} cores`,
    );
  }
  const one = await runChild(opts, 1);
  if (!opts.json) report(one);
  const many = await runChild(opts, opts.parallel);
  if (!opts.json) report(many);
  const speedup = many.trialsPerS / one.trialsPerS;
  const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
  if (opts.json) {
    console.log(
      JSON.stringify({
        trials_per_s_1: round(one.trialsPerS),
        [`trials_per_s_${opts.parallel}`]: round(many.trialsPerS),
        speedup: round(speedup),
        [`tokens_per_s_${opts.parallel}`]: round(many.tokensPerS, 1),
        peak_rss_mb: round(Math.max(one.peakRssMb, many.peakRssMb), 0),
      }),
    );
  } else {
    const same = one.answers.every((a, i) => a === many.answers[i]);
    console.log(`speedup ${opts.parallel} vs 1: ${speedup.toFixed(2)}×`);
    console.log(`answers identical across the two runs (same seeds): ${same ? "yes" : "no"}`);
  }
}

function report(r) {
  console.log(
    `parallel=${r.parallel} (threads ${r.threads}, batch ${r.batchSize}, context ${r.contextSize}/sequence): ${r.trialsPerS.toFixed(2)} trials/s, ${r.tokensPerS.toFixed(1)} output tokens/s ` +
      `(${r.outputTokens} output + ${r.inputTokens} prompt tokens in ${r.seconds.toFixed(2)} s; load ${Math.round(r.loadMs)} ms), ` +
      `peak RSS ${Math.round(r.peakRssMb)} MB, all answers numbers: ${r.valid ? "yes" : "NO"}`,
  );
  if (opts.task !== "text") console.log(`  answers: ${r.answers.join(" ")}`);
}
