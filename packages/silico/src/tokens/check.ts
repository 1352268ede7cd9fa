import { basename } from "node:path";
import type { CompiledStudy } from "../designs/design.js";
import { compileStudyFile } from "../designs/index.js";
import { checkPlanSize } from "../engine/plan-size.js";
import { ConfigError } from "../errors.js";
import type { ContentPart } from "../models/types.js";
import { exampleAnswer } from "../parse/example-answer.js";
import { contextWindow, counterFor, IMAGE_TOKENS, type TokenCounter } from "./count.js";
import { promptText, simulatePlan } from "./simulate.js";

export interface CheckOptions {
  /** Context window to check against instead of the table's (every model). */
  context?: number;
  /** Seed for the plan (orders); the study's, else 0. Totals do not depend on it for chat. */
  seed?: number;
  /** Answer length assumed where a study sets no max_tokens. */
  defaultMaxTokens?: number;
}

/** The largest call of one group of sessions (a Run of a stimulus list, or all sessions of a model). */
export interface CheckGroup {
  model: string;
  label: string;
  /** Tokens the largest call needs: its input plus max_tokens for the answer. */
  tokens: number;
  /** Earlier answers in that call's input, each counted at max_tokens. */
  earlierAnswers: number;
  maxTokens: number;
  maxTokensAssumed: boolean;
  calls: number;
  window?: number;
  fits?: boolean;
}

export interface CheckResult {
  ok: boolean;
  lines: string[];
  groups: CheckGroup[];
  /** Models whose context window is unknown (pass --context N). */
  unknownModels: string[];
}

export const DEFAULT_MAX_TOKENS = 256;
const ANSWER = /\uE000answer:(\d+)\uE000/g;

/**
 * `silico check STUDY`: for each Run (stimulus lists) or each model (other studies), the tokens
 * the largest call will need — the system prompt, every earlier prompt, every earlier answer
 * counted at max_tokens, this prompt, and max_tokens for the answer — against the model's context
 * window. Simulates the plan (tokens/simulate.ts) with example answers, so nothing is sent
 * anywhere.
 */
export async function checkStudy(path: string, opts: CheckOptions = {}): Promise<CheckResult> {
  return checkCompiled(compileStudyFile(path), opts);
}

