import type { ModelParams } from "../models/types.js";
import type { Parser } from "../parse/types.js";
import type { Rng } from "./rng.js";

/** Coordinates place a session or an observation in the design (cell, treatment, group, round …). */
export type Coordinates = Record<string, string | number | boolean | null>;

export interface ParticipantPlan {
  /** Unique within the session, e.g. "p1" or "responder". */
  id: string;
  role?: string;
  /** "provider:model" id. */
  model: string;
  params: ModelParams;
  /** Already rendered system prompt, if any. */
  system?: string;
  mode?: "chat" | "completion";
}

/** What to do with an answer a parser rejects. */
export interface ReaskPolicy {
  /** Extra attempts after the first (0 = never re-ask). */
  max: number;
  /** Correction message; `{reason}` and `{expected}` are replaced (plain substitution, not a template). */
  message?: string;
}

export interface Question {
  /** Already rendered text (or content parts) sent as the user message. Never rendered again. */
  prompt: string | import("../models/types.js").ContentPart[];
  parser: Parser;
  /**
   * Stable label of this turn within the participant's conversation, e.g. "r3/propose". Part of
   * the call key, the cache key and the derived provider seed; a label repeated for one
   * participant in a session gets "#2", "#3" … so each turn stays its own draw.
   */
  turn: string;
  /** Observation name in the data (default "answer"). */
  name?: string;
  /** Extra coordinates for the observation (round, stage, trial …). */
  coords?: Coordinates;
  reask?: ReaskPolicy;
  /** Per-question parameter overrides. */
  params?: ModelParams;
  /** Let a constraining provider enforce the parser's shape (default true). */
  constrain?: boolean;
  /** Text the observation should carry alongside, e.g. the stimulus prompt for exports. */
  meta?: Record<string, unknown>;
  /**
   * Record the answer as an observation (default true). False when the procedure records its own
   * once the answer has been used (oTree: one per field, after the server accepted the page),
   * linking them to the call with `record(…, { callId })`.
   */
  observe?: boolean;
}

export interface Answer {
  valid: boolean;
  /** Parsed value of the first choice (null when invalid). */
  value: unknown;
  raw: string;
  reason?: string;
  /** Number of attempts used (1 + re-asks). */
  attempts: number;
  /** All choices when n > 1 (parsed). */
  choices: {
    raw: string;
    valid: boolean;
    value: unknown;
    reason?: string;
    logprobs?: import("../models/types.js").TokenLogprob[];
  }[];
  callId: number;
  /** Whether the answer came from the cache. */
  cached: boolean;
}

/**
 * A design's own JSON state, kept in the store (run-level for set-up, one per session for a
 * procedure), so that a resumed run can continue where it was: e.g. the oTree session created
 * at set-up, or the participant a session already registered there.
 */
export interface DesignState {
  /** The value last set (in this or an earlier process of the run), or undefined. */
  get(): unknown;
  /** Replace the value; it must be JSON. Written to the store at once, so it survives a stop. */
  set(value: unknown): void;
}

/** What a plan's set-up and tear-down see. */
export interface RunContext {
  readonly runId: string;
  readonly seed: number;
  /** True in a process that resumes the run (set-up may then reuse what its state recorded). */
  readonly resumed: boolean;
  /** The run's own design state (shared by every process of the run). */
  readonly state: DesignState;
  /** Show the person running the study a line (e.g. the start links of human participants). */
  notice(message: string): void;
  /** The run's stop signal (Ctrl-C), when it has one: a tear-down that waits can stop early on it. */
  readonly signal?: AbortSignal;
}

export interface TearDownContext extends RunContext {
  /** How this process's part of the run ended: a run status, or "error" when set-up or the executor threw. */
  readonly outcome: "done" | "partial" | "stopped" | "failed" | "error";
}

