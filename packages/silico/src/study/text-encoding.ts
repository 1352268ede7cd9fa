/**
 * Study files and stimulus lists are UTF-8. A file in another encoding decoded leniently turns
 * every accented letter into U+FFFD and the study runs with damaged prompts, so it is refused
 * with the encoding named (when it can be told) and the place of the first bad byte.
 */

/** A file that is not UTF-8 text. `line` and `column` are 1-based; absent when the whole file is at fault. */
export class TextEncodingError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(message);
    this.name = "TextEncodingError";
  }
}

const SAVE_AS = "save it as UTF-8";

/** Decodes UTF-8 bytes (a UTF-8 byte-order mark is dropped) or throws TextEncodingError. */
export function decodeUtf8Text(bytes: Uint8Array): string {
  const wide = wideEncoding(bytes);
  if (wide) throw new TextEncodingError(`the file is ${wide}, not UTF-8; ${SAVE_AS}`);
  const bad = firstInvalidUtf8(bytes);
  if (bad !== undefined) {
    const { line, column } = position(bytes, bad);
    const byte = bytes[bad] as number;
    const hex = `0x${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    throw new TextEncodingError(
      `not UTF-8: byte ${hex} at line ${line}, column ${column}${looksSingleByte(bytes, bad) ? " (the file looks like Latin-1 or Windows-1252)" : ""}; ${SAVE_AS}`,
      line,
      column,
    );
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    const { line, column } = position(bytes, nul);
    throw new TextEncodingError(`not a text file: NUL byte at line ${line}, column ${column}`, line, column);
  }
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(start));
}

/** UTF-32 or UTF-16, by byte-order mark or, without one, by where the NUL bytes of ASCII text fall. */
function wideEncoding(b: Uint8Array): string | undefined {
  if (b[0] === 0xff && b[1] === 0xfe && b[2] === 0 && b[3] === 0)
    return "UTF-32 LE (byte-order mark FF FE 00 00)";
  if (b[0] === 0 && b[1] === 0 && b[2] === 0xfe && b[3] === 0xff)
    return "UTF-32 BE (byte-order mark 00 00 FE FF)";
  if (b[0] === 0xff && b[1] === 0xfe) return "UTF-16 LE (byte-order mark FF FE)";
  if (b[0] === 0xfe && b[1] === 0xff) return "UTF-16 BE (byte-order mark FE FF)";
  const n = Math.min(b.length, 1024) & ~1;
  if (n < 2) return undefined;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < n; i += 2) {
    if (b[i] === 0) evenNul++;
    if (b[i + 1] === 0) oddNul++;
  }
  const pairs = n / 2;
  // ASCII text in UTF-16 has a NUL in every pair, on the high-byte side.
  if (oddNul >= pairs / 2 && evenNul < pairs / 8)
    return "UTF-16 LE (no byte-order mark; NUL after every other byte)";
  if (evenNul >= pairs / 2 && oddNul < pairs / 8)
    return "UTF-16 BE (no byte-order mark; NUL before every other byte)";
  return undefined;
}

/** Offset of the first byte that does not start or continue a well-formed UTF-8 sequence. */
export function firstInvalidUtf8(b: Uint8Array): number | undefined {
  let i = 0;
  while (i < b.length) {
    const c = b[i] as number;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0; // no overlong forms
      if (c === 0xed) hi = 0x9f; // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f; // nothing above U+10FFFF
    } else return i;
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined) return i;
      const min = k === 1 ? lo : 0x80;
      const max = k === 1 ? hi : 0xbf;
      if (d < min || d > max) return i;
    }
    i += need + 1;
  }
  return undefined;
}

/** A high byte standing alone between ASCII bytes is how Latin-1 and Windows-1252 write é, ü, ’ … */
function looksSingleByte(b: Uint8Array, at: number): boolean {
  const next = b[at + 1];
  return next === undefined || next < 0x80;
}

/** 1-based line and column (in characters) of a byte offset, the bytes before it being valid UTF-8. */
function position(b: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (b[i] === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  const before = new TextDecoder("utf-8", { ignoreBOM: lineStart !== 0 }).decode(
    b.subarray(lineStart, offset),
  );
  return { line, column: [...before].length + 1 };
}
