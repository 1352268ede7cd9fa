import type { Coordinates } from "../../engine/plan.js";
import { SilicoError } from "../../errors.js";
import { GameState } from "./context.js";
import { PyFloat, TemplateError, truthy } from "@silico/jinja";
import { InvalidValue, invalidReferenceOf } from "./invalid.js";
import type { RoundGroup, Seat } from "./matching.js";
import type { GameSpec, StageSpec, TreatmentSpec } from "./spec.js";

/** One session's share of the game: its treatment, participants and matching. */
export interface SessionUnit {
  treatment: TreatmentSpec;
  seats: Seat[];
  /** matching[r-1] = the groups of round r. */
  matching: RoundGroup[][];
}

export interface Decision {
  pid: string;
  role: string;
  round: number;
  group: number;
  stage: StageSpec;
  prompt: string;
}

/** What playing needs from outside: the executor in a run, a dummy in the pre-flight check. */
export interface GameIO {
  ask(d: Decision): Promise<{ valid: boolean; value: unknown; reason?: string }>;
  record(
    pid: string,
    name: string,
    value: unknown,
    coords: Coordinates,
    extra?: { valid: boolean; reason?: string },
  ): void;
  taint(reason: string): void;
}

export interface PlayOptions {
  /** Pre-flight: a payoff or condition that fails to evaluate throws (located) instead of being recorded as invalid. */
  strict?: boolean;
  /** Called before each prompt is rendered (pre-flight uses it to say where a template failed). */
  onRender?(pid: string, round: number, stage: string): void;
}

/** Located failure of a payoff or condition during pre-flight. */
export class GameCheckError extends Error {
  constructor(
    readonly path: (string | number)[],
    message: string,
  ) {
    super(message);
    this.name = "GameCheckError";
  }
}

type Answer = { valid: boolean; value: unknown; reason?: string };

/**
 * One session's game logic as a coroutine: it yields batches of decisions (all actors of a
 * simultaneous stage, or one mover of a sequential stage) and receives their answers. The async
 * driver asks the executor; the synchronous one answers with stand-ins (pre-flight check).
 */
class SessionGame {
  readonly state: GameState;
  stopped = false;
  private readonly roleOf: Map<string, string>;
  private readonly indexOf: Map<string, number>;

  constructor(
    private readonly game: GameSpec,
    private readonly unit: SessionUnit,
    private readonly io: Pick<GameIO, "record" | "taint">,
    private readonly options: PlayOptions,
  ) {
    const shape = {
      rounds: game.rounds,
      roles: game.roles.map((r) => ({ name: r.name, count: r.count })),
      choices: game.stages.map((s) => ({ name: s.choice, roles: s.roles })),
    };
    this.state = new GameState(shape, unit.seats);
    this.roleOf = new Map(unit.seats.map((s) => [s.id, s.role]));
    this.indexOf = new Map(unit.seats.map((s) => [s.id, s.index]));
  }

  private base(stage?: string) {
    return {
      treatment: this.unit.treatment.name,
      variables: this.unit.treatment.variables,
      ...(stage !== undefined ? { stage } : {}),
    };
  }

  private apply(pid: string, round: number, stage: StageSpec, answer: Answer): void {
    if (answer.valid) {
      this.state.setChoice(pid, round, stage.choice, answer.value);
      return;
    }
    const reason = `${pid} gave no valid answer to "${stage.name}" in round ${round}${answer.reason ? `: ${answer.reason}` : ""}`;
    if (this.game.invalid.action === "taint") {
      if (!this.stopped) this.io.taint(reason);
      this.stopped = true;
      return;
    }
    this.state.setChoice(pid, round, stage.choice, new InvalidValue(reason));
  }

  private decision(pid: string, round: number, group: RoundGroup, stage: StageSpec): Decision {
    const role = this.roleOf.get(pid) as string;
    const template = stage.prompts.get(role);
    if (!template) throw new SilicoError("game_internal", `stage ${stage.name} has no prompt for ${role}`);
    this.options.onRender?.(pid, round, stage.name);
    const prompt = template.render(this.state.context(pid, round, this.base(stage.name), "template"));
    return { pid, role, round, group: group.id, stage, prompt };
  }

  private acts(pid: string, round: number, stage: StageSpec, stageIndex: number): boolean {
    if (!stage.when) return true;
    try {
      return truthy(stage.when.evaluate(this.state.context(pid, round, this.base(stage.name), "expression")));
    } catch (e) {
      // A condition that reads an invalid choice cannot be decided: the participant does not act.
      if (invalidReferenceOf(e)) return false;
      if (e instanceof TemplateError) {
        const at = `(participant ${pid}, round ${round})`;
        if (this.options.strict)
          throw new GameCheckError(["stages", stageIndex, "when"], `${e.detail} ${at}`);
        // e.message names the file, the field and its line: the run's failure reason says where.
        throw new SilicoError("game_condition", `${e.message} ${at}`);
      }
      throw e;
    }
  }

  startRound(round: number): RoundGroup[] {
    const groups = this.unit.matching[round - 1] as RoundGroup[];
    this.state.startRound(round, groups);
    return groups;
  }

