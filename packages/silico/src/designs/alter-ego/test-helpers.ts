/** Shared by the alter_ego tests: scenario files in a temp dir, runs against the OpenAI test server. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startRun, type RunResult } from "../../engine/run-study.js";
import type { Model, ModelRequest } from "../../models/types.js";
import { RunStore } from "../../store/run-store.js";
import { parseStudyText } from "../../study/source.js";
import type { CompiledStudy } from "../design.js";
import { type AlterEgoCompileOptions, alterEgoDesign } from "./alter-ego-design.js";

/** Scenario files and oracle outputs the alter_ego tests read (see testdata/PROVENANCE.md). */
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "testdata");
/** The ego builder's default scenario (a framed ultimatum game; 0BSD, copied verbatim). */
export const ULTIMATUM = "ego_builder_default_state_framed_ultimatum.json";
/** Our own repeated stag hunt: 3 treatments, 4 rounds, both thread notations, extract_number. */
export const STAG_HUNT = "silico_stag_hunt_built.json";

export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, name), "utf8")) as Record<string, unknown>;
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
