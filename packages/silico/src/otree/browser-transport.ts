import type { Locator, Page, Response } from "playwright-core";
import type { LoadedPage, PageTransport, SubmitForm } from "./bot-contract.js";
import type { PageLease, SharedBrowser } from "./browser-pool.js";
import { inPage, readBrowserPage } from "./browser-reading.js";
import { OtreeServerError } from "./errors.js";
import { readOtreePage } from "./page-reader.js";
import { sleep } from "./sleep.js";

export interface BrowserTransportOptions {
  /** Re-openings of the start link after a 5xx or a failed load (default 4). */
  retries?: number;
  /** First back-off in ms, doubled per retry (default 500). */
  backoffMs?: number;
  signal?: AbortSignal;
}

/**
 * A bot's pages in a page of the run's shared browser (`driver: browser`): the page's own
 * scripts run, so inputs that JavaScript sets (sliders writing hidden fields) can be answered,
 * and the page is read with the same page reader as over HTTP.
 *
 * A bot keeps its browser page only while it is on a form it will submit: on a wait, end, live
 * or chat page (where it may wait for others) the page is closed and its slot freed, and the next
 * `reload` or `submit` opens a new one at the same URL. Otherwise bots waiting for each other
 * could hold every slot of the bounded browser and never move. Between calls (while its model
 * thinks) the page is idle: when all slots are taken, a bot that needs a page gets the longest idle
 * one, and its holder opens the page again when it submits (one more page load).
 */
export class BrowserTransport implements PageTransport {
  readonly #browser: SharedBrowser;
  readonly #retries: number;
  readonly #backoffMs: number;
  readonly #signal: AbortSignal | undefined;
  #lease: PageLease | undefined;
  #startLink: string | undefined;
  #current: LoadedPage | undefined;
  /** Main-frame navigations of the leased page, to notice a page that moved on by itself. */
  #navigations = 0;
  #navigationsAtLoad = 0;

  constructor(browser: SharedBrowser, options: BrowserTransportOptions = {}) {
    this.#browser = browser;
    this.#retries = options.retries ?? 4;
    this.#backoffMs = options.backoffMs ?? 500;
    this.#signal = options.signal;
  }

  async open(startLink: string): Promise<LoadedPage> {
    refuseJoin(startLink);
    this.#startLink = startLink;
    try {
      return await this.#withRetries(() => this.#goto(startLink));
    } finally {
      this.#settle();
    }
  }

  async reload(): Promise<LoadedPage> {
    const url = this.#current?.url ?? this.#startLink;
    if (url === undefined) throw new OtreeServerError("reload before open: no page loaded yet");
    try {
      return await this.#withRetries(() => this.#goto(url));
    } finally {
      this.#settle();
    }
  }

  async submit(form: SubmitForm): Promise<LoadedPage> {
    try {
      return await this.#submit(form);
    } finally {
      this.#settle();
    }
  }

  async #submit(form: SubmitForm): Promise<LoadedPage> {
    const answered = this.#current;
    if (!answered) throw new OtreeServerError("submit before open: no page loaded yet");
    let page = this.#lease?.resume() ? this.#lease.page : undefined;
    if (!page) {
      // The page was given back (a wait, live or chat page) or reclaimed for another bot while
      // this one was thinking: open it again.
      this.#lease = undefined;
      const again = await this.#withRetries(() => this.#goto(answered.url));
      if (again.url !== answered.url || again.page.kind !== "form") return again;
      page = this.#heldPage();
    } else if (this.#navigations !== this.#navigationsAtLoad || page.url() !== answered.url) {
      // The page moved on by itself (oTree's timer with pageTimer "page", an admin's advance):
      // the answer was not submitted; the bot gets the page it is on now.
      return this.#withRetries(() => this.#goto(page?.url() ?? answered.url));
    }
    const current = this.#current as LoadedPage;
    const refused = await fillForm(page, form, current);
    if (refused.length > 0) return this.#refuse(current, form, refused);

