/**
 * The embedded local model: a GGUF file run in-process with node-llama-cpp (llama.cpp), so a study
 * runs offline with no API key.
 *
 * One loaded model serves every session of a run. The weights are loaded lazily on the first
 * generate() (concurrent first calls share one load) into one context with `sequences` sequences;
 * each generate() takes a free sequence (or waits for one) and decodes. Calls running at the same
 * time are decoded together: node-llama-cpp batches the pending tokens of all sequences of a
 * context into one llama.cpp decode. Every call is independent of the ones before it, since the
 * request carries the whole conversation.
 *
 * Reproducibility: llama.cpp's numbers for a sequence depend on how its prompt tokens are cut into
 * decode batches (not on which other sequences share a batch, nor on the thread count). So a
 * prompt is always evaluated in blocks of `promptBlock` tokens at fixed positions (0, B, 2B, …),
 * each block whole in one batch, and a kept prefix is reused only in whole blocks. An answer then
 * depends on the request, the seed, the model file, the runtime and `promptBlock` only — not on
 * --concurrency, the number of sequences, what a sequence held before, or a resume.
 */
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import { basename, resolve } from "node:path";
import type {
  ChatHistoryItem,
  ChatWrapper,
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaGrammar,
  LlamaModel,
  Token,
} from "node-llama-cpp";
import { ConfigError, SilicoError } from "silico";
import {
  type Message,
  type Model,
  type ModelChoice,
  type ModelInfo,
  type ModelRequest,
  type ModelResponse,
  type OutputConstraint,
  ProviderError,
  type TokenLogprob,
} from "silico";
import {
  choiceSeed,
  DEFAULT_BATCH_SIZE,
  DEFAULT_PROMPT_BLOCK,
  type LocalDecodeRecord,
  wholeItemsStrategy,
} from "./decode-batching.js";
import { type AnswerExtractor, planGrammar } from "./grammar.js";
import { catalogEntry, expandHome, loadCatalog, sha256File } from "./model-store.js";
import { ensureModel } from "./pull.js";

type NodeLlamaCpp = typeof import("node-llama-cpp");

export interface LocalModelOptions {
  /** Sequences in the one context (concurrent generate() calls decoded together). Default 8. Speed only. */
  sequences?: number;
  /** The older name of `sequences`. */
  parallel?: number;
  /**
   * Prompt tokens per evaluation block (default 32, at most `batchSize`). Changes the numbers, so
   * it is recorded in the manifest and is part of the cache key.
   */
  promptBlock?: number;
  /** Context size per sequence, in tokens. Default: the catalog entry's, else 2048. */
  contextSize?: number;
  /** Progress lines while a catalog model is pulled on first use. */
  onPullProgress?: (message: string) => void;
  /**
   * CPU threads for decoding. Default: `$SILICO_LOCAL_THREADS`, else the machine's math cores
   * less the current load beyond one core (at least 1), see `defaultThreads`: llama.cpp's threads
   * busy-wait for each other, so on a machine that is already busy fewer threads are faster.
   */
  threads?: number;
  /** Tokens per llama.cpp decode batch. Default 512. Speed only (blocks are never split). */
  batchSize?: number;
  /** Overrides SILICO_HOME for the model cache (tests). */
  home?: string;
  /**
   * Keep the evaluated prompt in a sequence after a call and, on the next call, evaluate only
   * what differs from it (the shared instructions of a study are then evaluated once per
   * sequence). On by default: the answers and logprobs are identical to a fresh sequence's (a
   * test checks this), only faster. `false` starts every call from an empty sequence.
   */
  reusePrefix?: boolean;
}

/** Extra facts recorded in the run manifest. */
export interface LocalModelManifest extends Record<string, unknown> {
  file: string;
  sha256: string;
  size: number;
  source: string;
  runtime: string;
}

export const DEFAULT_PARALLEL = 8;
/**
 * No top-k truncation. node-llama-cpp defaults `topK` to 40 when it is undefined, and treats
 * 0 as "the whole vocabulary" (which still sorts all ~50k candidates for every token); a null
 * value is dropped from the sampler configuration, so no top-k sampler is added at all.
 */
const NO_TOP_K = null as unknown as number;
export const DEFAULT_MAX_TOKENS = 256;
const DEFAULT_CONTEXT_SIZE = 2048;

// ---------------------------------------------------------------------------------------------
// The llama.cpp runtime (one per process)

const recentLogs: string[] = [];
let llamaPromise: Promise<{ nlc: NodeLlamaCpp; llama: Llama }> | undefined;

function runtimeVersion(): string {
  try {
    const entry = createRequire(import.meta.url).resolve("node-llama-cpp");
    const pkg = JSON.parse(readFileSync(resolve(entry, "../../package.json"), "utf8")) as {
      version?: string;
    };
    return `node-llama-cpp ${pkg.version ?? "?"} (cpu)`;
  } catch {
    return "node-llama-cpp (cpu)";
  }
}

