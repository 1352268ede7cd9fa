/**
 * Compile and preview through the real compiler: the problems `silico run` would report (same
 * messages, same `file:line: path` locations), and the messages each participant of one session
 * would receive, produced by the session's own procedure answered with the parsers' example
 * answers — the same simulation `silico run --dry-run` counts tokens on.
 */
import {
  type CompiledStudy,
  checkPlanSize,
  compileStudyText,
  estimatePlan,
  formatDryRun,
  type Message,
  readStimulusTable,
  SilicoError,
  type SessionPlan,
  simulatePlan,
  StudyError,
  type StudyProblem,
  TURN_VARIABLES,
} from "silico";
import { basename } from "node:path";
import { parse as parseYaml } from "yaml";

export interface Problem {
  where: string;
  message: string;
  /** 1-based line in the text, when the location names one. */
  line?: number;
}

export type CheckResult =
  | { ok: true; study: CompiledStudy; warnings: string[] }
  | { ok: false; problems: Problem[] };

function located(p: StudyProblem): Problem {
  // "study.yaml:12: levels.time" or, for a template, "study.yaml: stages[0].prompt (line 17)".
  const m = /^[^:]+:(\d+)(?::|$)/.exec(p.where) ?? /\(line (\d+)\)/.exec(p.where);
  return m
    ? { where: p.where, message: p.message, line: Number(m[1]) }
    : { where: p.where, message: p.message };
}

const GAME_CONTEXT = [
  "role",
  "round",
  "rounds",
  "stage",
  "treatment",
  "variables",
  "group",
  "group_size",
  "me",
  "others",
  "other",
  "players",
  "history",
];
/** Keys of a game participant (`me`, `other`, a role's member). */
const GAME_PARTICIPANT = ["id", "role", "index", "choices", "payoffs", "total", "payoff", "group", "round"];
/** An oTree bot's system prompt context. */
const OTREE_SYSTEM = ["persona", "seat", "participant_code", "session_config", "session_config.name"];
/** alter_ego: what every thread adds to the scenario's variables (alter_ego's thread attributes). */
const EGO_THREAD = [
  "i",
  "round",
  "rounds",
  "treatment",
  "treatment.name",
  "treatment.variables",
  "choices",
  "other",
  "others",
  "convo",
  "experiment",
  "id",
  "metadata",
  "tainted",
  "verbose",
  "model",
  "temperature",
  "delay",
];

/** The column names of a CSV file (a personas file), read as silico reads it; none when it cannot be read. */
export function csvHeader(path: string): string[] {
  try {
    return readStimulusTable(path, basename(path)).header.filter((h) => h !== "");
  } catch {
    return [];
  }
}

function keys(v: unknown): string[] {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? Object.keys(v) : [];
}

/**
 * Names a prompt of the study may use (for the editor's completion): the design's context and the
 * study's own names, with `a.b` for the fields of objects in the context.
 */
export function scopeOf(data: unknown, csvColumns?: (file: string) => string[]): string[] {
  const d = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
  const names = new Set<string>();
  if (d.kind === "game") {
    for (const n of GAME_CONTEXT) names.add(n);
    const vars = new Set(keys(d.variables));
    for (const t of Object.values((d.treatments ?? {}) as Record<string, unknown>))
      for (const n of keys(t)) vars.add(n);
    for (const n of vars) {
      names.add(n);
      names.add(`variables.${n}`);
    }
    const choices: string[] = [];
    if (Array.isArray(d.stages))
      for (const s of d.stages) {
        const st = (s ?? {}) as { name?: unknown; as?: unknown };
        const choice = typeof st.as === "string" ? st.as : st.name;
        if (typeof choice === "string") choices.push(choice);
        if (typeof st.name === "string") names.add(st.name);
      }
    const members = ["me", "other", ...keys(d.roles)];
    for (const m of members) {
      names.add(m);
      for (const f of GAME_PARTICIPANT) names.add(`${m}.${f}`);
      for (const c of choices) {
        names.add(`${m}.${c}`);
        names.add(`${m}.choices.${c}`);
      }
    }
    for (const c of choices) names.add(c);
  } else if (d.kind === "factorial") {
    for (const n of keys(d.levels)) names.add(n);
  } else if (d.kind === "agents") {
    // A turn's variables (`silico serve` renders system and prompt with them).
    for (const n of TURN_VARIABLES) names.add(n);
  } else if (d.kind === "otree") {
    for (const n of OTREE_SYSTEM) names.add(n);
    const bots = (d.bots ?? {}) as { personas?: unknown };
    if (Array.isArray(bots.personas))
      for (const p of bots.personas) for (const k of keys(p)) names.add(`persona.${k}`);
    else if (typeof bots.personas === "string" && csvColumns)
      for (const k of csvColumns(bots.personas)) names.add(`persona.${k}`);
    for (const k of keys((d.session as { modified_config?: unknown } | undefined)?.modified_config))
      names.add(`session_config.${k}`);
  } else if (d.kind === undefined && Array.isArray(d.threads)) {
    // alter_ego built.json: the scenario's variables and each thread's attributes.
    for (const n of EGO_THREAD) names.add(n);
    for (const n of keys(d.variables)) names.add(n);
  }
  return [...names].sort();
}