    const navigation = page.waitForNavigation({ waitUntil: "load" });
    // An unhandled rejection when the press below fails first (the page is then refused).
    navigation.catch(() => undefined);
    const problem = await press(page, form);
    if (problem) return this.#refuse(current, form, problem);
    let response: Response | null;
    try {
      response = await navigation;
    } catch (err) {
      if (isTimeout(err)) {
        return this.#refuse(current, form, [
          `the page did not submit within ${Math.round(this.#browser.navigationTimeoutMs / 1000)} s: ` +
            "its script may have stopped it",
        ]);
      }
      return this.#recover(err);
    }
    if (response && response.status() >= 500) {
      return this.#recover(
        new RetryableError(`oTree answered ${response.status()} to a submit of ${answered.url}`),
      );
    }
    try {
      return await this.#read(response);
    } catch (err) {
      if (err instanceof RetryableError || isLoadError(err)) return this.#recover(err);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.#current = undefined;
    await this.#release();
  }

  async #goto(url: string): Promise<LoadedPage> {
    const page = await this.#page();
    const response = await page.goto(url, { waitUntil: "load" });
    return this.#read(response);
  }

  async #read(response: Response | null): Promise<LoadedPage> {
    const page = this.#lease?.page;
    if (!page) throw new OtreeServerError("the browser page was closed");
    if (refusedJoin(page.url())) {
      throw new OtreeServerError(`oTree redirected to a /join link (${page.url()}): a bot never follows it`);
    }
    const status = response?.status() ?? 200;
    if (status >= 500) throw new RetryableError(`oTree answered ${status} at ${page.url()}`);
    if (status >= 400) {
      const text = clip((await page.textContent("body").catch(() => "")) ?? "");
      throw new OtreeServerError(`oTree answered ${status} at ${page.url()}: ${text}`);
    }
    const headers = response?.headers() ?? {};
    // A wait page's script reloads it as soon as its socket says "ready" (at once when the group
    // is already complete): read the HTML as served, which no reload can pull away.
    const served =
      response && headers["otree-wait-page"] === "1"
        ? await response.text().catch(() => undefined)
        : undefined;
    const loaded: LoadedPage =
      served !== undefined && response
        ? {
            url: response.url(),
            page: readOtreePage(served, { url: response.url(), headers }),
            rejected: false,
            html: served,
          }
        : await readBrowserPage(page, headers);
    this.#current = loaded;
    this.#navigationsAtLoad = this.#navigations;
    if (!holdsPage(loaded)) await this.#release();
    return loaded;
  }

  /** The same page, refused before anything reached oTree: the bot loop re-asks like a server rejection. */
  #refuse(current: LoadedPage, form: SubmitForm, problems: string[]): LoadedPage {
    const fields = current.page.fields.map((field) => {
      const value = form.fields[field.name];
      const problem = problems.find((p) => p.startsWith(`${field.name}: `));
      return {
        ...field,
        ...(value !== undefined ? { value } : {}),
        ...(problem ? { error: problem.slice(field.name.length + 2) } : {}),
      };
    });
    const refused: LoadedPage = {
      ...current,
      page: { ...current.page, fields, pageErrors: problems },
      rejected: true,
    };
    this.#current = { ...current, rejected: true };
    return refused;
  }

  async #page(): Promise<Page> {
    if (this.#lease?.resume()) return this.#lease.page;
    this.#lease = undefined;
    const lease = await this.#browser.lease(this.#signal);
    this.#lease = lease;
    this.#navigations = 0;
    this.#navigationsAtLoad = 0;
    lease.page.on("framenavigated", (frame) => {
      if (this.#lease === lease && frame === lease.page.mainFrame()) this.#navigations++;
    });
    return lease.page;
  }

  #heldPage(): Page {
    const page = this.#lease?.page;
    if (!page) throw new OtreeServerError("the browser page was closed");
    return page;
  }

  /** Between calls the bot thinks: its page may go to a bot that needs one. */
  #settle(): void {
    this.#lease?.idle();
  }

  async #release(): Promise<void> {
    const lease = this.#lease;
    this.#lease = undefined;
    await lease?.release();
  }

  async #recover(cause: unknown): Promise<LoadedPage> {
    if (this.#startLink === undefined) throw cause;
    return this.#withRetries(() => this.#goto(this.#startLink as string), cause);
  }

  async #withRetries(load: () => Promise<LoadedPage>, firstError?: unknown): Promise<LoadedPage> {
    let last = firstError;
    for (let attempt = firstError === undefined ? 0 : 1; attempt <= this.#retries; attempt++) {
      if (attempt > 0) {
        await sleep(this.#backoffMs * 2 ** (attempt - 1), this.#signal);
        // A page that failed may be in any state: start from a fresh one.
        await this.#release();
      }
      try {
        // After a failure the start link, not the page URL, re-syncs the bot.
        return attempt === 0
          ? await load()
          : await this.#goto(this.#startLink ?? (this.#current?.url as string));
      } catch (err) {
        if (!(err instanceof RetryableError) && !isLoadError(err)) throw err;
        last = err;
      }
    }
    throw new OtreeServerError(
      `oTree did not serve the page after ${this.#retries + 1} tries: ${firstLine(last)}`,
    );
  }
}

