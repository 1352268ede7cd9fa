/** Shared by the alter_ego tests: scenario files in a temp dir, runs against the OpenAI test server. */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startRun, type RunResult } from "../../engine/run-study.js";
import type { Model, ModelRequest } from "../../models/types.js";
import { RunStore } from "../../store/run-store.js";
import { parseStudyText } from "../../study/source.js";
import type { CompiledStudy } from "../design.js";
import { type AlterEgoCompileOptions, alterEgoDesign } from "./alter-ego-design.js";

/** Oracle outputs generated with real alter_ego 1.6.0 (our own data). */
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "testdata");
/**
 * The real alter_ego scenario files are not copied into this repository (one is LGPL); they are
 * read from the steering repository's shared/fixtures, which sits beside the checkout (and beside
 * CI's clone). SILICO_SHARED_DIR points elsewhere.
 */
export const SHARED_FIXTURES = join(
  process.env.SILICO_SHARED_DIR ??
    join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..", "..", "..", "shared"),
  "fixtures",
  "alter_ego",
);
export const ULTIMATUM = "ego_builder_default_state_framed_ultimatum.json";
export const PD = "ego_games_pd_built.json";

export function fixture(name: string): Record<string, unknown> {
  const path = join(SHARED_FIXTURES, name);
  if (!existsSync(path)) {
    throw new Error(
      `alter_ego fixture ${path} is missing: these tests need shared/fixtures beside the checkout (or SILICO_SHARED_DIR)`,
    );
  }
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

/** The documented test transformation: every thread becomes ["GPTThread", model]; nothing else changes. */
export function withGptThreads(scenario: Record<string, unknown>, model = "gpt-4o"): Record<string, unknown> {
  const threads = (scenario.threads as [unknown, unknown][]).map(([i]) => [i, ["GPTThread", model]]);
  return { ...scenario, threads };
}

export function tempDir(prefix = "silico-ego-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeScenario(dir: string, scenario: unknown, name = "built.json"): string {
  const path = join(dir, name);
  writeFileSync(path, typeof scenario === "string" ? scenario : JSON.stringify(scenario));
  return path;
}

export function compileText(
  text: string,
  options: AlterEgoCompileOptions = {},
  file = "built.json",
): CompiledStudy {
  return alterEgoDesign.compile(parseStudyText(text, `/tmp/${file}`), options);
}

export function compileScenario(scenario: unknown, options: AlterEgoCompileOptions = {}): CompiledStudy {
  return compileText(JSON.stringify(scenario), options);
}

/** A terminal "human" that answers from a function of the request (for CLIThread scenarios). */
export function scriptedHuman(answer: (req: ModelRequest) => string): (id: string) => Model {
  return (id) => ({
    info: { id, provider: "human" },
    async generate(req) {
      return { choices: [{ text: answer(req), finishReason: "stop" }], warnings: [] };
    },
  });
}

export async function runStudy(
  study: CompiledStudy,
  opts: { seed?: number; human?: (id: string) => Model; concurrency?: number; storePath?: string } = {},
): Promise<{ result: RunResult; store: RunStore }> {
  const store = RunStore.open(opts.storePath ?? join(tempDir(), "runs.db"));
  const result = await startRun(study, {
    store,
    seed: opts.seed ?? 1,
    backoffMs: 1,
    maxAttempts: 2,
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    ...(opts.human ? { models: { human: opts.human } } : {}),
  });
  return { result, store };
}
