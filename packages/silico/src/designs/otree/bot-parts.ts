import { ConfigError, SilicoError } from "../../errors.js";
import type { PageHandler, PageTransport } from "../../otree/bot-contract.js";
import { SharedBrowser } from "../../otree/browser-pool.js";
import { BrowserTransport } from "../../otree/browser-transport.js";
import { ChatHandler } from "../../otree/chat-handler.js";
import { findChromium } from "../../otree/chromium.js";
import { HttpTransport } from "../../otree/http-transport.js";
import { type LiveAdapter, LiveHandler, loadLiveHook } from "../../otree/live-handler.js";
import { toLiveAdapter } from "./live-adapter-schema.js";
import type { OtreeSpec } from "./spec.js";

/**
 * What the bots of one run process share: the live adapters (hooks loaded once, at set-up), and
 * for `driver: browser` one Chromium for all bots, launched when the first bot needs a page and
 * closed at tear-down (after the run, an error or an interrupt).
 */
export class BotParts {
  #chromium: string | undefined;
  #adapters: Record<string, LiveAdapter> | undefined;
  #browser: SharedBrowser | undefined;
  #closed = false;

  constructor(
    private readonly spec: OtreeSpec,
    private readonly deps: { findChromium?: () => string } = {},
  ) {}

  /**
   * Before any bot starts: Chromium must be there for `driver: browser`, and every live hook must
   * load. Either failing is a configuration error (exit 2) before oTree has a session.
   */
  async prepare(): Promise<void> {
    if (this.spec.bots.driver === "browser" && this.#chromium === undefined) {
      try {
        this.#chromium = (this.deps.findChromium ?? findChromium)();
      } catch (e) {
        if (e instanceof SilicoError) throw new ConfigError(e.code, e.message);
        throw e;
      }
    }
    if (this.#adapters) return;
    const adapters: Record<string, LiveAdapter> = {};
    for (const [page, input] of Object.entries(this.spec.bots.live)) {
      let hook: Awaited<ReturnType<typeof loadLiveHook>> | undefined;
      if (input.hook !== undefined) {
        try {
          hook = await loadLiveHook(input.hook, this.spec.bots.studyDir);
        } catch (e) {
          const message = e instanceof Error ? e.message : String(e);
          throw new ConfigError("study_invalid", `${this.spec.where.live[page] ?? "bots.live"}: ${message}`);
        }
      }
      adapters[page] = toLiveAdapter(input, hook);
    }
    this.#adapters = adapters;
  }

  /** One bot's transport: its own HTTP client, or its own page of the run's shared browser. */
  transport(signal?: AbortSignal): PageTransport {
    if (this.spec.bots.driver !== "browser") return new HttpTransport(signal ? { signal } : {});
    if (this.#closed) throw new SilicoError("setup_failed", "the run's browser was closed");
    this.#browser ??= new SharedBrowser({
      maxPages: this.spec.bots.browserPages,
      ...(this.#chromium !== undefined ? { executablePath: this.#chromium } : {}),
    });
    return new BrowserTransport(this.#browser, signal ? { signal } : {});
  }

  /** One bot's page handlers: live pages with an adapter, then `{{ chat }}`. */
  handlers(): PageHandler[] {
    if (!this.#adapters) throw new SilicoError("setup_failed", "the bots' live adapters were not loaded");
    return [
      new LiveHandler({ adapters: this.#adapters }),
      new ChatHandler({
        maxMessages: this.spec.bots.chatMaxMessages,
        replyWaitMs: Math.round(this.spec.bots.chatReplyWaitS * 1000),
      }),
    ];
  }

  /** Closes the shared browser, if one was launched. */
  async close(): Promise<void> {
    this.#closed = true;
    const browser = this.#browser;
    this.#browser = undefined;
    await browser?.close();
  }
}
