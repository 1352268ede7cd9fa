import type { ProblemList } from "../../errors.js";
import { TIDY_COLUMNS } from "../../export/tidy-rows.js";
import { type PromptSegment, splitPrompt } from "./prompt-parts.js";
import type { StimulusTable, TableCell } from "./stimulus-table.js";

export type Cell = string | number | boolean | null;

/** The five stimulus columns (MacBehaviour's names) and whether a file must have them. */
export const FIELDS = {
  run: { header: "Run", required: true },
  item: { header: "Item", required: true },
  event: { header: "Event", required: false },
  condition: { header: "Condition", required: true },
  prompt: { header: "Prompt", required: true },
} as const;
export type Field = keyof typeof FIELDS;

/**
 * Column names every observation already has (tidy export columns and this design's
 * coordinates); an extra stimulus column may not reuse them (compared without case).
 */
/** Coordinates of this design, in export order; extra stimulus columns follow. */
export const STIMULI_COORDINATES = [
  "model",
  "repetition",
  "list",
  "trial",
  "item",
  "event",
  "position",
  "condition",
];

export const RESERVED_COLUMNS = [...new Set([...TIDY_COLUMNS, ...STIMULI_COORDINATES, "prompt", "draw"])];

export interface StimulusRow {
  where: string;
  list: number;
  item: number;
  event: number;
  condition: Cell;
  /** The prompt as written in the file. */
  prompt: string;
  segments: PromptSegment[];
  /** Values of the extra columns, by header. */
  extra: Record<string, Cell>;
}

export interface StimulusItem {
  item: number;
  /** Sorted by Event number. */
  events: StimulusRow[];
}

export interface StimulusList {
  /** The Run column's value. */
  list: number;
  /** In the order the items first appear in the file. */
  items: StimulusItem[];
}

export interface StimulusSet {
  lists: StimulusList[];
  rows: StimulusRow[];
  extraColumns: string[];
  /** Every Event number present. */
  eventNumbers: Set<number>;
}

/**
 * Maps columns (case-insensitively, after `columns:` renames), checks every row and groups the
 * rows into lists (runs) of items of events. Problems are added with the row's own location;
 * returns undefined when the columns themselves are unusable.
 */
