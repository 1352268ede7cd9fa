import http from "node:http";
import https from "node:https";
import zlib from "node:zlib";

/**
 * A `fetch` for the AI SDK's providers built on node:http with keep-alive agents. Node's global
 * fetch (undici) spends about 0.5 ms of CPU per request on WHATWG stream and Request machinery —
 * more than the rest of a call's bookkeeping together — which caps a run at a few hundred calls a
 * second on a small machine. Only what provider calls use is handled here: http(s) URLs, string or
 * byte bodies, AbortSignal; anything else goes to the global fetch. Failures look like undici's
 * (`TypeError("fetch failed", {cause})`), so the SDK classifies them the same way.
 */
export const httpAgents = {
  "http:": new http.Agent({ keepAlive: true, timeout: 5000 }),
  "https:": new https.Agent({ keepAlive: true, timeout: 5000 }),
};
const agents = httpAgents;

/** Like undici's default headers/body timeouts: a silent server must not hang a run forever. */
export const IDLE_TIMEOUT_MS = 300_000;
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
export const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

/** A response's body, decompressed as its content-encoding says, read whole as UTF-8 text. */
export function decodedBody(
  res: http.IncomingMessage,
  done: (e: Error | undefined, text: string) => void,
): void {
  let finished = false;
  const finish = (e: Error | undefined, text: string) => {
    if (finished) return;
    finished = true;
    done(e, text);
  };
  const stream = decoded(res);
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  stream.on("error", (e: Error) => finish(e, ""));
  // A decompressing pipe does not forward the response's own errors (a reset mid-body).
  if (stream !== res) res.on("error", (e: Error) => finish(e, ""));
  res.on("aborted", () => finish(new Error("the server closed the connection mid-response"), ""));
  stream.on("end", () =>
    finish(undefined, (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString("utf8")),
  );
}

function decoded(res: http.IncomingMessage): NodeJS.ReadableStream {
  const encoding = String(res.headers["content-encoding"] ?? "").toLowerCase();
  return encoding === "gzip" || encoding === "x-gzip"
    ? res.pipe(zlib.createGunzip())
    : encoding === "deflate"
      ? res.pipe(zlib.createInflate())
      : encoding === "br"
        ? res.pipe(zlib.createBrotliDecompress())
        : res;
}

type FetchInput = Parameters<typeof fetch>[0];
type FetchInit = NonNullable<Parameters<typeof fetch>[1]>;

function headerRecord(h: FetchInit["headers"]): Record<string, string> {
  if (!h) return {};
  if (h instanceof Headers) return Object.fromEntries(h.entries());
  if (Array.isArray(h)) return Object.fromEntries(h.map(([k, v]) => [k, v] as [string, string]));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = String(v);
  return out;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

export function nodeHttpFetch(input: FetchInput, init: FetchInit = {}): Promise<Response> {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : undefined;
  const body = init.body;
  const simpleBody =
    body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array;
  const protocol = url?.startsWith("https:") ? "https:" : url?.startsWith("http:") ? "http:" : undefined;
  if (url === undefined || protocol === undefined || !simpleBody) return fetch(input, init);

  const signal = init.signal ?? undefined;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const headers = headerRecord(init.headers);
  if (body !== undefined && body !== null) headers["content-length"] = String(Buffer.byteLength(body));

  return new Promise<Response>((resolve, reject) => {
    let settled = false;
    const fail = (cause: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      reject(cause instanceof DOMException ? cause : new TypeError("fetch failed", { cause }));
    };
    const request = (protocol === "https:" ? https : http).request(
      url,
      { method: init.method ?? "GET", headers, agent: agents[protocol] },
      (res) => {
        const status = res.statusCode ?? 0;
        if (REDIRECT_STATUS.has(status) && res.headers.location && init.redirect !== "manual") {
          // Provider APIs do not redirect; should one, let the standard fetch follow it.
          res.resume();
          settled = true;
          signal?.removeEventListener("abort", onAbort);
          resolve(fetch(new URL(res.headers.location, url), init));
          return;
        }
        const stream = decoded(res);
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("error", fail);
        if (stream !== res) res.on("error", fail);
        res.on("aborted", () => fail(new Error("the server closed the connection mid-response")));
        stream.on("end", () => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener("abort", onAbort);
          const responseHeaders = new Headers();
          const raw = res.rawHeaders;
          for (let i = 0; i + 1 < raw.length; i += 2)
            responseHeaders.append(raw[i] as string, raw[i + 1] as string);
          const payload = NULL_BODY_STATUS.has(status)
            ? null
            : chunks.length === 1
              ? chunks[0]
              : Buffer.concat(chunks);
          resolve(
            new Response(payload, { status, statusText: res.statusMessage ?? "", headers: responseHeaders }),
          );
        });
      },
    );
    const onAbort = () => {
      const reason = signal ? abortReason(signal) : undefined;
      request.destroy();
      if (settled) return;
      settled = true;
      reject(reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    request.setTimeout(IDLE_TIMEOUT_MS, () =>
      request.destroy(new Error(`no response for ${IDLE_TIMEOUT_MS / 1000} s`)),
    );
    request.on("error", fail);
    request.end(body ?? undefined);
  });
}
