import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { SilicoError } from "../errors.js";
import type { LoadedPage, PageHandler, PageHandlerContext } from "./bot-contract.js";
import { connectSocket, type SocketConnection, socketUrl } from "./socket-connection.js";

/*
 * A live page has `script#otree-live[data-socket-url="/live?participant_code=..&page_name=..
 * &page_index=..&session_code=.."]`. A client sends one JSON text frame per `liveSend(data)`; the
 * server answers each participant with `{"otree_success": true, "live_method_payload": ...}`.
 * live_method returns a dict keyed by id_in_group (0 = the whole group), but oTree picks each
 * participant's entry itself (its own id, else 0) before sending: the payload a client gets is
 * already its own. A live_method exception sends `{"otree_success": false}` to the sender only. A
 * message from a participant no longer on that page is ignored. There is no history replay: apps
 * answer something like {"type": "load"} with the current state.
 */

/** How a bot plays one live page: the study's `bots.live.<PageName>` (see designs/otree/live-adapter-schema.ts). */
export interface LiveAdapter {
  /** JSON Schema of one message the bot may send (the `data` of `liveSend(data)`). Required without a hook. */
  send?: Record<string, unknown>;
  /** Shown to the model with every turn: what the messages mean. */
  instructions?: string;
  /** Sent at once on connect, without asking the model (e.g. {"type": "load"}); once per page. */
  onConnect?: unknown;
  /** Sent instead when a resumed bot comes back to a page whose on_connect went out (e.g. a load). */
  onResume?: unknown;
  /** Keys of an object payload shown to the model (default: all of it). */
  show?: string[];
  /** Keys of an object payload recorded as observations (default: those shown). */
  record?: string[];
  /** A payload whose keys have all these values ends the page for the bot (any of the list). */
  doneWhen?: Record<string, unknown>[];
  /** The bot sends at most this many messages (the on-connect message not counted). */
  maxMessages: number;
  /** The model is asked at most this many times (a turn may send nothing and wait). */
  maxTurns: number;
  /** How long to wait for the server's next message after a turn (ms). */
  waitMs: number;
  /** Once a message came, how long to wait for more before the next turn (ms). */
  settleMs: number;
  /** Code for a page the declarative part cannot play: it then drives the page alone. */
  hook?: LiveHook;
}

/** One message the server sent on a live socket. */
export interface LiveMessage {
  /** False when the app's live_method raised (oTree then sends no payload). */
  success: boolean;
  /** `live_method_payload`: what live_method returned or yielded for this participant. */
  payload: unknown;
}

/** What a live hook may do on its page. The socket is open (and `onConnect` sent) when it starts. */
export interface LiveHookSession {
  readonly pageName: string;
  readonly loaded: LoadedPage;
  readonly adapter: LiveAdapter;
  /** Sends one message (one JSON frame) and records it as `live_sent`. False when the socket is closed. */
  send(message: unknown): boolean;
  /** The next message from the server (recorded as `live_received`), or undefined after `timeoutMs` or on close. */
  receive(timeoutMs: number): Promise<LiveMessage | undefined>;
  readonly closed: boolean;
  /**
   * The bot is back on this page after a stop (a resume): what it sent before is in the record, and
   * `sent` counts it. A hook that acts on connect should not act again.
   */
  readonly resumed: boolean;
  /** Messages the bot sent on this page so far (before a stop included; on_connect not counted). */
  readonly sent: number;
  /** True when the participant is no longer on this page (a GET of its URL redirects). */
  pageMovedOn(): Promise<boolean>;
  ask: PageHandlerContext["ask"];
  tell: PageHandlerContext["tell"];
  record: PageHandlerContext["record"];
  readonly signal?: AbortSignal;
}

/**
 * A TypeScript hook for a live page that needs code: a module whose default export (or export
 * named `live`) is a `LiveHook`. It returns when the bot is done with the page; the bot then
 * answers the page's form (if any) and submits it.
 */
export type LiveHook = (session: LiveHookSession) => Promise<void> | void;

/** Loads a live hook module (a path relative to `baseDir`, usually the study file's folder). */
export async function loadLiveHook(modulePath: string, baseDir: string): Promise<LiveHook> {
  const file = resolve(baseDir, modulePath);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    const typescript =
      /\.[cm]?ts$/.test(file) && (err as NodeJS.ErrnoException).code === "ERR_UNKNOWN_FILE_EXTENSION"
        ? " (this Node cannot import TypeScript: build the hook to a .js/.mjs file, or use Node ≥ 22.18)"
        : "";
    throw new SilicoError(
      "study_invalid",
      `live hook ${modulePath} could not be loaded: ${err instanceof Error ? err.message : String(err)}${typescript}`,
      { cause: err },
    );
  }
  const hook = typeof mod.default === "function" ? mod.default : mod.live;
  if (typeof hook !== "function") {
    throw new SilicoError(
      "study_invalid",
      `live hook ${modulePath} must export a function (export default, or export named "live"), got ${Object.keys(mod).join(", ") || "no exports"}`,
    );
  }
  return hook as LiveHook;
}

