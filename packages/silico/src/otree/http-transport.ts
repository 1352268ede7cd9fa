import { request } from "undici";
import type { LoadedPage, PageTransport, SubmitForm } from "./bot-contract.js";
import { OtreeServerError } from "./errors.js";
import { endOfPages, readOtreePage } from "./page-reader.js";
import { sleep } from "./sleep.js";

export interface HttpTransportOptions {
  /** Per request: the longest wait for oTree's answer to start, and between its parts (default 60 s). */
  timeoutMs?: number;
  /** Re-openings of the start link after a 5xx or a dropped connection (default 4). */
  retries?: number;
  /** First back-off in ms, doubled per retry (default 500). */
  backoffMs?: number;
  signal?: AbortSignal;
}

const MAX_REDIRECTS = 20;
/** Where oTree sends a participant who has no pages left (`/OutOfRangeNotification/{code}`). */
const END_PATH = /^\/OutOfRangeNotification\//;

/** What one request brought back. */
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Reads the body as text (once). */
  text(): Promise<string>;
  /** Throws the body away (a redirect's, an error's), freeing the connection. */
  discard(): Promise<void>;
}

/**
 * A bot's pages over plain HTTP (no cookies are needed: the participant code in the URL is the
 * session). Redirects are followed by hand with GET, because oTree answers a submit with 302 and
 * re-POSTing would submit the following pages empty. `/join` links are never followed: they hand
 * out a new participant.
 *
 * Requests go through undici's `request` (the HTTP client inside Node's fetch) rather than
 * `fetch`: with 100 bots in one process, fetch's WHATWG Request/Response/stream objects per request
 * were a tenth of the process's CPU, and the CPU the bots take is CPU the oTree server on the same
 * machine does not get.
 */
export class HttpTransport implements PageTransport {
  #startLink: string | undefined;
  #current: LoadedPage | undefined;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #backoffMs: number;
  readonly #signal: AbortSignal | undefined;

  constructor(options: HttpTransportOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#retries = options.retries ?? 4;
    this.#backoffMs = options.backoffMs ?? 500;
    this.#signal = options.signal;
  }

  async open(startLink: string): Promise<LoadedPage> {
    this.#startLink = startLink;
    return this.#withRetries(() => this.#get(startLink));
  }

  async reload(): Promise<LoadedPage> {
    const url = this.#current?.url ?? this.#startLink;
    if (url === undefined) throw new OtreeServerError("reload before open: no page loaded yet");
    // A stale page URL redirects to the participant's current page.
    return this.#withRetries(() => this.#get(url));
  }

