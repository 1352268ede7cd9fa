import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The package's data/ folder (beside src/ and dist/), for tables users may edit. */
export const DATA_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "data");

export function readDataFile<T>(name: string): T {
  return JSON.parse(readFileSync(resolve(DATA_DIR, name), "utf8")) as T;
}

export const SILICO_VERSION: string = (
  JSON.parse(readFileSync(resolve(DATA_DIR, "..", "package.json"), "utf8")) as { version: string }
).version;
