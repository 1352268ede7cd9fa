import { readDataFile } from "../data-files.js";
import { capabilitiesOf } from "../models/providers.js";
import type { Usage } from "../models/types.js";

interface PriceTable {
  as_of: string;
  /** Share of the price taken off for batch requests, by provider. */
  batch_discount?: Record<string, number>;
  usd_per_million_tokens: Record<string, { input: number; output: number }>;
}

let table: PriceTable | undefined;
function prices(): PriceTable {
  table ??= readDataFile<PriceTable>("prices.json");
  return table;
}

export function priceTableDate(): string {
  return prices().as_of;
}

/** The model ids the price table knows (provider:model), in its order: the models silico can price. */
export function pricedModels(): string[] {
  return Object.keys(prices().usd_per_million_tokens);
}

/** USD per million tokens, or undefined when the price is unknown. Free providers (local, mock, human) cost 0. */
export function priceOf(modelId: string): { input: number; output: number } | undefined {
  if (capabilitiesOf(modelId)?.free) return { input: 0, output: 0 };
  const p = prices().usd_per_million_tokens;
  const exact = p[modelId];
  if (exact) return exact;
  // Dated snapshots ("gpt-4o-mini-2024-07-18") cost what their alias costs.
  const undated = modelId.replace(/-\d{4}-\d{2}-\d{2}$/, "");
  return p[undated];
}

/** Share of the price a provider takes off batch requests (0.5 for OpenAI and Anthropic), or undefined. */
export function batchDiscountOf(modelId: string): number | undefined {
  const provider = modelId.slice(0, Math.max(0, modelId.indexOf(":")));
  return prices().batch_discount?.[provider];
}

/** USD per million tokens through the provider's batch API, or undefined when unknown. */
export function batchPriceOf(modelId: string): { input: number; output: number } | undefined {
  const price = priceOf(modelId);
  if (!price) return undefined;
  const discount = batchDiscountOf(modelId) ?? 0;
  return { input: price.input * (1 - discount), output: price.output * (1 - discount) };
}

/**
 * Cost in USD, or null when the model's price is unknown — never a made-up number. `viaBatch`:
 * the call was answered through the provider's batch API, at its discount.
 */
export function costOf(modelId: string, usage: Usage | undefined, viaBatch = false): number | null {
  const price = viaBatch ? batchPriceOf(modelId) : priceOf(modelId);
  if (!price || !usage) return null;
  return (usage.inputTokens * price.input + usage.outputTokens * price.output) / 1_000_000;
}

/** Rough token count before a call (about 4 characters per token). */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}
