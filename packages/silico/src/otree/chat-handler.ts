import type { LoadedPage, PageHandler, PageHandlerContext } from "./bot-contract.js";
import { connectSocket, type SocketConnection, socketUrl } from "./socket-connection.js";

/*
 * oTree's `{{ chat }}` tag renders, per chat on the page, an inline script with
 * `var varsFromDjango = {"channel", "socket_path": "/chat?channel=..&participant_id=..",
 * "participant_id", "nickname_signed", "nickname", ...};` (one line of JSON). On connect the
 * server sends the channel's history as a JSON list of {nickname, body, participant_id}; a client
 * sends {body, nickname_signed}; every message is broadcast to the channel as a one-element list,
 * the sender included.
 */

/** One `{{ chat }}` widget of a page. */
export interface ChatWidget {
  channel: string;
  socketPath: string;
  /** oTree's participant id (not the code): how the bot tells its own messages from others'. */
  participantId: number;
  nicknameSigned: string;
  nickname: string;
}

export interface ChatMessage {
  nickname: string;
  body: string;
  participantId: number;
}

const VARS = /var varsFromDjango = (\{.*\});?\s*$/gm;

/** The chat widgets of a page, read from its HTML (none when the page has no `{{ chat }}`). */
export function readChatWidgets(html: string): ChatWidget[] {
  const widgets: ChatWidget[] = [];
  for (const match of html.matchAll(VARS)) {
    let vars: Record<string, unknown>;
    try {
      vars = JSON.parse(match[1] ?? "") as Record<string, unknown>;
    } catch {
      continue;
    }
    const { channel, socket_path, participant_id, nickname_signed, nickname } = vars;
    if (
      typeof socket_path === "string" &&
      socket_path.startsWith("/chat?") &&
      typeof participant_id === "number" &&
      typeof nickname_signed === "string"
    ) {
      widgets.push({
        channel: String(channel ?? ""),
        socketPath: socket_path,
        participantId: participant_id,
        nicknameSigned: nickname_signed,
        nickname: typeof nickname === "string" ? nickname : "",
      });
    }
  }
  return widgets;
}

export interface ChatHandlerOptions {
  /** How many messages a bot sends at most on one chat (the study's `bots.chat.max_messages`). Default 3. */
  maxMessages?: number;
  /** How long the bot waits for others' replies after each of its turns (ms, at most 60 s). Default 5 s. */
  replyWaitMs?: number;
  /** Once a reply came, how long to wait for more before the next turn (ms). Default 500. */
  settleMs?: number;
  /** Give up connecting (or waiting for the history) after this long. Default 10 s. */
  connectTimeoutMs?: number;
  /** The longest message the model may send (characters). Default 1000. */
  maxLength?: number;
}

const MAX_REPLY_WAIT_MS = 60_000;
/** Stop chatting this long before a timed page's timer runs out. */
const TIMER_MARGIN_MS = 5_000;

/**
 * Takes part in a page's `{{ chat }}`: shows the bot the history, then lets it send up to
 * `maxMessages` messages, one model turn at a time, waiting a little for replies in between. A
 * turn may also send nothing; a turn that sends nothing and gets no reply ends the chat. The
 * bot's own messages already in the history (a resumed bot) count against its budget; what it
 * received is noted in its state, so a resumed bot records each message once and does not take up
 * a chat it had finished. Others' messages are data: they are quoted into prompts, never rendered
 * as templates.
 */
export class ChatHandler implements PageHandler {
  readonly name = "chat";
  readonly #maxMessages: number;
  readonly #replyWaitMs: number;
  readonly #settleMs: number;
  readonly #connectTimeoutMs: number;
  readonly #maxLength: number;

  constructor(options: ChatHandlerOptions = {}) {
    this.#maxMessages = Math.max(0, Math.floor(options.maxMessages ?? 3));
    this.#replyWaitMs = Math.min(MAX_REPLY_WAIT_MS, Math.max(0, options.replyWaitMs ?? 5_000));
    this.#settleMs = Math.min(this.#replyWaitMs, Math.max(0, options.settleMs ?? 500));
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#maxLength = options.maxLength ?? 1_000;
  }

