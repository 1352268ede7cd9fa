import { parseCsv } from "../designs/stimuli/csv-reader.js";
import type { Cell } from "./tidy-rows.js";

/** oTree's wide export (`/api/export_wide`) as read: its header and one row per participant. */
export interface WideTable {
  columns: string[];
  rows: Cell[][];
}

/** The column of oTree's wide export that names the participant. */
export const PARTICIPANT_CODE = "participant.code";

/** Reads oTree's wide CSV. A file without `participant.code` is not oTree's wide export. */
export function parseWideExport(csv: string): WideTable {
  const { records } = parseCsv(csv, ",");
  const header = records[0]?.fields ?? [];
  if (!header.includes(PARTICIPANT_CODE)) {
    throw new Error(
      `oTree's wide export has no "${PARTICIPANT_CODE}" column (got: ${header.slice(0, 5).join(", ")} …)`,
    );
  }
  const rows = records
    .slice(1)
    .filter((r) => !(r.fields.length === 1 && r.fields[0] === ""))
    .map((r) => header.map((_, i) => r.fields[i] ?? ""));
  return { columns: header, rows };
}

/**
 * Adds silico's columns to oTree's rows, matched on the participant code: a human's row keeps
 * oTree's columns and gets empty silico columns; a bot oTree did not export still gets a row
 * (with only its code), so no bot answer goes missing from the joined file.
 */
export function joinOnParticipantCode(
  table: WideTable,
  silicoColumns: ReadonlyMap<string, Record<string, Cell>>,
): WideTable {
  const names: string[] = [];
  const seen = new Set<string>(table.columns);
  for (const cols of silicoColumns.values()) {
    for (const name of Object.keys(cols)) {
      if (!seen.has(name)) {
        seen.add(name);
        names.push(name);
      }
    }
  }
  const codeAt = table.columns.indexOf(PARTICIPANT_CODE);
  const joined = new Set<string>();
  const rows = table.rows.map((row) => {
    const code = String(row[codeAt] ?? "");
    const cols = silicoColumns.get(code);
    if (cols) joined.add(code);
    return [...row, ...names.map((n) => cols?.[n] ?? null)];
  });
  for (const [code, cols] of silicoColumns) {
    if (joined.has(code)) continue;
    const row: Cell[] = table.columns.map((c) => (c === PARTICIPANT_CODE ? code : null));
    rows.push([...row, ...names.map((n) => cols[n] ?? null)]);
  }
  return { columns: [...table.columns, ...names], rows };
}