export interface OutlineTable {
  title: string;
  /** The key column's name first, then the value columns. */
  columns: string[];
  /** Each row: its key, then its cells as text (what an editable cell shows). */
  rows: string[][];
  /** Where the rows live in the study (`["roles"]`): row key, then column name (or item number). */
  base: string[];
  /** Cells are list items (a factorial factor's levels), addressed by number. */
  list?: boolean;
  /** Per column, what applies when a cell is empty (a role's model: the study's default). */
  placeholders?: string[];
}

export interface Outline {
  kind: string;
  /** Roles of a game, its treatments × variables, a factorial's factors × levels: editable tables. */
  tables: OutlineTable[];
}

const cell = (v: unknown): string =>
  v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);

const mapOf = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/**
 * The study's structure as editable tables (roles, treatments × variables, factors × levels),
 * read from the text itself so that they stay while the study has problems.
 */
export function outlineOf(kind: string, data: unknown): Outline {
  const d = mapOf(data);
  const tables: OutlineTable[] = [];
  if (kind === "game") {
    const roles = mapOf(d.roles);
    tables.push({
      title: "roles",
      columns: ["role", "count", "model"],
      rows: Object.entries(roles).map(([r, v]) => [r, cell(mapOf(v).count), cell(mapOf(v).model)]),
      base: ["roles"],
      placeholders: ["", "1", cell(d.model)],
    });
    const treatments = mapOf(d.treatments);
    const vars = [...new Set(Object.values(treatments).flatMap((t) => keys(t)))];
    tables.push({
      title: "treatments",
      columns: ["treatment", ...vars],
      rows: Object.entries(treatments).map(([t, v]) => [t, ...vars.map((k) => cell(mapOf(v)[k]))]),
      base: ["treatments"],
    });
  } else if (kind === "factorial") {
    const levels = mapOf(d.levels);
    const lists = Object.entries(levels).map(([f, v]) => [
      f,
      ...(Array.isArray(v) ? v.map(cell) : [cell(v)]),
    ]);
    const width = Math.max(0, ...lists.map((r) => r.length - 1));
    tables.push({
      title: "levels",
      columns: ["factor", ...Array.from({ length: width }, (_, i) => `level ${i + 1}`)],
      rows: lists.map((r) => [...r, ...Array.from({ length: width + 1 - r.length }, () => "")]),
      base: ["levels"],
      list: true,
    });
  }
  return { kind, tables };
}

