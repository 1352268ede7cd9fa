import { createWriteStream } from "node:fs";
import { flatCell, type TidyRow } from "./tidy-rows.js";

export interface Sink {
  write(chunk: string): void;
  end(): Promise<void>;
}

export function csvField(v: unknown): string {
  const c = flatCell(v);
  if (c === null) return "";
  const s = typeof c === "boolean" ? (c ? "TRUE" : "FALSE") : String(c);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function writeCsv(columns: string[], rows: Iterable<TidyRow>, sink: Sink, eol = "\n"): number {
  sink.write(columns.map(csvField).join(",") + eol);
  let n = 0;
  for (const r of rows) {
    sink.write(columns.map((c) => csvField(r[c])).join(",") + eol);
    n++;
  }
  return n;
}

export function writeJsonl(columns: string[], rows: Iterable<TidyRow>, sink: Sink): number {
  let n = 0;
  for (const r of rows) {
    const o: Record<string, unknown> = {};
    for (const c of columns) o[c] = r[c] ?? null;
    sink.write(`${JSON.stringify(o)}\n`);
    n++;
  }
  return n;
}

/** Streams rows into an .xlsx file (one sheet), so large runs do not build the workbook in memory. */
export async function writeXlsx(
  columns: string[],
  rows: Iterable<TidyRow>,
  path: string,
  sheet = "data",
): Promise<number> {
  // exceljs is large; load it only when a spreadsheet is written.
  const { default: ExcelJS } = await import("exceljs");
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({
    filename: path,
    useStyles: false,
    useSharedStrings: false,
  });
  const ws = wb.addWorksheet(sheet);
  ws.addRow(columns).commit();
  let n = 0;
  for (const r of rows) {
    ws.addRow(
      columns.map((c) => {
        const v = flatCell(r[c]);
        // Excel cells hold at most 32,767 characters; longer text is cut there and marked.
        return typeof v === "string" && v.length > 32_767 ? `${v.slice(0, 32_750)}…[truncated]` : v;
      }),
    ).commit();
    n++;
  }
  ws.commit();
  await wb.commit();
  return n;
}

export function stdoutSink(): Sink {
  return {
    write: (chunk) => {
      process.stdout.write(chunk);
    },
    end: () =>
      new Promise((resolve) =>
        process.stdout.writableLength === 0 ? resolve() : process.stdout.once("drain", resolve),
      ),
  };
}

export function fileSink(path: string): Sink {
  const ws = createWriteStream(path);
  let buffer: string[] = [];
  let size = 0;
  const flush = () => {
    if (buffer.length) ws.write(buffer.join(""));
    buffer = [];
    size = 0;
  };
  return {
    write: (chunk) => {
      buffer.push(chunk);
      size += chunk.length;
      if (size > 1 << 16) flush();
    },
    end: () =>
      new Promise((resolve, reject) => {
        flush();
        ws.end((err?: Error | null) => (err ? reject(err) : resolve()));
      }),
  };
}
