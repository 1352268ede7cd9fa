import { createRequire } from "node:module";
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";

export type XlsxCell = string | number | boolean | null;

export interface XlsxSheet {
  name: string;
  /** Non-empty rows with their 1-based row number; cells indexed from column A = 0. */
  rows: { row: number; cells: XlsxCell[] }[];
}

export class XlsxReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "XlsxReadError";
  }
}

/*
 * exceljs reads workbooks only asynchronously, but a design compiles synchronously (validation
 * must finish before anything is written). The read therefore runs in a worker thread while this
 * thread waits on a shared flag; the result comes back through a message port read synchronously.
 * The worker is plain CommonJS given as text, so it runs the same from the TypeScript sources
 * (tests) and from dist.
 */
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { port, flag, path, exceljs } = workerData;
function cellValue(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  if (v instanceof Date) return isNaN(v.getTime()) ? null : v.toISOString().replace(/T00:00:00\\.000Z$/, "");
  if (Array.isArray(v.richText)) return v.richText.map((r) => r.text || "").join("");
  if ("result" in v || "formula" in v || "sharedFormula" in v) return cellValue(v.result === undefined ? null : v.result);
  if (typeof v.text === "string") return v.text;
  if (v.text && Array.isArray(v.text.richText)) return v.text.richText.map((r) => r.text || "").join("");
  if (typeof v.error === "string") return v.error;
  return String(v);
}
function done(message) {
  try { port.postMessage(message); } finally { Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); }
}
try {
  const ExcelJS = require(exceljs);
  const wb = new ExcelJS.Workbook();
  wb.xlsx.readFile(path).then(() => {
    const sheets = wb.worksheets.map((ws) => {
      const rows = [];
      ws.eachRow({ includeEmpty: false }, (row, number) => {
        const values = Array.isArray(row.values) ? row.values : [];
        const cells = [];
        for (let i = 1; i < values.length; i++) cells.push(cellValue(values[i]));
        rows.push({ row: number, cells });
      });
      return { name: ws.name, rows };
    });
    done({ ok: true, sheets });
  }, (e) => done({ ok: false, error: String((e && e.message) || e) }));
} catch (e) {
  done({ ok: false, error: String((e && e.message) || e) });
}
`;

/** Every sheet of an .xlsx file, read synchronously. Throws XlsxReadError for unreadable files. */
export function readXlsxSync(path: string, timeoutMs = 120_000): XlsxSheet[] {
  const exceljs = createRequire(import.meta.url).resolve("exceljs");
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { port: port2, flag, path, exceljs },
    transferList: [port2],
    stdout: true,
    stderr: true,
  });
  try {
    const state = Atomics.wait(flag, 0, 0, timeoutMs);
    const message = receiveMessageOnPort(port1)?.message as
      | { ok: true; sheets: XlsxSheet[] }
      | { ok: false; error: string }
      | undefined;
    if (state === "timed-out" || !message)
      throw new XlsxReadError(`reading took longer than ${timeoutMs / 1000} s`);
    if (!message.ok) throw new XlsxReadError(message.error);
    return message.sheets;
  } finally {
    port1.close();
    void worker.terminate();
  }
}
