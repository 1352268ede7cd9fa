/**
 * "Did you mean …?" hints for misspelt keys, names and ids. A leaf module (no imports), so that
 * every layer (study files, models, designs) can use it without importing each other.
 */

/** The allowed word within two edits (ignoring case and _/-), for "did you mean" hints. */
export function closestWord(word: string, options: readonly string[]): string | undefined {
  const norm = (w: string) => w.toLowerCase().replace(/[_-]/g, "");
  let best: string | undefined;
  let bestD = 3;
  for (const o of options) {
    const d = editDistance(norm(word), norm(o));
    if (d < bestD) {
      bestD = d;
      best = o;
    }
  }
  return best;
}

/** Levenshtein distance: insertions, deletions and substitutions each cost 1. */
export function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0] as number;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j] as number;
      dp[j] = Math.min(
        (dp[j] as number) + 1,
        (dp[j - 1] as number) + 1,
        prev + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      prev = tmp;
    }
  }
  return dp[b.length] as number;
}
