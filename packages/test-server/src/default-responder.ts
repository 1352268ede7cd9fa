/**
 * The answers of the OpenAI test server: a deterministic default responder, a small seeded PRNG,
 * word-based "token" helpers and fake (but valid) log probabilities.
 *
 * Everything here is a pure function of its inputs, so the same request always gets the same answer.
 */
import { createHash } from "node:crypto";

/** A chat message as it arrives over the wire (content may be a string, an array of parts or null). */
export interface WireMessage {
  role?: unknown;
  content?: unknown;
  [key: string]: unknown;
}

export type FinishReason = "stop" | "length" | "content_filter" | "tool_calls";

/** What a responder is asked: one choice of one request. */
export interface ResponderRequest {
  /** The request's `model`, echoed in the response. */
  model: string;
  /** Chat messages; for `/v1/completions` one user message holding the prompt. */
  messages: WireMessage[];
  /** The whole request body (temperature, seed, response_format, ...). */
  params: Record<string, unknown>;
  /** 0 … n-1: which of the `n` choices is being produced. */
  choiceIndex: number;
  endpoint: "chat.completions" | "completions";
}

export type ResponderResult = string | { text: string; finish_reason?: FinishReason };

export type Responder = (req: ResponderRequest) => ResponderResult | Promise<ResponderResult>;

// ---------------------------------------------------------------------------------------------
// PRNG

/** sfc32: small, fast, good enough, seedable from 128 bits. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number | Uint8Array) {
    if (typeof seed === "number") {
      // splitmix32 expands one 32-bit seed into four words
      let s = seed >>> 0;
      const next = (): number => {
        s = (s + 0x9e3779b9) >>> 0;
        let z = s;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
        return (z ^ (z >>> 16)) >>> 0;
      };
      this.a = next();
      this.b = next();
      this.c = next();
      this.d = next();
    } else {
      const v = new DataView(seed.buffer, seed.byteOffset, seed.byteLength);
      this.a = v.getUint32(0);
      this.b = v.getUint32(4);
      this.c = v.getUint32(8);
      this.d = v.getUint32(12) | 1;
    }
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

// ---------------------------------------------------------------------------------------------
// "Tokens" are whitespace-separated words.

function isSpace(c: number): boolean {
  if (c === 32 || (c >= 9 && c <= 13)) return true;
  if (c < 128) return false;
  return /\s/.test(String.fromCharCode(c));
}

/** Number of whitespace-separated words. */
export function countWords(text: string): number {
  let n = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    if (isSpace(text.charCodeAt(i))) inWord = false;
    else if (!inWord) {
      inWord = true;
      n++;
    }
  }
  return n;
}

/** The text cut after its `max`-th word (original spacing kept), or null when it has ≤ max words. */
export function truncateWords(text: string, max: number): string | null {
  let n = 0;
  let inWord = false;
  let lastEnd = 0;
  for (let i = 0; i < text.length; i++) {
    if (isSpace(text.charCodeAt(i))) {
      if (inWord) lastEnd = i;
      inWord = false;
    } else if (!inWord) {
      if (n === max) return text.slice(0, lastEnd);
      inWord = true;
      n++;
    }
  }
  return null;
}

/** Split into tokens the way the server counts them: each word with its leading whitespace. */
export function tokenize(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}