  /** The stages of one group in one round, then its payoffs. */
  *groupRound(round: number, group: RoundGroup): Generator<Decision[], void, Answer[]> {
    for (let i = 0; i < this.game.stages.length; i++) {
      if (this.stopped) return;
      const stage = this.game.stages[i] as StageSpec;
      const actors = group.members
        .filter((pid) => stage.roles.includes(this.roleOf.get(pid) as string))
        .sort(
          (a, b) =>
            stage.roles.indexOf(this.roleOf.get(a) as string) -
              stage.roles.indexOf(this.roleOf.get(b) as string) ||
            (this.indexOf.get(a) as number) - (this.indexOf.get(b) as number),
        )
        .filter((pid) => this.acts(pid, round, stage, i));
      if (stage.mode === "simultaneous") {
        // Every prompt is rendered before anyone answers, so nobody sees this stage's choices.
        const batch = actors.map((pid) => this.decision(pid, round, group, stage));
        if (batch.length === 0) continue;
        const answers = yield batch;
        for (const [k, d] of batch.entries()) this.apply(d.pid, round, stage, answers[k] as Answer);
      } else {
        for (const pid of actors) {
          if (this.stopped) return;
          const d = this.decision(pid, round, group, stage);
          const answers = yield [d];
          this.apply(pid, round, stage, answers[0] as Answer);
        }
      }
    }
    if (!this.stopped) this.payoffs(round, group);
  }

  private payoffs(round: number, group: RoundGroup): void {
    if (!this.game.payoffs) return;
    for (const pid of group.members) {
      const role = this.roleOf.get(pid) as string;
      const expr = this.game.payoffs.get(role);
      if (!expr) continue;
      const coords: Coordinates = { round, role, group: group.id };
      let value: unknown;
      let failure: string | undefined;
      try {
        const result = expr.evaluate(this.state.context(pid, round, this.base(), "expression"));
        value = payoffNumber(result);
        if (value === undefined) {
          failure = `the payoff of ${role} must be a number, got ${result === null ? "None" : typeof result === "string" ? `the text "${result}"` : Array.isArray(result) ? "a list" : typeof result === "bigint" ? "a number too large" : typeof result}`;
        }
      } catch (e) {
        const invalid = invalidReferenceOf(e);
        if (invalid) failure = `depends on an invalid choice (${invalid.reason})`;
        // At run time the reason names the file, the field and its line (e.message); the
        // pre-flight check (strict) locates the problem itself.
        else if (e instanceof TemplateError) failure = this.options.strict ? e.detail : e.message;
        else throw e;
      }
      if (failure !== undefined) {
        if (this.options.strict) {
          throw new GameCheckError(["payoffs", role], `${failure} (participant ${pid}, round ${round})`);
        }
        this.state.setPayoff(pid, round, new InvalidValue(failure));
        this.io.record(pid, "payoff", null, coords, { valid: false, reason: failure });
      } else {
        this.state.setPayoff(pid, round, value);
        this.io.record(pid, "payoff", value, coords);
      }
    }
  }
}

/**
 * Plays one session: rounds in order; within a round every group plays its stages (the groups of
 * a matching pool concurrently), then payoffs are computed and recorded for every member. A
 * participant's prompt context holds everything decided before its turn: previous rounds,
 * previous stages of this round and, in sequential stages, the earlier movers of this stage.
 */
export async function playSession(
  game: GameSpec,
  unit: SessionUnit,
  io: GameIO,
  options: PlayOptions = {},
): Promise<GameState> {
  const g = new SessionGame(game, unit, io, options);
  for (let round = 1; round <= game.rounds && !g.stopped; round++) {
    const groups = g.startRound(round);
    await Promise.all(
      groups.map(async (group) => {
        const it = g.groupRound(round, group);
        let step = it.next();
        while (!step.done) {
          const batch = step.value;
          const answers = g.stopped ? [] : await Promise.all(batch.map((d) => io.ask(d)));
          if (g.stopped) {
            it.return();
            return;
          }
          step = it.next(answers);
        }
      }),
    );
  }
  return g.state;
}

/** The same game played synchronously with given answers (pre-flight check with stand-ins). */
export function playSessionSync(
  game: GameSpec,
  unit: SessionUnit,
  io: Pick<GameIO, "record" | "taint"> & { answer(d: Decision): Answer },
  options: PlayOptions = {},
): GameState {
  const g = new SessionGame(game, unit, io, options);
  for (let round = 1; round <= game.rounds && !g.stopped; round++) {
    for (const group of g.startRound(round)) {
      const it = g.groupRound(round, group);
      let step = it.next();
      while (!step.done) step = it.next(step.value.map((d) => io.answer(d)));
    }
  }
  return g.state;
}

/** A payoff as a finite JS number (Python ints, floats and bools), or undefined. */
function payoffNumber(v: unknown): number | undefined {
  const n =
    typeof v === "boolean"
      ? Number(v)
      : typeof v === "number"
        ? v
        : v instanceof PyFloat
          ? v.value
          : typeof v === "bigint"
            ? Number(v)
            : undefined;
  return n !== undefined && Number.isFinite(n) ? n : undefined;
}