function sharedLlama(): Promise<{ nlc: NodeLlamaCpp; llama: Llama }> {
  if (!llamaPromise) {
    const p = (async () => {
      let nlc: NodeLlamaCpp;
      try {
        nlc = await import("node-llama-cpp");
      } catch (err) {
        throw new SilicoError(
          "local_runtime",
          `The local model needs the node-llama-cpp package, which could not be loaded: ${(err as Error).message}`,
          { cause: err },
        );
      }
      try {
        const llama = await nlc.getLlama({
          gpu: false,
          build: "never",
          skipDownload: true,
          progressLogs: false,
          logLevel: nlc.LlamaLogLevel.warn,
          logger(level, message) {
            const line = `${String(level)}: ${message.trim()}`;
            recentLogs.push(line);
            if (recentLogs.length > 50) recentLogs.shift();
            if (process.env.SILICO_DEBUG) process.stderr.write(`[llama.cpp] ${line}\n`);
          },
        });
        return { nlc, llama };
      } catch (err) {
        throw new SilicoError(
          "local_runtime",
          `Could not start llama.cpp for the local model (no prebuilt binary for ${process.platform}-${process.arch}?): ` +
            (err as Error).message,
          { cause: err },
        );
      }
    })();
    p.catch(() => {
      if (llamaPromise === p) llamaPromise = undefined;
    });
    llamaPromise = p;
  }
  return llamaPromise;
}

// ---------------------------------------------------------------------------------------------
// Sequences

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}

