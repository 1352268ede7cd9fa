import { ConfigError } from "../errors.js";
import { editDistance } from "../did-you-mean.js";
import { nodeHttpFetch } from "./node-http-fetch.js";
import type { ModelPool } from "./registry.js";
import { redact } from "./secrets.js";

const LISTING_TIMEOUT_MS = 5000;

/**
 * The ids an OpenAI-compatible server lists at `GET {baseURL}/models`, or undefined when there is
 * no usable listing (no route, refused connection, timeout, another shape): then nothing is checked.
 */
export async function fetchModelIds(
  baseURL: string,
  apiKey?: string,
  timeoutMs = LISTING_TIMEOUT_MS,
  fetchImpl: typeof globalThis.fetch = nodeHttpFetch,
): Promise<string[] | undefined> {
  try {
    const res = await fetchImpl(`${baseURL.replace(/\/+$/, "")}/models`, {
      method: "GET",
      headers: { accept: "application/json", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { data?: unknown };
    if (!Array.isArray(body.data)) return undefined;
    const ids = body.data
      .map((m) => (m && typeof m === "object" ? (m as { id?: unknown }).id : undefined))
      .filter((id): id is string => typeof id === "string");
    return ids.length > 0 ? ids : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the server knows `name`: exactly, or as Ollama's implicit ":latest" tag. */
export function isListed(name: string, ids: readonly string[]): boolean {
  return ids.includes(name) || (!name.includes(":") && ids.includes(`${name}:latest`));
}

/** Up to `max` listed ids closest to `name` (small edit distance, or one containing the other). */
export function closeMatches(name: string, ids: readonly string[], max = 3): string[] {
  const norm = (s: string) => s.toLowerCase();
  const n = norm(name);
  const limit = Math.max(2, Math.floor(n.length / 3));
  return ids
    .map((id) => {
      const i = norm(id);
      const d = editDistance(n, i);
      const contains = n.length >= 3 && (i.includes(n) || n.includes(i));
      return { id, score: contains ? Math.min(d, limit) : d };
    })
    .filter((c) => c.score <= limit)
    .sort((a, b) => a.score - b.score || a.id.localeCompare(b.id))
    .slice(0, max)
    .map((c) => c.id);
}

/**
 * Checks every model id against its provider's listing before the first call, so a mistyped id
 * stops the run with a clear error (exit 2, nothing written) instead of failing every call with a
 * 404. Providers without a listing, or whose listing cannot be read, are not checked.
 * `locate` names where the id is written (e.g. "study.yaml:8").
 */
export async function checkListedModels(
  ids: readonly string[],
  pool: ModelPool,
  locate: (id: string) => string | undefined = () => undefined,
): Promise<void> {
  const endpoints = new Map<string, { apiKey?: string; ids: string[] }>();
  for (const id of new Set(ids)) {
    const e = pool.listingEndpoint(id);
    if (!e) continue;
    const key = `${e.baseURL}\u0000${e.apiKey ?? ""}`;
    const entry = endpoints.get(key) ?? { ...(e.apiKey ? { apiKey: e.apiKey } : {}), ids: [] };
    entry.ids.push(id);
    endpoints.set(key, entry);
  }
  const problems: string[] = [];
  await Promise.all(
    [...endpoints].map(async ([key, entry]) => {
      const baseURL = key.split("\u0000")[0] as string;
      const listed = await fetchModelIds(baseURL, entry.apiKey, LISTING_TIMEOUT_MS, pool.fetch);
      if (!listed) return;
      for (const id of entry.ids) {
        const name = pool.listingEndpoint(id)?.name ?? id;
        if (isListed(name, listed)) continue;
        const close = closeMatches(name, listed);
        const where = locate(id);
        problems.push(
          `${where ? `${where}: ` : ""}model "${id}": ${baseURL} does not list "${name}"${
            close.length > 0
              ? ` (did you mean ${close.map((c) => `"${c}"`).join(" or ")}?)`
              : `; it lists ${listed.length} models, e.g. ${listed
                  .slice(0, 5)
                  .map((c) => `"${c}"`)
                  .join(", ")}`
          }`,
        );
      }
    }),
  );
  if (problems.length > 0) {
    throw new ConfigError(
      "unknown_model",
      redact(
        `${problems.sort().join("\n")}\nnothing was called or written (a server that answers ids it does not list: run with --no-model-check)`,
      ),
    );
  }
}
