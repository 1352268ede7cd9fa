import type { LoadedPage, PageTransport, SubmitForm } from "./bot-contract.js";
import { OtreeServerError } from "./errors.js";
import { readOtreePage } from "./page-reader.js";
import { sleep } from "./sleep.js";

export interface HttpTransportOptions {
  /** Per request (default 60 s). */
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

/**
 * A bot's pages over plain HTTP (Node's fetch; no cookies are needed: the participant code in the
 * URL is the session). Redirects are followed by hand with GET, because oTree answers a submit
 * with 302 and re-POSTing would submit the following pages empty. `/join` links are never
 * followed: they hand out a new participant.
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
    let res: Response;
    try {
      res = await this.#fetch(page.url, { method: "POST", body });
    } catch (err) {
      // The submit may or may not have reached oTree: the start link says where the bot is now.
      return this.#recover(err);
    }
    if (res.status >= 500) {
      await res.body?.cancel();
      return this.#recover(new OtreeServerError(`oTree answered ${res.status} to a submit of ${page.url}`));
    }
    try {
      return await this.#follow(res, page.url);
    } catch (err) {
      if (err instanceof RetryableError || isNetworkError(err)) return this.#recover(err);
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
        if (!(err instanceof RetryableError) && !isNetworkError(err)) throw err;
        last = err;
      }
    }
    throw new OtreeServerError(
      `oTree did not serve the page after ${this.#retries + 1} tries: ${(last as Error)?.message ?? String(last)}`,
    );
  }

  async #get(url: string): Promise<LoadedPage> {
    return this.#follow(await this.#fetch(url, { method: "GET" }), url);
  }

  async #follow(first: Response, firstUrl: string): Promise<LoadedPage> {
    let res = first;
    let url = firstUrl;
    for (let hop = 0; ; hop++) {
      if (res.status >= 300 && res.status < 400) {
        const location = res.headers.get("location");
        await res.body?.cancel();
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
        res = await this.#fetch(url, { method: "GET" });
        continue;
      }
      const html = await res.text();
      if (res.status >= 500) throw new RetryableError(`oTree answered ${res.status} at ${url}`);
      if (res.status >= 400) {
        throw new OtreeServerError(`oTree answered ${res.status} at ${url}: ${clip(stripTags(html))}`);
      }
      const loaded: LoadedPage = {
        url,
        page: readOtreePage(html, { url, headers: res.headers }),
        rejected: res.headers.get("otree-redisplay-with-errors") === "1",
        html,
      };
      this.#current = loaded;
      return loaded;
    }
  }

  #ended(url: string): LoadedPage {
    const loaded: LoadedPage = { url, page: readOtreePage("", { url }), rejected: false, html: "" };
    this.#current = loaded;
    return loaded;
  }

  #fetch(url: string, init: { method: "GET" | "POST"; body?: URLSearchParams }): Promise<Response> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    return fetch(url, {
      ...init,
      redirect: "manual",
      signal: this.#signal ? AbortSignal.any([this.#signal, timeout]) : timeout,
    });
  }
}

class RetryableError extends Error {}

function isNetworkError(err: unknown): boolean {
  // fetch's TypeError("fetch failed") for refused/reset connections, and its timeouts.
  return (
    err instanceof TypeError ||
    (err instanceof DOMException && err.name === "TimeoutError") ||
    (err as { name?: string })?.name === "TimeoutError"
  );
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
