/**
 * alter_ego's `homogenize`, applied to both prompt templates before they are compiled. It rewrites
 * the template source itself (string literals inside `{{ }}` included), so it must be reproduced
 * exactly for the rendered prompts to match byte for byte.
 */

/** Characters Python's `str.strip()` removes (`str.isspace`), which differ from JS `trim()`. */
const PY_SPACE =
  "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const LEADING = new RegExp(`^[${PY_SPACE}]+`, "u");
const TRAILING = new RegExp(`[${PY_SPACE}]+$`, "u");

/** Python `str.strip()` without arguments. */
export function pyStrip(s: string): string {
  return s.replace(LEADING, "").replace(TRAILING, "");
}

/**
 * CR → LF (so CRLF becomes a blank line), every line stripped, double spaces and runs of three
 * newlines collapsed until none is left, then the whole text stripped.
 */
export function homogenize(source: string): string {
  let s = source.replaceAll("\r", "\n");
  s = s.split("\n").map(pyStrip).join("\n");
  while (s.includes("  ") || s.includes("\n\n\n")) {
    s = s.replaceAll("  ", " ").replaceAll("\n\n\n", "\n\n");
  }
  return pyStrip(s);
}