/** The study text as data (YAML or JSON), for the builder's forms; null when it does not parse to a mapping. */
export function dataOfText(text: string): Record<string, unknown> | null {
  try {
    const d = parseYaml(text) as unknown;
    return typeof d === "object" && d !== null && !Array.isArray(d) ? (d as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The outline of a study text as written (YAML or JSON), or null when it does not parse. */
export function outlineOfText(text: string): Outline | null {
  try {
    const data = mapOf(parseYaml(text));
    return typeof data.kind === "string" ? outlineOf(data.kind, data) : null;
  } catch {
    return null;
  }
}

/** Compiles a study text as `silico run FILE` would (`path` names the file in locations). */
export function check(text: string, path: string): CheckResult {
  try {
    const study = compileStudyText(text, path);
    checkPlanSize(study, study.settings.maxCalls);
    return { ok: true, study, warnings: [] };
  } catch (e) {
    if (e instanceof StudyError) {
      // A line is marked in the editor only when it is one of the study file's own lines (not a
      // stimulus file's, `stimuli.csv:14`).
      const own = `${path.split(/[\\/]/).pop() ?? path}:`;
      return {
        ok: false,
        problems: e.problems.map(located).map((p) => {
          if (p.where.startsWith(own)) return p;
          const { line: _, ...rest } = p;
          // A problem of the stimulus file is marked where the study names the file.
          const at = /^stimuli\s*:/m.exec(text);
          return at ? { ...rest, line: text.slice(0, at.index).split("\n").length } : rest;
        }),
      };
    }
    if (e instanceof SilicoError)
      return { ok: false, problems: [{ where: path.split("/").pop() ?? path, message: e.message }] };
    throw e;
  }
}

export interface PreviewMessage {
  role: string;
  content: string;
}

export interface PreviewTurn {
  turn: string;
  name: string;
  coords: Record<string, unknown>;
  /** The messages added to the participant's conversation since its previous turn, this prompt last. */
  messages: PreviewMessage[];
}

export interface PreviewParticipant {
  id: string;
  role: string | null;
  model: string;
  turns: PreviewTurn[];
}

export interface Preview {
  kind: string;
  seed: number;
  total: number;
  /** The first sessions, to choose from. */
  sessions: { index: number; key: string; coords: Record<string, unknown> }[];
  session: { index: number; key: string; coords: Record<string, unknown> } | null;
  participants: PreviewParticipant[];
  /** Why the simulated session stopped early, if it did. */
  stopped: string | null;
  warnings: string[];
  /** kind: agents: the example turn variables the prompts were rendered with (editable in the page). */
  variables?: Record<string, string>;
  /** kind: otree: seats taken by humans (no prompt). */
  humans?: number[];
}

function text(content: Message["content"]): string {
  if (typeof content === "string") return content;
  return content.map((p) => (p.type === "text" ? p.text : `[${p.type}]`)).join("\n");
}

const LISTED = 500;

/** The messages of the session at `index` (or the first whose coordinates match `coords`). */
export async function preview(
  study: CompiledStudy,
  opts: { index?: number; coords?: Record<string, string>; vars?: Record<string, string> },
): Promise<Preview> {
  // Neither runs without a server: show what is known before it (the prompts as rendered).
  if (study.kind === "agents") return agentsPreview(study, opts.vars ?? {});
  if (study.kind === "otree") return otreePreview(study);
  const seed = study.seed ?? 0;
  const plan = study.plan(seed);
  const sessions: Preview["sessions"] = [];
  let chosen: SessionPlan | undefined;
  const wanted = Object.entries(opts.coords ?? {}).filter(([, v]) => v !== "");
  for (const s of plan.sessions()) {
    if (sessions.length < LISTED) sessions.push({ index: s.index, key: s.key, coords: s.coords });
    if (!chosen) {
      const match =
        opts.index !== undefined
          ? s.index === opts.index
          : wanted.every(([k, v]) => String((s.coords as Record<string, unknown>)[k]) === v);
      if (match) chosen = s;
    }
    if (chosen && sessions.length >= LISTED) break;
  }
  const participants = new Map<string, PreviewParticipant>();
  const taken = new Map<string, number>();
  let stopped: string | null = null;
  if (chosen) {
    for (const p of chosen.participants)
      participants.set(p.id, { id: p.id, role: p.role ?? null, model: p.model, turns: [] });
    const one = chosen;
    const result = await simulatePlan(
      { ...plan, total: 1, sessions: () => [one] },
      {
        seed,
        onCall: (call) => {
          const from = taken.get(call.participant.id) ?? 0;
          const fresh = call.messages.slice(from).map((m) => ({ role: m.role, content: text(m.content) }));
          taken.set(call.participant.id, call.messages.length);
          participants.get(call.participant.id)?.turns.push({
            turn: call.question.turn,
            name: call.question.name ?? "answer",
            coords: { ...(call.question.coords ?? {}) },
            messages: fresh,
          });
        },
      },
    );
    stopped = result.stopped[0]?.message ?? null;
  }
  return {
    kind: study.kind,
    seed,
    total: plan.total,
    sessions,
    session: chosen ? { index: chosen.index, key: chosen.key, coords: chosen.coords } : null,
    participants: [...participants.values()],
    stopped,
    warnings: plan.warnings,
  };
}

/** `silico run --dry-run`'s estimate, as data and as the CLI's lines. */
export async function estimate(study: CompiledStudy) {
  const seed = study.seed ?? 0;
  const est = await estimatePlan(study.plan(seed), { seed });
  return {
    kind: est.kind,
    sessions: est.sessions,
    simulated: est.simulated,
    calls: est.calls,
    capped: est.capped,
    models: est.models.map((m) => ({
      model: m.model,
      calls: m.calls,
      inputTokens: m.inputTokens,
      outputTokens: m.outputTokens,
      capped: m.capped,
      costUsd: m.cost ?? null,
      tokenizer: m.counter.name,
    })),
    stopped: est.stopped,
    warnings: est.warnings,
    lines: formatDryRun(est),
  };
}

interface TemplateLike {
  render(context: Record<string, unknown>): string;
  freeVariables(): string[];
}

interface AgentLike {
  name: string;
  model: string;
  owner: string;
  system?: TemplateLike;
  prompt?: TemplateLike;
}

/** Example values of a turn's variables, as `silico serve` would pass them. */
const EXAMPLE_TURN: Record<string, string | number> = {
  message: "Hello! What do you propose?",
  session: "k3x9m2qa",
  participant: "p7fw1z0d",
  group: 1,
  app: "my_app",
  round: 1,
  page: "Decide",
  turn: "1",
};

function tryRender(t: TemplateLike, context: Record<string, unknown>): string {
  try {
    return t.render(context);
  } catch (e) {
    return `(cannot render: ${(e as Error).message})`;
  }
}

/**
 * kind: agents: each agent's system prompt and user message rendered with example turn variables
 * (`vars` overrides them; any other name a template reads gets a placeholder the page can edit).
 */
export function agentsPreview(study: CompiledStudy, vars: Record<string, string>): Preview {
  const agents = (study as unknown as { agents?: Map<string, AgentLike> }).agents ?? new Map();
  const variables: Record<string, string> = {};
  const participants: PreviewParticipant[] = [];
  for (const a of agents.values()) {
    const free = new Set([...(a.system?.freeVariables() ?? []), ...(a.prompt?.freeVariables() ?? [])]);
    const context: Record<string, unknown> = { ...EXAMPLE_TURN, agent: a.name };
    for (const n of free) if (!(n in context)) context[n] = `‹${n}›`;
    for (const [k, v] of Object.entries(vars)) context[k] = v;
    for (const n of free) if (n !== "agent") variables[n] = String(context[n]);
    const messages: PreviewMessage[] = [];
    if (a.system) messages.push({ role: "system", content: tryRender(a.system, context) });
    messages.push({
      role: "user",
      content: a.prompt ? tryRender(a.prompt, context) : String(context.message),
    });
    participants.push({
      id: a.name,
      role: a.owner,
      model: a.model,
      turns: [{ turn: "turn", name: "reply", coords: {}, messages }],
    });
  }
  if (!("message" in variables)) variables.message = String(vars.message ?? EXAMPLE_TURN.message);
  return {
    kind: study.kind,
    seed: study.seed ?? 0,
    total: 0,
    sessions: [],
    session: null,
    participants,
    stopped: null,
    warnings: ["agents answer turns of a running experiment (silico serve): each turn is rendered as below"],
    variables,
  };
}

/** kind: otree: each bot seat's system prompt (its persona's), as the run would send it. */
export function otreePreview(study: CompiledStudy): Preview {
  const seed = study.seed ?? 0;
  const plan = study.plan(seed);
  const participants: PreviewParticipant[] = [];
  const seats: number[] = [];
  for (const s of plan.sessions()) {
    const seat = Number(s.coords.seat);
    seats.push(seat);
    for (const p of s.participants)
      participants.push({
        id: `seat ${seat}`,
        role: p.role ?? null,
        model: p.model,
        turns: [
          {
            turn: "system",
            name: "system",
            coords: { seat },
            messages: [{ role: "system", content: p.system ?? "(no system prompt)" }],
          },
        ],
      });
  }
  const all = (study.manifest?.otree as { participants?: number } | undefined)?.participants ?? seats.length;
  const humans = Array.from({ length: all }, (_, i) => i + 1).filter((n) => !seats.includes(n));
  return {
    kind: study.kind,
    seed,
    total: plan.total,
    sessions: [],
    session: null,
    participants,
    stopped: null,
    warnings: [
      "the oTree pages are known only when the session runs: each bot seat's system prompt is shown",
      ...plan.warnings,
    ],
    humans,
  };
}
