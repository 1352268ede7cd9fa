import type { Answer, ParticipantPlan, Plan, Question, SessionContext, SessionPlan } from "../engine/plan.js";
import { Rng } from "../engine/rng.js";
import type { Message, ModelParams } from "../models/types.js";
import { exampleAnswer } from "../parse/example-answer.js";

/** One request a simulated session would send: the whole conversation so far, history included. */
export interface SimulatedCall {
  session: SessionPlan;
  participant: ParticipantPlan;
  /** The participant's parameters with the question's overrides, as the executor merges them. */
  params: ModelParams;
  mode: "chat" | "completion";
  /** The messages sent (system prompt, earlier prompts and answers, this prompt). Do not keep: it grows. */
  messages: readonly Message[];
  question: Question;
}

export interface SimulateOptions {
  /** Run seed (the sessions' random choices derive from it, as in a run). */
  seed: number;
  /** Called for every request, before its answer is appended. */
  onCall(call: SimulatedCall): void;
  /** The answer given (text and parsed value); default: the parser's example answer (parse/example-answer.ts). */
  answer?(call: SimulatedCall): { raw: string; value: unknown };
  /** Simulate at most this many sessions: an even, deterministic sample (every k-th session). */
  maxSessions?: number;
}

export interface SimulationResult {
  /** Sessions in the plan. */
  sessions: number;
  /** Sessions simulated (all, or the sample). */
  simulated: number;
  /** sessions / simulated: multiply sampled totals by this. */
  scale: number;
  /** Sessions whose procedure stopped with an error or a taint (the first few). */
  stopped: { index: number; calls: number; message: string }[];
}

const MAX_CALLS_PER_SESSION = 100_000;

/**
 * Runs a plan's procedures without a network or a store: every question is answered at once with
 * a valid example answer, and the conversations grow exactly as the executor grows them (system
 * prompt, each prompt, each answer, messages told to a participant). Dry runs and `silico check`
 * count tokens on the requests it reports, so every design's history growth is followed without
 * per-design arithmetic.
 */
export async function simulatePlan(plan: Plan, opts: SimulateOptions): Promise<SimulationResult> {
  const total = plan.total;
  const stride = opts.maxSessions && total > opts.maxSessions ? Math.ceil(total / opts.maxSessions) : 1;
  let simulated = 0;
  const stopped: SimulationResult["stopped"] = [];
  let i = 0;
  for (const s of plan.sessions()) {
    if (i++ % stride !== 0) continue;
    simulated++;
    const r = await simulateSession(s, opts);
    if (r.error !== undefined && stopped.length < 3)
      stopped.push({ index: s.index, calls: r.calls, message: r.error });
  }
  return { sessions: total, simulated, scale: simulated > 0 ? total / simulated : 0, stopped };
}

async function simulateSession(
  s: SessionPlan,
  opts: SimulateOptions,
): Promise<{ calls: number; error?: string }> {
  const conversations = new Map<string, Message[]>();
  for (const p of s.participants)
    conversations.set(
      p.id,
      p.system !== undefined && p.system !== "" ? [{ role: "system", content: p.system }] : [],
    );
  let calls = 0;
  let tainted: string | undefined;
  const ctx: SessionContext = {
    key: s.key,
    index: s.index,
    coords: s.coords,
    rng: new Rng(opts.seed, s.key),
    ask: async (pid: string, q: Question): Promise<Answer> => {
      const participant = s.participants.find((p) => p.id === pid);
      const conv = conversations.get(pid);
      if (!participant || !conv) throw new Error(`no participant "${pid}" in session ${s.key}`);
      if (++calls > MAX_CALLS_PER_SESSION) throw new Error(`more than ${MAX_CALLS_PER_SESSION} calls`);
      conv.push({ role: "user", content: q.prompt });
      const call: SimulatedCall = {
        session: s,
        participant,
        params: { ...participant.params, ...q.params },
        mode: participant.mode ?? "chat",
        messages: conv,
        question: q,
      };
      opts.onCall(call);
      const { raw, value } = opts.answer ? opts.answer(call) : exampleAnswer(q.parser.spec, promptText(q));
      conv.push({ role: "assistant", content: raw });
      const n = call.params.n ?? 1;
      const choice = { raw, valid: true, value };
      return {
        valid: true,
        value,
        raw,
        attempts: 1,
        choices: Array.from({ length: n }, () => choice),
        callId: 0,
        cached: false,
      };
    },
    record: () => {},
    // A procedure that taints its session (alter_ego) stops asking: say so, as for an error.
    taint: (reason) => {
      tainted ??= reason;
    },
    tell: (pid, role, text) => {
      conversations.get(pid)?.push({ role, content: text });
    },
    resetConversation: (pid, messages) => {
      const conv = conversations.get(pid);
      if (conv)
        conv.splice(0, conv.length, ...conv.filter((m) => m.role === "system").slice(0, 1), ...messages);
    },
    state: memoryState(),
  };
  try {
    await s.procedure(ctx);
    return tainted === undefined ? { calls } : { calls, error: `tainted with example answers: ${tainted}` };
  } catch (e) {
    return { calls, error: e instanceof Error ? e.message : String(e) };
  }
}

/** A session's design state for a simulation: nothing is stored, a dry run writes nothing. */
function memoryState(): SessionContext["state"] {
  let value: string | undefined;
  return {
    get: () => (value === undefined ? undefined : JSON.parse(value)),
    set: (v) => {
      value = JSON.stringify(v);
    },
  };
}

/** The text of a question's prompt (its text parts, for a prompt with images). */
export function promptText(q: Question): string {
  return typeof q.prompt === "string"
    ? q.prompt
    : q.prompt.map((p) => (p.type === "text" ? p.text : "")).join("\n");
}
