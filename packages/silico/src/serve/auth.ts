import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import { ConfigError } from "../errors.js";

/** The environment variable holding the bearer token of `silico serve`. */
export const TOKEN_ENV = "SILICO_SERVE_TOKEN";

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1" || host === "[::1]";
}

/**
 * The token every request must carry, or undefined (loopback without a token). Binding any other
 * address without one is refused: anyone on the network could otherwise spend the model budget.
 */
export function requiredToken(host: string, env: NodeJS.ProcessEnv): string | undefined {
  const token = env[TOKEN_ENV];
  if (token !== undefined && token !== "") {
    if (token.length < 16)
      throw new ConfigError("bad_flag", `${TOKEN_ENV} must be at least 16 characters long`);
    return token;
  }
  if (!isLoopback(host))
    throw new ConfigError(
      "bad_flag",
      `--host ${host} is reachable from other machines: set ${TOKEN_ENV} to a secret (at least 16 characters) that every request must send as "Authorization: Bearer …"`,
    );
  return undefined;
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/** Constant-time check of an Authorization header against the token. */
export function authorized(header: string | undefined, token: string): boolean {
  const given = header?.startsWith("Bearer ") ? header.slice(7) : "";
  // Hashing first gives equal lengths, so the comparison time says nothing about the token.
  return timingSafeEqual(digest(given), digest(token)) && given.length > 0;
}
