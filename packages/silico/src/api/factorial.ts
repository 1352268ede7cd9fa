import { compileStudyText } from "../designs/index.js";
import { type RunResult, startRun } from "../engine/run-study.js";
import type { ModelParams } from "../models/types.js";
import type { ParserSpec } from "../parse/types.js";
import { RunReader } from "../store/run-reader.js";
import { RunStore } from "../store/run-store.js";

export type Level = string | number | boolean;

export interface FactorialRunOptions {
  /** One model id or several, e.g. "local:smollm2-135m" or ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"]. */
  model: string | string[];
  /** How to read answers: "number", "text", "json", or a full parser spec. Default "text". */
  parse?: ParserSpec | "number" | "text" | "json";
  /** Draws per cell (default 1). */
  times?: number;
  system?: string;
  params?: ModelParams;
  seed?: number;
  /** Re-ask invalid answers up to this many times. */
  reask?: number;
  /** Store file; default an in-memory store that disappears with the process. */
  store?: string;
  name?: string;
}

/** A plain record per draw: the factor levels, the draw and model, and the parsed answer. */
export interface FactorialRecord {
  [level: string]: unknown;
  model: string;
  draw: number;
  value: unknown;
  valid: boolean;
  reason: string | null;
  raw: string | null;
  attempts: number;
  inputTokens: number | null;
  outputTokens: number | null;
  latencyMs: number | null;
  runId: string;
}

function snakeParams(p: ModelParams | undefined): Record<string, unknown> | undefined {
  if (!p) return undefined;
  const map: Record<string, string> = {
    topP: "top_p",
    maxTokens: "max_tokens",
    topLogprobs: "top_logprobs",
    responseSchema: "response_schema",
    timeoutMs: "timeout_ms",
  };
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [map[k] ?? k, v]));
}

/**
 * alter_ego's `factorial(prompt, **levels).run(...)`, typed: the prompt (a Jinja template over the
 * level names) crossed with every combination of levels, every model and `times` draws. Runs
 * through the same compiler, executor and store as `silico run`.
 */
export function factorial(prompt: string, levels: Record<string, Level[] | Level> = {}) {
  return {
    async run(options: FactorialRunOptions): Promise<FactorialRecord[]> {
      const models = Array.isArray(options.model) ? options.model : [options.model];
      const study = {
        kind: "factorial",
        ...(options.name ? { name: options.name } : {}),
        prompt,
        ...(options.system !== undefined ? { system: options.system } : {}),
        levels,
        models,
        times: options.times ?? 1,
        parse: options.parse ?? "text",
        ...(options.params ? { params: snakeParams(options.params) } : {}),
        ...(options.reask !== undefined ? { reask: options.reask } : {}),
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
      };
      const compiled = compileStudyText(JSON.stringify(study, null, 2), "factorial.json");
      const store = RunStore.open(options.store ?? ":memory:");
      try {
        const result: RunResult = await startRun(compiled, { store });
        return records(store, result.runId, Object.keys(levels));
      } finally {
        store.close();
      }
    },
  };
}

function records(store: RunStore, runId: string, levelNames: string[]): FactorialRecord[] {
  const out: FactorialRecord[] = [];
  for (const o of new RunReader(store).iterateObservations(runId, { choiceIndex: 0 })) {
    const coords = o.sessionCoords as Record<string, unknown>;
    const rec: FactorialRecord = {
      model: coords.model as string,
      draw: coords.draw as number,
      value: o.value,
      valid: o.valid,
      reason: o.reason,
      raw: o.raw,
      attempts: o.attempts,
      inputTokens: o.call?.inputTokens ?? null,
      outputTokens: o.call?.outputTokens ?? null,
      latencyMs: o.call?.latencyMs ?? null,
      runId,
    };
    for (const l of levelNames) rec[l] = coords[l];
    out.push(rec);
  }
  return out;
}
