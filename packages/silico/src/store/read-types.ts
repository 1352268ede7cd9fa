import type { RunTotals } from "../engine/executor.js";
import type { Coordinates } from "../engine/plan.js";
import type { RunStatus, SessionStatus } from "./run-store.js";

/** A scalar as it comes out of a coordinate or a grouped column. */
export type Scalar = string | number | boolean | null;

/** Offset paging: at most `limit` items (default 100, at most 10,000) after skipping `offset`. */
export interface PageOptions {
  offset?: number;
  limit?: number;
}

/** One page of results; `nextOffset` is null on the last page. */
export interface Page<T> {
  items: T[];
  offset: number;
  limit: number;
  nextOffset: number | null;
}

/**
 * Keyset paging (the `…ByCursor` listings): a page `after` a cursor, `before` one, the `last`
 * page, or the page starting `at` a 0-based position. Pages after or before a cursor cost the same
 * however deep they are (an index seek); `at` scans the ordering key up to the position, for a
 * jump (a scroll bar dragged), not for paging on. Cursors stay valid while rows are added or their
 * status changes, and under any filter of the same listing.
 */
export interface CursorOptions {
  /** The items after this cursor (a page's `next`). */
  after?: string;
  /** The items just before this cursor (a page's `prev`), still in listing order. */
  before?: string;
  /** The page starting at this position of the filtered listing. */
  at?: number;
  /** The last `limit` items. */
  last?: boolean;
  /** Default 100, at most 10,000. */
  limit?: number;
}

/** One page of a keyset listing. */
export interface CursorPage<T> {
  items: T[];
  limit: number;
  /** Pass as `after` for the items that follow; null when none followed at reading time. */
  next: string | null;
  /** Pass as `before` for the items that precede; null on the first page. */
  prev: string | null;
}

/** A run as listed: what it is, how it went, and what it cost (from the summary written at its end). */
export interface RunInfo {
  id: string;
  status: RunStatus;
  kind: string;
  name: string | null;
  studyPath: string | null;
  seed: number;
  silicoVersion: string;
  createdAt: string;
  updatedAt: string;
  /** When the run last stopped working (done, partial, failed, stopped …); null while running. */
  finishedAt: string | null;
  totalSessions: number;
  /** The model ids of the study, in the order of its manifest. */
  models: string[];
  /** The totals of the run's last execution (null before it first ended). */
  totals: Partial<RunTotals> | null;
  costUsd: number | null;
}

/** A run with everything recorded about it: settings, manifest and the study text. */
export interface RunDetail extends RunInfo {
  studyHash: string;
  studyText: string;
  settings: Record<string, unknown>;
  manifest: Record<string, unknown>;
}

export interface RunListOptions extends PageOptions {
  status?: RunStatus | RunStatus[];
  kind?: string;
  /** Newest first (default) or oldest first. */
  order?: "newest" | "oldest";
}

/**
 * A session status, or a group of them: `valid` is a finished session with valid answers
 * (`done`), `tainted` one that finished invalid or failed (alter_ego's tainted conversations).
 */
export type SessionStatusFilter = SessionStatus | "valid" | "tainted";

export interface SessionFilter {
  status?: SessionStatusFilter | SessionStatusFilter[];
  /** Sessions with a participant played by this model. */
  model?: string;
  /** Coordinate equality, e.g. `{ treatment: "high" }`; a list means any of the values. */
  coords?: Record<string, Scalar | Scalar[]>;
  /** A session key, or a 1-based session number (as `silico show --session` takes). */
  ref?: string;
  /**
   * Failed attempts kept by `resume --retry-failed` (status `superseded`) are left out unless
   * this is true or the status filter names them.
   */
  includeSuperseded?: boolean;
}