/** Wait, end, live and chat pages give their browser page back: the bot may stay there a long time. */
function holdsPage(loaded: LoadedPage): boolean {
  return loaded.page.kind === "form" && !loaded.page.live && !loaded.html.includes("socket_path");
}

/**
 * Puts the bot's answer into the page as a participant would (typing, picking, checking, moving a
 * slider), so the page's scripts see it. Returns what the browser refused, as `field: reason`.
 */
async function fillForm(page: Page, form: SubmitForm, loaded: LoadedPage): Promise<string[]> {
  const refused: string[] = [];
  const missing: Record<string, string> = {};
  const given = new Set(Object.keys(form.fields));
  for (const [name, value] of Object.entries(form.fields)) {
    const target = await inPage<Target>(page, DESCRIBE_TARGET, name, value);
    const locator = locate(page, name, value, target);
    if (target.kind === "missing" || !locator) {
      // oTree ignores keys it does not know, as over HTTP: post it anyway.
      missing[name] = value;
      continue;
    }
    const label = loaded.page.fields.find((f) => f.name === name)?.label || name;
    if ((target.kind === "select" || target.kind === "radio") && !target.hasChoice) {
      refused.push(`${name}: ${JSON.stringify(value)} is not one of the choices of "${label}"`);
      continue;
    }
    if (target.kind === "hidden" || !target.visible) {
      await inPage(page, SET_QUIETLY, name, target, value);
      continue;
    }
    try {
      if (target.kind === "select") await locator.selectOption({ value });
      else if (target.kind === "radio") await locator.check();
      else if (target.kind === "checkbox") await locator.setChecked(checkedBy(value, target.checkboxValue));
      else await locator.fill(value);
    } catch (err) {
      if (/cannot type text into input\[type=number\]|malformed value/i.test(firstLine(err))) {
        refused.push(`${name}: the browser does not accept ${JSON.stringify(value)} in a number field`);
      } else {
        // Covered or styled-away controls: set the value and fire the events a participant would.
        await inPage(page, SET_QUIETLY, name, target, value);
      }
    }
  }
  // A checkbox the bot left out is unchecked (oTree reads a missing checkbox as False).
  for (const field of loaded.page.fields) {
    if (field.widget !== "checkbox" || given.has(field.name)) continue;
    const box = page.locator(`input[type="checkbox"][name="${attr(field.name)}"]`).first();
    if (await box.isChecked().catch(() => false)) await box.setChecked(false).catch(() => undefined);
  }
  if (Object.keys(missing).length > 0) await inPage(page, ADD_HIDDEN, missing);
  return refused;
}

