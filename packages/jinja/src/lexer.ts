/**
 * Splits a template into tokens like Jinja2's lexer: data between tags, and inside `{{ }}` and
 * `{% %}` the expression tokens. Handles comments, `{% raw %}`, whitespace control (`{%-`, `-%}`),
 * newline normalization and the dropping of one trailing newline (keep_trailing_newline=False).
 */
import { LEADING_WS, TRAILING_WS } from "./python-strings.js";
import { TemplateSyntaxError } from "./syntax-error.js";

export type TokenType =
  | "data"
  | "var_begin"
  | "var_end"
  | "block_begin"
  | "block_end"
  | "name"
  | "string"
  | "int"
  | "float"
  | "op"
  | "eof";

export interface Token {
  type: TokenType;
  /** Text for names, operators and data; decoded text for strings; source text for numbers. */
  value: string;
  /** The value of int and float tokens. */
  num?: number | bigint;
  line: number;
  /** 0-based offset in the source, for names (expressions report columns of the names they read). */
  pos?: number;
  /** 0-based offset of the token in the normalized source, for the column of a syntax error. */
  at?: number;
}

const FLOAT_RE = /(?:\d+_)*\d+(?:(?:\.(?:\d+_)*\d+)?e[+-]?(?:\d+_)*\d+|\.(?:\d+_)*\d+)/iy;
const INT_RE = /0b(?:_?[01])+|0o(?:_?[0-7])+|0x(?:_?[\da-f])+|[1-9](?:_?\d)*|0(?:_?0)*/iy;
const LEADING_DOT_FLOAT_RE = /\.(?:\d+_)*\d+(?:e[+-]?(?:\d+_)*\d+)?/iy;
const NAME_RE = /[\p{ID_Start}_][\p{ID_Continue}]*/uy;
const STRING_RE = /'([^'\\]*(?:\\.[^'\\]*)*)'|"([^"\\]*(?:\\.[^"\\]*)*)"/sy;
const WS_RE = /\s+/y;
const OPEN_RE = /\{([{%#])/g;
const RAW_BEGIN_RE = /\s*raw\s*(-?)%\}/y;
const RAW_END_RE = /\{%[-+]?\s*endraw\s*(-?)%\}/g;
const TWO_CHAR_OPS = new Set(["//", "**", "==", "!=", ">=", "<="]);
const ONE_CHAR_OPS = new Set([
  "+",
  "-",
  "/",
  "*",
  "%",
  "~",
  "[",
  "]",
  "(",
  ")",
  "{",
  "}",
  ">",
  "<",
  "=",
  ".",
  ":",
  "|",
  ",",
  ";",
]);
const CLOSING: Record<string, string> = { ")": "(", "]": "[", "}": "{" };

function countNewlines(s: string, from = 0, to = s.length): number {
  let n = 0;
  for (let i = s.indexOf("\n", from); i >= 0 && i < to; i = s.indexOf("\n", i + 1)) n++;
  return n;
}

/** Newlines normalized to \n, one trailing newline dropped. */
export function normalizeSource(source: string): string {
  let s = source.includes("\r") ? source.replace(/\r\n?/g, "\n") : source;
  if (s.endsWith("\n")) s = s.slice(0, -1);
  return s;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\n": "",
};

/** Decodes Python string-literal escapes (what Jinja2 does with `unicode-escape`). */
function decodeEscapes(raw: string, line: number): string {
  if (!raw.includes("\\")) return raw;
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i] as string;
    if (ch !== "\\") {
      out += ch;
      continue;
    }
    const next = raw[i + 1];
    if (next === undefined) throw new TemplateSyntaxError("\\ at end of string", line);
    const simple = SIMPLE_ESCAPES[next];
    if (simple !== undefined) {
      out += simple;
      i++;
      continue;
    }
    if (next >= "0" && next <= "7") {
      let j = i + 1;
      let digits = "";
      while (j < raw.length && digits.length < 3 && (raw[j] as string) >= "0" && (raw[j] as string) <= "7") {
        digits += raw[j];
        j++;
      }
      out += String.fromCodePoint(Number.parseInt(digits, 8));
      i = j - 1;
      continue;
    }
    const hexLen = next === "x" ? 2 : next === "u" ? 4 : next === "U" ? 8 : 0;
    if (hexLen > 0) {
      const digits = raw.slice(i + 2, i + 2 + hexLen);
      if (digits.length !== hexLen || !/^[0-9a-fA-F]+$/.test(digits)) {
        throw new TemplateSyntaxError(`truncated \\${next}${"X".repeat(hexLen)} escape in string`, line);
      }
      const cp = Number.parseInt(digits, 16);
      if (cp > 0x10ffff) throw new TemplateSyntaxError("illegal Unicode character in string", line);
      out += String.fromCodePoint(cp);
      i += 1 + hexLen;
      continue;
    }
    if (next === "N") throw new TemplateSyntaxError("\\N{...} escapes are not supported", line);
    out += `\\${next}`;
    i++;
  }
  return out;
}

function parseIntLiteral(text: string): number | bigint {
  const t = text.replace(/_/g, "").toLowerCase();
  let big: bigint;
  if (t.startsWith("0b") || t.startsWith("0o") || t.startsWith("0x")) big = BigInt(t);
  else big = BigInt(t);
  return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

/**
 * `posBase` is subtracted from the offsets in tokens and messages (text prepended by the caller).
 * `python` also reads Python's floats without a leading digit (`.5`), which Jinja2 does not.
 */
/** Whether the next token starts an operand (so `.5` is a number, not an attribute). */
function afterOperator(tokens: Token[]): boolean {
  const last = tokens[tokens.length - 1];
  if (last === undefined) return true;
  if (last.type === "name" || last.type === "string" || last.type === "int" || last.type === "float")
    return false;
  return !(last.type === "op" && (last.value === ")" || last.value === "]" || last.value === "}"));
}

export function tokenize(source: string, posBase = 0, python = false): Token[] {
  const src = normalizeSource(source);
  const tokens: Token[] = [];
  let pos = 0;
  let line = 1;
  let stripLeading = false;
  const len = src.length;

  const fail = (message: string): never => {
    throw new TemplateSyntaxError(message, line, Math.min(pos, len));
  };

  while (pos <= len) {
    OPEN_RE.lastIndex = pos;
    const m = OPEN_RE.exec(src);
    const dataEnd = m ? m.index : len;
    let data = src.slice(pos, dataEnd);
    if (stripLeading) data = data.replace(LEADING_WS, "");
    stripLeading = false;
    const modifier = m ? src[m.index + 2] : undefined;
    if (modifier === "-") data = data.replace(TRAILING_WS, "");
    if (data !== "") tokens.push({ type: "data", value: data, line, at: pos });
    line += countNewlines(src, pos, dataEnd);
    if (!m) break;
    pos = m.index + 2;
    if (modifier === "-" || modifier === "+") pos++;
    const opener = m[1];

    if (opener === "#") {
      const end = src.indexOf("#}", pos);
      if (end < 0) fail("Missing end of comment tag");
      stripLeading = end - 1 >= pos && src[end - 1] === "-";
      line += countNewlines(src, pos, end);
      pos = end + 2;
      continue;
    }

    if (opener === "%") {
      RAW_BEGIN_RE.lastIndex = pos;
      const raw = RAW_BEGIN_RE.exec(src);
      if (raw) {
        const contentStart = pos + raw[0].length;
        RAW_END_RE.lastIndex = contentStart;
        const end = RAW_END_RE.exec(src);
        if (!end) fail("Missing end of raw directive");
        const endMatch = end as RegExpExecArray;
        let content = src.slice(contentStart, endMatch.index);
        if (raw[1] === "-") content = content.replace(LEADING_WS, "");
        if (src[endMatch.index + 2] === "-") content = content.replace(TRAILING_WS, "");
        line += countNewlines(src, pos, contentStart);
        if (content !== "") tokens.push({ type: "data", value: content, line, at: contentStart });
        line += countNewlines(src, contentStart, endMatch.index + endMatch[0].length);
        stripLeading = endMatch[1] === "-";
        pos = endMatch.index + endMatch[0].length;
        continue;
      }
    }

    const isVar = opener === "{";
    const endStr = isVar ? "}}" : "%}";
    tokens.push({ type: isVar ? "var_begin" : "block_begin", value: isVar ? "{{" : "{%", line, at: m.index });
    const balance: string[] = [];
    let closed = false;
    while (pos < len) {
      WS_RE.lastIndex = pos;
      const ws = WS_RE.exec(src);
      if (ws) {
        line += countNewlines(ws[0]);
        pos += ws[0].length;
        if (pos >= len) break;
      }
      if (balance.length === 0) {
        if (src[pos] === "-" && src.startsWith(endStr, pos + 1)) {
          stripLeading = true;
          pos += 3;
          closed = true;
          break;
        }
        if (!isVar && src[pos] === "+" && src.startsWith(endStr, pos + 1)) {
          pos += 3;
          closed = true;
          break;
        }
        if (src.startsWith(endStr, pos)) {
          pos += 2;
          closed = true;
          break;
        }
      }
      const c = src[pos] as string;
      if (python && c === "." && afterOperator(tokens)) {
        LEADING_DOT_FLOAT_RE.lastIndex = pos;
        const f = LEADING_DOT_FLOAT_RE.exec(src);
        if (f) {
          tokens.push({
            type: "float",
            value: f[0],
            num: Number(`0${f[0].replace(/_/g, "")}`),
            line,
            at: pos,
          });
          pos += f[0].length;
          continue;
        }
      }
      if (c >= "0" && c <= "9") {
        if (src[pos - 1] !== ".") {
          FLOAT_RE.lastIndex = pos;
          const f = FLOAT_RE.exec(src);
          if (f) {
            tokens.push({ type: "float", value: f[0], num: Number(f[0].replace(/_/g, "")), line, at: pos });
            pos += f[0].length;
            continue;
          }
        }
        INT_RE.lastIndex = pos;
        const n = INT_RE.exec(src);
        if (n) {
          tokens.push({ type: "int", value: n[0], num: parseIntLiteral(n[0]), line, at: pos });
          pos += n[0].length;
          continue;
        }
      }
      NAME_RE.lastIndex = pos;
      const name = NAME_RE.exec(src);
      if (name) {
        tokens.push({ type: "name", value: name[0], line, pos: pos - posBase, at: pos });
        pos += name[0].length;
        continue;
      }
      if (c === "'" || c === '"') {
        STRING_RE.lastIndex = pos;
        const s = STRING_RE.exec(src);
        if (!s) fail("unexpected end of string");
        const sm = s as RegExpExecArray;
        tokens.push({ type: "string", value: decodeEscapes(sm[1] ?? sm[2] ?? "", line), line, at: pos });
        line += countNewlines(sm[0]);
        pos += sm[0].length;
        continue;
      }
      const two = src.slice(pos, pos + 2);
      if (TWO_CHAR_OPS.has(two)) {
        tokens.push({ type: "op", value: two, line, at: pos });
        pos += 2;
        continue;
      }
      if (ONE_CHAR_OPS.has(c)) {
        if (c === "(" || c === "[" || c === "{") balance.push(c);
        else if (c === ")" || c === "]" || c === "}") {
          const expected = balance.pop();
          if (expected === undefined) fail(`unexpected '${c}'`);
          if (expected !== CLOSING[c]) {
            const want = expected === "(" ? ")" : expected === "[" ? "]" : "}";
            fail(`unexpected '${c}', expected '${want}'`);
          }
        }
        tokens.push({ type: "op", value: c, line, at: pos });
        pos += 1;
        continue;
      }
      fail(`unexpected char ${JSON.stringify(c)} at ${pos - posBase}`);
    }
    if (!closed) {
      tokens.push({ type: "eof", value: "", line, at: len });
      return tokens;
    }
    tokens.push({ type: isVar ? "var_end" : "block_end", value: endStr, line, at: pos - endStr.length });
  }
  tokens.push({ type: "eof", value: "", line, at: len });
  return tokens;
}
