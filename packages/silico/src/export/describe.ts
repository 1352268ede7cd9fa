import type { ExportTable } from "./table.js";

/** The column dictionary as printed by `silico data RUN --describe`. */
export function describeLines(table: Pick<ExportTable, "columns">): string[] {
  const nameWidth = Math.max(4, ...table.columns.map((c) => c.name.length));
  const typeWidth = Math.max(4, ...table.columns.map((c) => c.type.length));
  return [
    `${"name".padEnd(nameWidth)}  ${"type".padEnd(typeWidth)}  meaning`,
    ...table.columns.map((c) => `${c.name.padEnd(nameWidth)}  ${c.type.padEnd(typeWidth)}  ${c.meaning}`),
  ];
}

/** The `<file>.columns.json` written beside a file export. */
export function columnsJson(runId: string, format: string, table: ExportTable): string {
  return `${JSON.stringify({ run: runId, layout: table.layout, format, columns: table.columns }, null, 2)}\n`;
}
