import { createHash } from "node:crypto";

/** JSON with object keys sorted, so equal values always serialise (and hash) the same way. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value as Record<string, unknown>).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function sha256(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Short stable key for a value: first 16 hex digits of the SHA-256 of its canonical JSON. */
export function shortHash(value: unknown): string {
  return sha256(canonicalJson(value)).slice(0, 16);
}
