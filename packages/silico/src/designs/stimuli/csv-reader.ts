import { decodeUtf8Text, TextEncodingError } from "../../study/text-encoding.js";

/** A CSV record with the 1-based line of the file where it starts (records may span lines). */
export interface CsvRecord {
  line: number;
  fields: string[];
}

export interface CsvResult {
  records: CsvRecord[];
  delimiter: string;
}

export class CsvSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
    this.name = "CsvSyntaxError";
  }
}

export type Delimiter = "," | ";" | "\t";
const CANDIDATES: Delimiter[] = [",", ";", "\t"];

/**
 * Decodes a CSV file's bytes: UTF-8 only (with or without BOM). Spreadsheet programs on some
 * systems save CSV in a legacy code page or UTF-16; reading that as UTF-8 would silently corrupt
 * accented stimuli, so it is refused instead, naming the encoding or the first bad byte.
 */
export function decodeCsvBytes(bytes: Uint8Array): string {
  try {
    return decodeUtf8Text(bytes);
  } catch (e) {
    if (e instanceof TextEncodingError) {
      throw new CsvSyntaxError(e.line ?? 1, e.message.replace("save it as UTF-8", "save it as CSV UTF-8"));
    }
    throw e;
  }
}

/**
 * Picks the delimiter that occurs most often (outside quotes) in the first record; a comma
 * when none occurs. Lets files saved by spreadsheet programs in locales that use `;` work as is.
 */
export function detectDelimiter(text: string): Delimiter {
  const counts = new Map<Delimiter, number>(CANDIDATES.map((d) => [d, 0]));
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === "\n" || c === "\r")) break;
    else if (!quoted && counts.has(c as Delimiter))
      counts.set(c as Delimiter, (counts.get(c as Delimiter) ?? 0) + 1);
  }
  let best: Delimiter = ",";
  for (const d of CANDIDATES) if ((counts.get(d) ?? 0) > (counts.get(best) ?? 0)) best = d;
  return best;
}

/**
 * RFC 4180 reader: quoted fields with `""` escapes and embedded newlines, CRLF/LF/CR line ends,
 * a leading BOM, and no trailing newline required. A quote inside an unquoted field is kept as
 * text (hand-written files do that); text after a closing quote is an error, because it means
 * the quoting is broken and the columns would shift silently.
 */
export function parseCsv(input: string, delimiter?: Delimiter): CsvResult {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const delim = delimiter ?? detectDelimiter(text);
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = "";
  let line = 1;
  let recordLine = 1;
  let i = 0;
  let atFieldStart = true;
  const endField = () => {
    fields.push(field);
    field = "";
    atFieldStart = true;
  };
  const endRecord = () => {
    endField();
    records.push({ line: recordLine, fields });
    fields = [];
  };
  while (i < text.length) {
    const c = text[i] as string;
    if (atFieldStart && c === '"') {
      const openedAt = line;
      i++;
      for (;;) {
        if (i >= text.length)
          throw new CsvSyntaxError(openedAt, 'a quoted field is never closed (missing ")');
        const q = text[i] as string;
        if (q === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (q === "\r") {
          line++;
          if (text[i + 1] === "\n") {
            field += "\r\n";
            i += 2;
            continue;
          }
        } else if (q === "\n") line++;
        field += q;
        i++;
      }
      const next = text[i];
      if (next !== undefined && next !== delim && next !== "\n" && next !== "\r") {
        throw new CsvSyntaxError(
          line,
          `unexpected text after a closing quote (${JSON.stringify(text.slice(i, i + 10))})`,
        );
      }
      atFieldStart = false;
      continue;
    }
    atFieldStart = false;
    if (c === delim) {
      endField();
      i++;
    } else if (c === "\n" || c === "\r") {
      endRecord();
      i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
      line++;
      recordLine = line;
    } else {
      field += c;
      i++;
    }
  }
  if (!atFieldStart || fields.length > 0 || field !== "") endRecord();
  return { records, delimiter: delim };
}
