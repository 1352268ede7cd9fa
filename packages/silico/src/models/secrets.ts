import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { readDotEnv } from "../dot-env.js";

/** Environment variables that hold provider keys. Their values are scrubbed from everything written. */
export const KEY_ENV_VARS = [
  "OPENAI_API_KEY",
  "ANTHROPIC_API_KEY",
  "GOOGLE_GENERATIVE_AI_API_KEY",
  "GEMINI_API_KEY",
  "OPENROUTER_API_KEY",
  "OPENAI_COMPATIBLE_API_KEY",
];

const extraKeyVars = new Set<string>();

/** Providers configured in a study may name their own key variable; it is scrubbed too. */
export function registerKeyEnvVar(name: string): void {
  extraKeyVars.add(name);
}

const extraSecrets = new Set<string>();

/** A key given to the library directly (not through the environment): it is scrubbed too. */
export function registerSecret(value: string): void {
  if (value.length >= 6) extraSecrets.add(value);
}

let envLoaded = false;

/**
 * Load `.env` from the working directory once. Existing environment variables win, so a key set
 * in the shell is never overridden by a stale file.
 */
export function loadDotEnv(dir = process.cwd()): void {
  if (envLoaded) return;
  const path = resolve(dir, ".env");
  if (!existsSync(path)) {
    envLoaded = true;
    return;
  }
  // A line that cannot be read is refused (ConfigError, exit 2), not skipped: nothing is set then.
  const values = readDotEnv(path);
  envLoaded = true;
  for (const [name, value] of values) if (process.env[name] === undefined) process.env[name] = value;
}

function secretValues(): string[] {
  const out: string[] = [];
  for (const name of [...KEY_ENV_VARS, ...extraKeyVars]) {
    const v = process.env[name];
    if (v && v.length >= 6) out.push(v);
  }
  out.push(...extraSecrets);
  return out;
}

/** Replace every known key value in a text by `***`. Cheap when no keys are set. */
export function redact(text: string): string {
  let out = text;
  for (const secret of secretValues()) {
    if (out.includes(secret)) out = out.split(secret).join("***");
  }
  return out;
}
