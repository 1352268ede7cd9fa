/**
 * The stimulus list of a `kind: stimuli` study as an editable grid: read from the file the study
 * names (CSV or XLSX, read by silico's own reader) or from the rows written in the study itself;
 * an edited grid is checked by compiling the study against it (silico's validation, messages and
 * locations), and saved into its file in the file's own format.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, isAbsolute, join, posix, resolve } from "node:path";
import ExcelJS from "exceljs";
import { readStimulusTable, TableError } from "silico";
import { parse as parseYaml } from "yaml";
import { HttpError } from "./http-errors.js";
import type { CheckResult, Problem } from "./preview.js";
import { type ProjectFiles, TABLE_EXTENSIONS } from "./project-files.js";
import { applyStudyEdits } from "./study-edit.js";

export interface StimulusGrid {
  /** "file": a CSV/XLSX file next to the study; "inline": the study's own `stimuli:` rows. */
  source: "file" | "inline";
  /** The file as the study names it (file), or "stimuli" (inline). */
  file: string;
  /** Project-relative path of the file (file only). */
  path?: string;
  format: "csv" | "xlsx" | "rows";
  sheet?: string;
  delimiter?: string;
  header: string[];
  rows: string[][];
  /** Why the file cannot be shown (silico cannot read it): fix it outside the studio first. */
  error?: string;
}

/** A problem placed on the grid: row -1 is the header; column -1 the whole row. */
export interface CellProblem {
  row: number;
  column: number;
  where: string;
  message: string;
}

export interface GridEdit {
  header: string[];
  rows: string[][];
}

const MAX_TABLE = 50 * 1024 * 1024;
const NEW_LIST_HEADER = ["Run", "Item", "Condition", "Prompt"];

const asText = (v: unknown): string => (v === null || v === undefined ? "" : String(v));

