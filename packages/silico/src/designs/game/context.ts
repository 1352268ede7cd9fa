import { projecting } from "@silico/jinja";
import { InvalidValue } from "./invalid.js";
import type { RoundGroup, Seat } from "./matching.js";

/**
 * What participants and payoff expressions see. The same names exist in templates and in
 * expressions; the only difference is how an invalid choice appears: `None` in a template, and
 * in an expression a value whose use makes the result invalid.
 */

/** The facts of a game the context builder needs (a slice of the compiled game). */
export interface GameShape {
  rounds: number;
  roles: { name: string; count: number }[];
  /** Choice names in stage order, with the roles that make them. */
  choices: { name: string; roles: string[] }[];
}

export interface RoundRecord {
  group: number;
  /** Choice name → value (InvalidValue when the participant gave no valid answer). Absent until made. */
  choices: Record<string, unknown>;
  /** Payoff of the round: a number, InvalidValue, or undefined while the round is running. */
  payoff?: unknown;
}

/** Everything that happened to one participant so far. */
export interface ParticipantState {
  seat: Seat;
  /** Index r-1 holds round r. */
  rounds: RoundRecord[];
}

export type View = "template" | "expression";

/** Keys of participant objects; choice and role names may not use them. */
export const PARTICIPANT_FIELDS = [
  "id",
  "role",
  "index",
  "choices",
  "payoffs",
  "total",
  "payoff",
  "group",
  "round",
];

/** Names every context has; variables, roles and choices may not use them. */
export const CONTEXT_NAMES = [
  "role",
  "round",
  "rounds",
  "treatment",
  "variables",
  "stage",
  "group",
  "group_size",
  "me",
  "others",
  "other",
  "players",
  "history",
];

/** Names of the system prompt's context (rendered once, before round 1). */
export const SYSTEM_CONTEXT_NAMES = ["role", "rounds", "treatment", "variables", "me", "group_size"];

function show(v: unknown, view: View): unknown {
  if (v instanceof InvalidValue) return view === "template" ? null : v;
  return v;
}

/** The bare choice names a participant of `role` can read: its own, or those of a single actor. */
export function bareChoicesFor(shape: GameShape, role: string): string[] {
  const counts = new Map(shape.roles.map((r) => [r.name, r.count]));
  return shape.choices
    .filter((c) => c.roles.includes(role) || c.roles.reduce((n, r) => n + (counts.get(r) ?? 0), 0) === 1)
    .map((c) => c.name);
}

export class GameState {
  readonly participants = new Map<string, ParticipantState>();

  constructor(
    readonly shape: GameShape,
    seats: Seat[],
  ) {
    for (const seat of seats) this.participants.set(seat.id, { seat, rounds: [] });
  }

  get(pid: string): ParticipantState {
    const p = this.participants.get(pid);
    if (!p) throw new Error(`no participant ${pid}`);
    return p;
  }

  /** Starts round r (1-based) for every member of every group. */
  startRound(round: number, groups: RoundGroup[]): void {
    for (const g of groups)
      for (const pid of g.members) this.get(pid).rounds[round - 1] = { group: g.id, choices: {} };
  }

  setChoice(pid: string, round: number, name: string, value: unknown): void {
    (this.get(pid).rounds[round - 1] as RoundRecord).choices[name] = value;
  }

  setPayoff(pid: string, round: number, value: unknown): void {
    (this.get(pid).rounds[round - 1] as RoundRecord).payoff = value;
  }

  /** A participant as seen during round `round` (its choices of that round so far, its past). */
  private live(pid: string, round: number, view: View): Record<string, unknown> {
    const p = this.get(pid);
    const current = p.rounds[round - 1];
    const out: Record<string, unknown> = { id: p.seat.id, role: p.seat.role, index: p.seat.index };
    for (const [k, v] of Object.entries(current?.choices ?? {})) out[k] = show(v, view);
    const choices: Record<string, unknown[]> = {};
    for (const c of this.shape.choices) {
      if (!c.roles.includes(p.seat.role)) continue;
      const list: unknown[] = [];
      for (let r = 0; r < round; r++) {
        const rec = p.rounds[r];
        if (!rec) continue;
        if (Object.hasOwn(rec.choices, c.name)) list.push(show(rec.choices[c.name], view));
        else if (r < round - 1) list.push(null);
      }
      choices[c.name] = list;
    }
    out.choices = choices;
    const payoffs: unknown[] = [];
    for (let r = 0; r < round - 1; r++) {
      const rec = p.rounds[r];
      if (rec && rec.payoff !== undefined) payoffs.push(show(rec.payoff, view));
    }
    out.payoffs = payoffs;
    out.total = payoffs.reduce<number>((n, v) => (typeof v === "number" ? n + v : n), 0);
    return out;
  }