export interface SessionContext {
  readonly key: string;
  readonly index: number;
  readonly coords: Coordinates;
  /** Seeded from the run seed and the session key. */
  readonly rng: Rng;
  /** Ask one participant one question; the executor renders nothing, parses, re-asks, records. */
  ask(participantId: string, question: Question): Promise<Answer>;
  /** Record a derived value (payoff, assignment …) as an observation without a model call. */
  record(
    participantId: string | null,
    name: string,
    value: unknown,
    coords?: Coordinates,
    /** An invalid derived value (e.g. a payoff that depends on an invalid answer) and why. */
    extra?: {
      valid?: boolean;
      reason?: string;
      meta?: Record<string, unknown>;
      /** The call whose answer this is (an `Answer.callId`): exports then carry its call columns. */
      callId?: number;
      raw?: string;
      attempts?: number;
    },
  ): void;
  /** Mark the session as tainted/invalid (alter_ego's rule) with a reason; the procedure should then return. */
  taint(reason: string): void;
  /** Append a message to a participant's conversation without a call (e.g. feedback shown to it). */
  tell(participantId: string, role: "user" | "assistant", text: string): void;
  /**
   * Start a participant's conversation again from its system prompt and `messages` (a running
   * summary instead of the whole history, or the history a resumed procedure kept in its state).
   * The messages are recorded like told ones.
   */
  resetConversation(
    participantId: string,
    messages: { role: "user" | "assistant"; content: string }[],
    /** record: false when the messages are in the record already (a history restored on resume). */
    options?: { record?: boolean },
  ): void;
  /** This session's design state: kept across a stop and a resume (and a retry of the session). */
  readonly state: DesignState;
  /**
   * Aborted when the run is interrupted (Ctrl-C, a signal): a procedure that waits on
   * something outside (an oTree wait page) stops waiting; its session stays resumable.
   */
  readonly signal?: AbortSignal;
}

export type Procedure = (ctx: SessionContext) => Promise<void>;

export interface SessionPlan {
  /** Deterministic key from the study coordinates (stable across re-runs and resumes). */
  key: string;
  index: number;
  coords: Coordinates;
  /** Replicate index (stored with the session; part of every call's cache key and derived seed). */
  draw: number;
  participants: ParticipantPlan[];
  procedure: Procedure;
  /** Rough number of calls the session makes (for progress and dry runs). */
  expectedCalls: number;
}

/**
 * Where the sessions of an open plan come from (`silico serve`): they are made while the run goes
 * on, one per request, instead of all being known when it starts.
 */
export interface SessionArrivals {
  /**
   * The next session, waiting until one arrives; undefined once no more will come. `signal`
   * aborts when the run stops (interrupt, budget, fatal error, failed store): the source must then
   * resolve undefined without handing out a session.
   */
  next(signal: AbortSignal): Promise<SessionPlan | undefined>;
}

export interface Plan {
  kind: string;
  /** Number of sessions; sessions() yields exactly this many (0 for an open plan). */
  total: number;
  /**
   * An open plan: sessions arrive from here instead of sessions(), and the run counts them as
   * they come. The executor then keeps `concurrency` sessions in flight and never skips one.
   */
  arrivals?: SessionArrivals;
  /** Lazily produced, so 100,000-session plans stay small in memory. */
  sessions(): Iterable<SessionPlan>;
  /** Model ids used anywhere in the plan. */
  models: string[];
  /** Warnings the compiler wants the user to see (e.g. alter_ego differences). */
  warnings: string[];
  /**
   * Every session must be in flight at once, whatever the concurrency setting (oTree bots wait
   * for each other on wait pages). Model calls stay bounded by the per-model limits.
   */
  allAtOnce?: boolean;
  /**
   * A resumed session continues where it stopped instead of being replayed from its start (its
   * procedure keeps its progress in `ctx.state`, e.g. oTree pages already submitted): its earlier
   * messages and observations are kept.
   */
  resumeInPlace?: boolean;
  /** Columns every observation of this design carries, in order (for exports). */
  coordinateColumns: string[];
  /**
   * Runs in every process of the run (start and each resume) before its first session, e.g. to
   * create an oTree session over REST and record it in `ctx.state`. A throw fails the run.
   */
  setUp?(ctx: RunContext): Promise<void>;
  /**
   * Runs once before a new run is recorded (not on resume): checks against the outside world that
   * can refuse the run (an oTree server's session configs) so a refused run leaves nothing in the
   * store. If the run is then not created, tearDown still runs (outcome "error").
   */
  prepare?(ctx: { seed: number; notice(message: string): void }): Promise<void>;
  /**
   * Throws (a ConfigError) when a key the plan needs besides the models' is missing, e.g. an oTree
   * server's REST key. Runs before a run is started or resumed, like the models' credential check,
   * so a resume without the key is refused before it takes the run.
   */
  checkCredentials?(): void;
  /** Runs at the end of every process that ran set-up, also after a stop or a failure. */
  tearDown?(ctx: TearDownContext): Promise<void>;
}
