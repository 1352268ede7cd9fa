import { ConfigError, type ProblemList } from "../errors.js";
import { closestWord } from "../did-you-mean.js";
import { type AiSdkFlavour, AiSdkModel } from "./ai-sdk-model.js";
import { type LocalDecodeSettings, type LocalModelOptions, loadLocalModelPackage } from "./local-package.js";
import { builtinResponder, isKnownMock, MockModel } from "./mock-model.js";
import { loadDotEnv, registerKeyEnvVar, registerSecret } from "./secrets.js";
import {
  builtinProviderNames,
  capabilitiesOf,
  registeredProvider,
  registeredProviderNames,
  splitModelId,
} from "./providers.js";
import type { Model } from "./types.js";

export {
  capabilitiesOf,
  type ProviderCapabilities,
  type ProviderFactory,
  registerProvider,
  splitModelId,
  unregisterProvider,
} from "./providers.js";

/** A named endpoint declared in a study (`providers:`), e.g. a vLLM or Ollama server. */
export interface ProviderConfig {
  type: AiSdkFlavour;
  baseURL?: string;
  keyEnv?: string;
}

interface BuiltinProvider {
  flavour: AiSdkFlavour;
  keyEnv: string[];
  baseUrlEnv?: string;
  keyRequired: boolean;
}

const BUILTIN: Record<string, BuiltinProvider> = {
  openai: { flavour: "openai", keyEnv: ["OPENAI_API_KEY"], baseUrlEnv: "OPENAI_BASE_URL", keyRequired: true },
  anthropic: {
    flavour: "anthropic",
    keyEnv: ["ANTHROPIC_API_KEY"],
    baseUrlEnv: "ANTHROPIC_BASE_URL",
    keyRequired: true,
  },
  google: {
    flavour: "google",
    keyEnv: ["GOOGLE_GENERATIVE_AI_API_KEY", "GEMINI_API_KEY"],
    baseUrlEnv: "GOOGLE_BASE_URL",
    keyRequired: true,
  },
  openrouter: {
    flavour: "openrouter",
    keyEnv: ["OPENROUTER_API_KEY"],
    baseUrlEnv: "OPENROUTER_BASE_URL",
    keyRequired: true,
  },
  "openai-compatible": {
    flavour: "openai-compatible",
    keyEnv: ["OPENAI_COMPATIBLE_API_KEY"],
    baseUrlEnv: "OPENAI_COMPATIBLE_BASE_URL",
    keyRequired: false,
  },
};

const DEFAULT_BASE_URL: Partial<Record<AiSdkFlavour, string>> = { openai: "https://api.openai.com/v1" };

export interface ModelResolverOptions {
  providers?: Record<string, ProviderConfig>;
  local?: LocalModelOptions;
  /**
   * The model facts a run recorded (`manifest.models`). A resumed run's local models decode with
   * the recorded settings, whatever the current defaults or options.
   */
  recorded?: Record<string, unknown>;
  /** Factory for `human` participants (terminal by default; the CLI supplies it). */
  human?: (id: string) => Model;
  /**
   * Keys and endpoints by variable name (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, a provider's
   * `key_env` …). When given, keys are read from here only, never from process.env or .env; they
   * are scrubbed from errors like environment keys and never stored.
   */
  apiKeys?: Readonly<Record<string, string>>;
  /** The fetch used for provider calls and model listings (default: silico's node:http fetch). */
  fetch?: typeof globalThis.fetch;
}

/** The decode settings recorded for a local model (`info.manifest.decode`), if any. */
export function recordedDecode(info: unknown): LocalDecodeSettings {
  const decode = (info as { manifest?: { decode?: unknown } } | undefined)?.manifest?.decode;
  if (!decode || typeof decode !== "object") return {};
  const out: LocalDecodeSettings = {};
  for (const key of ["sequences", "promptBlock", "contextSize", "batchSize"] as const) {
    const v = (decode as Record<string, unknown>)[key];
    if (typeof v === "number" && Number.isInteger(v) && v > 0) out[key] = v;
  }
  return out;
}

export function knownProviders(providers: Record<string, ProviderConfig> = {}): string[] {
  return [...new Set([...builtinProviderNames(), ...registeredProviderNames(), ...Object.keys(providers)])];
}

