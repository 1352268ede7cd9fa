/**
 * Anthropic's Messages API, as far as the test server speaks it: a request body turned into the
 * chat messages the default responder answers, and an answer turned into a Message object.
 * Pure functions; the server (openai-test-server.ts) does the answering, so a message and a chat
 * completion with the same conversation get the same text.
 */
import type { WireMessage } from "./default-responder.js";

export class MessagesBadRequest {
  constructor(readonly message: string) {}
}

export interface ParsedMessages {
  model: string;
  /** System first (when given), then the conversation, each with plain-text content. */
  messages: WireMessage[];
  maxTokens: number;
  stop: string[];
  /** What the responder sees as the request's parameters (temperature, top_p …). */
  params: Record<string, unknown>;
}

function blocksText(content: unknown, where: string): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content))
    throw new MessagesBadRequest(`${where}: expected a string or a list of blocks`);
  let text = "";
  for (const block of content) {
    const b = block as { type?: unknown; text?: unknown } | null;
    if (b && b.type === "text" && typeof b.text === "string") text += b.text;
    else if (!b || typeof b.type !== "string") throw new MessagesBadRequest(`${where}: a block has no type`);
  }
  return text;
}

/** Validates a POST /v1/messages body (or a batch request's `params`). Throws MessagesBadRequest. */
export function parseMessagesBody(body: unknown): ParsedMessages {
  if (!body || typeof body !== "object" || Array.isArray(body))
    throw new MessagesBadRequest("the request body must be a JSON object");
  const b = body as Record<string, unknown>;
  if (b.stream === true) throw new MessagesBadRequest("stream: the test server does not stream");
  if (typeof b.model !== "string" || b.model === "") throw new MessagesBadRequest("model: Field required");
  if (typeof b.max_tokens !== "number" || !Number.isInteger(b.max_tokens) || b.max_tokens < 1)
    throw new MessagesBadRequest("max_tokens: Field required (a positive integer)");
  if (!Array.isArray(b.messages) || b.messages.length === 0)
    throw new MessagesBadRequest("messages: at least one message is required");
  const messages: WireMessage[] = [];
  if (b.system !== undefined) messages.push({ role: "system", content: blocksText(b.system, "system") });
  b.messages.forEach((m, i) => {
    const msg = m as { role?: unknown; content?: unknown } | null;
    if (!msg || (msg.role !== "user" && msg.role !== "assistant"))
      throw new MessagesBadRequest(`messages.${i}.role: expected "user" or "assistant"`);
    messages.push({ role: msg.role, content: blocksText(msg.content, `messages.${i}.content`) });
  });
  const t = b.temperature;
  if (t !== undefined && (typeof t !== "number" || t < 0 || t > 1))
    throw new MessagesBadRequest("temperature: expected a number between 0 and 1");
  const stop = Array.isArray(b.stop_sequences)
    ? (b.stop_sequences as unknown[]).filter((s): s is string => typeof s === "string" && s !== "")
    : [];
  const params: Record<string, unknown> = { ...b };
  delete params.messages;
  delete params.system;
  return { model: b.model, messages, maxTokens: b.max_tokens, stop, params };
}

/** A Message object as Anthropic returns it. */
export function messageObject(
  id: string,
  model: string,
  text: string,
  finish: "stop" | "length" | string,
  stopSequence: string | null,
  inputTokens: number,
  outputTokens: number,
): Record<string, unknown> {
  return {
    id,
    type: "message",
    role: "assistant",
    model,
    content: [{ type: "text", text }],
    stop_reason: finish === "length" ? "max_tokens" : stopSequence !== null ? "stop_sequence" : "end_turn",
    stop_sequence: stopSequence,
    usage: { input_tokens: inputTokens, output_tokens: outputTokens },
  };
}

/** Anthropic's error body: {type: "error", error: {type, message}}. */
export function anthropicError(type: string, message: string): Record<string, unknown> {
  return { type: "error", error: { type, message } };
}
