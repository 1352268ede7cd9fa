/**
 * alter_ego thread definitions (`threads[k][1]` in built.json): the 2026 list notation
 * (`["GPTThread", "gpt-4o"]`, `["OpenRouterThread", "meta/llama"]`, `["CLIThread"]`) and the
 * legacy strings the builder used to write ("GPTThread (GPT-4o)", "CLIThread").
 */

import { editDistance } from "../../did-you-mean.js";

export type ThreadType = "GPTThread" | "OpenRouterThread" | "CLIThread";

export interface ThreadDef {
  type: ThreadType;
  /** silico model id: `openai:<id>`, `openrouter:<id>` or `human`. */
  model: string;
}

/** The legacy strings of scenarios/built.py (alter_ego 1.6), exactly. */
export const LEGACY_GPT_MODELS: Record<string, string> = {
  "GPTThread (GPT-3.5)": "gpt-3.5-turbo",
  "GPTThread (GPT 3.5)": "gpt-3.5-turbo",
  "GPTThread (GPT-3.5 turbo)": "gpt-3.5-turbo",
  "GPTThread (GPT-4)": "gpt-4",
  "GPTThread (GPT 4)": "gpt-4",
  "GPTThread (GPT-4 turbo)": "gpt-4-turbo",
  "GPTThread (GPT-4o)": "gpt-4o",
};

const TYPES: ThreadType[] = ["GPTThread", "OpenRouterThread", "CLIThread"];

export type ThreadDefResult = { ok: true; def: ThreadDef } | { ok: false; message: string };

function suggestType(word: string): string {
  const lower = word.toLowerCase().replace(/[^a-z]/g, "");
  const hit = TYPES.find((t) => {
    const tl = t.toLowerCase();
    return tl === lower || editDistance(tl, lower) <= 2 || lower.startsWith(tl.slice(0, 3));
  });
  return hit ? ` (did you mean "${hit}"?)` : "";
}

/** Reads one thread definition; messages name what is wrong without the location (the caller adds it). */
export function parseThreadDef(def: unknown): ThreadDefResult {
  if (typeof def === "string") {
    if (def === "CLIThread") return { ok: true, def: { type: "CLIThread", model: "human" } };
    const legacy = LEGACY_GPT_MODELS[def];
    if (legacy) return { ok: true, def: { type: "GPTThread", model: `openai:${legacy}` } };
    if (def === "GPTThread" || def === "OpenRouterThread") {
      return { ok: false, message: `"${def}" needs a model: write ["${def}", "<model id>"]` };
    }
    return {
      ok: false,
      message: `unknown thread type ${JSON.stringify(def)}${suggestType(def.split(" ")[0] ?? def)}; use ["GPTThread", "<model id>"], ["OpenRouterThread", "<model id>"], "CLIThread" or a legacy name such as "GPTThread (GPT-4o)"`,
    };
  }
  if (!Array.isArray(def)) {
    return { ok: false, message: 'must be a thread type such as ["GPTThread", "gpt-4o"] or "CLIThread"' };
  }
  if (def.length === 0) return { ok: false, message: 'is empty; write e.g. ["GPTThread", "gpt-4o"]' };
  const type = def[0];
  if (typeof type !== "string" || !(TYPES as string[]).includes(type)) {
    return {
      ok: false,
      message: `unknown thread type ${JSON.stringify(type)}${typeof type === "string" ? suggestType(type) : ""}; known: ${TYPES.join(", ")}`,
    };
  }
  if (type === "CLIThread") return { ok: true, def: { type, model: "human" } };
  const id = def[1];
  if (typeof id !== "string" || id.trim() === "") {
    return {
      ok: false,
      message: `${type} needs a model id as its second element, e.g. ["${type}", "${type === "GPTThread" ? "gpt-4o" : "openai/gpt-4o"}"]`,
    };
  }
  if (id !== id.trim())
    return { ok: false, message: `the model id ${JSON.stringify(id)} has spaces around it` };
  return {
    ok: true,
    def: { type: type as ThreadType, model: `${type === "GPTThread" ? "openai" : "openrouter"}:${id}` },
  };
}