export function readStimulusRows(
  table: StimulusTable,
  names: Record<Field, string>,
  mappedWhere: Partial<Record<Field, string>>,
  baseDir: string,
  problems: ProblemList,
): StimulusSet | undefined {
  const lower = table.header.map((h) => h.toLowerCase());
  const present = table.header.filter((h) => h !== "");
  const seenHeaders = new Map<string, number>();
  table.header.forEach((h, i) => {
    if (h === "") return;
    const prev = seenHeaders.get(h.toLowerCase());
    if (prev !== undefined)
      problems.add(table.headerWhere, `column "${h}" appears twice (columns ${prev + 1} and ${i + 1})`);
    else seenHeaders.set(h.toLowerCase(), i);
  });
  const index = {} as Record<Field, number>;
  let columnsOk = true;
  for (const field of Object.keys(FIELDS) as Field[]) {
    const want = names[field];
    const i = lower.indexOf(want.toLowerCase());
    index[field] = i;
    if (i < 0 && FIELDS[field].required) {
      columnsOk = false;
      const how = mappedWhere[field]
        ? `(named by ${mappedWhere[field]})`
        : `(map another column to it with columns: {${field}: NAME})`;
      problems.add(
        table.headerWhere,
        `no column "${want}" ${how}; the file has: ${present.map((h) => JSON.stringify(h)).join(", ") || "no named columns"}`,
      );
    } else if (i < 0 && mappedWhere[field]) {
      columnsOk = false;
      problems.add(
        table.headerWhere,
        `no column "${want}" (named by ${mappedWhere[field]}); the file has: ${present.join(", ")}`,
      );
    }
  }
  if (!columnsOk) return undefined;

  const used = new Set(Object.values(index).filter((i) => i >= 0));
  const extras: { name: string; i: number }[] = [];
  table.header.forEach((h, i) => {
    if (used.has(i)) return;
    if (h === "") {
      const r = table.rows.find((row) => !blank(row.cells[i]));
      if (r) problems.add(r.where, `column ${i + 1} has values but no header`);
      return;
    }
    if (RESERVED_COLUMNS.includes(h.toLowerCase())) {
      problems.add(
        table.headerWhere,
        `extra column "${h}" would clash with the data column "${h.toLowerCase()}"; rename it in the file`,
      );
      return;
    }
    extras.push({ name: h, i });
  });

  const rows: StimulusRow[] = [];
  const seen = new Map<string, string>();
  for (const r of table.rows) {
    if (r.width > table.header.length && r.cells.slice(table.header.length).some((c) => !blank(c))) {
      problems.add(
        r.where,
        `has ${r.width} fields but the header has ${table.header.length} (a delimiter or quote is off?)`,
      );
      continue;
    }
    const label = (f: Field) => table.header[index[f]] ?? FIELDS[f].header;
    const integer = (f: Field, fallback?: number): number | undefined => {
      if (index[f] < 0) return fallback;
      const v = r.cells[index[f]];
      if (blank(v)) {
        problems.add(r.where, `${label(f)} is empty`);
        return undefined;
      }
      const n =
        typeof v === "number"
          ? v
          : typeof v === "string" && /^\s*\d+(\.0*)?\s*$/.test(v)
            ? Number(v)
            : Number.NaN;
      if (!Number.isInteger(n) || n < 0) {
        problems.add(r.where, `${label(f)} must be a whole number ≥ 0, got ${JSON.stringify(v)}`);
        return undefined;
      }
      return n;
    };
    const list = integer("run");
    const item = integer("item");
    const event = integer("event", 1);
    const promptCell = r.cells[index.prompt];
    const prompt = blank(promptCell) ? "" : String(promptCell);
    if (prompt.trim() === "") problems.add(r.where, `${label("prompt")} is empty`);
    let segments: PromptSegment[] = [];
    if (prompt.trim() !== "") {
      try {
        segments = splitPrompt(prompt, baseDir);
      } catch (e) {
        problems.add(r.where, `${label("prompt")}: ${(e as Error).message}`);
      }
    }
    if (list === undefined || item === undefined || event === undefined || prompt.trim() === "") continue;
    const key = `${list}/${item}/${event}`;
    const before = seen.get(key);
    if (before !== undefined) {
      problems.add(
        r.where,
        `duplicate ${label("run")} ${list}, ${label("item")} ${item}, ${index.event >= 0 ? `${label("event")} ${event}` : "Event 1 (no Event column)"} (first at ${before})`,
      );
      continue;
    }
    seen.set(key, r.where);
    const extra: Record<string, Cell> = {};
    for (const x of extras) extra[x.name] = cellValue(r.cells[x.i], table.format === "csv");
    rows.push({
      where: r.where,
      list,
      item,
      event,
      condition: cellValue(r.cells[index.condition], table.format === "csv"),
      prompt,
      segments,
      extra,
    });
  }
  if (rows.length === 0 && problems.ok)
    problems.add(table.headerWhere, "the stimulus file has a header but no rows");

  const lists: StimulusList[] = [];
  for (const row of rows) {
    let list = lists.find((l) => l.list === row.list);
    if (!list) {
      list = { list: row.list, items: [] };
      lists.push(list);
    }
    let item = list.items.find((it) => it.item === row.item);
    if (!item) {
      item = { item: row.item, events: [] };
      list.items.push(item);
    }
    item.events.push(row);
  }
  for (const l of lists) for (const it of l.items) it.events.sort((a, b) => a.event - b.event);
  return {
    lists,
    rows,
    extraColumns: extras.map((x) => x.name),
    eventNumbers: new Set(rows.map((r) => r.event)),
  };
}

function blank(c: TableCell | undefined): boolean {
  return c === null || c === undefined || (typeof c === "string" && c.trim() === "");
}

/**
 * A cell as a data value: empty → null; CSV text that is exactly a number's own spelling
 * ("12", "0.5", not "007" or "1e3") becomes that number, so numeric item properties stay numeric.
 */
export function cellValue(c: TableCell | undefined, fromText: boolean): Cell {
  if (blank(c)) return null;
  if (typeof c !== "string") return c as Cell;
  const t = c.trim();
  if (fromText && /^-?\d+(\.\d+)?$/.test(t) && String(Number(t)) === t) return Number(t);
  return c;
}
