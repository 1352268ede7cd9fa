/**
 * Python's textwrap.wrap, as Jinja2's `wordwrap` filter calls it (expand_tabs=False,
 * replace_whitespace=False, drop_whitespace=True): the same chunking regular expression and the
 * same line filling, measured in code points.
 */
import { valueError } from "./python-errors.js";
import { pyStrip } from "./python-strings.js";
import { codePoints, strLen } from "./python-values.js";

// textwrap's whitespace is ASCII only; \w and "letter" follow Python's Unicode-aware classes.
const WS = "[\\t\\n\\x0b\\x0c\\r ]";
const NWS = "[^\\t\\n\\x0b\\x0c\\r ]";
const WORD_PUNCT = "[\\p{L}\\p{N}_!\"'&.,?]";
const LETTER = "[\\p{L}\\p{Nl}\\p{No}_]";
const WORD = "[\\p{L}\\p{N}_]";

const WORDSEP = new RegExp(
  `(${WS}+` +
    `|(?<=${WORD_PUNCT})-{2,}(?=${WORD})` +
    `|${NWS}+?(?:-(?:(?<=${LETTER}{2}-)|(?<=${LETTER}-${LETTER}-))(?=${LETTER}-?${LETTER})` +
    `|(?=${WS}|$)` +
    `|(?<=${WORD_PUNCT})(?=-{2,}${WORD})))`,
  "u",
);
const WORDSEP_SIMPLE = new RegExp(`(${WS}+)`, "u");

const isBlank = (s: string): boolean => pyStrip(s) === "";

function cpSlice(s: string, start: number, end?: number): string {
  return codePoints(s).slice(start, end).join("");
}

/** textwrap.TextWrapper._handle_long_word. */
function handleLongWord(
  chunks: string[],
  line: string[],
  lineLen: number,
  width: number,
  breakLong: boolean,
  breakOnHyphens: boolean,
): void {
  const spaceLeft = width < 1 ? 1 : width - lineLen;
  if (breakLong) {
    let end = spaceLeft;
    const chunk = chunks[chunks.length - 1] as string;
    if (breakOnHyphens && strLen(chunk) > spaceLeft) {
      const head = cpSlice(chunk, 0, spaceLeft);
      const hyphen = head.lastIndexOf("-");
      if (hyphen > 0 && /[^-]/.test(head.slice(0, hyphen))) end = strLen(head.slice(0, hyphen)) + 1;
    }
    line.push(cpSlice(chunk, 0, end));
    chunks[chunks.length - 1] = cpSlice(chunk, end);
  } else if (line.length === 0) {
    line.push(chunks.pop() as string);
  }
}

export function textWrap(text: string, width: number, breakLong: boolean, breakOnHyphens: boolean): string[] {
  if (width <= 0) throw valueError(`invalid width ${width} (must be > 0)`);
  const chunks = text
    .split(breakOnHyphens ? WORDSEP : WORDSEP_SIMPLE)
    .filter((c) => c !== undefined && c !== "");
  chunks.reverse();
  const lines: string[] = [];
  while (chunks.length > 0) {
    const line: string[] = [];
    let lineLen = 0;
    if (lines.length > 0 && isBlank(chunks[chunks.length - 1] as string)) chunks.pop();
    while (chunks.length > 0) {
      const l = strLen(chunks[chunks.length - 1] as string);
      if (lineLen + l > width) break;
      line.push(chunks.pop() as string);
      lineLen += l;
    }
    if (chunks.length > 0 && strLen(chunks[chunks.length - 1] as string) > width) {
      handleLongWord(chunks, line, lineLen, width, breakLong, breakOnHyphens);
    }
    if (line.length > 0 && isBlank(line[line.length - 1] as string)) line.pop();
    if (line.length > 0) lines.push(line.join(""));
  }
  return lines;
}
