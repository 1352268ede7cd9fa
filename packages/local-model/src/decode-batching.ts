/**
 * How the local model cuts its work into llama.cpp decode batches, and the seeds of the choices of
 * one request. llama.cpp's numbers for a sequence depend on how its tokens are cut into batches,
 * so these decide whether a run can be repeated exactly.
 */
import { createHash } from "node:crypto";

/** How the model decodes; recorded in the run manifest, so that a resume decodes the same way. */
export interface LocalDecodeRecord {
  sequences: number;
  promptBlock: number;
  contextSize: number;
  batchSize: number;
}

/**
 * 8 tokens: a sequence then reuses all but < 8 tokens of a prompt prefix it shares with the next
 * call. Measured on the 2-core machine (bench:local, idle, 2026-12-06): 10.5 trials/s at 8
 * sequences vs 7.5 with 32-token blocks (short prompts sharing a prefix), equal on free text.
 */
export const DEFAULT_PROMPT_BLOCK = 8;
export const DEFAULT_BATCH_SIZE = 512;

/** Seeds are uint32 in llama.cpp. */
export function normalizeSeed(seed: number): number {
  const s = Math.trunc(seed) % 2 ** 32;
  return s < 0 ? s + 2 ** 32 : s;
}

/**
 * The seed of choice `index` of a request with `seed`: choice 0 uses the seed itself (so it equals
 * the single answer to the same request), every other choice a hash of (seed, index). Not
 * `seed + index`, which would repeat the next draw's choice 0 (sent with seed + 1).
 */
export function choiceSeed(seed: number, index: number): number {
  const s = normalizeSeed(seed);
  if (index === 0) return s;
  return Number.parseInt(createHash("sha256").update(`${s}\u0000${index}`).digest("hex").slice(0, 8), 16);
}

interface BatchItemLike {
  readonly tokens: { readonly length: number };
}

/**
 * Fills a decode batch with whole pending evaluations, in queue order; one that does not fit waits
 * for the next batch (only one larger than a whole batch is cut, into batch-sized pieces). So a
 * sequence's tokens are cut into batches the same way whatever else is running — node-llama-cpp's
 * own strategies split an evaluation wherever the batch happens to fill up, which changes the
 * numbers.
 */
export function wholeItemsStrategy<T extends BatchItemLike>({
  items,
  size,
}: {
  items: readonly T[];
  size: number;
}): { item: T; processAmount: number }[] {
  const out: { item: T; processAmount: number }[] = [];
  let left = size;
  for (const item of items) {
    const n = item.tokens.length;
    if (n <= left) {
      out.push({ item, processAmount: n });
      left -= n;
    } else if (out.length === 0) {
      out.push({ item, processAmount: size });
      left = 0;
    }
    if (left === 0) break;
  }
  return out;
}