  async submit(form: SubmitForm): Promise<LoadedPage> {
    const page = this.#current;
    if (!page) throw new OtreeServerError("submit before open: no page loaded yet");
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries(form.fields)) body.append(name, value);
    if (form.button?.role === "choice" && form.button.name !== undefined)
      body.append(form.button.name, form.button.value ?? "");
    // oTree's back button posts `back_button` (its page script does the same).
    if (form.button?.role === "back") body.append("back_button", "{}");
    if (form.timeoutHappened) body.append("timeout_happened", "1");
    let res: Answer;
    try {
      res = await this.#request(page.url, "POST", body.toString());
    } catch (err) {
      if (!this.#isNetworkError(err)) throw err;
      // The submit may or may not have reached oTree: the start link says where the bot is now.
      return this.#recover(err);
    }
    if (res.status >= 500) {
      await res.discard();
      return this.#recover(new OtreeServerError(`oTree answered ${res.status} to a submit of ${page.url}`));
    }
    try {
      return await this.#follow(res, page.url);
    } catch (err) {
      if (err instanceof RetryableError || this.#isNetworkError(err)) return this.#recover(err);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.#current = undefined;
  }

  async #recover(cause: unknown): Promise<LoadedPage> {
    if (this.#startLink === undefined) throw cause;
    return this.#withRetries(() => this.#get(this.#startLink as string), cause);
  }

  async #withRetries(load: () => Promise<LoadedPage>, firstError?: unknown): Promise<LoadedPage> {
    let last = firstError;
    for (let attempt = firstError === undefined ? 0 : 1; attempt <= this.#retries; attempt++) {
      if (attempt > 0) await sleep(this.#backoffMs * 2 ** (attempt - 1), this.#signal);
      try {
        // After a failure the start link, not the page URL, re-syncs the bot.
        return attempt === 0
          ? await load()
          : await this.#get(this.#startLink ?? (this.#current?.url as string));
      } catch (err) {
        if (!(err instanceof RetryableError) && !this.#isNetworkError(err)) throw err;
        last = err;
      }
    }
    throw new OtreeServerError(
      `oTree did not serve the page after ${this.#retries + 1} tries: ${(last as Error)?.message ?? String(last)}`,
    );
  }

  async #get(url: string): Promise<LoadedPage> {
    return this.#follow(await this.#request(url, "GET"), url);
  }

  async #follow(first: Answer, firstUrl: string): Promise<LoadedPage> {
    let res = first;
    let url = firstUrl;
    for (let hop = 0; ; hop++) {
      if (res.status >= 300 && res.status < 400) {
        const location = headerOf(res.headers, "location");
        await res.discard();
        if (!location)
          throw new OtreeServerError(`oTree answered ${res.status} without a Location at ${url}`);
        const next = new URL(location, url);
        if (/^\/join\//.test(next.pathname)) {
          throw new OtreeServerError(
            `oTree redirected to a /join link (${next.pathname}): a bot never follows it`,
          );
        }
        if (hop >= MAX_REDIRECTS)
          throw new OtreeServerError(`more than ${MAX_REDIRECTS} redirects from ${firstUrl}`);
        url = next.toString();
        // oTree's redirect to "No more pages left" is the end: its page says nothing more and
        // costs the (single-threaded) server one more request per participant.
        if (END_PATH.test(next.pathname)) return this.#ended(url);
        res = await this.#request(url, "GET");
        continue;
      }
      const html = await res.text();
      if (res.status >= 500) throw new RetryableError(`oTree answered ${res.status} at ${url}`);
      if (res.status >= 400) {
        throw new OtreeServerError(`oTree answered ${res.status} at ${url}: ${clip(stripTags(html))}`);
      }
      const headers = {
        "otree-wait-page": headerOf(res.headers, "otree-wait-page") ?? "",
        "otree-redisplay-with-errors": headerOf(res.headers, "otree-redisplay-with-errors") ?? "",
      };
      const loaded: LoadedPage = {
        url,
        page: readOtreePage(html, { url, headers }),
        rejected: headers["otree-redisplay-with-errors"] === "1",
        html,
      };
      this.#current = loaded;
      return loaded;
    }
  }

  #ended(url: string): LoadedPage {
    const loaded: LoadedPage = { url, page: endOfPages(), rejected: false, html: "" };
    this.#current = loaded;
    return loaded;
  }

  async #request(url: string, method: "GET" | "POST", body?: string): Promise<Answer> {
    const res = await request(url, {
      method,
      ...(body !== undefined
        ? { body, headers: { "content-type": "application/x-www-form-urlencoded" } }
        : {}),
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
      ...(this.#signal ? { signal: this.#signal } : {}),
    });
    return {
      status: res.statusCode,
      headers: res.headers,
      text: () => res.body.text(),
      discard: () => res.body.dump(),
    };
  }

  /** A refused, reset or timed-out connection (worth a retry); never the bot's own stop. */
  #isNetworkError(err: unknown): boolean {
    if (this.#signal?.aborted) return false;
    const code = (err as { code?: unknown })?.code;
    return (
      err instanceof TypeError ||
      (err as { name?: string })?.name === "TimeoutError" ||
      (typeof code === "string" && NETWORK_ERRORS.has(code))
    );
  }
}

class RetryableError extends Error {}

/** undici's and the system's codes for a connection that failed, closed or timed out. */
const NETWORK_ERRORS = new Set([
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

function headerOf(headers: Answer["headers"], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function stripTags(html: string): string {
  return html
    .replace(/<script[\s\S]*?<\/script>|<style[\s\S]*?<\/style>/gi, " ")
    .replace(/<[^>]+>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

function clip(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
