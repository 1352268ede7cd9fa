import { mkdtempSync, rmSync } from "node:fs";
import type { BrowserContext, Page } from "playwright-core";
import { SilicoError } from "../errors.js";
import { findChromium } from "./chromium.js";
import { profilePrefix, removeStaleProfiles } from "./stale-profiles.js";

export interface SharedBrowserOptions {
  /** The Chromium executable. Default: `findChromium()` (SILICO_CHROMIUM, else chromium on PATH). */
  executablePath?: string;
  /** How many pages may be open at once, over all bots of the run. Default 8. */
  maxPages?: number;
  /** Default true. */
  headless?: boolean;
  /** How long a click or fill may wait for its element. Default 10 s. */
  actionTimeoutMs?: number;
  /** How long a page load or a submit may take. Default 60 s. */
  navigationTimeoutMs?: number;
  /**
   * Who submits a timed page when its time is up. "bot" (default): oTree's countdown script is
   * replaced by a stub, so a page never submits behind the bot's back and the bot loop decides
   * about timeouts as it does over HTTP. "page": oTree's own script submits the page.
   */
  pageTimer?: "bot" | "page";
  /** Aborting closes the browser (and fails every waiting `lease`). */
  signal?: AbortSignal;
}

/**
 * One open page of the shared browser, held by one bot. While the bot thinks about a page it marks
 * the lease `idle()`; a bot that needs a page when all are taken then gets the slot of the longest
 * idle one, whose page is closed. `resume()` tells the holder whether its page is still there.
 */
export interface PageLease {
  readonly page: Page;
  /** The holder does not use the page for now (it waits for its model): the page may be reclaimed. */
  idle(): void;
  /** The holder wants its page again: true when it still has it, false when it was reclaimed. */
  resume(): boolean;
  /** Closes the page and frees its slot; harmless when called twice, after reclaiming or after close. */
  release(): Promise<void>;
}

const DEFAULT_MAX_PAGES = 8;

/**
 * One Chromium and one browser context for all bots of a run: launched on the first `lease`, at
 * most `maxPages` pages open at a time (further leases wait), closed with `close()`.
 * playwright-core is imported only here and only then, so HTTP bots never load it.
 *
 * The context is a persistent one in a fresh temporary profile folder: the folder names every
 * process of this browser (so a test can check that none is left) and is removed on close.
 */
export class SharedBrowser {
  readonly maxPages: number;
  readonly actionTimeoutMs: number;
  readonly navigationTimeoutMs: number;
  private readonly options: SharedBrowserOptions;
  private readonly slots: Semaphore;
  private readonly pages = new Set<Page>();
  /** Idle leases, oldest first (a Set keeps insertion order). */
  private readonly idle = new Set<Lease>();
  private reclaimCount = 0;
  private context: Promise<BrowserContext> | undefined;
  private profileDir: string | undefined;
  private closing: Promise<void> | undefined;
  private readonly onAbort = () => void this.close();

