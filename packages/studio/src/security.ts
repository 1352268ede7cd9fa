/**
 * The studio's three gates, in front of every route: the request names this server in its `Host`
 * header (a DNS-rebinding page names its own host), carries the access token (header, cookie, or
 * the `token` query of the first page load, which is then turned into an HttpOnly SameSite=Strict
 * cookie), and, when the browser says where it comes from (`Origin`), comes from this server.
 * No CORS header is ever sent, so no other origin can read an answer.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";

export const TOKEN_HEADER = "x-silico-token";
export const TOKEN_COOKIE = "silico_studio";

export function newToken(): string {
  return randomBytes(24).toString("base64url");
}

function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `127.0.0.1:PORT` and `localhost:PORT`: the only names this server answers to. */
export function allowedHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
}

export function guard(token: string, port: () => number): MiddlewareHandler {
  return async (c, next) => {
    const hosts = allowedHosts(port());
    const host = c.req.header("host")?.toLowerCase();
    if (!host || !hosts.has(host)) return c.text("unknown host: studio answers on 127.0.0.1 only\n", 421);
    const origin = c.req.header("origin");
    if (origin !== undefined && ![...hosts].some((h) => origin === `http://${h}`))
      return c.text("cross-origin requests are refused\n", 403);
    const fromQuery = c.req.query("token");
    if (sameToken(fromQuery, token)) {
      setCookie(c, TOKEN_COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/" });
      // The page is loaded again without the token in its address (history, referrers, screenshots).
      if (c.req.method === "GET" && !c.req.path.startsWith("/api/")) {
        const url = new URL(c.req.url);
        url.searchParams.delete("token");
        return c.redirect(`${url.pathname}${url.search}${url.hash}`, 303);
      }
      return next();
    }
    if (sameToken(c.req.header(TOKEN_HEADER), token) || sameToken(getCookie(c, TOKEN_COOKIE), token))
      return next();
    return c.text("missing or wrong access token: open the address silico studio printed\n", 401);
  };
}