function studyData(text: string): Record<string, unknown> | null {
  try {
    const d = parseYaml(text) as unknown;
    return typeof d === "object" && d !== null && !Array.isArray(d) ? (d as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

interface FileRef {
  /** As the study names it. */
  file: string;
  full: string;
  format: "csv" | "xlsx";
  sheet?: string;
  delimiter?: "," | ";" | "\t";
}

const DELIMITERS: Record<string, "," | ";" | "\t"> = {
  ",": ",",
  ";": ";",
  "\t": "\t",
  tab: "\t",
  comma: ",",
  semicolon: ";",
};

/** The stimulus file a study names, confined to the project folder; undefined for inline rows. */
function fileRef(files: ProjectFiles, studyFull: string, d: Record<string, unknown>): FileRef | undefined {
  if (typeof d.stimuli !== "string" || d.stimuli.trim() === "") return undefined;
  const file = d.stimuli;
  if (isAbsolute(file))
    throw new HttpError(403, `${file}: the stimulus file must be inside the project folder`);
  const full = files.resolve(files.relative(resolve(dirname(studyFull), file)), TABLE_EXTENSIONS);
  const format = extname(full).toLowerCase() === ".xlsx" ? "xlsx" : "csv";
  const delimiter = typeof d.delimiter === "string" ? DELIMITERS[d.delimiter] : undefined;
  return {
    file,
    full,
    format,
    ...(typeof d.sheet === "string" ? { sheet: d.sheet } : {}),
    ...(delimiter ? { delimiter } : extname(full).toLowerCase() === ".tsv" ? { delimiter: "\t" } : {}),
  };
}

/** The study's stimulus list as a grid, or null when it names none (or is not kind: stimuli). */
export function readGrid(files: ProjectFiles, studyPath: string, text: string): StimulusGrid | null {
  const d = studyData(text);
  if (d?.kind !== "stimuli") return null;
  if (Array.isArray(d.stimuli)) {
    const header: string[] = [];
    for (const r of d.stimuli)
      if (typeof r === "object" && r !== null && !Array.isArray(r))
        for (const k of Object.keys(r)) if (!header.includes(k)) header.push(k);
    const rows = d.stimuli.map((r) => header.map((h) => asText((r as Record<string, unknown> | null)?.[h])));
    return { source: "inline", file: "stimuli", format: "rows", header, rows };
  }
  const ref = fileRef(files, files.resolve(studyPath), d);
  if (!ref) return null;
  if (!existsSync(ref.full))
    // A list to start: MacBehaviour's columns (Event is optional); Save creates the file.
    return {
      source: "file",
      file: ref.file,
      path: files.relative(ref.full),
      format: ref.format,
      header: [...NEW_LIST_HEADER],
      rows: [],
    };
  let t: ReturnType<typeof readStimulusTable>;
  try {
    t = readStimulusTable(ref.full, ref.file, {
      ...(ref.sheet !== undefined ? { sheet: ref.sheet } : {}),
      ...(ref.delimiter !== undefined ? { delimiter: ref.delimiter } : {}),
    });
  } catch (e) {
    // A file silico cannot read is not shown as an empty table (saving that would lose it).
    if (e instanceof TableError)
      return {
        source: "file",
        file: ref.file,
        path: files.relative(ref.full),
        format: ref.format,
        header: [],
        rows: [],
        error: `${e.where}: ${e.message}`,
      };
    throw e;
  }
  const width = Math.max(t.header.length, ...t.rows.map((r) => r.cells.length));
  const pad = (cells: unknown[]) => Array.from({ length: width }, (_, i) => asText(cells[i]));
  return {
    source: "file",
    file: ref.file,
    path: files.relative(ref.full),
    format: ref.format,
    ...(t.sheet !== undefined ? { sheet: t.sheet } : {}),
    ...(t.delimiter !== undefined ? { delimiter: t.delimiter } : {}),
    header: pad(t.header),
    rows: t.rows.map((r) => pad(r.cells)),
  };
}

/** A grid sent by the page, checked. */
export function gridOf(v: unknown): GridEdit {
  const o = (typeof v === "object" && v !== null ? v : {}) as { header?: unknown; rows?: unknown };
  const strings = (a: unknown, where: string): string[] => {
    if (!Array.isArray(a) || a.some((c) => typeof c !== "string"))
      throw new HttpError(400, `${where}: expected a list of texts`);
    return a as string[];
  };
  const header = strings(o.header, "stimuli.header");
  if (!Array.isArray(o.rows)) throw new HttpError(400, "stimuli.rows: expected a list of rows");
  const rows = o.rows.map((r, i) => strings(r, `stimuli.rows[${i}]`));
  if (rows.length > 100_000) throw new HttpError(413, "a stimulus list is at most 100,000 rows here");
  return { header, rows };
}

// ---- CSV ----

function csvField(v: string, delimiter: string): string {
  return v.includes(delimiter) || /["\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** The grid as CSV text, in the original file's delimiter, line ends and BOM; with each row's first line. */
export function csvText(
  g: GridEdit,
  style: { delimiter: string; eol: string; bom: boolean; finalEol: boolean },
): { text: string; lines: number[] } {
  const lines: number[] = [];
  let line = 1;
  const out: string[] = [];
  for (const [i, r] of [g.header, ...g.rows].entries()) {
    if (i > 0) lines.push(line);
    const rec = r.map((c) => csvField(c, style.delimiter)).join(style.delimiter);
    out.push(rec);
    line += 1 + (rec.match(/\r\n|\r|\n/g)?.length ?? 0);
  }
  const body = out.join(style.eol) + (style.finalEol ? style.eol : "");
  return { text: (style.bom ? "\uFEFF" : "") + body, lines };
}

function csvStyle(full: string, delimiter: string | undefined) {
  const t = existsSync(full) ? readFileSync(full, "utf8") : "";
  let found = delimiter;
  if (found === undefined && t !== "") {
    try {
      // The delimiter silico detected in the file (`;` from spreadsheets in many locales).
      found = readStimulusTable(full, basename(full)).delimiter;
    } catch {
      // An unreadable file is rewritten with commas.
    }
  }
  return {
    delimiter: found ?? ",",
    eol: /\r\n/.test(t) ? "\r\n" : "\n",
    bom: t.charCodeAt(0) === 0xfeff,
    finalEol: t === "" || /[\r\n]$/.test(t),
  };
}

// ---- XLSX (exceljs, as silico reads them) ----

/** A cell as written to a workbook: numbers spelled as numbers become numbers (silico reads both the same). */
function xlsxValue(v: string): string | number | null {
  const t = v.trim();
  if (v === "") return null;
  if (/^-?\d+(\.\d+)?$/.test(t) && String(Number(t)) === t) return Number(t);
  return v;
}

/**
 * Writes the grid into the sheet of a workbook (the others, and the sheet's formatting, kept):
 * the header at the row it was on, the rows right below it, the old rows below cleared.
 */
async function writeXlsx(from: string | undefined, to: string, sheetName: string | undefined, g: GridEdit) {
  const wb = new ExcelJS.Workbook();
  if (from && existsSync(from)) await wb.xlsx.readFile(from);
  let ws = sheetName !== undefined ? wb.getWorksheet(sheetName) : wb.worksheets[0];
  if (!ws) ws = wb.addWorksheet(sheetName ?? "Sheet1");
  let headerRow = 1;
  for (let r = 1; r <= ws.rowCount; r++) {
    const row = ws.getRow(r);
    if (
      Array.isArray(row.values) &&
      row.values.some((c) => c !== null && c !== undefined && String(c).trim() !== "")
    ) {
      headerRow = r;
      break;
    }
  }
  const last = Math.max(ws.rowCount, headerRow + g.rows.length);
  const width = Math.max(ws.columnCount, g.header.length, ...g.rows.map((r) => r.length));
  for (let r = headerRow; r <= last; r++) {
    const cells = r === headerRow ? g.header : g.rows[r - headerRow - 1];
    const row = ws.getRow(r);
    for (let c = 1; c <= width; c++) row.getCell(c).value = cells ? xlsxValue(cells[c - 1] ?? "") : null;
  }
  await wb.xlsx.writeFile(to);
  return { sheet: ws.name, headerRow };
}

// ---- placing problems on the grid ----

function columnOf(message: string, header: string[]): number {
  const m = /^column (\d+) has values/.exec(message);
  if (m) return Number(m[1]) - 1;
  const named = /column "([^"]+)"/.exec(message);
  if (named) return header.findIndex((h) => h.toLowerCase() === named[1]?.toLowerCase());
  // "Item is empty", "Run must be…", "Prompt: …" start with the column's header.
  const byName = header
    .map((h, i) => ({ h, i }))
    .filter(({ h }) => h !== "" && (message.startsWith(`${h} `) || message.startsWith(`${h}:`)))
    .sort((a, b) => b.h.length - a.h.length)[0];
  return byName ? byName.i : -1;
}

/** The problems that belong to the grid, placed at their row (and column, where the message names one). */
export function placeProblems(
  problems: Problem[],
  header: string[],
  rowWhere: string[],
  headerWhere: string | undefined,
  inline: boolean,
  file?: string,
): CellProblem[] {
  const out: CellProblem[] = [];
  for (const p of problems) {
    if (inline) {
      const m = /(?:^|: )stimuli\[(\d+)\](?:\.(.+))?$/.exec(p.where);
      if (!m) continue;
      const col = m[2] !== undefined ? header.indexOf(m[2]) : columnOf(p.message, header);
      out.push({ row: Number(m[1]), column: col, where: p.where, message: p.message });
      continue;
    }
    const row = rowWhere.indexOf(p.where);
    if (row >= 0) out.push({ row, column: columnOf(p.message, header), where: p.where, message: p.message });
    else if (p.where === headerWhere || (file !== undefined && p.where.startsWith(file)))
      out.push({ row: -1, column: columnOf(p.message, header), where: p.where, message: p.message });
  }
  return out;
}

/** Where silico names each row of a file it reads (`stimuli.csv:14`, `list.xlsx[Sheet1]:3`). */
function rowLocations(
  file: string,
  format: "csv" | "xlsx",
  lines: number[],
  sheet: string,
  headerRow: number,
) {
  if (format === "csv") return { rows: lines.map((l) => `${file}:${l}`), header: `${file}:1` };
  return {
    rows: lines.map((_, i) => `${file}[${sheet}]:${headerRow + 1 + i}`),
    header: `${file}[${sheet}]:${headerRow}`,
  };
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Compiles the study against an edited (unsaved) grid, exactly as `silico run` would read it: the
 * grid is written beside the real file under a hidden temporary name (so paths in prompts resolve
 * alike), the study is pointed at it, and the temporary name is put back to the real one in every
 * location and message. The file is removed before this returns.
 */
export async function withEditedGrid<T>(
  files: ProjectFiles,
  studyPath: string,
  text: string,
  grid: GridEdit,
  compile: (text: string, full: string) => CheckResult,
  use: (r: CheckResult) => Promise<T> | T,
): Promise<{ value: T; cells: CellProblem[] }> {
  const d = studyData(text);
  const studyFull = files.resolve(studyPath);
  const ref = d && d.kind === "stimuli" ? fileRef(files, studyFull, d) : undefined;
  if (!ref) throw new HttpError(400, "the study names no stimulus file (stimuli: FILE.csv or .xlsx)");
  const ext = extname(ref.full);
  const tempBase = `.${basename(ref.full, ext)}.studio-${randomBytes(6).toString("hex")}${ext}`;
  const temp = join(dirname(ref.full), tempBase);
  const named = posix.join(posix.dirname(ref.file.split("\\").join("/")), tempBase);
  let lines = grid.rows.map((_, i) => i + 2);
  let sheet = ref.sheet ?? "Sheet1";
  let headerRow = 1;
  try {
    if (ref.format === "csv") {
      const csv = csvText(grid, csvStyle(ref.full, ref.delimiter));
      lines = csv.lines;
      writeFileSync(temp, csv.text);
    } else {
      const w = await writeXlsx(ref.full, temp, ref.sheet, grid);
      sheet = w.sheet;
      headerRow = w.headerRow;
    }
    const pointed = applyStudyEdits(text, [{ op: "set", path: ["stimuli"], value: named, as: "text" }]);
    const r = compile(pointed, studyFull);
    const fix = (s: string) => s.replace(new RegExp(escapeRe(named), "g"), ref.file);
    const result: CheckResult = r.ok
      ? r
      : {
          ok: false,
          problems: r.problems.map((p) => ({ ...p, where: fix(p.where), message: fix(p.message) })),
        };
    const at = rowLocations(ref.file, ref.format, lines, sheet, headerRow);
    const cells = result.ok
      ? []
      : placeProblems(result.problems, grid.header, at.rows, at.header, false, ref.file);
    const value = await use(result);
    return { value, cells };
  } finally {
    rmSync(temp, { force: true });
  }
}

/** Problems of a study whose stimuli are inline rows, placed on its grid. */
export function inlineCells(r: CheckResult, grid: StimulusGrid | null): CellProblem[] {
  if (r.ok || !grid || grid.source !== "inline") return [];
  return placeProblems(r.problems, grid.header, [], undefined, true);
}

/** Writes the grid into the study's stimulus file, in its format; answers the file as read back. */
export async function saveGrid(
  files: ProjectFiles,
  studyPath: string,
  text: string,
  grid: GridEdit,
): Promise<StimulusGrid> {
  const d = studyData(text);
  const ref = d && d.kind === "stimuli" ? fileRef(files, files.resolve(studyPath), d) : undefined;
  if (!ref) throw new HttpError(400, "the study names no stimulus file (stimuli: FILE.csv or .xlsx)");
  const before = readGrid(files, studyPath, text);
  if (before?.error !== undefined && !/is empty/.test(before.error))
    throw new HttpError(409, `${before.error}; the studio does not overwrite a file it cannot read`);
  mkdirSync(dirname(ref.full), { recursive: true });
  if (ref.format === "csv") {
    const { text: csv } = csvText(grid, csvStyle(ref.full, ref.delimiter));
    if (csv.length > MAX_TABLE) throw new HttpError(413, "a stimulus file is at most 50 MB here");
    writeFileSync(ref.full, csv);
  } else {
    // Written whole to a sibling first, then moved over: a failed write leaves the old file.
    const temp = join(
      dirname(ref.full),
      `.${basename(ref.full)}.studio-${randomBytes(6).toString("hex")}.xlsx`,
    );
    try {
      await writeXlsx(ref.full, temp, ref.sheet, grid);
      renameSync(temp, ref.full);
    } finally {
      rmSync(temp, { force: true });
    }
  }
  return readGrid(files, studyPath, text) as StimulusGrid;
}
