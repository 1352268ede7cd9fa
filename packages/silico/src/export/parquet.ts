import { typedValue } from "./column-types.js";
import type { ExportTable } from "./table.js";

/** Rows held in memory at once: one Parquet row group per chunk keeps large runs bounded. */
const CHUNK_ROWS = 50_000;

const PHYSICAL = {
  integer: { type: "INT64" },
  number: { type: "DOUBLE" },
  boolean: { type: "BOOLEAN" },
  // JSON columns are UTF-8 text holding JSON: every reader opens them as strings.
  string: { type: "BYTE_ARRAY", converted_type: "UTF8" },
  json: { type: "BYTE_ARRAY", converted_type: "UTF8" },
} as const;

/**
 * Writes an export table as a Parquet file with one typed, nullable column per table column
 * (integer → INT64, number → DOUBLE, boolean → BOOLEAN, string and json → UTF-8 text). The column
 * dictionary is kept in the file's key-value metadata under `silico.columns`.
 */
export async function writeParquet(table: ExportTable, path: string): Promise<number> {
  // Loaded only when a Parquet file is written.
  const { ParquetWriter, fileWriter } = await import("hyparquet-writer");
  const schema = [
    { name: "root", num_children: table.columns.length },
    ...table.columns.map((c) => ({
      name: c.name,
      repetition_type: "OPTIONAL" as const,
      ...PHYSICAL[c.type],
    })),
  ];
  const writer = new ParquetWriter({
    writer: fileWriter(path),
    schema,
    kvMetadata: [{ key: "silico.columns", value: JSON.stringify(table.columns) }],
    createdBy: "silico",
  });
  let chunk: (string | number | bigint | boolean | null)[][] = table.columns.map(() => []);
  let inChunk = 0;
  let n = 0;
  const flush = async () => {
    if (inChunk === 0) return;
    await writer.write({
      columnData: table.columns.map((c, i) => ({ name: c.name, data: chunk[i] as never[] })),
      rowGroupSize: CHUNK_ROWS,
    });
    chunk = table.columns.map(() => []);
    inChunk = 0;
  };
  for (const r of table.rows()) {
    table.columns.forEach((c, i) => {
      const v = typedValue(r[c.name], c.type);
      // INT64 columns take bigints (integer columns hold only safe integers, so this is exact).
      (chunk[i] as unknown[]).push(c.type === "integer" && typeof v === "number" ? BigInt(v) : v);
    });
    n++;
    if (++inChunk >= CHUNK_ROWS) await flush();
  }
  await flush();
  await writer.finish();
  return n;
}