export interface SessionInfo {
  runId: string;
  key: string;
  /** 0-based position in the plan. */
  index: number;
  draw: number;
  coords: Coordinates;
  status: SessionStatus;
  attempt: number;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface ParticipantInfo {
  id: string;
  role: string | null;
  model: string;
  params: Record<string, unknown>;
}

/** Usage and cost of the call an observation was parsed from. */
export interface ObservationCall {
  inputTokens: number | null;
  outputTokens: number | null;
  latencyMs: number | null;
  costUsd: number | null;
  /** Answered from the cache (an earlier identical call) rather than by the model. */
  cached: boolean;
  /** What was sent and received; only with `includeCallBodies`. */
  request?: unknown;
  response?: unknown;
}

export interface ObservationInfo {
  id: number;
  runId: string;
  sessionKey: string;
  sessionIndex: number;
  sessionStatus: SessionStatus;
  sessionCoords: Coordinates;
  /** The observation's own coordinates (round, stage, trial …), beyond its session's. */
  coords: Coordinates;
  /** Position within the session (messages and observations share one sequence). */
  seq: number;
  participant: string | null;
  role: string | null;
  model: string | null;
  name: string;
  value: unknown;
  raw: string | null;
  valid: boolean;
  reason: string | null;
  attempts: number;
  choiceIndex: number;
  meta: Record<string, unknown> | null;
  callId: number | null;
  call: ObservationCall | null;
  createdAt: string;
}

export interface ObservationFilter {
  name?: string | string[];
  /** Observations of participants played by this model. */
  model?: string;
  /**
   * Coordinate equality as export rows see it (the observation's own coordinates, else its
   * session's), e.g. `{ round: 2, treatment: "high" }`; a list means any of the values.
   */
  coords?: Record<string, Scalar | Scalar[]>;
  sessionKey?: string;
  participant?: string;
  valid?: boolean;
  choiceIndex?: number;
  /** Observations recorded with a call (answers) or without one (payoffs, measures). */
  fromCall?: boolean;
  /** Only observations of sessions with these statuses (superseded ones are left out unless named). */
  sessionStatus?: SessionStatusFilter | SessionStatusFilter[];
  includeSuperseded?: boolean;
  /** Add each call's request and response (large) to `call`. */
  includeCallBodies?: boolean;
}

export interface CallInfo {
  id: number;
  runId: string;
  sessionKey: string;
  participant: string;
  callKey: string;
  cacheKey: string;
  model: string;
  status: "ok" | "invalid" | "error";
  /** What was sent: messages, parameters, constraint. */
  request: unknown;
  /** The provider's answer as recorded (null when the call failed). */
  response: unknown;
  text: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  latencyMs: number | null;
  costUsd: number | null;
  /** One entry per try (transient failures retried). */
  attempts: unknown[];
  warnings: string[];
  error: string | null;
  /** The id of the call whose answer this one reused from the cache. */
  cachedFrom: number | null;
  constrained: boolean;
  startedAt: string;
  finishedAt: string;
}

export interface CallFilter {
  sessionKey?: string;
  participant?: string;
  model?: string;
  status?: CallInfo["status"] | CallInfo["status"][];
  /** Leave out request and response (a lighter listing); default true. */
  includeBodies?: boolean;
}

export interface TranscriptMessage {
  seq: number;
  participant: string;
  role: string;
  content: string;
  callId: number | null;
  /** A user message that asks again after an invalid answer. */
  reask: boolean;
  /** The answers parsed from this reply (assistant messages of a call). */
  observations: ObservationInfo[];
}

export interface TranscriptParticipant extends ParticipantInfo {
  /** This participant's messages, in order. */
  messages: TranscriptMessage[];
}

/** One session as a conversation: participants with their messages and the parsed answers. */
export interface Transcript {
  session: SessionInfo;
  participants: TranscriptParticipant[];
  /** Every message of the session in the order it was recorded. */
  messages: TranscriptMessage[];
  /** Observations not parsed from a reply: payoffs, measures, derived values. */
  loose: ObservationInfo[];
}

export interface ModelCounts {
  model: string;
  sessions: number;
  calls: number;
  cacheHits: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  observations: number;
  validObservations: number;
}

export interface NumericSummaryOptions {
  /** The observation name, e.g. "answer" or "contribution". */
  name: string;
  /** A field of a JSON answer, e.g. "keep" for {"keep": 4}. */
  field?: string;
  /**
   * Coordinate columns to group by (factor levels, treatment, round …) and/or `participant`,
   * `role`, `model`, `session`. None gives one cell.
   */
  by?: string[];
  sessionStatus?: SessionStatusFilter | SessionStatusFilter[];
}

/** One cell: n numeric valid answers, their mean and sample standard deviation. */
export interface NumericCell {
  group: Record<string, Scalar>;
  n: number;
  mean: number | null;
  /** Sample standard deviation (n − 1); null when n < 2. */
  sd: number | null;
  min: number | null;
  max: number | null;
  /** Invalid or missing answers in the cell. */
  invalid: number;
  /** Valid answers that are not numbers (left out of n). */
  nonNumeric: number;
}

/** How often one value occurs in one cell. */
export interface ValueCount {
  group: Record<string, Scalar>;
  value: Scalar;
  count: number;
}

/** A provider batch of a `--batch` run, and how its requests ended. */
export interface BatchInfo {
  /** The provider's batch id (null for a batch whose submission never reached the provider). */
  id: string | null;
  provider: string;
  model: string;
  /** The provider's last status seen (or "submitting", "abandoned", "submit_failed"). */
  status: string;
  requests: number;
  /** Requests by outcome: pending, succeeded, errored, expired, cancelled. */
  outcomes: Record<string, number>;
  createdAt: string;
  updatedAt: string;
}