/** The live socket's path of a page (undefined when it is not a live page). */
export function liveSocketPath(html: string): string | undefined {
  const tag = /<script\b[^>]*\bid="otree-live"[^>]*>/.exec(html)?.[0];
  const url = tag && /\bdata-socket-url="([^"]*)"/.exec(tag)?.[1];
  return url ? url.replaceAll("&amp;", "&") : undefined;
}

/** The page (class) name of a live page, from its socket URL. */
export function livePageName(html: string): string | undefined {
  const path = liveSocketPath(html);
  if (path === undefined) return undefined;
  return new URLSearchParams(path.slice(path.indexOf("?") + 1)).get("page_name") ?? undefined;
}

export interface LiveHandlerOptions {
  /** Adapters by page name (the page's class name in the app, e.g. "Bargain"). */
  adapters: Record<string, LiveAdapter>;
  /** Give up connecting after this long. Default 10 s. */
  connectTimeoutMs?: number;
}

/** Why the bot stopped playing a live page (recorded as `live_end`). */
export type LiveEnd =
  | "finished"
  | "max_messages"
  | "max_turns"
  | "page_moved_on"
  | "socket_closed"
  | "idle"
  | "hook"
  | "time";

/**
 * Plays live pages that have an adapter: sends the on-connect message, then asks the model for
 * each next message (or none, to wait) with the adapter's schema, shows it what the server sent,
 * records every message both ways, and stops when a payload says done, at the message or turn
 * budget, when the page moved on or the socket closed, after two silent turns in a row, or a few
 * seconds before the page's timer runs out.
 */
export class LiveHandler implements PageHandler {
  readonly name = "live";
  readonly #adapters: Record<string, LiveAdapter>;
  readonly #connectTimeoutMs: number;

