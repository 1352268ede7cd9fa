import { batchPriceOf, priceOf } from "../engine/cost.js";
import type { Plan } from "../engine/plan.js";
import type { ContentPart, Message } from "../models/types.js";
import { DEFAULT_MAX_TOKENS } from "./check.js";
import { counterFor, ESTIMATE, IMAGE_TOKENS, type TokenCounter } from "./count.js";
import { simulatePlan } from "./simulate.js";

/** Sessions simulated at most; larger plans are sampled evenly and scaled. */
export const MAX_SIMULATED_SESSIONS = 2000;

export interface ModelEstimate {
  model: string;
  calls: number;
  inputTokens: number;
  /** At each request's max_tokens, or DEFAULT_MAX_TOKENS per answer where it carries none. */
  outputTokens: number;
  /** Every request of this model carries a max_tokens cap (the one counted). */
  capped: boolean;
  /** The caps seen (for the message), smallest first. */
  caps: number[];
  /** USD; undefined when the model has no price. */
  cost?: number;
  /** USD through the provider's batch API (--batch); undefined when unknown. */
  batchCost?: number;
  counter: TokenCounter;
}

export interface DryRunEstimate {
  kind: string;
  sessions: number;
  simulated: number;
  calls: number;
  models: ModelEstimate[];
  /** Every request of every model is capped: output and cost are bounds (≤), else estimates (≈). */
  capped: boolean;
  stopped: { index: number; calls: number; message: string }[];
  warnings: string[];
}

/**
 * What a run of the plan will send, found by simulating it (tokens/simulate.ts): every request's
 * full conversation — system prompt, earlier prompts and answers — counted with the model's
 * tokenizer where silico has it offline, else the ⌈characters / 4⌉ estimate.
 */
export async function estimatePlan(
  plan: Plan,
  opts: { seed: number; maxSessions?: number },
): Promise<DryRunEstimate> {
  const counters = new Map<string, TokenCounter>();
  for (const m of plan.models) counters.set(m, await counterFor(m));
  const perModel = new Map<
    string,
    { calls: number; input: number; output: number; uncapped: number; caps: Set<number> }
  >();
  // A message is counted once, however many later requests carry it again.
  const cache = new WeakMap<Message, number>();
  const result = await simulatePlan(plan, {
    seed: opts.seed,
    maxSessions: opts.maxSessions ?? MAX_SIMULATED_SESSIONS,
    onCall: (call) => {
      // plan.models lists every model; the estimate is the fallback for one it missed.
      const counter = counters.get(call.participant.model) ?? ESTIMATE;
      counters.set(call.participant.model, counter);
      const chat = call.mode === "chat";
      let input = chat ? counter.perReply : 0;
      for (const m of call.messages) {
        let t = cache.get(m);
        if (t === undefined) {
          t = contentTokens(m.content, counter);
          cache.set(m, t);
        }
        input += t + (chat ? counter.perMessage : 0);
      }
      let e = perModel.get(call.participant.model);
      if (!e) {
        e = { calls: 0, input: 0, output: 0, uncapped: 0, caps: new Set() };
        perModel.set(call.participant.model, e);
      }
      const n = call.params.n ?? 1;
      const cap = call.params.maxTokens;
      e.calls++;
      e.input += input;
      e.output += n * (cap ?? DEFAULT_MAX_TOKENS);
      if (cap === undefined) e.uncapped++;
      else e.caps.add(cap);
    },
  });
  const models: ModelEstimate[] = [];
  const order = [...new Set([...plan.models, ...perModel.keys()])];
  for (const model of order) {
    const e = perModel.get(model) ?? { calls: 0, input: 0, output: 0, uncapped: 0, caps: new Set<number>() };
    const inputTokens = Math.round(e.input * result.scale);
    const outputTokens = Math.round(e.output * result.scale);
    const price = priceOf(model);
    const batchPrice = batchPriceOf(model);
    models.push({
      model,
      calls: Math.round(e.calls * result.scale),
      inputTokens,
      outputTokens,
      capped: e.uncapped === 0,
      caps: [...e.caps].sort((a, b) => a - b),
      ...(price ? { cost: (inputTokens * price.input + outputTokens * price.output) / 1e6 } : {}),
      ...(batchPrice
        ? { batchCost: (inputTokens * batchPrice.input + outputTokens * batchPrice.output) / 1e6 }
        : {}),
      counter: counters.get(model) as TokenCounter,
    });
  }
  return {
    kind: plan.kind,
    sessions: result.sessions,
    simulated: result.simulated,
    calls: models.reduce((n, m) => n + m.calls, 0),
    models,
    capped: models.every((m) => m.capped),
    stopped: result.stopped,
    warnings: plan.warnings,
  };
}