  /** A participant's record of one finished round (for `history`). */
  private snapshot(pid: string, round: number, view: View): Record<string, unknown> {
    const p = this.get(pid);
    const rec = p.rounds[round - 1] as RoundRecord;
    const out: Record<string, unknown> = { id: p.seat.id, role: p.seat.role, index: p.seat.index };
    for (const [k, v] of Object.entries(rec.choices)) out[k] = show(v, view);
    out.payoff = rec.payoff === undefined ? null : show(rec.payoff, view);
    return out;
  }

  private groupOf(pid: string, round: number): string[] {
    const g = this.get(pid).rounds[round - 1]?.group;
    const members: ParticipantState[] = [];
    for (const p of this.participants.values()) if (p.rounds[round - 1]?.group === g) members.push(p);
    const order = new Map(this.shape.roles.map((r, i) => [r.name, i]));
    members.sort(
      (a, b) => (order.get(a.seat.role) ?? 0) - (order.get(b.seat.role) ?? 0) || a.seat.index - b.seat.index,
    );
    return members.map((m) => m.seat.id);
  }

  /** me / others / other / players / role names / bare choice names, from `pid`'s point of view. */
  private people(
    pid: string,
    members: string[],
    make: (id: string) => Record<string, unknown>,
  ): Record<string, unknown> {
    const me = make(pid);
    const objects = new Map(members.map((id) => [id, id === pid ? me : make(id)]));
    // Lists of participants project attributes: `players.contribution` is every member's contribution.
    const players = projecting(members.map((id) => objects.get(id) as Record<string, unknown>));
    const others = projecting(players.filter((o) => o.id !== pid));
    const out: Record<string, unknown> = { me, others, players };
    if (members.length === 2) out.other = others[0];
    for (const r of this.shape.roles) {
      const ofRole = projecting(players.filter((o) => o.role === r.name));
      out[r.name] = r.count === 1 ? (ofRole[0] ?? null) : ofRole;
    }
    const myRole = this.get(pid).seat.role;
    for (const c of this.shape.choices) {
      if (!bareChoicesFor(this.shape, myRole).includes(c.name)) continue;
      const source = c.roles.includes(myRole) ? me : players.find((o) => c.roles.includes(o.role as string));
      if (source && Object.hasOwn(source, c.name)) out[c.name] = source[c.name];
    }
    return out;
  }

  /**
   * The context of participant `pid` during round `round` (1-based): its group of that round,
   * every choice made so far, and the finished rounds as `history`.
   */
  context(
    pid: string,
    round: number,
    base: { treatment: string; variables: Record<string, unknown>; stage?: string },
    view: View,
  ): Record<string, unknown> {
    const p = this.get(pid);
    const members = this.groupOf(pid, round);
    const history: Record<string, unknown>[] = [];
    for (let h = 1; h < round; h++) {
      const rec = p.rounds[h - 1];
      if (!rec) continue;
      const entry = this.people(pid, this.groupOf(pid, h), (id) => this.snapshot(id, h, view));
      history.push({ round: h, group: rec.group, ...entry });
    }
    return {
      ...base.variables,
      variables: base.variables,
      treatment: base.treatment,
      role: p.seat.role,
      round,
      rounds: this.shape.rounds,
      ...(base.stage !== undefined ? { stage: base.stage } : {}),
      group: p.rounds[round - 1]?.group ?? null,
      group_size: members.length,
      ...this.people(pid, members, (id) => this.live(id, round, view)),
      history,
    };
  }
}

/** The system prompt's context: who you are and the rules; no round, group or choices yet. */
export function systemContext(
  seat: Seat,
  shape: GameShape,
  treatment: string,
  variables: Record<string, unknown>,
): Record<string, unknown> {
  return {
    ...variables,
    variables,
    treatment,
    role: seat.role,
    rounds: shape.rounds,
    me: { id: seat.id, role: seat.role, index: seat.index },
    group_size: shape.roles.reduce((n, r) => n + r.count, 0),
  };
}