/** Plain text of a message's content (string, or the text parts of an array). */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  let out = "";
  for (const part of content) {
    if (part && typeof part === "object" && typeof (part as { text?: unknown }).text === "string") {
      out += (out ? "\n" : "") + (part as { text: string }).text;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Default responder

const SENTENCES = [
  "I think that is a reasonable choice.",
  "That seems fair to me.",
  "I would prefer to keep things as they are.",
  "I am not entirely sure, but I lean towards agreeing.",
  "It depends on the circumstances, but probably yes.",
  "I would rather not take that risk.",
  "That sounds like a good idea to me.",
  "I mostly disagree with that statement.",
  "I mostly agree with that statement.",
  "Honestly, I find it hard to decide.",
  "On balance, I would say no.",
  "On balance, I would say yes.",
  "I would choose the safer option.",
  "Fairness matters more to me than the money here.",
] as const;

const NUMBER_SENTENCES: readonly ((n: number) => string)[] = [
  (n) => `I would say ${n}.`,
  (n) => `My answer is ${n}.`,
  (n) => `${n}`,
  (n) => `I'd go with ${n}.`,
  (n) => `Probably around ${n}.`,
  (n) => `${n}, I think.`,
];

const NUMBER_RE = /\bnumbers?\b|\bhow (?:much|many)\b|\b0 to 100\b|\brate\b|\brating\b/i;
const JSON_RE = /\bJSON\b/;
const QUOTED_UPPER_RE = /(?<![\w])["'“‘`]([A-Z][A-Z0-9_]*(?:[ -][A-Z0-9_]+)*)["'”’`](?![\w])/g;
const OPTION_RE = /\b(?:OPTION|Option)\s+(?:\d+|[A-Z])\b/g;

const messagesJsonCache = new WeakMap<object, string>();

/**
 * SHA-256 of (model, choice index, messages) and, when given, the sampling seed. The seed of every
 * default answer.
 */
export function requestDigest(
  model: string,
  messages: WireMessage[],
  choiceIndex: number,
  seed?: number,
): Buffer {
  let json = messagesJsonCache.get(messages);
  if (json === undefined) {
    json = JSON.stringify(messages);
    messagesJsonCache.set(messages, json);
  }
  const h = createHash("sha256").update(model).update("\0").update(String(choiceIndex)).update("\0");
  // Only sampled answers depend on the seed; without one the digest is what it always was.
  if (seed !== undefined) h.update(`seed ${seed}\0`);
  return h.update(json).digest();
}

/**
 * The request's seed when it samples (temperature not 0; unset means the API's default of 1), so
 * a seeded answer behaves like a real provider's: the same seed and messages give the same answer,
 * another seed gives another draw. Greedy (temperature 0) answers ignore the seed.
 */
function samplingSeed(params: Record<string, unknown>): number | undefined {
  const seed = params.seed;
  if (typeof seed !== "number" || !Number.isInteger(seed)) return undefined;
  return params.temperature === 0 ? undefined : seed;
}

/** Distinct quoted uppercase tokens ("ACCEPT", 'B') and OPTION n / Option A mentions, in order. */
export function findChoices(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(QUOTED_UPPER_RE)) {
    const s = m[1] as string;
    if (s !== "JSON" && !found.includes(s)) found.push(s);
  }
  for (const m of text.matchAll(OPTION_RE)) {
    const s = m[0].replace(/\s+/, " ");
    if (!found.includes(s)) found.push(s);
  }
  return found;
}

/** An explicit integer range: "between A and B", "from A to B", "A to B", "A-B". */
export function findRange(text: string): [number, number] | null {
  const m =
    /\bbetween\s+(-?\d+)\s+and\s+(-?\d+)\b/i.exec(text) ??
    /\bfrom\s+(-?\d+)\s+to\s+(-?\d+)\b/i.exec(text) ??
    /(?<![\w.])(-?\d+)\s*(?:to|–|-)\s*(-?\d+)(?![\w.])/i.exec(text);
  if (!m) return null;
  const lo = Number(m[1]);
  const hi = Number(m[2]);
  if (!(lo < hi) || hi - lo > 1e9) return null;
  return [lo, hi];
}

type ContentKind = { kind: "choice"; options: string[] } | { kind: "number"; range: [number, number] } | null;

function detectContent(text: string): ContentKind {
  if (!text) return null;
  const options = findChoices(text);
  if (options.length >= 2) return { kind: "choice", options };
  if (NUMBER_RE.test(text)) return { kind: "number", range: findRange(text) ?? [0, 100] };
  return null;
}

/** Index of the `}` closing the `{` at `start` (string-aware), or -1. */
function matchBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Quoted alternatives in a raw example value: `"A" or "B"` → "A|B". */
function rawValue(raw: string): unknown {
  const v = raw.trim();
  if (v.startsWith('"')) {
    const strings = [...v.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] as string);
    return strings.length > 1 ? strings.join("|") : (strings[0] ?? "");
  }
  if (v === "true" || v === "false") return v === "true";
  if (v === "null") return null;
  return 0; // <amount>, /*number*/, ..., empty: a number placeholder
}

/**
 * A JSON Schema of an object written in a ```json block of a prompt (`type: "object"` with
 * `properties`), as a question that asks for an answer in that shape shows it; else undefined.
 */
export function findSchemaBlock(text: string): Record<string, unknown> | undefined {
  for (const m of text.matchAll(/```json[^\n]*\n([\s\S]*?)```/g)) {
    try {
      const v: unknown = JSON.parse(m[1] as string);
      if (v && typeof v === "object" && !Array.isArray(v)) {
        const o = v as Record<string, unknown>;
        if (o.type === "object" && o.properties && typeof o.properties === "object") return o;
      }
    } catch {
      // not JSON: an example or prose, left to the other rules
    }
  }
  return undefined;
}

/** The first `{ "key": … }` example in a prompt, parsed leniently, or undefined. */
export function findJsonExample(text: string): Record<string, unknown> | undefined {
  let from = 0;
  for (let tries = 0; tries < 20; tries++) {
    const start = text.indexOf("{", from);
    if (start < 0) return undefined;
    const end = matchBrace(text, start);
    if (end < 0) return undefined;
    const raw = text.slice(start, end + 1);
    if (/"[^"\n]*"\s*:/.test(raw)) {
      const stripped = raw.replace(/\/\*[\s\S]*?\*\//g, "");
      try {
        const v: unknown = JSON.parse(stripped);
        if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
      } catch {
        // fall through to the key scan
      }
      const obj: Record<string, unknown> = {};
      const keyRe =
        /"((?:[^"\\\n]|\\.){1,200})"\s*:\s*((?:"(?:[^"\\]|\\.)*"(?:\s*(?:\||\/|\bor\b)\s*"(?:[^"\\]|\\.)*")*)|[^,}\]\n]*)/g;
      for (const m of stripped.matchAll(keyRe)) obj[m[1] as string] = rawValue(m[2] as string);
      if (Object.keys(obj).length > 0) return obj;
    }
    from = start + 1;
  }
  return undefined;
}

