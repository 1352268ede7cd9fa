import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { sha256 } from "../../engine/hash.js";
import { CsvSyntaxError, type Delimiter, decodeCsvBytes, parseCsv } from "./csv-reader.js";
import { readXlsxSync, type XlsxCell, XlsxReadError } from "./xlsx-reader.js";

export type TableCell = string | number | boolean | null;

export interface TableRow {
  /** `stimuli.csv:14` or `stimuli.xlsx[Sheet1]:14`: where the row starts in its file. */
  where: string;
  cells: TableCell[];
  /** Number of cells the row really has (CSV rows may be short or long). */
  width: number;
}

/** A stimulus file read into a header and rows, each row knowing its own location. */
export interface StimulusTable {
  /** "rows": given in the study itself (a list of records, e.g. from the library's `stimuli()`). */
  format: "csv" | "xlsx" | "rows";
  /** The file as the study names it. */
  file: string;
  sheet?: string;
  /** Location of the header row. */
  headerWhere: string;
  header: string[];
  rows: TableRow[];
  /** SHA-256 of the file's bytes, for the run manifest. */
  hash: string;
  /** The CSV delimiter used. */
  delimiter?: string;
}

/** A problem with the file as a whole (unreadable, unknown sheet, broken quoting). */
export class TableError extends Error {
  constructor(
    readonly where: string,
    message: string,
  ) {
    super(message);
    this.name = "TableError";
  }
}

export interface TableOptions {
  sheet?: string;
  delimiter?: Delimiter;
}

/**
 * A table from records given in the study itself (`stimuli: [{...}, ...]`). The header is every
 * key in order of first appearance; `where` names the record's key path.
 */
export function inlineStimulusTable(
  records: readonly unknown[],
  where: (i: number) => string,
  file: string,
): StimulusTable {
  const header: string[] = [];
  for (const [i, r] of records.entries()) {
    if (r === null || typeof r !== "object" || Array.isArray(r))
      throw new TableError(where(i), "must be a record of column names to values");
    for (const k of Object.keys(r)) if (!header.includes(k)) header.push(k);
  }
  if (records.length === 0) throw new TableError(file, "needs at least one row");
  const rows: TableRow[] = records.map((r, i) => {
    const rec = r as Record<string, unknown>;
    const cells = header.map((h): TableCell => {
      const v = rec[h];
      if (v === undefined || v === null) return null;
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
      throw new TableError(`${where(i)}.${h}`, "must be a text, number or true/false");
    });
    return { where: where(i), cells, width: header.length };
  });
  return { format: "rows", file, headerWhere: file, header, rows, hash: sha256(JSON.stringify(records)) };
}

export function tableFormat(path: string): "csv" | "xlsx" | undefined {
  const ext = extname(path).toLowerCase();
  if (ext === ".csv" || ext === ".tsv" || ext === ".txt") return "csv";
  if (ext === ".xlsx") return "xlsx";
  return undefined;
}

/** Why a file could not be read, in words (the path in full where it helps to find it). */
function readFailure(e: unknown, fullPath: string): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT")
    return `no such file (looked for ${fullPath}; paths are relative to the study file's folder)`;
  if (code === "EISDIR") return `${fullPath} is a folder, not a file`;
  if (code === "EACCES" || code === "EPERM") return `permission denied (${fullPath})`;
  if (code === "ENOTDIR") return `a part of ${fullPath} is not a folder`;
  return `${code ?? (e as Error).message} (${fullPath})`;
}

/**
 * Reads a CSV or XLSX stimulus file. The header is the first non-blank row; blank rows (every
 * cell empty, as spreadsheet programs leave at the end) are dropped.
 */
export function readStimulusTable(fullPath: string, file: string, opts: TableOptions = {}): StimulusTable {
  const format = tableFormat(fullPath);
  if (!format) throw new TableError(file, "a stimulus file must be .csv, .tsv or .xlsx");
  let bytes: Buffer;
  try {
    bytes = readFileSync(fullPath);
  } catch (e) {
    throw new TableError(file, `cannot read the stimulus file: ${readFailure(e, fullPath)}`);
  }
  const hash = sha256(bytes);
  if (format === "csv") {
    if (opts.sheet !== undefined) throw new TableError(file, "sheet: only applies to .xlsx files");
    let parsed: ReturnType<typeof parseCsv>;
    try {
      const delimiter = opts.delimiter ?? (extname(fullPath).toLowerCase() === ".tsv" ? "\t" : undefined);
      parsed = parseCsv(decodeCsvBytes(bytes), delimiter);
    } catch (e) {
      if (e instanceof CsvSyntaxError) throw new TableError(`${file}:${e.line}`, e.message);
      throw e;
    }
    const records = parsed.records.filter((r) => r.fields.some((f) => f.trim() !== ""));
    const [head, ...rest] = records;
    if (!head)
      throw new TableError(file, "the stimulus file is empty (it needs a header row and at least one row)");
    return {
      format,
      file,
      headerWhere: `${file}:${head.line}`,
      header: head.fields.map((h) => h.trim()),
      rows: rest.map((r) => ({ where: `${file}:${r.line}`, cells: r.fields, width: r.fields.length })),
      hash,
      delimiter: parsed.delimiter,
    };
  }
  if (opts.delimiter !== undefined) throw new TableError(file, "delimiter: only applies to CSV files");
  let sheets: ReturnType<typeof readXlsxSync>;
  try {
    sheets = readXlsxSync(fullPath);
  } catch (e) {
    if (e instanceof XlsxReadError) throw new TableError(file, `cannot read the workbook: ${e.message}`);
    throw e;
  }
  const sheet = opts.sheet === undefined ? sheets[0] : sheets.find((s) => s.name === opts.sheet);
  if (!sheet) {
    const names = sheets.map((s) => JSON.stringify(s.name)).join(", ");
    throw new TableError(
      file,
      opts.sheet === undefined
        ? "the workbook has no sheets"
        : `no sheet "${opts.sheet}" in the workbook (sheets: ${names})`,
    );
  }
  const at = (row: number) => `${file}[${sheet.name}]:${row}`;
  const rows = sheet.rows.filter((r) => r.cells.some((c) => !isBlank(c)));
  const [head, ...rest] = rows;
  if (!head)
    throw new TableError(
      `${file}[${sheet.name}]`,
      "the sheet is empty (it needs a header row and at least one row)",
    );
  return {
    format,
    file,
    sheet: sheet.name,
    headerWhere: at(head.row),
    header: head.cells.map((c) => (c === null ? "" : String(c).trim())),
    rows: rest.map((r) => ({ where: at(r.row), cells: r.cells, width: r.cells.length })),
    hash,
  };
}

export function isBlank(c: XlsxCell | undefined): boolean {
  return c === null || c === undefined || (typeof c === "string" && c.trim() === "");
}
