import type { OtreePage } from "./page-model.js";

/*
 * The seams between the parts of an oTree bot, fixed first so that they can be built apart:
 * a transport (HTTP by default, a browser page in `driver: browser`) loads and submits pages; a
 * waiter sits on wait pages; page handlers take over chat and live pages before the form is
 * answered. The bot loop (designs/otree) only talks to these interfaces.
 */

/** One participant page as a transport loaded it. */
export interface LoadedPage {
  /** Absolute URL of the page after redirects, e.g. http://127.0.0.1:8000/p/abc123/app/Offer/3. */
  url: string;
  page: OtreePage;
  /** oTree re-displayed the page with validation errors (header `otree-redisplay-with-errors: 1`). */
  rejected: boolean;
  /** The page's HTML as served (socket URLs, the record of an unsupported page). */
  html: string;
}

/** What a bot posts for a page. */
export interface SubmitForm {
  /** Field values as posted (oTree's values, not labels); a checkbox left out means False. */
  fields: Record<string, string>;
  /** The button pressed: a named choice button, or oTree's next or back button. */
  button?: { name?: string; value?: string; role: "next" | "back" | "choice" };
  /** The page's timer ran out: post `timeout_happened=1` as oTree's own page script does. */
  timeoutHappened?: boolean;
}

/** How one bot opens and submits pages. One transport per bot; never follows `/join` links. */
export interface PageTransport {
  /** Opens the participant's start link (`/InitializeParticipant/{code}`), following redirects with GET. */
  open(startLink: string): Promise<LoadedPage>;
  /** Loads the current page again (a stale page URL redirects to the current one). */
  reload(): Promise<LoadedPage>;
  /** Submits the current page and returns the page that follows (or the same page, rejected). */
  submit(form: SubmitForm): Promise<LoadedPage>;
  close(): Promise<void>;
}

export interface WaitOptions {
  /** The server's base URL, e.g. http://127.0.0.1:8000 (sockets are opened against it). */
  baseUrl: string;
  /** Give up after this long (the study's wait limit; default 1 h). */
  limitMs: number;
  signal?: AbortSignal;
  /** Called now and then while waiting, with the seconds waited so far (for a progress line). */
  onWaiting?: (waitedSeconds: number) => void;
}

/**
 * Waits on a wait page until oTree says the bot may go on: the page's `/wait_page` socket, with
 * GET polling of the page as a fallback. "ready" means: reload the page now.
 */
export type WaitForPage = (loaded: LoadedPage, options: WaitOptions) => Promise<"ready" | "timeout">;

/** What a chat or live page handler may do for its bot. */
export interface PageHandlerContext {
  loaded: LoadedPage;
  baseUrl: string;
  /** Observation coordinates of this page (participant code, app, round, page …). */
  turnPrefix: string;
  /** Ask the bot's model one question (through the executor); `turn` is unique within the page. */
  ask(question: { prompt: string; schema: Record<string, unknown>; turn: string }): Promise<{
    valid: boolean;
    value: unknown;
    raw: string;
    reason?: string;
  }>;
  /** Show the bot something without a call (e.g. a chat message it received). */
  tell(text: string): void;
  /** Record an observation of this page (a message sent or received, a live payload). */
  record(
    name: string,
    value: unknown,
    extra?: { valid?: boolean; reason?: string; meta?: Record<string, unknown> },
  ): void;
  signal?: AbortSignal;
  /**
   * The handler's own notes on this page, kept in the bot's design state (committed at once): what
   * a resumed bot finds here was done before the stop (e.g. a live page's on_connect sent).
   */
  memo?: {
    get(): Record<string, unknown> | undefined;
    set(value: Record<string, unknown>): void;
  };
}

/**
 * Takes over a page that needs sockets (`{{ chat }}`, a live page) until the bot is done with it;
 * the bot loop then answers the page's form (if any) and submits it as usual.
 */
export interface PageHandler {
  readonly name: string;
  matches(loaded: LoadedPage): boolean;
  run(ctx: PageHandlerContext): Promise<void>;
}