  constructor(options: SharedBrowserOptions = {}) {
    const maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
    if (!Number.isInteger(maxPages) || maxPages < 1) {
      throw new RangeError(`maxPages must be a positive integer, not ${maxPages}`);
    }
    this.options = options;
    this.maxPages = maxPages;
    this.actionTimeoutMs = options.actionTimeoutMs ?? 10_000;
    this.navigationTimeoutMs = options.navigationTimeoutMs ?? 60_000;
    this.slots = new Semaphore(maxPages);
    options.signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  /** Pages open right now. */
  get openPages(): number {
    return this.pages.size;
  }

  /** The browser's temporary profile folder, once launched (every Chromium process of it names it). */
  get profileDirectory(): string | undefined {
    return this.profileDir;
  }

  /**
   * Waits for a free slot (launching the browser the first time) and opens a page in it. When every
   * slot is taken, the longest idle page is reclaimed for it rather than waiting.
   */
  async lease(signal?: AbortSignal): Promise<PageLease> {
    this.assertOpen();
    if (this.slots.available === 0) this.reclaimIdle();
    await this.slots.acquire(signal);
    let page: Page;
    try {
      this.assertOpen();
      const context = await this.launch();
      page = await context.newPage();
    } catch (err) {
      this.slots.release();
      throw err;
    }
    page.setDefaultTimeout(this.actionTimeoutMs);
    page.setDefaultNavigationTimeout(this.navigationTimeoutMs);
    this.pages.add(page);
    const lease = new Lease(page, {
      idle: (l) => {
        this.idle.add(l);
        // A bot is waiting for a page: it gets this one now.
        if (this.slots.waiting > 0) this.reclaimIdle();
      },
      busy: (l) => this.idle.delete(l),
      free: (l) => {
        this.idle.delete(l);
        this.pages.delete(l.page);
        this.slots.release();
      },
    });
    return lease;
  }

  /** Pages taken back from idle bots so far (each costs that bot one more page load). */
  get reclaimed(): number {
    return this.reclaimCount;
  }

  private reclaimIdle(): void {
    const oldest = this.idle.values().next();
    if (oldest.done) return;
    this.reclaimCount++;
    oldest.value.reclaim();
  }

  /** Closes every page and the browser, and removes its profile folder. Safe to call more than once. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.options.signal?.removeEventListener("abort", this.onAbort);
    this.slots.rejectAll(new SilicoError("setup_failed", "the shared browser was closed"));
    const context = this.context;
    if (context) {
      // A launch still under way is awaited, so its browser cannot outlive close().
      const opened = await context.catch(() => undefined);
      await opened?.close().catch(() => undefined);
    }
    this.pages.clear();
    this.idle.clear();
    if (this.profileDir) rmSync(this.profileDir, { recursive: true, force: true });
  }

  private assertOpen(): void {
    if (this.closing) throw new SilicoError("setup_failed", "the shared browser was closed");
  }

  private launch(): Promise<BrowserContext> {
    this.context ??= this.launchOnce();
    return this.context;
  }

  private async launchOnce(): Promise<BrowserContext> {
    const executablePath = this.options.executablePath ?? findChromium();
    const { chromium } = await import("playwright-core");
    // Folders of silico processes killed before they could close their browser go first.
    removeStaleProfiles();
    this.profileDir = mkdtempSync(profilePrefix());
    let context: BrowserContext;
    try {
      context = await chromium.launchPersistentContext(this.profileDir, {
        executablePath,
        headless: this.options.headless ?? true,
        // silico stops the browser itself on abort; Playwright's handlers would exit the process.
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
        timeout: 60_000,
      });
    } catch (err) {
      throw new SilicoError(
        "setup_failed",
        `could not start Chromium (${executablePath}): ${firstLine(err)}`,
        { cause: err },
      );
    }
    if ((this.options.pageTimer ?? "bot") === "bot") {
      await context.route("**/otree/js/jquery.countdown.min.js", (route) =>
        route.fulfill({ contentType: "application/javascript", body: COUNTDOWN_STUB }),
      );
    }
    // A persistent context opens with one blank page: the slots count only the bots' pages.
    for (const blank of context.pages()) await blank.close().catch(() => undefined);
    return context;
  }
}

/**
 * oTree's TimeLimit script calls `$(...).countdown(end).on(...)` and submits the form on
 * `finish.countdown`; a countdown that never starts never finishes.
 */
const COUNTDOWN_STUB = "if (window.jQuery) { window.jQuery.fn.countdown = function () { return this; }; }\n";

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n").find((line) => line.trim() !== "") ?? message;
}

interface LeaseHooks {
  idle(lease: Lease): void;
  busy(lease: Lease): void;
  /** The lease's slot is free again (released or reclaimed). */
  free(lease: Lease): void;
}

class Lease implements PageLease {
  readonly page: Page;
  private state: "busy" | "idle" | "gone" = "busy";
  private readonly hooks: LeaseHooks;

  constructor(page: Page, hooks: LeaseHooks) {
    this.page = page;
    this.hooks = hooks;
  }

  idle(): void {
    if (this.state !== "busy") return;
    this.state = "idle";
    this.hooks.idle(this);
  }

  resume(): boolean {
    if (this.state === "idle") {
      this.state = "busy";
      this.hooks.busy(this);
    }
    return this.state === "busy";
  }

  /** Takes an idle page away from its holder (its next `resume()` says so). */
  reclaim(): void {
    if (this.state !== "idle") return;
    this.state = "gone";
    this.hooks.free(this);
    void this.page.close().catch(() => undefined);
  }

  async release(): Promise<void> {
    if (this.state === "gone") return;
    this.state = "gone";
    this.hooks.free(this);
    await this.page.close().catch(() => undefined);
  }
}

/** A counting semaphore whose waiters can be aborted one by one or rejected all at once. */
class Semaphore {
  private free: number;
  private readonly waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];

  constructor(count: number) {
    this.free = count;
  }

  get available(): number {
    return this.free;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason);
      };
      const waiter = {
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (err: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next.resolve();
    else this.free++;
  }

  rejectAll(err: unknown): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(err);
  }
}
