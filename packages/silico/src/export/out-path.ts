import { accessSync, constants, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
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