/** Static check of a model id, for study validation (no network, no keys). */
export function checkModelId(
  id: unknown,
  where: string,
  problems: ProblemList,
  providers: Record<string, ProviderConfig> = {},
): boolean {
  if (typeof id !== "string" || id.trim() === "") {
    problems.add(where, 'must be a model id like "openai:gpt-4o-mini" or "local:smollm2-135m"');
    return false;
  }
  const parts = splitModelId(id);
  if (!parts) {
    problems.add(where, `"${id}" is not of the form provider:model (e.g. "openai:gpt-4o-mini")`);
    return false;
  }
  const known = knownProviders(providers);
  if (!known.includes(parts.provider)) {
    const suggestion = closestWord(parts.provider, known);
    problems.add(
      where,
      `unknown provider "${parts.provider}"${suggestion ? ` (did you mean "${suggestion}"?)` : ""}; known: ${known.join(", ")}`,
    );
    return false;
  }
  if (parts.provider === "mock" && !isKnownMock(parts.name)) {
    problems.add(
      where,
      `unknown mock script "${parts.name}" (use echo, random, example, fixed:TEXT or script:A|B)`,
    );
    return false;
  }
  return true;
}

/**
 * Resolves model ids to live models, once per run: a local model is loaded once and shared by
 * every session. Missing keys are reported before any call, naming the variable.
 */
export class ModelPool {
  private readonly models = new Map<string, Promise<Model>>();
  constructor(private readonly options: ModelResolverOptions = {}) {
    if (!options.apiKeys) loadDotEnv();
    for (const p of Object.values(options.providers ?? {})) if (p.keyEnv) registerKeyEnvVar(p.keyEnv);
    for (const v of Object.values(options.apiKeys ?? {})) registerSecret(v);
  }

  /** A key or endpoint variable: from `apiKeys` when given (keys only from there), else the environment. */
  private env(name: string): string | undefined {
    const given = this.options.apiKeys;
    if (!given) return process.env[name];
    const v = Object.hasOwn(given, name) ? given[name] : undefined;
    if (v !== undefined && v !== "") return v;
    // Endpoints may still come from the environment; keys may not.
    return /_API_KEY$|_KEY$|TOKEN$/.test(name) || this.isKeyVar(name) ? undefined : process.env[name];
  }

  private isKeyVar(name: string): boolean {
    if (Object.values(BUILTIN).some((b) => b.keyEnv.includes(name))) return true;
    return Object.values(this.options.providers ?? {}).some((p) => p.keyEnv === name);
  }

  /** The fetch given to the pool, if any (model listings use it too). */
  get fetch(): typeof globalThis.fetch | undefined {
    return this.options.fetch;
  }

  /** Throws ConfigError for every id whose key is missing. Call before the first call of a run. */
  checkCredentials(ids: string[]): void {
    const missing: string[] = [];
    for (const id of new Set(ids)) {
      const parts = splitModelId(id);
      if (!parts) continue;
      const custom = this.options.providers?.[parts.provider];
      if (custom) {
        if (custom.keyEnv && !this.env(custom.keyEnv)) missing.push(`${id} needs ${custom.keyEnv}`);
        if (!custom.baseURL) missing.push(`${id}: provider "${parts.provider}" has no base_url`);
        continue;
      }
      const b = BUILTIN[parts.provider];
      if (!b) continue;
      if (b.keyRequired && !b.keyEnv.some((k) => this.env(k))) {
        missing.push(
          `${id} needs an API key: set ${b.keyEnv.join(" or ")} in the environment or in a .env file`,
        );
      }
      if (parts.provider === "openai-compatible" && !this.env("OPENAI_COMPATIBLE_BASE_URL")) {
        missing.push(
          `${id}: set OPENAI_COMPATIBLE_BASE_URL (e.g. http://127.0.0.1:8000/v1), or declare a named provider with base_url in the study`,
        );
      }
    }
    if (missing.length > 0) throw new ConfigError("missing_credentials", missing.join("\n"));
  }

  get(id: string): Promise<Model> {
    let m = this.models.get(id);
    if (!m) {
      m = this.create(id).then((model) => {
        // Every model carries its provider's capabilities, built-in or registered.
        const capabilities = capabilitiesOf(id, this.options.providers);
        if (capabilities && !model.info.capabilities) model.info.capabilities = capabilities;
        return model;
      });
      this.models.set(id, m);
      m.catch(() => this.models.delete(id));
    }
    return m;
  }

