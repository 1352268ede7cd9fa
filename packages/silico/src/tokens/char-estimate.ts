/**
 * silico's offline token estimate for models whose tokenizer is not available: ⌈characters / 4⌉
 * for a text (characters are Unicode code points) and 4 more for each chat message (role
 * markers). The OpenAI test server (@silico/test-server) counts `usage.prompt_tokens` by the same
 * rule with its `tokenCount: "estimate"` option, so a dry run's estimate can be checked against a
 * real run; the dry-run tests compare the two.
 */
export const ESTIMATE_PER_MESSAGE = 4;

export function estimateTextTokens(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return Math.ceil(n / 4);
}