/** Free sequences of the context; callers wait in order when all are busy. */
class SequencePool {
  private readonly free: LlamaContextSequence[];
  private waiting: { resolve: (s: LlamaContextSequence) => void; reject: (e: unknown) => void }[] = [];
  constructor(sequences: LlamaContextSequence[]) {
    this.free = [...sequences];
  }
  /** A free sequence (the best by `score`, if given), or the next one released. */
  acquire(signal?: AbortSignal, score?: (s: LlamaContextSequence) => number): Promise<LlamaContextSequence> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.free.length > 0) {
      let best = this.free.length - 1;
      if (score) {
        let bestScore = score(this.free[best]!);
        for (let i = this.free.length - 2; i >= 0; i--) {
          const v = score(this.free[i]!);
          if (v > bestScore) {
            best = i;
            bestScore = v;
          }
        }
      }
      return Promise.resolve(this.free.splice(best, 1)[0]!);
    }
    return new Promise((resolvePromise, reject) => {
      const onAbort = () => {
        this.waiting = this.waiting.filter((w) => w !== waiter);
        reject(abortReason(signal!));
      };
      const waiter = {
        resolve: (seq: LlamaContextSequence) => {
          signal?.removeEventListener("abort", onAbort);
          resolvePromise(seq);
        },
        reject: (e: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      this.waiting.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
  release(seq: LlamaContextSequence): void {
    const next = this.waiting.shift();
    if (next) next.resolve(seq);
    else this.free.push(seq);
  }
  failWaiting(err: unknown): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.reject(err);
  }
}

interface Runtime {
  nlc: NodeLlamaCpp;
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  pool: SequencePool;
  chatWrapper: ChatWrapper;
  /** Tokens per sequence. */
  contextSize: number;
  threads: number;
  grammars: Map<string, Promise<BuiltGrammar>>;
}

interface BuiltGrammar {
  grammar: LlamaGrammar;
  warnings: string[];
  extract?: AnswerExtractor;
}

// ---------------------------------------------------------------------------------------------
// Requests

interface Prepared {
  promptTokens: Token[];
  promptText: string;
  warnings: string[];
  grammar?: LlamaGrammar;
  extract?: AnswerExtractor;
  grammarLabel?: string;
  constraint?: OutputConstraint;
  constrained: boolean;
}

interface GenerationSettings {
  maxTokens: number;
  temperature: number;
  topP: number;
  seed?: number;
  stops: string[];
  grammar?: LlamaGrammar;
  extract?: AnswerExtractor;
  signal?: AbortSignal;
  deadline?: number;
  timeoutMs?: number;
}

interface Generated {
  text: string;
  /** Generated tokens that make up `text` (a stop string cut inside a token keeps that token). */
  textTokens: Token[];
  allTokens: number;
  finishReason: "stop" | "length";
}

function messageText(m: Message, index: number): string {
  if (typeof m.content === "string") return m.content;
  const parts: string[] = [];
  for (const part of m.content) {
    if (part.type === "text") parts.push(part.text);
    else {
      throw new ProviderError(
        `messages[${index}] contains an image; the local provider is text-only. Use a vision model.`,
        { retryable: false },
      );
    }
  }
  return parts.join("\n");
}

function constraintOf(request: ModelRequest): OutputConstraint | undefined {
  const c = request.constraint;
  const schema = request.params.responseSchema;
  if (c) {
    if (c.type === "json" && !c.schema && schema) return { type: "json", schema };
    return c;
  }
  if (schema) return { type: "json", schema };
  return undefined;
}

function grammarKey(c: OutputConstraint): string {
  return JSON.stringify(c);
}

function triggerText(trigger: unknown): string {
  if (typeof trigger === "string") return trigger;
  if (Array.isArray(trigger)) return trigger.filter((t) => typeof t === "string").join("");
  return String(trigger);
}

/** Whether a constrained answer cut off by maxTokens is nevertheless whole. */
function answerIsComplete(constraint: OutputConstraint, text: string): boolean {
  switch (constraint.type) {
    case "choice":
      return constraint.options.includes(text);
    case "number":
      return (constraint.integer ? /^-?\d+$/ : /^-?\d+(\.\d+)?$/).test(text);
    case "json":
      try {
        JSON.parse(text);
        return true;
      } catch {
        return false;
      }
  }
}

/** Per sequence: how many leading tokens were evaluated as whole prompt blocks. */
const blockAligned = new WeakMap<LlamaContextSequence, number>();

function commonPrefixLength(a: readonly Token[], b: readonly Token[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function findStop(text: string, stops: string[]): number {
  let best = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// The model

/** A GGUF model run in-process. Created by `createLocalModel`. */
export class LocalModel implements Model {
  readonly info: ModelInfo;
  readonly manifest: LocalModelManifest;
  /** How it decodes (recorded in the manifest as `decode`). */
  readonly decodeSettings: LocalDecodeRecord;
  private readonly path: string;
  private readonly parallel: number;
  private readonly contextSize: number;
  private readonly threads?: number;
  private readonly reusePrefix: boolean;
  private readonly promptBlock: number;
  private runtimePromise?: Promise<Runtime>;
  private closed = false;
  private closing?: Promise<void>;
  private readonly active = new Set<Promise<unknown>>();

  constructor(
    ref: string,
    path: string,
    manifest: LocalModelManifest,
    options: {
      parallel: number;
      contextSize: number;
      promptBlock: number;
      batchSize: number;
      threads?: number;
      reusePrefix?: boolean;
    },
  ) {
    this.reusePrefix = options.reusePrefix !== false;
    this.promptBlock = options.promptBlock;
    this.path = path;
    this.manifest = manifest;
    this.parallel = options.parallel;
    this.contextSize = options.contextSize;
    this.threads = options.threads;
    this.decodeSettings = {
      sequences: options.parallel,
      promptBlock: options.promptBlock,
      contextSize: options.contextSize,
      batchSize: options.batchSize,
    };
    this.info = {
      id: `local:${ref}`,
      provider: "local",
      manifest: { ...manifest, decode: { ...this.decodeSettings } },
      // What the answers depend on beyond the request (sequences, threads and batch size do not).
      cacheScope: {
        sha256: manifest.sha256,
        runtime: manifest.runtime,
        promptBlock: options.promptBlock,
        contextSize: options.contextSize,
      },
    };
  }

  /** Load the weights now instead of on the first generate() (e.g. to time it separately). */
  async load(): Promise<void> {
    await this.runtime();
  }

  /** The settings in effect once loaded (threads are chosen at load time). */
  async settings(): Promise<{
    parallel: number;
    promptBlock: number;
    contextSize: number;
    threads: number;
    batchSize: number;
  }> {
    const rt = await this.runtime();
    return {
      parallel: this.parallel,
      promptBlock: this.promptBlock,
      contextSize: rt.contextSize,
      threads: rt.threads,
      batchSize: rt.context.batchSize,
    };
  }

  private runtime(): Promise<Runtime> {
    if (this.closed)
      return Promise.reject(new ProviderError(`${this.info.id} is closed`, { retryable: false }));
    if (!this.runtimePromise) {
      this.runtimePromise = this.loadRuntime();
      this.runtimePromise.catch(() => {}); // failures surface to every caller that awaits it
    }
    return this.runtimePromise;
  }

  private loadError(detail: string, cause?: unknown): SilicoError {
    const logs = recentLogs.filter((l) => /^error/i.test(l)).slice(-3);
    return new SilicoError(
      "local_model_load",
      `Could not load the local model ${this.path}: ${detail}` +
        (logs.length ? ` (llama.cpp: ${logs.map((l) => l.replace(/^error:\s*/i, "")).join("; ")})` : "") +
        ". The file may be truncated or corrupt; pull it again or check the path.",
      { cause },
    );
  }

  private async loadRuntime(): Promise<Runtime> {
    await preflightGguf(this.path, (d) => this.loadError(d));
    const { nlc, llama } = await sharedLlama();
    recentLogs.length = 0;
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath: this.path, gpuLayers: 0 });
    } catch (err) {
      await new Promise((r) => setTimeout(r, 20)); // llama.cpp log lines arrive asynchronously
      throw this.loadError((err as Error).message, err);
    }
    let context: LlamaContext;
    const threads = this.threads ?? defaultThreads(llama.cpuMathCores);
    try {
      context = await model.createContext({
        sequences: this.parallel,
        contextSize: Math.min(this.contextSize, model.trainContextSize || this.contextSize),
        threads,
        batchSize: this.decodeSettings.batchSize,
        batching: { itemPrioritizationStrategy: wholeItemsStrategy },
        failedCreationRemedy: false,
      });
    } catch (err) {
      await model.dispose().catch(() => {});
      throw new SilicoError(
        "local_model_load",
        `Could not create a context (${this.parallel} sequences × ${this.contextSize} tokens) for ${this.path}: ` +
          `${(err as Error).message}. Try fewer sequences or a smaller contextSize.`,
        { cause: err },
      );
    }
    const sequences: LlamaContextSequence[] = [];
    for (let i = 0; i < this.parallel; i++) sequences.push(context.getSequence());
    return {
      nlc,
      llama,
      model,
      context,
      pool: new SequencePool(sequences),
      chatWrapper: resolveTemplate(nlc, model),
      contextSize: sequences[0]!.contextSize,
      threads,
      grammars: new Map(),
    };
  }

  async generate(request: ModelRequest): Promise<ModelResponse> {
    const task = this.generateInner(request);
    this.active.add(task);
    try {
      return await task;
    } finally {
      this.active.delete(task);
    }
  }

  private async generateInner(request: ModelRequest): Promise<ModelResponse> {
    const { signal } = request;
    if (signal?.aborted) throw abortReason(signal);
    const rt = await this.runtime();
    try {
      const prepared = await this.prepare(rt, request);
      const params = request.params;
      const warnings = [...prepared.warnings];
      const temperature = Math.max(0, params.temperature ?? 1);
      let topP = params.topP ?? 1;
      if (!(topP > 0 && topP <= 1)) {
        warnings.push(`topP=${params.topP} is outside (0, 1]; using 1`);
        topP = 1;
      }
      let maxTokens = Math.floor(params.maxTokens ?? DEFAULT_MAX_TOKENS);
      if (!(maxTokens >= 1)) throw new ProviderError(`maxTokens must be at least 1`, { retryable: false });
      const room = rt.contextSize - prepared.promptTokens.length;
      if (room < 1) {
        throw new ProviderError(
          `The prompt is ${prepared.promptTokens.length} tokens but the local model's context holds ` +
            `${rt.contextSize} tokens per sequence; shorten the prompt or raise contextSize.`,
          { retryable: false },
        );
      }
      if (maxTokens > room) {
        warnings.push(
          `maxTokens lowered from ${maxTokens} to ${room} to fit the context (${rt.contextSize} tokens)`,
        );
        maxTokens = room;
      }
      const n = Math.max(1, Math.floor(params.n ?? 1));
      const seeds: (number | undefined)[] = [];
      for (let i = 0; i < n; i++) {
        if (temperature === 0) seeds.push(undefined);
        else if (params.seed !== undefined) seeds.push(choiceSeed(params.seed, i));
        else seeds.push(randomInt(0, 2 ** 31)); // recorded in raw.seeds, so the draw can be repeated
      }
      if (n > 1) {
        warnings.push(
          `n=${n}: the local provider generates the choices one after another` +
            (temperature > 0 ? ` with seeds ${seeds.join(", ")}` : " (greedy decoding: they are identical)"),
        );
      }
      const wantLogprobs = params.logprobs === true || (params.topLogprobs ?? 0) > 0;
      const top = Math.min(Math.max(0, Math.floor(params.topLogprobs ?? 0)), 100);
      const stops = (params.stop ?? []).filter((s) => s.length > 0);
      if (prepared.grammar) {
        for (const t of prepared.grammar.stopGenerationTriggers) {
          const s = triggerText(t);
          if (s) stops.push(s);
        }
      }

      const seq = await rt.pool.acquire(
        signal,
        this.reusePrefix ? (s) => commonPrefixLength(s.contextTokens, prepared.promptTokens) : undefined,
      );
      const choices: ModelChoice[] = [];
      let outputTokens = 0;
      const finishes: { tokens: number; finishReason: string; seed?: number }[] = [];
      try {
        const deadline = params.timeoutMs ? Date.now() + params.timeoutMs : undefined;
        for (let i = 0; i < n; i++) {
          const g = await this.decode(rt, seq, prepared.promptTokens, {
            maxTokens,
            temperature,
            topP,
            seed: seeds[i],
            stops,
            grammar: prepared.grammar,
            extract: prepared.extract,
            signal,
            deadline,
            timeoutMs: params.timeoutMs,
          });
          outputTokens += g.allTokens;
          let text = g.text;
          if (prepared.grammar?.trimWhitespaceSuffix) text = text.trimEnd();
          const choice: ModelChoice = { text, finishReason: g.finishReason };
          if (wantLogprobs)
            choice.logprobs = await scoreTokens(rt, seq, prepared.promptTokens, g.textTokens, top, true);
          choices.push(choice);
          finishes.push({
            tokens: g.allTokens,
            finishReason: g.finishReason,
            ...(seeds[i] !== undefined ? { seed: seeds[i] } : {}),
          });
          if (
            prepared.constraint &&
            g.finishReason === "length" &&
            !answerIsComplete(prepared.constraint, text)
          ) {
            warnings.push(
              `choice ${i}: maxTokens (${maxTokens}) was reached before the constrained answer was complete`,
            );
          }
        }
      } finally {
        rt.pool.release(seq);
      }
      return {
        choices,
        usage: { inputTokens: prepared.promptTokens.length, outputTokens },
        warnings,
        constrained: prepared.constrained,
        modelVersion: `${this.manifest.file}@sha256:${this.manifest.sha256.slice(0, 12)}`,
        raw: {
          provider: "local",
          file: this.manifest.file,
          mode: request.mode ?? "chat",
          prompt: prepared.promptText,
          promptTokens: prepared.promptTokens.length,
          sampling: { temperature, topP, maxTokens, seeds: temperature === 0 ? null : seeds },
          grammar: prepared.grammarLabel ?? null,
          choices: finishes,
        },
      };
    } catch (err) {
      throw this.mapError(err, signal);
    }
  }

  private mapError(err: unknown, signal?: AbortSignal): unknown {
    if (err instanceof SilicoError) return err;
    if (signal?.aborted) return err;
    return new ProviderError(`${this.info.id}: ${(err as Error)?.message ?? String(err)}`, {
      retryable: false,
      cause: err,
    });
  }

  /** Render the prompt to tokens, and build the grammar for the constraint (if any). */
  private async prepare(rt: Runtime, request: ModelRequest): Promise<Prepared> {
    if (request.messages.length === 0)
      throw new ProviderError("The request has no messages", { retryable: false });
    const texts = request.messages.map(messageText);
    let promptTokens: Token[];
    if (request.mode === "completion") {
      // Completion mode sends exactly: the text of every message (system, user and assistant
      // alike; text parts of one message joined with "\n") joined with "\n\n", with no role labels
      // and no chat template, tokenized as plain text (special-token strings are not parsed),
      // preceded by the BOS token only when the GGUF says the model wants one
      // (tokenizer.ggml.add_bos_token; SmolLM2: no).
      const text = texts.join("\n\n");
      const bos = rt.model.tokens.shouldPrependBosToken ? rt.model.tokens.bos : null;
      promptTokens = [...(bos != null ? [bos] : []), ...rt.model.tokenize(text, false)];
    } else {
      // Chat mode: the model's own chat template (from the GGUF) renders the whole conversation;
      // the prompt ends with the assistant header, unless the last message is an assistant message,
      // which is then continued (prefill).
      const history: ChatHistoryItem[] = request.messages.map((m, i) =>
        m.role === "assistant"
          ? { type: "model", response: [texts[i]!] }
          : m.role === "system"
            ? { type: "system", text: texts[i]! }
            : { type: "user", text: texts[i]! },
      );
      if (request.messages[request.messages.length - 1]!.role !== "assistant") {
        history.push({ type: "model", response: [] });
      }
      const state = rt.chatWrapper.generateContextState({ chatHistory: history });
      promptTokens = state.contextText.tokenize(rt.model.tokenizer);
    }
    if (promptTokens.length === 0) {
      throw new ProviderError("The prompt is empty (no tokens to condition on)", { retryable: false });
    }
    const promptText = rt.model.detokenize(promptTokens, true);
    const constraint = constraintOf(request);
    if (!constraint) return { promptTokens, promptText, warnings: [], constrained: false };
    if (constraint.type === "choice" && constraint.options.length === 0) {
      throw new ProviderError("The choice constraint has no options", { retryable: false });
    }
    const { grammar, warnings, extract } = await this.grammarFor(rt, constraint);
    return {
      promptTokens,
      promptText,
      warnings: [...warnings],
      grammar,
      extract,
      grammarLabel: constraint.type,
      constraint,
      constrained: true,
    };
  }

  private grammarFor(rt: Runtime, constraint: OutputConstraint) {
    const key = grammarKey(constraint);
    let p = rt.grammars.get(key);
    if (!p) {
      p = buildGrammar(rt.llama, constraint);
      p.catch(() => rt.grammars.delete(key));
      if (rt.grammars.size >= 64) rt.grammars.delete(rt.grammars.keys().next().value!);
      rt.grammars.set(key, p);
    }
    return p;
  }

  /** One generation on a cleared sequence. */
  private async decode(
    rt: Runtime,
    seq: LlamaContextSequence,
    promptTokens: Token[],
    s: GenerationSettings,
  ): Promise<Generated> {
    const block = this.promptBlock;
    // The last block (1..block tokens) is evaluated together with the generation.
    const lastBlockStart = Math.floor((promptTokens.length - 1) / block) * block;
    let keep = 0;
    if (this.reusePrefix) {
      const common = commonPrefixLength(seq.contextTokens, promptTokens);
      keep = Math.min(Math.floor(common / block) * block, blockAligned.get(seq) ?? 0, lastBlockStart);
    }
    if (keep > 0 && seq.nextTokenIndex > keep)
      await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
    if (keep === 0 || seq.nextTokenIndex !== keep) {
      await seq.clearHistory();
      keep = 0;
    }
    blockAligned.set(seq, keep);
    for (let start = keep; start < lastBlockStart; start += block) {
      await seq.evaluateWithoutGeneratingNewTokens(promptTokens.slice(start, start + block));
      blockAligned.set(seq, start + block);
    }
    const evalTokens = promptTokens.slice(lastBlockStart);
    const grammarEvaluationState = s.grammar
      ? new rt.nlc.LlamaGrammarEvaluationState({ model: rt.model, grammar: s.grammar })
      : undefined;
    const out: Token[] = [];
    let text: string | undefined;
    let finishReason: "stop" | "length" = "stop";
    let interrupted: unknown;
    const iterator = seq.evaluateWithMetadata(
      evalTokens,
      {},
      {
        temperature: s.temperature,
        topP: s.topP,
        // No top-k or min-p truncation: sample from the whole (temperature-scaled, top-p) distribution.
        topK: NO_TOP_K,
        minP: 0,
        ...(s.seed !== undefined ? { seed: s.seed } : {}),
        ...(grammarEvaluationState ? { grammarEvaluationState } : {}),
      },
    );
    for await (const item of iterator) {
      out.push(item.token);
      if (s.stops.length > 0 || s.extract) {
        const decoded = rt.model.detokenize(out);
        const at = findStop(decoded, s.stops);
        if (at >= 0) {
          text = s.extract ? s.extract(decoded.slice(0, at)).text : decoded.slice(0, at);
          break;
        }
        if (s.extract) {
          const answer = s.extract(decoded);
          if (answer.done) {
            text = answer.text;
            break;
          }
        }
      }
      if (out.length >= s.maxTokens) {
        finishReason = "length";
        break;
      }
      if (s.signal?.aborted) {
        interrupted = abortReason(s.signal);
        break;
      }
      if (s.deadline !== undefined && Date.now() > s.deadline) {
        interrupted = new ProviderError(`Local generation exceeded timeoutMs=${s.timeoutMs}`, {
          retryable: false,
        });
        break;
      }
    }
    if (interrupted !== undefined) throw interrupted;
    if (text === undefined) {
      const decoded = rt.model.detokenize(out);
      text = s.extract ? s.extract(decoded).text : decoded;
      if (text === decoded) return { text, textTokens: out, allTokens: out.length, finishReason };
    }
    // Keep the tokens whose text starts before the end of the answer: the smallest `keep` whose
    // text is at least as long as the answer (binary search; decoded length grows with tokens).
    let lo = 0;
    let hi = out.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (rt.model.detokenize(out.slice(0, mid)).length < text.length) lo = mid + 1;
      else hi = mid;
    }
    const kept = lo;
    return { text, textTokens: out.slice(0, kept), allTokens: out.length, finishReason };
  }

  /**
   * Log-probabilities of `continuation` after the prompt rendered from `request` (chat template
   * or completion text, as in generate()). The continuation is tokenized on its own, so give it
   * the leading space a word has in running text (" mat"). Raw model probabilities: temperature 1,
   * no truncation, no grammar. An extension of the Model interface for psycholinguistic measures.
   */
  async score(
    request: ModelRequest,
    continuation: string,
    options: { topLogprobs?: number } = {},
  ): Promise<{ logprob: number; tokens: TokenLogprob[] }> {
    const task = (async () => {
      const rt = await this.runtime();
      try {
        const prepared = await this.prepare(rt, { ...request, constraint: undefined, params: {} });
        const cont = rt.model.tokenize(continuation, false);
        if (cont.length === 0) return { logprob: 0, tokens: [] };
        if (prepared.promptTokens.length + cont.length > rt.contextSize) {
          throw new ProviderError("Prompt and continuation do not fit the context", { retryable: false });
        }
        const seq = await rt.pool.acquire(request.signal);
        try {
          await seq.clearHistory();
          const top = Math.min(Math.max(0, Math.floor(options.topLogprobs ?? 0)), 100);
          const tokens = await scoreTokens(rt, seq, prepared.promptTokens, cont, top, false);
          return { logprob: tokens.reduce((a, t) => a + t.logprob, 0), tokens };
        } finally {
          rt.pool.release(seq);
        }
      } catch (err) {
        throw this.mapError(err, request.signal);
      }
    })();
    this.active.add(task);
    try {
      return await task;
    } finally {
      this.active.delete(task);
    }
  }

  /** Wait for running calls, then release the context and the weights. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.closing = (async () => {
        const rt = await this.runtimePromise?.catch(() => undefined);
        rt?.pool.failWaiting(new ProviderError(`${this.info.id} was closed`, { retryable: false }));
        await Promise.allSettled([...this.active]);
        if (rt) {
          await rt.context.dispose().catch(() => {});
          await rt.model.dispose().catch(() => {});
        }
      })();
    }
    return this.closing;
  }
}

/** The model's own chat template (Jinja, from the GGUF) when it has one; else node-llama-cpp's best match. */
function resolveTemplate(nlc: NodeLlamaCpp, model: LlamaModel): ChatWrapper {
  const template = (model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } }).tokenizer
    ?.chat_template;
  if (typeof template === "string" && template.trim() !== "") {
    try {
      return nlc.resolveChatWrapper(model, {
        type: "jinjaTemplate",
        warningLogs: false,
        customWrapperSettings: {
          // Render every message as its own turn, as the template itself does.
          jinjaTemplate: { joinAdjacentMessagesOfTheSameType: false },
        },
      });
    } catch {
      // fall through to the automatic choice
    }
  }
  return nlc.resolveChatWrapper(model, { warningLogs: false });
}

