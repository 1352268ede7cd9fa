import { Tiktoken } from "js-tiktoken/lite";
import { readDataFile } from "../data-files.js";
import { splitModelId } from "../models/registry.js";
import { ESTIMATE_PER_MESSAGE, estimateTextTokens } from "./char-estimate.js";

/** How a model's tokens are counted offline. */
export interface TokenCounter {
  /** e.g. "o200k_base (tiktoken)" or "estimate". */
  name: string;
  /** True when it is the model's own tokenizer. */
  exact: boolean;
  count(text: string): number;
  /** Tokens each chat message adds beyond its text (role markers). */
  perMessage: number;
  /** Tokens that prime the reply in chat mode. */
  perReply: number;
  /** One line saying how tokens were counted. */
  describe: string;
}

/**
 * Tokens an image is counted as: OpenAI's figure for a 1024×1024 image at high detail
 * (85 + 4 tiles × 170). Real use depends on the provider, the size and the detail setting.
 */
export const IMAGE_TOKENS = 765;

/** The estimate for models whose tokenizer is not available offline: ⌈characters / 4⌉, +4 per message. */
export const ESTIMATE: TokenCounter = {
  name: "estimate",
  exact: false,
  count: estimateTextTokens,
  perMessage: ESTIMATE_PER_MESSAGE,
  perReply: 0,
  describe: "estimated as ⌈characters / 4⌉ + 4 per message (the model's tokenizer is not available offline)",
};

type Encoding = "o200k_base" | "cl100k_base";

/** The tiktoken encoding of an OpenAI model, by model name. */
export function openAiEncoding(modelId: string): Encoding | undefined {
  const parts = splitModelId(modelId);
  if (!parts) return undefined;
  let name = parts.name;
  if (parts.provider === "openrouter") {
    if (!name.startsWith("openai/")) return undefined;
    name = name.slice("openai/".length);
  } else if (parts.provider !== "openai") return undefined;
  if (/^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|o1|o3|o4)(\b|-|$)/.test(name)) return "o200k_base";
  if (/^(gpt-4|gpt-3\.5)(\b|-|$)/.test(name)) return "cl100k_base";
  return undefined;
}

const encoders = new Map<Encoding, Tiktoken>();

async function encoder(encoding: Encoding): Promise<Tiktoken> {
  let e = encoders.get(encoding);
  if (!e) {
    const ranks =
      encoding === "o200k_base"
        ? (await import("js-tiktoken/ranks/o200k_base")).default
        : (await import("js-tiktoken/ranks/cl100k_base")).default;
    e = new Tiktoken(ranks);
    encoders.set(encoding, e);
  }
  return e;
}

/**
 * The counter for a model: tiktoken for OpenAI models (3 tokens per message and 3 to prime the
 * reply, as OpenAI documents for its chat models), the estimate for everything else.
 */
export async function counterFor(modelId: string): Promise<TokenCounter> {
  const encoding = openAiEncoding(modelId);
  if (!encoding) return ESTIMATE;
  const enc = await encoder(encoding);
  return {
    name: `${encoding} (tiktoken)`,
    exact: true,
    // Special-token spellings in stimuli are ordinary text to the API, so they are counted as text.
    count: (text) => enc.encode(text, [], []).length,
    perMessage: 3,
    perReply: 3,
    describe: `counted with tiktoken ${encoding}, +3 per message and +3 for the reply`,
  };
}

interface WindowTable {
  models: Record<string, number>;
}

let windows: Record<string, number> | undefined;

/** The model's context window from data/context-windows.json, or undefined when unknown. */
export function contextWindow(modelId: string): number | undefined {
  windows ??= readDataFile<WindowTable>("context-windows.json").models;
  const parts = splitModelId(modelId);
  const ids = [modelId];
  if (parts?.provider === "openrouter" && parts.name.includes("/")) {
    const [vendor, ...rest] = parts.name.split("/");
    ids.push(`${vendor}:${rest.join("/")}`);
  }
  for (const id of ids) {
    if (windows[id] !== undefined) return windows[id];
    let best: string | undefined;
    for (const key of Object.keys(windows)) {
      if (id.startsWith(`${key}-`) && (!best || key.length > best.length)) best = key;
    }
    if (best) return windows[best];
  }
  return undefined;
}
