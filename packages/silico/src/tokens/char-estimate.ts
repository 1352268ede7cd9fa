/**
 * silico's offline token estimate for models whose tokenizer is not available: ⌈characters / 4⌉
 * for a text (characters are Unicode code points) and 4 more for each chat message (role
 * markers). No imports, so the OpenAI test server can count `usage.prompt_tokens` the same way
 * (its `tokenCount: "estimate"` option) and a dry run's estimate can be checked against a real run.
 */
export const ESTIMATE_PER_MESSAGE = 4;

export function estimateTextTokens(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return Math.ceil(n / 4);
}