/**
 * Presses the button the bot chose (or submits the form as the page would). A click that HTML5
 * validation would block is not made: its messages are returned as `field: message` instead.
 */
async function press(page: Page, form: SubmitForm): Promise<string[] | undefined> {
  const button = form.button;
  if (form.timeoutHappened) {
    // As oTree's TimeLimit script: a hidden timeout_happened=1 and a submit without validation.
    const extra: Record<string, string> = { timeout_happened: "1" };
    if (button?.role === "choice" && button.name) extra[button.name] = button.value ?? "";
    if (button?.role === "back") extra.back_button = "{}";
    await inPage(page, ADD_HIDDEN, extra);
    await inPage(page, SUBMIT_FORM, false);
    return undefined;
  }
  if (button?.role === "back") {
    const back = page.locator(".otree-btn-back").first();
    if (await back.isVisible()) await back.click();
    else {
      await inPage(page, ADD_HIDDEN, { back_button: "{}" });
      await inPage(page, SUBMIT_FORM, false);
    }
    return undefined;
  }
  let control: Locator | undefined;
  if (button?.role === "choice" && button.name) {
    const named = page
      .locator(`button[name="${attr(button.name)}"][value="${attr(button.value ?? "")}"]`)
      .first();
    if ((await named.count()) === 0) {
      // A participant cannot press a button the page does not have.
      return [`${button.name}: the page has no button with the value ${JSON.stringify(button.value ?? "")}`];
    }
    if (await named.isVisible()) control = named;
    // A button the page's script hides: post its value as pressing it would.
    else await inPage(page, ADD_HIDDEN, { [button.name]: button.value ?? "" });
  } else {
    const next = page.locator(".otree-btn-next").first();
    if (await next.isVisible()) control = next;
  }
  const invalid = await inPage<string[]>(page, INVALID_FIELDS);
  if (invalid.length > 0) return invalid;
  if (control) {
    try {
      await control.click({ noWaitAfter: true });
    } catch (err) {
      return [`the button could not be pressed (${firstLine(err)})`];
    }
  } else await inPage(page, SUBMIT_FORM, true);
  return undefined;
}

/** What a field name stands for in the page (see DESCRIBE_TARGET). */
interface Target {
  kind: "select" | "radio" | "checkbox" | "hidden" | "input" | "range" | "missing";
  visible: boolean;
  /** select and radio: the value is one of the choices. */
  hasChoice?: boolean;
  checkboxValue?: string;
  /** An unnamed range input: its index among the page's unnamed ranges. */
  rangeIndex?: number;
}

function locate(page: Page, name: string, value: string, target: Target): Locator | undefined {
  if (target.kind === "missing") return undefined;
  if (target.kind === "range" && target.rangeIndex !== undefined) {
    return page.locator('input[type="range"]:not([name])').nth(target.rangeIndex);
  }
  const sel = `[name="${attr(name)}"]`;
  if (target.kind === "radio")
    return page.locator(`input[type="radio"]${sel}[value="${attr(value)}"]`).first();
  return page.locator(`input${sel}, select${sel}, textarea${sel}`).first();
}

function checkedBy(value: string, boxValue: string | undefined): boolean {
  const v = value.trim().toLowerCase();
  return (
    v === "y" || v === "on" || v === "true" || v === "1" || (boxValue !== undefined && value === boxValue)
  );
}

/** Escapes a value for a double-quoted CSS attribute selector. */
function attr(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
}

/**
 * Runs in the page (JavaScript source: the package compiles without the DOM's types). Finds what
 * a field name means: a named control, or an unnamed slider offered under its id or `range_K`.
 */
