import { ConfigError } from "../errors.js";
import type { Model } from "./types.js";

/**
 * What a provider can do, as data: the rest of silico asks these questions here instead of
 * testing model ids by prefix, so a provider registered by a user is treated like a built-in one.
 */
export interface ProviderCapabilities {
  /**
   * "native": the provider takes a seed, sent only when the study sets `params.seed`;
   * "derived": every call gets a seed derived from the run seed (deterministic in-process models),
   * so a run is reproducible from its recorded seed; "none": no seed is ever sent.
   */
  seeding: "native" | "derived" | "none";
  /** Has a plain text-completion mode (`mode: completion`). */
  completionMode: boolean;
  /** Takes image input. */
  images: boolean;
  /** Can return token log probabilities. */
  logprobs: boolean;
  /** Costs nothing: calls are priced at 0 and never count against `--max-cost`. */
  free: boolean;
  /** Can constrain decoding to the parser's shape (grammars). */
  constrainedDecoding: boolean;
  /** An answer may be replayed from the cache. */
  cacheable: boolean;
  /** A person answers (terminal): no progress line, no cache. */
  interactive: boolean;
}

/** Builds the model `<provider>:<name>`; called once per model id and run. */
export type ProviderFactory = (name: string, id: string) => Model | Promise<Model>;

const REMOTE: ProviderCapabilities = {
  seeding: "native",
  completionMode: true,
  images: true,
  logprobs: true,
  free: false,
  constrainedDecoding: false,
  cacheable: true,
  interactive: false,
};

/** Built-in providers, and the API types a study's `providers:` entries can name. */
const BUILTIN_CAPABILITIES: Record<string, ProviderCapabilities> = {
  openai: REMOTE,
  "openai-compatible": REMOTE,
  openrouter: REMOTE,
  anthropic: { ...REMOTE, seeding: "none", completionMode: false, logprobs: false },
  google: { ...REMOTE, completionMode: false },
  local: {
    ...REMOTE,
    seeding: "derived",
    images: false,
    free: true,
    constrainedDecoding: true,
  },
  mock: { ...REMOTE, seeding: "derived", logprobs: false, free: true },
  human: {
    ...REMOTE,
    seeding: "none",
    completionMode: false,
    images: false,
    logprobs: false,
    free: true,
    cacheable: false,
    interactive: true,
  },
};

interface RegisteredProvider {
  factory: ProviderFactory;
  capabilities: ProviderCapabilities;
}

const registered = new Map<string, RegisteredProvider>();

const NAME = /^[a-z][a-z0-9_-]*$/;

/**
 * Plug in a provider: model ids `<name>:<model>` are then accepted in studies and built by
 * `factory`. `capabilities` may be partial; what is left out is taken as a paid remote API
 * (native seeding, cacheable, not free).
 */
export function registerProvider(
  name: string,
  factory: ProviderFactory,
  capabilities: Partial<ProviderCapabilities> = {},
): void {
  if (!NAME.test(name)) {
    throw new ConfigError(
      "provider_name",
      `provider name "${name}" must be lower-case letters, digits, "-" or "_", starting with a letter`,
    );
  }
  if (name in BUILTIN_CAPABILITIES) {
    throw new ConfigError("provider_name", `"${name}" is a built-in provider and cannot be replaced`);
  }
  registered.set(name, { factory, capabilities: { ...REMOTE, ...capabilities } });
}

/** Remove a provider added with registerProvider (tests, long-lived processes). */
export function unregisterProvider(name: string): void {
  registered.delete(name);
}

export function registeredProvider(name: string): RegisteredProvider | undefined {
  return registered.get(name);
}

export function builtinProviderNames(): string[] {
  return Object.keys(BUILTIN_CAPABILITIES);
}

export function registeredProviderNames(): string[] {
  return [...registered.keys()];
}

export function splitModelId(id: string): { provider: string; name: string } | undefined {
  if (id === "human") return { provider: "human", name: "terminal" };
  const i = id.indexOf(":");
  if (i <= 0 || i === id.length - 1) return undefined;
  return { provider: id.slice(0, i), name: id.slice(i + 1) };
}

/**
 * A model's capabilities from its id alone (nothing is loaded). `providers` are a study's named
 * endpoints, which have the capabilities of their API type. Undefined for an unknown provider.
 */
export function capabilitiesOf(
  modelId: string,
  providers: Record<string, { type: string }> = {},
): ProviderCapabilities | undefined {
  const provider = splitModelId(modelId)?.provider;
  if (provider === undefined) return undefined;
  const custom = providers[provider];
  if (custom) return BUILTIN_CAPABILITIES[custom.type];
  return BUILTIN_CAPABILITIES[provider] ?? registered.get(provider)?.capabilities;
}