interface FillContext {
  rng: Rng;
  choices: string[];
  numRange: [number, number];
}

function fillString(s: string, ctx: FillContext): string {
  const parts = s.split(/\s*(?:\||\/|\s+or\s+)\s*/).filter(Boolean);
  if (parts.length >= 2 && parts.every((p) => /^[A-Z0-9][A-Z0-9_ -]*$/.test(p))) return ctx.rng.pick(parts);
  if (ctx.choices.length >= 2 && ctx.choices.includes(s)) return ctx.rng.pick(ctx.choices);
  return ctx.rng.pick(SENTENCES);
}

function fillExample(v: unknown, ctx: FillContext, depth = 0): unknown {
  if (depth > 8) return null;
  if (typeof v === "number") return ctx.rng.int(ctx.numRange[0], ctx.numRange[1]);
  if (typeof v === "boolean") return ctx.rng.next() < 0.5;
  if (typeof v === "string") return fillString(v, ctx);
  if (v === null) return null;
  if (Array.isArray(v)) return v.length ? [fillExample(v[0], ctx, depth + 1)] : [];
  if (typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>))
      out[k] = fillExample(x, ctx, depth + 1);
    return out;
  }
  return null;
}

function num(x: unknown): number | undefined {
  return typeof x === "number" && Number.isFinite(x) ? x : undefined;
}