const DESCRIBE_TARGET = `function (name, value) {
  const visible = (el) => el.checkVisibility();
  const els = [...document.querySelectorAll("input, select, textarea")].filter((el) => el.name === name);
  if (els.length > 0) {
    const el = els[0];
    const tag = el.tagName.toLowerCase();
    const type = (el.getAttribute("type") || "").toLowerCase();
    if (tag === "select") {
      return { kind: "select", visible: visible(el), hasChoice: [...el.options].some((o) => o.value === value) };
    }
    if (type === "radio") {
      const radio = els.find((r) => r.value === value);
      return { kind: "radio", visible: radio ? visible(radio) : false, hasChoice: Boolean(radio) };
    }
    if (type === "checkbox") return { kind: "checkbox", visible: visible(el), checkboxValue: el.value };
    if (type === "hidden") return { kind: "hidden", visible: false };
    return { kind: "input", visible: visible(el) };
  }
  const ranges = [...document.querySelectorAll('input[type="range"]:not([name])')];
  let index = ranges.findIndex((el) => el.id === name);
  const numbered = /^range_(\\d+)$/.exec(name);
  if (index < 0 && numbered) index = Number(numbered[1]) - 1;
  if (index >= 0 && index < ranges.length) return { kind: "range", visible: visible(ranges[index]), rangeIndex: index };
  return { kind: "missing", visible: false };
}`;

/** Runs in the page: sets a control's value directly and fires input and change, as typing would. */
const SET_QUIETLY = `function (name, target, value) {
  let el;
  if (target.kind === "range") el = document.querySelectorAll('input[type="range"]:not([name])')[target.rangeIndex];
  else if (target.kind === "radio") el = [...document.querySelectorAll("input")].find((r) => r.name === name && r.value === value);
  else el = [...document.querySelectorAll("input, select, textarea")].find((e) => e.name === name);
  if (!el) return;
  if (target.kind === "radio") el.checked = true;
  else if (target.kind === "checkbox") el.checked = ["y", "on", "true", "1"].includes(value.trim().toLowerCase()) || value === el.value;
  else el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
  el.dispatchEvent(new Event("change", { bubbles: true }));
}`;

/** Runs in the page: adds hidden inputs to oTree's form (values it posts that no control holds). */
const ADD_HIDDEN = `function (values) {
  const form = document.getElementById("form") || document.querySelector("form");
  if (!form) return;
  for (const [name, value] of Object.entries(values)) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }
}`;

/** Runs in the page: submits oTree's form, with HTML5 validation (requestSubmit) or without (submit). */
const SUBMIT_FORM = `function (validate) {
  const form = document.getElementById("form") || document.querySelector("form");
  if (!form) throw new Error("the page has no form to submit");
  if (validate) form.requestSubmit();
  else form.submit();
}`;

/** Runs in the page: the HTML5 validation messages that would block a submit, as "name: message". */
const INVALID_FIELDS = `function () {
  const form = document.getElementById("form") || document.querySelector("form");
  if (!form || form.noValidate) return [];
  const out = [];
  const seen = new Set();
  for (const el of form.elements) {
    if (!el.willValidate || el.checkValidity()) continue;
    const name = el.name || el.id || el.tagName.toLowerCase();
    if (seen.has(name)) continue;
    seen.add(name);
    out.push(name + ": " + el.validationMessage);
  }
  return out;
}`;

function refuseJoin(url: string): void {
  if (refusedJoin(url)) throw new OtreeServerError(`${url} is a /join link: a bot never follows it`);
}

function refusedJoin(url: string): boolean {
  try {
    return new URL(url).pathname.startsWith("/join/");
  } catch {
    return false;
  }
}

class RetryableError extends Error {}

/** Connection failures and timeouts of a page load (Playwright's errors carry net::ERR_… texts). */
function isLoadError(err: unknown): boolean {
  // "Execution context was destroyed": the page navigated (its own script) while being read.
  return (
    isTimeout(err) || /net::ERR_|Execution context was destroyed|frame was detached/i.test(firstLine(err))
  );
}

function isTimeout(err: unknown): boolean {
  return (err as { name?: string } | undefined)?.name === "TimeoutError";
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n").find((line) => line.trim() !== "") ?? message;
}

function clip(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}