function contentTokens(c: string | ContentPart[], counter: TokenCounter): number {
  if (typeof c === "string") return counter.count(c);
  return c.reduce((n, p) => n + (p.type === "text" ? counter.count(p.text) : IMAGE_TOKENS), 0);
}

/** The dry run's report: "≤" only for output (and cost) that every request's max_tokens caps. */
export function formatDryRun(est: DryRunEstimate, opts: { batch?: boolean } = {}): string[] {
  const sampled =
    est.simulated < est.sessions ? `; simulated ${est.simulated} of them (an even sample) and scaled` : "";
  const lines = [
    `plan: ${est.kind}, ${est.sessions} sessions, about ${est.calls} calls${sampled}`,
    "  input counted on every request's full conversation (system prompt, earlier prompts and answers), simulated with example answers; re-asks not included",
  ];
  let total = 0;
  let batchTotal = 0;
  let unknown = false;
  const counted = new Set<string>();
  for (const m of est.models) {
    const cap =
      m.caps.length === 0
        ? ""
        : m.caps.length === 1
          ? `max_tokens ${m.caps[0]}`
          : `max_tokens ${m.caps.join("/")}`;
    const output = m.capped
      ? `≤ ${m.outputTokens} output tokens${cap ? ` (${cap})` : ""}`
      : `≈ ${m.outputTokens} output tokens (output uncapped: no max_tokens set${m.caps.length ? " on some requests" : ""}, the provider's default applies; ${DEFAULT_MAX_TOKENS} per answer assumed)`;
    let costText = "cost unknown (no price for this model)";
    if (m.cost !== undefined) {
      total += m.cost;
      costText = `${m.capped ? "≤" : "≈"} $${m.cost.toFixed(4)}`;
      if (opts.batch && m.batchCost !== undefined)
        costText += ` (batch ${m.capped ? "≤" : "≈"} $${m.batchCost.toFixed(4)})`;
    } else unknown = true;
    batchTotal += m.batchCost ?? m.cost ?? 0;
    lines.push(`  ${m.model}: ${m.calls} calls, ≈ ${m.inputTokens} input tokens, ${output}, ${costText}`);
    counted.add(m.counter.describe);
  }
  for (const d of counted) lines.push(`  tokens ${d}`);
  const known = unknown ? "unknown for some models; known part " : "";
  lines.push(
    est.capped
      ? `estimated cost: ${known}≤ $${total.toFixed(4)} (output counted at each request's max_tokens cap)`
      : `estimated cost: ${known}≈ $${total.toFixed(4)} — output is uncapped (no max_tokens), so this is an estimate, not a bound; set params.max_tokens to cap it`,
  );
  if (opts.batch)
    lines.push(
      `with --batch: ${known}${est.capped ? "≤" : "≈"} $${batchTotal.toFixed(4)} through the providers' batch APIs (${total > 0 ? `${Math.round((batchTotal / total) * 100)} % of` : "vs"} $${total.toFixed(4)} called one by one); answers within 24 h`,
    );
  for (const s of est.stopped)
    lines.push(
      `note: session ${s.index + 1} stopped after ${s.calls} calls in the simulation (${s.message}); its later calls are not counted`,
    );
  for (const w of est.warnings) lines.push(`warning: ${w}`);
  lines.push("dry run: nothing was called or written");
  return lines;
}
