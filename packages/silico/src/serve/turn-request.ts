import { TURN_VARIABLES } from "../designs/agents/agents-schema.js";

/** One agent turn asked for by an oTree app (the body of POST /v1/turn). */
export interface TurnRequest {
  agent: string;
  /** oTree session code. */
  session: string;
  /** Code of the participant whose page sent the turn. */
  participant: string;
  /** oTree group (id in subsession), needed for agents owned by a group. */
  group?: string;
  app?: string;
  round?: number;
  page?: string;
  /** The turn key: the same key always gets the same answer, whatever the number of requests. */
  turn: string;
  /** The new message (the service keeps the agent's memory) … */
  message?: string;
  /** … or the whole conversation so far, ending with the user's message to answer. */
  transcript?: { role: "user" | "assistant"; content: string }[];
  /** Template variables (treatment, payoffs so far …) for the agent's system prompt and prompt. */
  vars: Record<string, unknown>;
  /** Answer as NDJSON: a "typing" event at once, then the reply. */
  stream: boolean;
}

/** A request the service refuses (HTTP 400): nothing was called or stored. */
export class TurnRequestError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = "TurnRequestError";
  }
}

const FIELDS = [
  "agent",
  "session",
  "participant",
  "group",
  "app",
  "round",
  "page",
  "turn",
  "message",
  "transcript",
  "vars",
  "stream",
];
const CODE = /^[A-Za-z0-9_.:-]{1,100}$/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_TEXT = 100_000;

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

function code(body: Record<string, unknown>, field: string, required: boolean): string | undefined {
  let v = body[field];
  if (v === undefined || v === null) {
    if (required) throw new TurnRequestError(`missing "${field}"`);
    return undefined;
  }
  if (typeof v === "number" && Number.isInteger(v)) v = String(v);
  if (typeof v !== "string" || !CODE.test(v))
    throw new TurnRequestError(
      `"${field}" must be a text of 1–100 letters, digits or _ . : - (got ${JSON.stringify(v).slice(0, 60)})`,
    );
  return v;
}

function text(v: unknown, field: string): string {
  if (typeof v !== "string") throw new TurnRequestError(`"${field}" must be a text`);
  if (v.length > MAX_TEXT) throw new TurnRequestError(`"${field}" is longer than ${MAX_TEXT} characters`);
  return v;
}

/** Checks a parsed JSON body; a problem is a TurnRequestError naming the field. */
export function parseTurnRequest(body: unknown): TurnRequest {
  if (!isObj(body)) throw new TurnRequestError("the body must be a JSON object");
  const unknown = Object.keys(body).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0)
    throw new TurnRequestError(
      `unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")} (fields: ${FIELDS.join(", ")})`,
    );
  const agent = code(body, "agent", true) as string;
  const turn =
    typeof body.turn === "string" && body.turn.length <= 200 && body.turn.length > 0
      ? body.turn
      : (() => {
          throw new TurnRequestError(
            `"turn" must be a non-empty text of at most 200 characters (the turn key)`,
          );
        })();
  let round: number | undefined;
  if (body.round !== undefined && body.round !== null) {
    if (typeof body.round !== "number" || !Number.isInteger(body.round) || body.round < 0)
      throw new TurnRequestError(`"round" must be a whole number ≥ 0`);
    round = body.round;
  }
  if ((body.message === undefined) === (body.transcript === undefined))
    throw new TurnRequestError(
      `give either "message" (the service keeps the memory) or "transcript", not ${body.message === undefined ? "neither" : "both"}`,
    );
  const out: TurnRequest = {
    agent,
    session: code(body, "session", true) as string,
    participant: code(body, "participant", true) as string,
    turn,
    vars: {},
    stream: false,
  };
  const group = code(body, "group", false);
  if (group !== undefined) out.group = group;
  if (body.app !== undefined && body.app !== null) out.app = code(body, "app", true) as string;
  if (round !== undefined) out.round = round;
  if (body.page !== undefined && body.page !== null) out.page = code(body, "page", true) as string;
  if (body.message !== undefined) out.message = text(body.message, "message");
  if (body.transcript !== undefined) {
    const t = body.transcript;
    if (!Array.isArray(t) || t.length === 0)
      throw new TurnRequestError(`"transcript" must be a non-empty list of {role, content}`);
    out.transcript = t.map((m, i) => {
      if (!isObj(m) || (m.role !== "user" && m.role !== "assistant"))
        throw new TurnRequestError(`"transcript"[${i}] must be {role: "user" or "assistant", content: text}`);
      return { role: m.role, content: text(m.content, `transcript[${i}].content`) };
    });
    if (out.transcript.at(-1)?.role !== "user")
      throw new TurnRequestError(`"transcript" must end with the user's message to answer`);
  }
  if (body.vars !== undefined) {
    if (!isObj(body.vars)) throw new TurnRequestError(`"vars" must be a mapping of names to values`);
    for (const k of Object.keys(body.vars)) {
      if (!IDENT.test(k))
        throw new TurnRequestError(`"vars": "${k}" is not a template name (letters, digits, _)`);
      if ((TURN_VARIABLES as readonly string[]).includes(k))
        throw new TurnRequestError(`"vars": "${k}" is set by the service itself; choose another name`);
    }
    out.vars = body.vars;
  }
  if (body.stream !== undefined) {
    if (typeof body.stream !== "boolean") throw new TurnRequestError(`"stream" must be true or false`);
    out.stream = body.stream;
  }
  return out;
}
