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
  SilicoError,
  type SessionPlan,
  simulatePlan,
  StudyError,
  type StudyProblem,
} from "silico";
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

function keys(v: unknown): string[] {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? Object.keys(v) : [];
}

/** Names a prompt of the study may use (for the editor's completion): the design's context and the study's own variables. */
export function scopeOf(data: unknown): string[] {
  const d = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
  const names = new Set<string>();
  if (d.kind === "game") {
    for (const n of GAME_CONTEXT) names.add(n);
    for (const n of keys(d.variables)) names.add(n);
    for (const t of Object.values((d.treatments ?? {}) as Record<string, unknown>))
      for (const n of keys(t)) names.add(n);
    for (const n of keys(d.roles)) names.add(n);
    if (Array.isArray(d.stages))
      for (const s of d.stages)
        if (typeof (s as { name?: unknown })?.name === "string") names.add((s as { name: string }).name);
  } else if (d.kind === "factorial") {
    for (const n of keys(d.levels)) names.add(n);
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
    if (e instanceof StudyError) return { ok: false, problems: e.problems.map(located) };
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
}

function text(content: Message["content"]): string {
  if (typeof content === "string") return content;
  return content.map((p) => (p.type === "text" ? p.text : `[${p.type}]`)).join("\n");
}

const LISTED = 500;

/** The messages of the session at `index` (or the first whose coordinates match `coords`). */
export async function preview(
  study: CompiledStudy,
  opts: { index?: number; coords?: Record<string, string> },
): Promise<Preview> {
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