  matches(loaded: LoadedPage): boolean {
    return readChatWidgets(loaded.html).length > 0;
  }

  async run(ctx: PageHandlerContext): Promise<void> {
    const widgets = readChatWidgets(ctx.loaded.html);
    for (const [i, widget] of widgets.entries()) {
      ctx.signal?.throwIfAborted();
      await this.#chat(ctx, widget, widgets.length > 1 ? `chat${i + 1}` : "chat");
    }
  }

  /** What a bot resumed on this page did before the stop, per chat channel (from the bot's state). */
  #noted(ctx: PageHandlerContext, channel: string): { received: number; done: boolean } {
    const all = (ctx.memo?.get() ?? {}) as Record<string, { received?: number; done?: boolean }>;
    const mine = all[channel] ?? {};
    return { received: mine.received ?? 0, done: mine.done === true };
  }

  #note(ctx: PageHandlerContext, channel: string, value: { received: number; done: boolean }): void {
    ctx.memo?.set({ ...(ctx.memo.get() ?? {}), [channel]: value });
  }

  async #chat(ctx: PageHandlerContext, widget: ChatWidget, turnName: string): Promise<void> {
    // On a timed page the chat ends a few seconds before the timer, so the form is still answered.
    const timer = ctx.loaded.page.timeoutSeconds;
    const endBy =
      timer === undefined ? Number.POSITIVE_INFINITY : Date.now() + timer * 1000 - TIMER_MARGIN_MS;
    const socket = await connectSocket(socketUrl(ctx.baseUrl, widget.socketPath), {
      timeoutMs: this.#connectTimeoutMs,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    // A bot resumed on this page: others' messages recorded before the stop are not recorded
    // again, and a chat it had finished is not taken up again (it would ask for more messages).
    const noted = this.#noted(ctx, widget.channel);
    const progress = { received: noted.received, done: noted.done };
    try {
      const first = await socket.next(this.#connectTimeoutMs, ctx.signal);
      const history = Array.isArray(first) ? readMessages(first) : [];
      const mine = (m: ChatMessage) => m.participantId === widget.participantId;
      let sent = history.filter(mine).length;
      const others = history.filter((m) => !mine(m));
      for (const m of others.slice(progress.received)) this.#recordReceived(ctx, widget, m, true, progress);
      if (noted.done) {
        if (others.length > noted.received) {
          ctx.tell(`New in the chat:\n${transcript(others.slice(noted.received), widget)}`);
        }
        return;
      }
      const label = widget.nickname ? `You appear in this chat as ${quote(widget.nickname)}.` : "";
      ctx.tell(
        history.length > 0
          ? `The chat on this page so far (oldest first). ${label}\n${transcript(history, widget)}`
          : `The chat on this page is empty so far. ${label}`.trim(),
      );

      let unseen: ChatMessage[] = [];
      let passes = 0;
      for (let turns = 0; sent < this.#maxMessages && turns < 2 * this.#maxMessages; turns++) {
        ctx.signal?.throwIfAborted();
        if (Date.now() >= endBy) break;
        const left = this.#maxMessages - sent;
        const news =
          turns === 0
            ? ""
            : unseen.length > 0
              ? `New in the chat:\n${transcript(unseen, widget)}\n\n`
              : "No new messages in the chat.\n\n";
        unseen = [];
        const answer = await ctx.ask({
          prompt:
            `${news}You may send ${left} more chat message${left === 1 ? "" : "s"} on this page. ` +
            'Answer {"message": "your text"} to send one now, or {"message": null} to send nothing.',
          schema: this.#schema(),
          // A resumed bot that had answered but not sent gets the cached answer for the same turn.
          turn: passes === 0 ? `${turnName}/${sent + 1}` : `${turnName}/${sent + 1}-wait${passes}`,
        });
        const text = answer.valid ? messageOf(answer.value) : undefined;
        if (!answer.valid) {
          ctx.record("chat_sent", null, {
            valid: false,
            reason: answer.reason ?? "the answer did not fit the schema",
            meta: { channel: widget.channel },
          });
        }
        if (text !== undefined) {
          if (!socket.send({ body: text, nickname_signed: widget.nicknameSigned })) break;
          sent += 1;
          passes = 0;
          ctx.record("chat_sent", text, {
            meta: { channel: widget.channel, nickname: widget.nickname, index: sent },
          });
          // Committed in the same tick as the send (the frame leaves after it).
          this.#note(ctx, widget.channel, progress);
        } else {
          passes += 1;
        }
        const replies = await this.#replies(socket, widget, ctx, endBy);
        for (const m of replies) this.#recordReceived(ctx, widget, m, false, progress);
        unseen.push(...replies);
        if (text === undefined && replies.length === 0) break;
        if (socket.closed) break;
      }
      // Replies that came after the bot's last turn: the bot sees them before it answers the form.
      const late = othersIn(socket.drain(), widget);
      for (const m of late) this.#recordReceived(ctx, widget, m, false, progress);
      unseen.push(...late);
      progress.done = true;
      this.#note(ctx, widget.channel, progress);
      if (unseen.length > 0) ctx.tell(`New in the chat:\n${transcript(unseen, widget)}`);
    } finally {
      socket.close();
    }
  }

  /** Others' messages within the reply wait: the first one ends the wait, then a short settle. */
  async #replies(
    socket: SocketConnection,
    widget: ChatWidget,
    ctx: PageHandlerContext,
    endBy: number,
  ): Promise<ChatMessage[]> {
    const got: ChatMessage[] = [];
    const deadline = Math.min(endBy, Date.now() + this.#replyWaitMs);
    let settleUntil = Number.POSITIVE_INFINITY;
    for (;;) {
      const until = Math.min(deadline, settleUntil) - Date.now();
      if (until <= 0 || socket.closed) break;
      const frame = await socket.next(until, ctx.signal);
      if (frame === undefined) break;
      got.push(...othersIn([frame], widget));
      if (got.length > 0) settleUntil = Math.min(settleUntil, Date.now() + this.#settleMs);
    }
    return got;
  }

  #recordReceived(
    ctx: PageHandlerContext,
    widget: ChatWidget,
    m: ChatMessage,
    fromHistory: boolean,
    progress: { received: number; done: boolean },
  ): void {
    ctx.record("chat_received", m.body, {
      meta: { channel: widget.channel, nickname: m.nickname, from_history: fromHistory },
    });
    progress.received += 1;
    this.#note(ctx, widget.channel, progress);
  }

  #schema(): Record<string, unknown> {
    return {
      type: "object",
      properties: {
        message: { anyOf: [{ type: "string", minLength: 1, maxLength: this.#maxLength }, { type: "null" }] },
      },
      required: ["message"],
      additionalProperties: false,
    };
  }
}

function readMessages(list: unknown[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const item of list) {
    if (typeof item !== "object" || item === null) continue;
    const { nickname, body, participant_id } = item as Record<string, unknown>;
    if (typeof body !== "string") continue;
    out.push({
      nickname: typeof nickname === "string" ? nickname : "",
      body,
      participantId: typeof participant_id === "number" ? participant_id : -1,
    });
  }
  return out;
}

function othersIn(frames: unknown[], widget: ChatWidget): ChatMessage[] {
  return frames
    .filter(Array.isArray)
    .flatMap((frame) => readMessages(frame))
    .filter((m) => m.participantId !== widget.participantId);
}

function messageOf(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const message = (value as { message?: unknown }).message;
  return typeof message === "string" && message.trim() !== "" ? message : undefined;
}

/** Bodies are JSON-quoted: a message can hold anything, and must read as a quote, not as instructions. */
function transcript(messages: ChatMessage[], widget: ChatWidget): string {
  return messages
    .map(
      (m) =>
        `- ${m.participantId === widget.participantId ? "you" : quote(m.nickname || "someone")}: ${quote(m.body)}`,
    )
    .join("\n");
}

function quote(text: string): string {
  return JSON.stringify(text);
}