  /**
   * Where an OpenAI-style provider lists its models (`GET {baseURL}/models`), for checking ids
   * before the first call. Undefined for providers without such a listing or with no key set.
   */
  listingEndpoint(id: string): { baseURL: string; apiKey?: string; name: string } | undefined {
    const parts = splitModelId(id);
    if (!parts) return undefined;
    const custom = this.options.providers?.[parts.provider];
    let flavour: AiSdkFlavour | undefined;
    let baseURL: string | undefined;
    let apiKey: string | undefined;
    if (custom) {
      flavour = custom.type;
      baseURL = custom.baseURL;
      apiKey = custom.keyEnv ? this.env(custom.keyEnv) : undefined;
    } else {
      const b = BUILTIN[parts.provider];
      if (!b) return undefined;
      flavour = b.flavour;
      baseURL = (b.baseUrlEnv ? this.env(b.baseUrlEnv) : undefined) ?? DEFAULT_BASE_URL[b.flavour];
      const keyEnv = b.keyEnv.find((k) => this.env(k));
      apiKey = keyEnv ? this.env(keyEnv) : undefined;
      if (b.keyRequired && !apiKey) return undefined;
    }
    // OpenRouter ids take variant suffixes (":free", ":online") that its listing does not spell out.
    if (!baseURL || (flavour !== "openai" && flavour !== "openai-compatible")) return undefined;
    return { baseURL, ...(apiKey ? { apiKey } : {}), name: parts.name };
  }

  private async create(id: string): Promise<Model> {
    const parts = splitModelId(id);
    if (!parts) throw new ConfigError("model_id", `"${id}" is not of the form provider:model`);
    const { provider, name } = parts;
    if (provider === "mock") {
      const responder = builtinResponder(name);
      if (!responder) throw new ConfigError("model_id", `unknown mock script "${name}"`);
      return new MockModel(id, responder);
    }
    if (provider === "human") {
      if (!this.options.human) throw new ConfigError("model_id", "human participants need a terminal");
      return this.options.human(id);
    }
    if (provider === "local") {
      const local = await loadLocalModelPackage();
      return local.createLocalModel(name, {
        ...this.options.local,
        ...recordedDecode(this.options.recorded?.[id]),
      });
    }
    const custom = this.options.providers?.[provider];
    if (custom) {
      return new AiSdkModel({
        flavour: custom.type,
        id,
        modelName: name,
        ...(custom.keyEnv && this.env(custom.keyEnv) ? { apiKey: this.env(custom.keyEnv) } : {}),
        ...(custom.keyEnv ? { keyEnv: custom.keyEnv } : {}),
        ...(custom.baseURL ? { baseURL: custom.baseURL } : {}),
        ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
      });
    }
    // A study's own `providers:` entry wins over a registered provider of the same name, as in capabilitiesOf.
    const plugged = registeredProvider(provider);
    if (plugged) return plugged.factory(name, id);
    const b = BUILTIN[provider];
    if (!b) throw new ConfigError("model_id", `unknown provider "${provider}"`);
    const keyEnv = b.keyEnv.find((k) => this.env(k)) ?? b.keyEnv[0];
    const apiKey = keyEnv ? this.env(keyEnv) : undefined;
    if (b.keyRequired && !apiKey) {
      throw new ConfigError(
        "missing_credentials",
        `${id} needs an API key: set ${b.keyEnv.join(" or ")} in the environment or in a .env file`,
      );
    }
    const baseURL = b.baseUrlEnv ? this.env(b.baseUrlEnv) : undefined;
    return new AiSdkModel({
      flavour: b.flavour,
      id,
      modelName: name,
      ...(apiKey ? { apiKey } : {}),
      ...(keyEnv ? { keyEnv } : {}),
      ...(baseURL ? { baseURL } : {}),
      ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
    });
  }

  async closeAll(): Promise<void> {
    const all = [...this.models.values()];
    this.models.clear();
    for (const p of all) {
      try {
        const m = await p;
        await m.close?.();
      } catch {
        // a model that failed to load has nothing to release
      }
    }
  }
}