  constructor(options: LiveHandlerOptions) {
    this.#adapters = options.adapters;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  }

  matches(loaded: LoadedPage): boolean {
    const name = livePageName(loaded.html);
    return name !== undefined && Object.hasOwn(this.#adapters, name);
  }

  async run(ctx: PageHandlerContext): Promise<void> {
    const path = liveSocketPath(ctx.loaded.html);
    const pageName = livePageName(ctx.loaded.html);
    const adapter = pageName === undefined ? undefined : this.#adapters[pageName];
    if (path === undefined || pageName === undefined || adapter === undefined) {
      throw new Error(`${ctx.loaded.url} is not a live page with an adapter`);
    }
    const memo = ctx.memo?.get() ?? {};
    if (memo.end !== undefined) return; // played before a stop: what is left is the page's form
    const socket = await connectSocket(socketUrl(ctx.baseUrl, path), {
      timeoutMs: this.#connectTimeoutMs,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    try {
      const session = new Session(ctx, socket, pageName, adapter, memo);
      if (memo.unconfirmed === true) {
        // Stopped between a send and the server's next message: a frame in flight when the
        // process died may never have reached the live_method, so the data says so.
        ctx.record("live_unconfirmed", null, {
          valid: false,
          reason:
            "silico stopped right after sending its last message on this page, before the server answered: the server may not have received it",
          meta: { page: pageName, sent: session.sent },
        });
        session.save();
      }
      // A resumed bot does not send it again: the server may treat it as an action (an offer).
      if (adapter.onConnect !== undefined && !session.onConnectSent) {
        session.send(adapter.onConnect, { on_connect: true });
      } else if (adapter.onConnect !== undefined && adapter.onResume !== undefined) {
        session.send(adapter.onResume, { on_resume: true });
      }
      let end: LiveEnd = "hook";
      if (adapter.hook) await adapter.hook(session.api());
      else end = await session.play();
      ctx.record("live_end", end, { meta: { page: pageName, sent: session.sent } });
      session.save({ end });
    } finally {
      socket.close();
    }
  }
}

/** Stop this long before the page's timer runs out, so the bot still submits its form in time. */
const TIMER_MARGIN_MS = 5_000;

class Session {
  sent: number;
  onConnectSent: boolean;
  /** The last turn whose message went out (a resumed bot goes on after it). */
  turn: number;
  /** on_connect went out in this process (its answer is worth waiting for). */
  greeted = false;
  /** The bot had been on this page before a stop. */
  readonly resumed: boolean;
  /** A message went out and no server message has come since (saved, so a resume can say so). */
  #unconfirmed = false;
  readonly #deadline: number;

  constructor(
    readonly ctx: PageHandlerContext,
    readonly socket: SocketConnection,
    readonly pageName: string,
    readonly adapter: LiveAdapter,
    memo: Record<string, unknown> = {},
  ) {
    this.resumed = memo.on_connect === true || typeof memo.sent === "number";
    this.sent = typeof memo.sent === "number" ? memo.sent : 0;
    this.onConnectSent = memo.on_connect === true;
    this.turn = typeof memo.turn === "number" ? memo.turn : 0;
    const timer = ctx.loaded.page.timeoutSeconds;
    this.#deadline =
      timer === undefined ? Number.POSITIVE_INFINITY : Date.now() + timer * 1000 - TIMER_MARGIN_MS;
  }

  /**
   * Sends, records and notes it in the bot's state in one go (no await in between): the frame
   * leaves the process after this tick, so a process killed before the note was committed has sent
   * nothing either, and a resumed bot neither repeats nor skips a message.
   */
  send(message: unknown, meta: Record<string, unknown> = {}): boolean {
    if (!this.socket.send(message)) return false;
    if (meta.on_connect === true || meta.on_resume === true) {
      if (meta.on_connect === true) this.onConnectSent = true;
      this.greeted = true;
    } else this.sent += 1;
    this.ctx.record("live_sent", message, { meta: { page: this.pageName, ...meta } });
    this.#unconfirmed = true;
    this.save();
    return true;
  }

  save(extra: Record<string, unknown> = {}): void {
    this.ctx.memo?.set({
      on_connect: this.onConnectSent,
      sent: this.sent,
      turn: this.turn,
      ...(this.#unconfirmed ? { unconfirmed: true } : {}),
      ...extra,
    });
  }

  async receive(timeoutMs: number): Promise<LiveMessage | undefined> {
    const frame = await this.socket.next(Math.min(timeoutMs, this.#deadline - Date.now()), this.ctx.signal);
    if (frame === undefined) return undefined;
    const message = readFrame(frame);
    if (this.#unconfirmed) {
      // The server answered after the last send: the socket carried it (one state write per send).
      this.#unconfirmed = false;
      this.save();
    }
    if (message.success) {
      this.ctx.record("live_received", pick(message.payload, this.adapter.record ?? this.adapter.show), {
        meta: { page: this.pageName },
      });
    } else {
      this.ctx.record("live_received", null, {
        valid: false,
        reason: "the page's live_method failed on the last message",
        meta: { page: this.pageName },
      });
    }
    return message;
  }

  /** The server's messages after a turn: wait up to `waitMs` for the first, then settle. */
  async collect(): Promise<LiveMessage[]> {
    const got: LiveMessage[] = [];
    const first = await this.receive(this.adapter.waitMs);
    if (first === undefined) return got;
    got.push(first);
    for (;;) {
      const more = await this.receive(this.adapter.settleMs);
      if (more === undefined) return got;
      got.push(more);
    }
  }

  async pageMovedOn(): Promise<boolean> {
    try {
      const res = await fetch(this.ctx.loaded.url, {
        redirect: "manual",
        signal: AbortSignal.timeout(30_000),
      });
      await res.body?.cancel();
      return res.status >= 300 && res.status < 400;
    } catch {
      return false;
    }
  }

  async play(): Promise<LiveEnd> {
    const { adapter, ctx } = this;
    // After a resume the server says nothing until asked: the bot takes its next turn at once.
    let pending = this.greeted ? await this.collect() : [];
    let silent = 0;
    for (let turn = this.turn + 1; ; turn++) {
      ctx.signal?.throwIfAborted();
      const end = this.ended(pending, turn);
      if (end !== undefined) {
        // What the page said last is what the bot answers the page's form with.
        if (pending.length > 0) ctx.tell(this.describe(pending, "The page says:"));
        return end;
      }
      const answer = await ctx.ask({
        prompt: this.prompt(pending, turn),
        schema: messageSchema(adapter.send ?? {}),
        turn: `live/${turn}`,
      });
      let message: unknown = null;
      if (answer.valid && typeof answer.value === "object" && answer.value !== null) {
        message = (answer.value as { message?: unknown }).message ?? null;
      } else if (!answer.valid) {
        ctx.record("live_sent", null, {
          valid: false,
          reason: answer.reason ?? "the answer did not fit the schema",
          meta: { page: this.pageName },
        });
      }
      this.turn = turn;
      if (message !== null && !this.send(message)) return "socket_closed";
      pending = await this.collect();
      if (message === null && pending.length === 0) {
        if (await this.pageMovedOn()) return "page_moved_on";
        silent += 1;
        if (silent >= 2) return "idle";
      } else {
        silent = 0;
      }
    }
  }

  ended(pending: LiveMessage[], turn: number): LiveEnd | undefined {
    const { adapter } = this;
    if (pending.some((m) => m.success && isDone(m.payload, adapter.doneWhen))) return "finished";
    if (this.sent >= adapter.maxMessages) return "max_messages";
    if (turn > adapter.maxTurns) return "max_turns";
    if (this.socket.closed) return "socket_closed";
    if (Date.now() >= this.#deadline) return "time";
    return undefined;
  }

  describe(pending: LiveMessage[], heading: string): string {
    const lines = [heading];
    for (const m of pending) {
      lines.push(
        m.success
          ? `- ${JSON.stringify(pick(m.payload, this.adapter.show))}`
          : "- (the page could not handle your last message)",
      );
    }
    return lines.join("\n");
  }

  prompt(pending: LiveMessage[], turn: number): string {
    const { adapter } = this;
    const lines: string[] = [`This page ("${this.pageName}") exchanges messages with the server as you act.`];
    if (adapter.instructions) lines.push(adapter.instructions.trim());
    if (pending.length > 0) {
      lines.push(
        this.describe(pending, turn === 1 ? "The page says:" : "Since your last turn the page says:"),
      );
    } else {
      lines.push(
        turn === 1 ? "The page has said nothing yet." : "Nothing new from the page since your last turn.",
      );
    }
    const left = adapter.maxMessages - this.sent;
    lines.push(
      `You may send ${left} more message${left === 1 ? "" : "s"}. Answer {"message": <message>} to send one now, ` +
        'or {"message": null} to send nothing and wait for the others. A message must match this JSON Schema: ' +
        JSON.stringify(adapter.send ?? {}),
    );
    return lines.join("\n");
  }

  api(): LiveHookSession {
    const { socket } = this;
    const session = this;
    return {
      pageName: this.pageName,
      loaded: this.ctx.loaded,
      adapter: this.adapter,
      send: (message) => this.send(message),
      receive: (timeoutMs) => this.receive(timeoutMs),
      get closed() {
        return socket.closed;
      },
      resumed: this.resumed,
      get sent() {
        return session.sent;
      },
      pageMovedOn: () => this.pageMovedOn(),
      ask: (q) => this.ctx.ask(q),
      tell: (text) => this.ctx.tell(text),
      record: (name, value, extra) => this.ctx.record(name, value, extra),
      ...(this.ctx.signal ? { signal: this.ctx.signal } : {}),
    };
  }
}

/** The schema of one answer: the adapter's message, or null to send nothing this turn. */
export function messageSchema(send: Record<string, unknown>): Record<string, unknown> {
  return {
    type: "object",
    properties: { message: { anyOf: [send, { type: "null" }] } },
    required: ["message"],
    additionalProperties: false,
  };
}

function readFrame(frame: unknown): LiveMessage {
  if (typeof frame === "object" && frame !== null && "otree_success" in frame) {
    const f = frame as { otree_success?: unknown; live_method_payload?: unknown };
    return { success: f.otree_success === true, payload: f.live_method_payload ?? null };
  }
  // Not oTree's envelope: pass it on as it came.
  return { success: true, payload: frame };
}

/** The listed keys of an object payload (all of it without a list, or when it is not an object). */
export function pick(payload: unknown, keys: string[] | undefined): unknown {
  if (keys === undefined || typeof payload !== "object" || payload === null || Array.isArray(payload))
    return payload;
  const out: Record<string, unknown> = {};
  for (const key of keys)
    if (Object.hasOwn(payload, key)) out[key] = (payload as Record<string, unknown>)[key];
  return out;
}

/** A payload ends the page when it has every key/value of one of the `when` entries. */
export function isDone(payload: unknown, when: Record<string, unknown>[] | undefined): boolean {
  if (!when || typeof payload !== "object" || payload === null) return false;
  const obj = payload as Record<string, unknown>;
  return when.some((entry) =>
    Object.entries(entry).every(
      ([k, v]) => Object.hasOwn(obj, k) && JSON.stringify(obj[k]) === JSON.stringify(v),
    ),
  );
}
