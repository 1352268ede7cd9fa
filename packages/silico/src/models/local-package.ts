/**
 * The seam to the embedded local model. It lives in its own package (`@silico/local-model`), so
 * that silico installs without node-llama-cpp and its native binaries; it is imported on demand,
 * the first time a `local:` model is used or `silico models pull|list` runs. silico reaches it
 * only through this interface and the `Model` interface.
 */
import { ConfigError } from "../errors.js";
import type { Model } from "./types.js";

export const LOCAL_MODEL_PACKAGE = "@silico/local-model";

/**
 * How the local model decodes. `promptBlock` is the only setting that changes the numbers (and so
 * the answers): prompts are evaluated in blocks of that many tokens. The others change speed only.
 */
export interface LocalDecodeSettings {
  /** Sequences of the one context: calls decoded at the same time. */
  sequences?: number;
  /** Prompt tokens per evaluation block. */
  promptBlock?: number;
  /** Context size per sequence, in tokens. */
  contextSize?: number;
  /** Tokens per llama.cpp decode batch. */
  batchSize?: number;
}

export interface LocalModelOptions extends LocalDecodeSettings {
  /** Same as `sequences` (the older name). */
  parallel?: number;
  /** Progress lines while a catalog model is pulled on first use. */
  onPullProgress?: (message: string) => void;
  /** CPU threads for decoding (speed only). */
  threads?: number;
  /** Keep the evaluated prompt prefix in a sequence for the next call (speed only). */
  reusePrefix?: boolean;
  /** Overrides SILICO_HOME for the model cache. */
  home?: string;
}

/** A model file in the local cache. */
export interface LocalModelFile {
  name: string;
  file: string;
  path: string;
  size: number;
  sha256?: string;
  source: string;
}

/** What `@silico/local-model` exports for silico. */
export interface LocalModelPackage {
  createLocalModel(ref: string, options?: LocalModelOptions): Promise<Model>;
  listModels(): Promise<LocalModelFile[]>;
  pullModel(
    name: string,
    options?: { force?: boolean; onProgress?: (message: string) => void },
  ): Promise<LocalModelFile>;
  catalogEntry(name: string): object | undefined;
  loadCatalog(): Record<string, object>;
  modelsDir(): string;
}

let loading: Promise<LocalModelPackage> | undefined;

function isMissing(err: unknown, specifier: string): boolean {
  const e = err as { code?: string; message?: string };
  return (
    (e?.code === "ERR_MODULE_NOT_FOUND" || e?.code === "MODULE_NOT_FOUND") &&
    typeof e.message === "string" &&
    e.message.includes(`'${specifier}'`)
  );
}

/**
 * The local-model package, imported once. A missing package is a ConfigError (exit 2) naming what
 * to install; `specifier` is for tests.
 */
export function loadLocalModelPackage(specifier: string = LOCAL_MODEL_PACKAGE): Promise<LocalModelPackage> {
  if (specifier !== LOCAL_MODEL_PACKAGE) return importPackage(specifier);
  loading ??= importPackage(specifier);
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

async function importPackage(specifier: string): Promise<LocalModelPackage> {
  try {
    return (await import(specifier)) as LocalModelPackage;
  } catch (err) {
    if (isMissing(err, specifier)) {
      throw new ConfigError(
        "local_model_not_installed",
        `local: models need the package ${specifier}, which is not installed. ` +
          `Install it next to silico: npm install ${specifier}`,
      );
    }
    throw new ConfigError(
      "local_model_not_installed",
      `The package ${specifier} could not be loaded: ${(err as Error).message}. ` +
        `Reinstall it: npm install ${specifier}`,
    );
  }
}
