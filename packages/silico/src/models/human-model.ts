import { createInterface, type Interface } from "node:readline";
import type { ContentPart, Message, Model, ModelRequest, ModelResponse } from "./types.js";
import { ProviderError } from "./types.js";

export interface HumanIO {
  input: NodeJS.ReadableStream;
  /** Where the dialogue is printed. The CLI uses stderr, because stdout ends with the run id. */
  output: NodeJS.WritableStream;
}

/**
 * One line reader per input stream, shared by every human model reading it, with a queue so that
 * only one question is on screen at a time (a person answers one question after another, even
 * when several sessions or participants wait for an answer).
 */
class LineReader {
  private rl?: Interface;
  private lines: string[] = [];
  private waiting: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  private ended = false;
  private turn: Promise<unknown> = Promise.resolve();
  private users = 0;
  answered = 0;

  constructor(private readonly input: NodeJS.ReadableStream) {}

  acquire(): void {
    this.users++;
  }

  release(): void {
    this.users = Math.max(0, this.users - 1);
    if (this.users === 0) this.close();
  }

  private open(): void {
    if (this.rl || this.ended) return;
    this.rl = createInterface({ input: this.input, terminal: false, crlfDelay: Number.POSITIVE_INFINITY });
    this.rl.on("line", (line) => {
      const w = this.waiting.shift();
      if (w) w.resolve(line);
      else this.lines.push(line);
    });
    const rl = this.rl;
    rl.on("close", () => {
      // Closed by release(): a later participant may open the input again. Otherwise the input ended.
      if (this.rl !== rl) return;
      this.rl = undefined;
      this.ended = true;
      for (const w of this.waiting.splice(0)) w.reject(this.eofError());
    });
  }

  private eofError(): ProviderError {
    return new ProviderError(
      `human participant: the input ended (EOF on standard input) while waiting for an answer; ${this.answered} answer${this.answered === 1 ? " was" : "s were"} read before it. Pipe one line per answer, or type them at the terminal.`,
      { retryable: false, fatal: true },
    );
  }

  private nextLine(): Promise<string> {
    this.open();
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.reject(this.eofError());
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Runs `show` and then reads one line, after every earlier question has been answered. */
  exclusive(show: () => void): Promise<string> {
    const mine = this.turn.then(async () => {
      show();
      const line = await this.nextLine();
      this.answered++;
      return line;
    });
    this.turn = mine.catch(() => undefined);
    return mine;
  }

  close(): void {
    const rl = this.rl;
    this.rl = undefined;
    rl?.close();
  }
}

const readers = new WeakMap<NodeJS.ReadableStream, LineReader>();

function readerFor(input: NodeJS.ReadableStream): LineReader {
  let r = readers.get(input);
  if (!r) {
    r = new LineReader(input);
    readers.set(input, r);
  }
  return r;
}

function textOf(content: Message["content"]): string {
  if (typeof content === "string") return content;
  return content
    .map((p: ContentPart) => (p.type === "text" ? p.text : `[image${p.url ? ` ${p.url}` : ""}]`))
    .join("\n");
}

function sameMessage(a: Message, b: Message): boolean {
  return a.role === b.role && textOf(a.content) === textOf(b.content);
}

interface Conversation {
  number: number;
  seen: Message[];
}

/**
 * A person at the terminal (alter_ego's CLIThread): prints the system prompt the first time a
 * conversation is seen, then every new prompt, and reads one line per answer. Conversations are
 * told apart by their message history (each participant keeps its own), so one human model can
 * play several participants. EOF on the input is a fatal error that stops the run.
 */
export function createHumanModel(id: string, io?: HumanIO): Model {
  const input = io?.input ?? process.stdin;
  const output = io?.output ?? process.stderr;
  const reader = readerFor(input);
  reader.acquire();
  const conversations: Conversation[] = [];
  const byParticipant = new Map<string, Conversation>();
  let closed = false;

  // The executor says who is asked; without that, a conversation is recognised by its history.
  const find = (request: ModelRequest): Conversation | undefined => {
    const p = request.participant;
    if (p) return byParticipant.get(`${p.session}\u0000${p.id}`);
    let best: Conversation | undefined;
    for (const c of conversations) {
      const m = request.messages;
      if (c.seen.length <= m.length && c.seen.every((x, i) => sameMessage(x, m[i] as Message))) {
        if (!best || c.seen.length > best.seen.length) best = c;
      }
    }
    return best;
  };
  const open = (request: ModelRequest): Conversation => {
    const c: Conversation = { number: conversations.length + 1, seen: [] };
    conversations.push(c);
    const p = request.participant;
    if (p) byParticipant.set(`${p.session}\u0000${p.id}`, c);
    return c;
  };

  return {
    // A person's answer is theirs alone: never replay it from the cache in another run.
    info: { id, provider: "human" },
    async generate(request: ModelRequest): Promise<ModelResponse> {
      const asked: { conv?: Conversation } = {};
      const line = await reader
        .exclusive(() => {
          const found = find(request);
          const conv = found ?? open(request);
          asked.conv = conv;
          const isNew = !found;
          const fresh = request.messages.slice(conv.seen.length);
          const p = request.participant;
          const who = !p
            ? `conversation ${conv.number}`
            : p.role && p.role !== p.id
              ? `${p.id} (${p.role})`
              : p.id;
          const where = p ? ` · session ${p.session}` : "";
          const out: string[] = [
            `\n━━ ${id} — you are ${who}${where}${isNew ? " · new conversation" : ""} ━━`,
          ];
          for (const m of fresh) {
            if (m.role === "assistant") continue;
            out.push(m.role === "system" ? `[instructions]\n${textOf(m.content)}` : textOf(m.content));
          }
          out.push("your answer> ");
          output.write(out.join("\n\n"));
        })
        .catch((e: unknown) => {
          output.write("\n");
          throw e;
        });
      if (asked.conv) asked.conv.seen = [...request.messages, { role: "assistant", content: line }];
      const n = request.params.n ?? 1;
      return {
        choices: [{ text: line, finishReason: "stop" }],
        usage: { inputTokens: 0, outputTokens: 0 },
        warnings: n > 1 ? [`a human answers once; n=${n} was ignored`] : [],
        raw: { human: id },
      };
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      reader.release();
    },
  };
}