/** A value satisfying (the common parts of) a JSON Schema. */
export function valueFromSchema(schema: unknown, rng: Rng, depth = 0): unknown {
  if (!schema || typeof schema !== "object" || depth > 8) return rng.pick(SENTENCES);
  const s = schema as Record<string, unknown>;
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return rng.pick(s.enum);
  for (const key of ["anyOf", "oneOf", "allOf"] as const) {
    const alts = s[key];
    if (Array.isArray(alts) && alts.length > 0) {
      const nonNull = alts.find(
        (a) => !(a && typeof a === "object" && (a as { type?: unknown }).type === "null"),
      );
      return valueFromSchema(nonNull ?? alts[0], rng, depth + 1);
    }
  }
  let type = s.type;
  if (Array.isArray(type)) type = type.find((t) => t !== "null") ?? type[0];
  if (type === undefined && s.properties) type = "object";
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      const props = (s.properties ?? {}) as Record<string, unknown>;
      for (const [k, sub] of Object.entries(props)) out[k] = valueFromSchema(sub, rng, depth + 1);
      return out;
    }
    case "array": {
      const min = num(s.minItems) ?? 1;
      const max = Math.max(min, num(s.maxItems) ?? min);
      const count = Math.min(max, Math.max(min, 1), 20);
      return Array.from({ length: count }, () => valueFromSchema(s.items, rng, depth + 1));
    }
    case "integer":
    case "number": {
      let lo =
        num(s.minimum) ?? (num(s.exclusiveMinimum) !== undefined ? num(s.exclusiveMinimum)! + 1 : undefined);
      let hi =
        num(s.maximum) ?? (num(s.exclusiveMaximum) !== undefined ? num(s.exclusiveMaximum)! - 1 : undefined);
      lo = Math.ceil(lo ?? (hi !== undefined ? Math.min(0, hi - 10) : 0));
      hi = Math.floor(hi ?? lo + 10);
      return hi >= lo ? rng.int(lo, hi) : lo;
    }
    case "boolean":
      return rng.next() < 0.5;
    case "null":
      return null;
    default: {
      const text = rng.pick(SENTENCES);
      const maxLength = num(s.maxLength);
      return maxLength !== undefined ? text.slice(0, maxLength) : text;
    }
  }
}

function lastUserText(messages: WireMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m && m.role === "user") return contentText(m.content);
  }
  return "";
}

function systemText(messages: WireMessage[]): string {
  let out = "";
  for (const m of messages) {
    if (m && (m.role === "system" || m.role === "developer"))
      out += (out ? "\n" : "") + contentText(m.content);
  }
  return out;
}

/**
 * The default answer: deterministic in (model, messages, choiceIndex) and, when the request samples
 * (`temperature` not 0) with a `seed`, that seed. Rules, first match wins:
 *
 * 1. `response_format: {type: "json_schema"}` → a JSON object satisfying the schema; likewise an
 *    object schema written in a ```json block of the last user message (e.g. silico's oTree pages).
 * 2. JSON wanted (`JSON` in the last user message or a system message, or `response_format:
 *    {type: "json_object"}`) → the first `{"key": …}` example in the prompt with its values filled
 *    (numbers → integer 0–10, or in the prompt's explicit range; strings listing uppercase
 *    alternatives → one of them; other strings → a short sentence), or `{"answer": …}`.
 * 3. Two or more choices (quoted uppercase tokens like "ACCEPT"/"REJECT", or OPTION 1/OPTION 2)
 *    → exactly one of them.
 * 4. Asks for a number ("number", "how much", "how many", "0 to 100", "rate") → a short sentence with
 *    one integer 0–100 (or in an explicit range such as "from 1 to 7").
 * 5. Otherwise a short plausible sentence.
 *
 * Rules 3–4 look at the last user message first, then at the system message(s).
 */
