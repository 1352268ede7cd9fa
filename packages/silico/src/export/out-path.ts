import { accessSync, constants, statSync } from "node:fs";
import { dirname, extname, resolve } from "node:path";
import { ConfigError } from "../errors.js";

/**
 * Checks `--out FILE` before anything is read or written, so that a file that cannot be written
 * is a bad flag (exit 2, nothing written) rather than a fault halfway through: its folder must
 * exist and be writable, it must not be a folder, nor the store being read (or its WAL files).
 * `flag` names the option in messages.
 */
export function checkOutPath(out: string, store?: string, flag = "--out"): void {
  const full = resolve(out);
  const at = `${flag} ${out}`;
  if (out.trim() === "") throw new ConfigError("bad_flag", `${flag} needs a file name`);
  if (store !== undefined && store !== ":memory:") {
    const db = resolve(store);
    if (full === db || full === `${db}-wal` || full === `${db}-shm` || full === `${db}-journal`)
      throw new ConfigError("bad_flag", `${at}: that is the store being read; write to another file`);
  }
  const existing = statOf(full);
  if (existing?.isDirectory() || /[\\/]$/.test(out))
    throw new ConfigError(
      "bad_flag",
      `${at}: is a folder; name a file in it (e.g. ${flag} ${full.replace(/[\\/]+$/, "")}/data.csv)`,
    );
  const folder = dirname(full);
  const parent = statOf(folder);
  if (!parent) throw new ConfigError("bad_flag", `${at}: the folder ${folder} does not exist`);
  if (!parent.isDirectory()) throw new ConfigError("bad_flag", `${at}: ${folder} is not a folder`);
  if (!writable(existing ? full : folder))
    throw new ConfigError(
      "bad_flag",
      existing
        ? `${at}: the file exists and may not be written`
        : `${at}: the folder ${folder} may not be written`,
    );
}

function statOf(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** What a file name's extension says it holds. */
const EXTENSIONS: Record<string, string> = {
  ".csv": "csv",
  ".jsonl": "jsonl",
  ".ndjson": "jsonl",
  ".json": "jsonl",
  ".xlsx": "xlsx",
  ".parquet": "parquet",
  ".pq": "parquet",
};

/** What each format writes, as far as the extension goes (ego and otree write CSV). */
const WRITES: Record<string, string> = { ego: "csv", otree: "csv" };

/**
 * A file name whose extension promises another format than the one written (`--out data.xlsx`
 * with the default --format csv would be a CSV file named .xlsx, which a spreadsheet program
 * refuses): refused, naming the --format that fits. Unknown extensions are left alone.
 */
export function checkOutExtension(out: string, format: string): void {
  const ext = extname(out).toLowerCase();
  const promised = EXTENSIONS[ext];
  const written = WRITES[format] ?? format;
  if (promised === undefined || promised === written) return;
  throw new ConfigError(
    "bad_flag",
    `--out ${out} is named like a ${promised} file but --format ${format} writes ${written}; add --format ${promised} (or name the file ${out.slice(0, out.length - ext.length)}.${written})`,
  );
}
