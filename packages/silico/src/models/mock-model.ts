import { createHash } from "node:crypto";
import { exampleAnswer } from "../parse/example-answer.js";
import type { ParserSpec } from "../parse/types.js";
import type { Message, Model, ModelRequest, ModelResponse } from "./types.js";

/** A scripted answer: text, or a full response for tests that need usage, logprobs or failures. */
export type MockResponder = (
  request: ModelRequest,
  callIndex: number,
) => string | Partial<ModelResponse> | Promise<string | Partial<ModelResponse>>;

const registered = new Map<string, MockResponder>();

/** Make `mock:<name>` answer with a function (library users and tests). */
export function registerMockModel(name: string, responder: MockResponder): void {
  registered.set(name, responder);
}

export function isKnownMock(name: string): boolean {
  return (
    registered.has(name) ||
    name === "echo" ||
    name === "random" ||
    name === "example" ||
    name.startsWith("fixed:") ||
    name.startsWith("script:")
  );
}

function textOf(m: Message | undefined): string {
  if (!m) return "";
  return typeof m.content === "string"
    ? m.content
    : m.content.map((p) => (p.type === "text" ? p.text : "")).join("");
}

/**
 * Built-in scripts: `mock:echo` repeats the last user message, `mock:fixed:TEXT` always says TEXT,
 * `mock:script:A|B|C` answers A, B, C in turn, and `mock:random` gives a plausible valid answer
 * for the parser's shape, derived from the messages and the call's seed (so a whole study can be
 * simulated offline, and two participants with the same conversation still answer independently).
 * `mock:example` answers with the parser's example answer — the same one the game pre-flight,
 * `--dry-run` and `silico check` use — so a test or a doc shows exactly what they simulate.
 */
export function builtinResponder(name: string): MockResponder | undefined {
  const custom = registered.get(name);
  if (custom) return custom;
  if (name === "echo") return lastUserText;
  if (name.startsWith("fixed:")) {
    const text = name.slice("fixed:".length);
    return () => text;
  }
  if (name.startsWith("script:")) {
    const answers = name.slice("script:".length).split("|");
    return (_req, i) => answers[i % answers.length] ?? "";
  }
  if (name === "example") return (req) => exampleAnswer(specOf(req), lastUserText(req)).raw;
  if (name === "random") {
    return (req) => {
      // The seed is part of the draw: two participants (or draws) with the same conversation get
      // their own answers, since the executor sends each call its own derived seed.
      const digest = createHash("sha256")
        .update(JSON.stringify({ messages: req.messages, seed: req.params.seed ?? null }))
        .digest("hex");
      const h = Number.parseInt(digest.slice(0, 8), 16);
      const c = req.constraint;
      if (c?.type === "choice") return c.options[h % c.options.length] ?? "";
      if (c?.type === "number")
        return String(numberIn(c.min ?? 0, c.max ?? (c.min ?? 0) + 100, c.integer, h));
      // One valid JSON value is as plausible as another: the shared example answer.
      if (c?.type === "json") return exampleAnswer(c, lastUserText(req)).raw;
      return `answer ${h % 1000}`;
    };
  }
  return undefined;
}

/** A number in [lo, hi] picked by `h`: whole when the range or the parser asks for it. */
function numberIn(lo: number, hi: number, integer: boolean | undefined, h: number): number {
  if (integer || (Number.isInteger(lo) && Number.isInteger(hi))) {
    const a = Math.ceil(lo);
    const b = Math.floor(hi);
    if (b >= a) return a + (h % (b - a + 1));
  }
  return Math.min(hi, lo + ((h % 1001) / 1000) * (hi - lo));
}

/** The parser's shape as the request carries it (its output constraint); plain text without one. */
function specOf(req: ModelRequest): ParserSpec {
  return req.constraint ?? { type: "text" };
}

function lastUserText(req: ModelRequest): string {
  return textOf(req.messages.filter((m) => m.role === "user").at(-1));
}

export class MockModel implements Model {
  readonly info;
  private calls = 0;
  constructor(
    id: string,
    private readonly responder: MockResponder,
  ) {
    this.info = { id, provider: "mock" };
  }

  async generate(request: ModelRequest): Promise<ModelResponse> {
    const n = request.params.n ?? 1;
    const choices: ModelResponse["choices"] = [];
    let usage = { inputTokens: 0, outputTokens: 0 };
    let warnings: string[] = [];
    for (let i = 0; i < n; i++) {
      const out = await this.responder(request, this.calls++);
      if (typeof out === "string") {
        choices.push({ text: out, finishReason: "stop" });
        usage = {
          inputTokens: usage.inputTokens + countWords(request.messages.map(textOf).join(" ")),
          outputTokens: usage.outputTokens + countWords(out),
        };
      } else {
        choices.push(...(out.choices ?? []));
        if (out.usage) usage = out.usage;
        warnings = out.warnings ?? warnings;
      }
    }
    return { choices, usage, warnings, raw: { mock: this.info.id, choices: choices.map((c) => c.text) } };
  }
}

function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}