/**
 * `$SILICO_LOCAL_THREADS`, else the math cores minus the load beyond one busy core (1-minute load
 * average; one unit is allowed for this process and background noise), at least 1. On a busy
 * machine llama.cpp's spinning threads wait for each other's time slices, and fewer threads are
 * then much faster (on the 2-core test machine at load 6, 1 thread ran ~15× faster than 2).
 */
export function defaultThreads(mathCores: number): number {
  const env = Number(process.env.SILICO_LOCAL_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  const cores = Math.max(1, mathCores);
  const load = os.loadavg()[0] ?? 0;
  return Math.max(1, Math.min(cores, Math.round(cores - Math.max(0, load - 1))));
}

/** The thread count a model loaded now would use by default. */
export async function resolveDefaultThreads(): Promise<number> {
  const { llama } = await sharedLlama();
  return defaultThreads(llama.cpuMathCores);
}

async function buildGrammar(llama: Llama, constraint: OutputConstraint): Promise<BuiltGrammar> {
  const { plan, warnings, extract } = planGrammar(constraint);
  if (plan.kind === "gbnf")
    return { grammar: await llama.createGrammar({ grammar: plan.gbnf }), warnings, extract };
  if (plan.kind === "jsonSchema") {
    try {
      const grammar = await llama.createGrammarForJsonSchema(plan.schema as never);
      return { grammar, warnings };
    } catch (err) {
      warnings.push(
        `could not build a grammar from the JSON schema (${(err as Error).message}); decoding was constrained to generic JSON instead`,
      );
    }
  }
  return { grammar: await llama.getGrammarFor("json"), warnings };
}

/**
 * Raw log-probabilities (temperature 1, no truncation, no grammar) of `tokens` following
 * `promptTokens`, with the top alternatives at each position. When `afterGeneration`, the
 * sequence holds the prompt and generated tokens: they are erased from the last prompt token on;
 * otherwise the sequence is empty. Then the last prompt token and all but the last continuation
 * token are evaluated in one batch, asking llama.cpp for the logits at each position (the selected
 * token's, the top ones, and the softmax normaliser).
 */
async function scoreTokens(
  rt: Runtime,
  seq: LlamaContextSequence,
  promptTokens: Token[],
  tokens: Token[],
  top: number,
  afterGeneration: boolean,
): Promise<TokenLogprob[]> {
  if (tokens.length === 0) return [];
  const keep = promptTokens.length - 1;
  if (afterGeneration) {
    if (seq.nextTokenIndex > keep)
      await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
    const ctx = seq.contextTokens;
    if (ctx.length !== keep || ctx.some((t, i) => t !== promptTokens[i])) {
      await seq.clearHistory();
      afterGeneration = false;
    }
  }
  if (!afterGeneration && keep > 0) await seq.evaluateWithoutGeneratingNewTokens(promptTokens.slice(0, keep));
  const inputs = [promptTokens[keep]!, ...tokens.slice(0, -1)];
  const results = await seq.controlledEvaluate(
    inputs.map((t, i) => [
      t,
      {
        generateNext: {
          logits: { filter: { tokens: [tokens[i]!], includeTop: Math.max(1, top) } },
          totalLogitWeight: true,
        },
      },
    ]),
  );
  const out: TokenLogprob[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const next = results[i]?.next;
    const logits = next?.logits;
    const weight = next?.totalLogitWeight;
    if (!logits || weight === undefined || !(weight > 0)) {
      throw new ProviderError("llama.cpp returned no logits for scoring", { retryable: false });
    }
    let max = Number.NEGATIVE_INFINITY;
    for (const v of logits.values()) if (v > max) max = v;
    const norm = max + Math.log(weight);
    const target = tokens[i]!;
    const entry: TokenLogprob = {
      token: rt.model.detokenize([target], true),
      logprob: (logits.get(target) ?? Number.NEGATIVE_INFINITY) - norm,
    };
    if (top > 0) {
      entry.top = [...logits.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([t, v]) => ({ token: rt.model.detokenize([t], true), logprob: v - norm }));
    }
    out.push(entry);
  }
  return out;
}

/** Fail early, with a clear message, on files llama.cpp would reject. */
async function preflightGguf(path: string, error: (detail: string) => SilicoError): Promise<void> {
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw error("not a regular file");
    size = s.size;
  } catch (err) {
    if (err instanceof SilicoError) throw err;
    throw error(`cannot read it (${(err as Error).message})`);
  }
  if (size < 32) throw error(`only ${size} bytes`);
  const fh = await open(path, "r");
  try {
    const head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
    if (head.toString("latin1") !== "GGUF") throw error("not a GGUF file (bad magic bytes)");
  } finally {
    await fh.close();
  }
}