export function defaultResponder(req: ResponderRequest): string {
  const rng = new Rng(requestDigest(req.model, req.messages, req.choiceIndex, samplingSeed(req.params)));
  const format = req.params.response_format as
    | { type?: unknown; json_schema?: { schema?: unknown } }
    | undefined;
  if (format?.type === "json_schema") return JSON.stringify(valueFromSchema(format.json_schema?.schema, rng));
  const user = lastUserText(req.messages);
  const written = findSchemaBlock(user);
  if (written) return JSON.stringify(valueFromSchema(written, rng));

  const system = systemText(req.messages);
  const content = detectContent(user) ?? detectContent(system);
  const wantsJson = format?.type === "json_object" || JSON_RE.test(user) || JSON_RE.test(system);

  if (wantsJson) {
    const example = findJsonExample(user) ?? findJsonExample(system);
    if (example) {
      const ctx: FillContext = {
        rng,
        choices: content?.kind === "choice" ? content.options : [],
        numRange: findRange(user) ?? findRange(system) ?? [0, 10],
      };
      return JSON.stringify(fillExample(example, ctx));
    }
    if (content?.kind === "choice") return JSON.stringify({ answer: rng.pick(content.options) });
    if (content?.kind === "number")
      return JSON.stringify({ answer: rng.int(content.range[0], content.range[1]) });
    return JSON.stringify({ answer: rng.pick(SENTENCES) });
  }
  if (content?.kind === "choice") return rng.pick(content.options);
  if (content?.kind === "number") {
    const n = rng.int(content.range[0], content.range[1]);
    return rng.pick(NUMBER_SENTENCES)(n);
  }
  return rng.pick(SENTENCES);
}

// ---------------------------------------------------------------------------------------------
// Fake log probabilities

export interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

export interface TokenLogprobEntry extends TopLogprob {
  top_logprobs: TopLogprob[];
}

const ALT_TOKENS = [
  " the",
  " a",
  " I",
  " to",
  " and",
  " of",
  " is",
  " it",
  " that",
  " not",
  " would",
  " be",
  " my",
  " yes",
  " no",
  " maybe",
  ".",
  ",",
  " so",
  " think",
  " we",
  " you",
  " this",
  " in",
  " for",
  " on",
  " with",
  " as",
  " but",
  " or",
];

function utf8Bytes(s: string): number[] {
  return Array.from(Buffer.from(s, "utf8"));
}

/**
 * Deterministic fake log probabilities for `text` (chat format). For every token the chosen token is
 * the most likely one, and the probabilities of the listed alternatives (chosen one included) sum to
 * less than 1.
 */
export function fakeLogprobs(text: string, seed: string, topK: number): TokenLogprobEntry[] {
  const tokens = tokenize(text);
  const k = Math.min(Math.max(0, Math.floor(topK)), 20);
  const rng = new Rng(
    createHash("sha256").update("logprobs\0").update(seed).update("\0").update(text).digest(),
  );
  const out: TokenLogprobEntry[] = [];
  for (const token of tokens) {
    const u = rng.next();
    const rest = Math.max(1e-6, 0.5 * u * u * u); // probability mass not on the chosen token, ≤ 0.5
    const p = 1 - rest;
    const logprob = Math.log(p);
    const bytes = utf8Bytes(token);
    const top: TopLogprob[] = [];
    if (k > 0) {
      top.push({ token, logprob, bytes });
      let left = 0.9 * rest;
      let j = rng.int(0, ALT_TOKENS.length - 1);
      const trimmed = token.trim();
      while (top.length < k) {
        const alt = ALT_TOKENS[j % ALT_TOKENS.length] as string;
        j++;
        if (alt === token || alt.trim() === trimmed) continue;
        const take = left * (0.5 + 0.4 * rng.next());
        left -= take;
        top.push({ token: alt, logprob: Math.log(take), bytes: utf8Bytes(alt) });
      }
    }
    out.push({ token, logprob, bytes, top_logprobs: top });
  }
  return out;
}
