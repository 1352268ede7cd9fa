import { readDataFile } from "../data-files.js";
import { capabilitiesOf } from "../models/providers.js";
import type { Usage } from "../models/types.js";

interface PriceTable {
  as_of: string;
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

/** Cost in USD, or null when the model's price is unknown — never a made-up number. */
export function costOf(modelId: string, usage: Usage | undefined): number | null {
  const price = priceOf(modelId);
  if (!price || !usage) return null;
  return (usage.inputTokens * price.input + usage.outputTokens * price.output) / 1_000_000;
}

/** Rough token count before a call (about 4 characters per token). */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}