function looksLikePath(ref: string): boolean {
  return (
    /\.gguf$/i.test(ref) ||
    ref.includes("/") ||
    ref.includes("\\") ||
    ref.startsWith(".") ||
    ref.startsWith("~")
  );
}

/**
 * A local model from the part of the model id after `local:` — a catalog name (pulled into the
 * cache on first use, with progress reported through `onPullProgress`) or a path to a .gguf file.
 * Weights are loaded on the first generate().
 */
export async function createLocalModel(ref: string, options: LocalModelOptions = {}): Promise<LocalModel> {
  const name = ref.trim();
  if (name === "") {
    throw new ConfigError(
      "local_model_missing",
      `"local:" needs a model name (${Object.keys(loadCatalog()).join(", ")}) or a path to a .gguf file`,
    );
  }
  const requested = options.sequences ?? options.parallel;
  const parallel = Math.floor(requested ?? DEFAULT_PARALLEL);
  if (!(parallel >= 1 && parallel <= 64)) {
    throw new ConfigError("local_model_options", `sequences must be between 1 and 64 (got ${requested})`);
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) {
    throw new ConfigError("local_model_options", `batchSize must be a whole number ≥ 1 (got ${batchSize})`);
  }
  const promptBlock = options.promptBlock ?? Math.min(DEFAULT_PROMPT_BLOCK, batchSize);
  if (!(Number.isInteger(promptBlock) && promptBlock >= 1 && promptBlock <= batchSize)) {
    throw new ConfigError(
      "local_model_options",
      `promptBlock must be a whole number from 1 to batchSize (${batchSize}) (got ${options.promptBlock})`,
    );
  }
  if (
    options.contextSize !== undefined &&
    !(Number.isInteger(options.contextSize) && options.contextSize >= 64)
  ) {
    throw new ConfigError(
      "local_model_options",
      `contextSize must be an integer ≥ 64 (got ${options.contextSize})`,
    );
  }
  const runtime = runtimeVersion();
  const entry = catalogEntry(name);
  if (entry && !looksLikePath(name)) {
    const record = await ensureModel(name, { onProgress: options.onPullProgress, home: options.home });
    const manifest: LocalModelManifest = {
      file: record.file,
      sha256: record.sha256 ?? entry.sha256,
      size: record.size,
      source: record.source,
      runtime,
    };
    return new LocalModel(name, record.path, manifest, {
      parallel,
      contextSize: options.contextSize ?? entry.contextSize ?? DEFAULT_CONTEXT_SIZE,
      threads: options.threads,
      batchSize,
      promptBlock,
      reusePrefix: options.reusePrefix,
    });
  }
  if (!looksLikePath(name)) {
    throw new ConfigError(
      "local_model_unknown",
      `Unknown local model "${name}". Known models: ${Object.keys(loadCatalog()).join(", ")}. ` +
        "Or give a path to a .gguf file: local:/path/to/model.gguf",
    );
  }
  const path = resolve(expandHome(name));
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new Error("not a file");
    size = s.size;
  } catch {
    throw new ConfigError("local_model_missing", `local:${name}: no such model file (${path})`);
  }
  const manifest: LocalModelManifest = {
    file: basename(path),
    sha256: await sha256File(path),
    size,
    source: `file:${path}`,
    runtime,
  };
  return new LocalModel(name, path, manifest, {
    parallel,
    contextSize: options.contextSize ?? DEFAULT_CONTEXT_SIZE,
    threads: options.threads,
    batchSize,
    promptBlock,
    reusePrefix: options.reusePrefix,
  });
}
