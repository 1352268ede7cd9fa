/**
 * Character class (regex source, needs the `u` flag) for characters that belong to a word:
 * letters, digits, combining marks and the underscore. Anything else (space, punctuation,
 * symbols) is a word boundary.
 */
export const WORD_CHAR = "[\\p{L}\\p{N}\\p{M}_]";

const WORD_CHAR_RE = new RegExp(`^${WORD_CHAR}$`, "u");

/** True when `ch` (one code point) is part of a word. Undefined (outside the text) is not. */
export function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && WORD_CHAR_RE.test(ch);
}

/** Escapes regex syntax characters; safe to use with and without the `u` flag. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** The code point that ends just before `index` (handles surrogate pairs). */
export function charBefore(text: string, index: number): string | undefined {
  if (index <= 0) return undefined;
  const low = text.charCodeAt(index - 1);
  if (low >= 0xdc00 && low <= 0xdfff && index >= 2) {
    const high = text.charCodeAt(index - 2);
    if (high >= 0xd800 && high <= 0xdbff) return text.slice(index - 2, index);
  }
  return text[index - 1];
}

/** The code point that starts at `index` (handles surrogate pairs). */
export function charAt(text: string, index: number): string | undefined {
  if (index >= text.length) return undefined;
  const cp = text.codePointAt(index);
  return cp === undefined ? undefined : String.fromCodePoint(cp);
}