export async function checkCompiled(study: CompiledStudy, opts: CheckOptions = {}): Promise<CheckResult> {
  // Every session is walked below: a huge plan is refused first, as `silico run` refuses it.
  checkPlanSize(study, study.settings.maxCalls);
  const seed = opts.seed ?? study.seed ?? 0;
  const plan = study.plan(seed);
  const defaultMax = opts.defaultMaxTokens ?? DEFAULT_MAX_TOKENS;
  const counters = new Map<string, TokenCounter>();
  for (const m of plan.models) counters.set(m, await counterFor(m));
  const groups = new Map<string, CheckGroup>();
  const notes: string[] = [];

  for (const s of plan.sessions())
    for (const p of s.participants)
      if (!counters.has(p.model)) counters.set(p.model, await counterFor(p.model));
  let answers = 0;
  const simulation = await simulatePlan(plan, {
    seed,
    // A marker stands for each answer: it is counted at the max_tokens of its call.
    answer: (call) => ({
      raw: `\uE000answer:${answers++}\uE000`,
      value: exampleAnswer(call.question.parser.spec, promptText(call.question)).value,
    }),
    onCall: (call) => {
      const s = call.session;
      const p = call.participant;
      const label =
        s.coords.list !== undefined && s.coords.list !== null ? `Run ${s.coords.list}` : "all sessions";
      const maxTokens = call.params.maxTokens ?? defaultMax;
      const counter = counters.get(p.model) as TokenCounter;
      const { tokens, earlier } = conversationTokens(call.messages, call.mode, counter, maxTokens);
      const need = tokens + maxTokens;
      const key = `${p.model}\u0000${label}`;
      const g = groups.get(key);
      if (!g || need > g.tokens) {
        groups.set(key, {
          model: p.model,
          label,
          tokens: need,
          earlierAnswers: earlier,
          maxTokens,
          maxTokensAssumed: call.params.maxTokens === undefined,
          calls: (g?.calls ?? 0) + 1,
        });
      } else g.calls++;
    },
  });
  // A procedure that fails with example answers is checked up to where it stopped.
  for (const st of simulation.stopped)
    notes.push(`session ${st.index + 1}: checked its first ${st.calls} calls only (${st.message})`);

  const file = basename(study.source.path);
  const lines = [`token check for ${file} (counted offline; nothing was sent)`];
  const unknownModels: string[] = [];
  let ok = true;
  let failing = 0;
  const byModel = new Map<string, CheckGroup[]>();
  for (const g of groups.values()) byModel.set(g.model, [...(byModel.get(g.model) ?? []), g]);
  for (const [model, list] of byModel) {
    const window = opts.context ?? contextWindow(model);
    const counter = counters.get(model) as TokenCounter;
    const source = opts.context !== undefined ? "from --context" : "data/context-windows.json";
    lines.push(
      window === undefined
        ? `${model}: context window unknown (pass --context N to check); tokens ${counter.describe}`
        : `${model}: context window ${fmt(window)} tokens (${source}); tokens ${counter.describe}`,
    );
    if (window === undefined) unknownModels.push(model);
    list.sort((a, b) => naturalCompare(a.label, b.label));
    for (const g of list) {
      g.window = window;
      const detail = `${g.earlierAnswers} earlier answer${g.earlierAnswers === 1 ? "" : "s"} and the reply at max_tokens ${g.maxTokens}${g.maxTokensAssumed ? " (not set; assumed)" : ""}`;
      let verdict = "";
      if (window !== undefined) {
        g.fits = g.tokens <= window;
        verdict = g.fits
          ? ` — fits (${Math.round((100 * g.tokens) / window)} %)`
          : ` — DOES NOT FIT: ${fmt(g.tokens - window)} over`;
        if (!g.fits) {
          ok = false;
          failing++;
        }
      }
      lines.push(
        `  ${g.label}: the last call needs ${fmt(g.tokens)} tokens (${detail})${window !== undefined ? ` of ${fmt(window)}` : ""}${verdict}`,
      );
    }
  }
  for (const n of notes) lines.push(`note: ${n}`);
  const total = groups.size;
  lines.push(
    ok
      ? unknownModels.length > 0
        ? `result: not checked for ${unknownModels.join(", ")} (unknown context window)`
        : `result: all ${total} fit`
      : `result: ${failing} of ${total} do not fit the context window; shorten the lists (more Runs), lower max_tokens or use a model with a larger context`,
  );
  return { ok, lines, groups: [...groups.values()], unknownModels };
}

/** Input tokens of a conversation; earlier answers (stand-ins) count as max_tokens each. */
function conversationTokens(
  conv: readonly { role: string; content: string | ContentPart[] }[],
  mode: "chat" | "completion",
  counter: TokenCounter,
  maxTokens: number,
): { tokens: number; earlier: number } {
  let earlier = 0;
  const text = (s: string): number => {
    let n = 0;
    const rest = s.replace(ANSWER, () => {
      n++;
      return "";
    });
    earlier += n;
    return n * maxTokens + (rest === "" ? 0 : counter.count(rest));
  };
  const content = (c: string | ContentPart[]): number =>
    typeof c === "string"
      ? text(c)
      : c.reduce((n, p) => n + (p.type === "text" ? text(p.text) : IMAGE_TOKENS), 0);
  if (mode === "completion") {
    // The completion endpoint gets the messages' text run together, without role markers.
    return { tokens: conv.reduce((n, m) => n + content(m.content), 0), earlier };
  }
  const tokens = conv.reduce((n, m) => n + content(m.content) + counter.perMessage, 0) + counter.perReply;
  return { tokens, earlier };
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

/**
 * The `silico check STUDY [--context N] [--seed N]` command: prints the report and returns the
 * exit code (0 every run fits or the window is unknown, 1 some run does not fit). A malformed
 * study throws StudyError (exit 2), a bad flag ConfigError (exit 2).
 */
export async function commandCheck(
  path: string,
  flags: { context?: string; seed?: string },
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<number> {
  const context = wholeFlag("context", flags.context, 1);
  const seed = wholeFlag("seed", flags.seed, 0);
  const result = await checkStudy(path, {
    ...(context !== undefined ? { context } : {}),
    ...(seed !== undefined ? { seed } : {}),
  });
  for (const line of result.lines) write(line);
  return result.ok ? 0 : 1;
}

function wholeFlag(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigError("bad_flag", `--${name} must be a whole number ≥ ${min}, got "${v}"`);
  return n;
}
