import { TemplateError } from "@silico/jinja";
import type { AgentSpec, AgentsStudy } from "../designs/agents/agents-design.js";
import type { Answer, SessionPlan } from "../engine/plan.js";
import { redact } from "../models/secrets.js";
import type { AgentTurnRecord, RunStore } from "../store/run-store.js";
import type { SessionQueue } from "./session-queue.js";
import { type TurnRequest, TurnRequestError } from "./turn-request.js";

/** What the service answers for one turn. */
export interface TurnReply {
  /** The agent's reply (the last attempt's text, also when it could not be parsed). */
  text: string;
  /** The parsed value (null when invalid). */
  value: unknown;
  valid: boolean;
  reason?: string;
  agent: string;
  turn: string;
  /** 1 for an agent's first turn with this owner, 2 for its second … */
  turn_index: number;
  /** True when the turn key had been answered before: the stored answer, no new call. */
  replayed: boolean;
  run: string;
  session_key: string;
}

/** The model call failed after its retries, or the run is stopping (HTTP 502 / 503). */
export class TurnFailedError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

interface Pending {
  resolve(a: TurnReply): void;
  reject(e: unknown): void;
}

const ownerOf = (agent: AgentSpec, req: TurnRequest): string => {
  if (agent.owner === "participant") return `participant:${req.participant}`;
  if (req.group === undefined)
    throw new TurnRequestError(`agent "${agent.name}" belongs to a group: send "group" (the group's id)`);
  return `group:${req.group}`;
};

/**
 * Answers agent turns by feeding the executor one session per turn (an open plan). Turns of one
 * agent owner are answered in order, since each one's conversation holds the ones before; a turn
 * key answered before gets its stored answer, and concurrent requests for one key share one call.
 */
export class AgentService {
  private runId = "";
  private nextIndex = 0;
  private endedBecause: string | undefined;
  private readonly inFlight = new Map<string, Promise<TurnReply>>();
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly pending = new WeakMap<SessionPlan, Pending>();
  /**
   * Each agent owner's memory (its turns kept by the service, in order), read from the store once
   * and then kept up to date here: re-reading and decoding every earlier turn on each new one cost
   * more than all of the turn's writes. This process alone writes the run (it holds its lease).
   */
  private readonly memories = new Map<string, { prompt: string; reply: string }[]>();

  constructor(
    private readonly study: AgentsStudy,
    private readonly store: RunStore,
    private readonly queue: SessionQueue,
  ) {}

  /** The run the turns go into (known once it is created or resumed). */
  attach(runId: string): void {
    this.runId = runId;
    this.nextIndex = this.store.sessionStatuses(runId).size;
  }

  get run(): string {
    return this.runId;
  }

  get agentNames(): string[] {
    return [...this.study.agents.keys()];
  }

  /** No more turns: the queued ones fail with `reason` (HTTP 503). */
  end(reason: string): void {
    this.endedBecause ??= reason;
    for (const s of this.queue.close()) this.pending.get(s)?.reject(new TurnFailedError(reason, 503));
  }

  /**
   * Checks the request against the agents and throws at once (a TurnRequestError: HTTP 400,
   * nothing called or stored); otherwise the promise of the answer.
   */
  start(req: TurnRequest): Promise<TurnReply> {
    const agent = this.study.agents.get(req.agent);
    if (!agent)
      throw new TurnRequestError(`unknown agent "${req.agent}" (agents: ${this.agentNames.join(", ")})`);
    const owner = ownerOf(agent, req);
    const memoryKey = `${req.session}/${owner}/${agent.name}`;
    const key = `${memoryKey}\u0000${req.turn}`;
    const running = this.inFlight.get(key);
    if (running) return running.then((r) => ({ ...r, replayed: true }));
    const stored = this.store.agentTurn(this.runId, memoryKey, req.turn);
    if (stored) return Promise.resolve(this.replyOf(stored, true));
    if (this.endedBecause) throw new TurnFailedError(this.endedBecause, 503);
    const vars = this.variables(agent, req);
    const message = req.message ?? (req.transcript?.at(-1)?.content as string);
    const system = render(agent, "system", vars, message);
    const prompt = agent.prompt ? (render(agent, "prompt", vars, message) as string) : message;
    const previous = this.chains.get(memoryKey) ?? Promise.resolve();
    const turn = previous
      .catch(() => undefined)
      .then(() => this.ask(agent, req, owner, memoryKey, system, prompt));
    this.inFlight.set(key, turn);
    this.chains.set(memoryKey, turn);
    const forget = () => {
      this.inFlight.delete(key);
      if (this.chains.get(memoryKey) === turn) this.chains.delete(memoryKey);
    };
    turn.then(forget, forget);
    return turn;
  }

  private variables(agent: AgentSpec, req: TurnRequest): Record<string, unknown> {
    return {
      ...req.vars,
      agent: agent.name,
      session: req.session,
      participant: req.participant,
      group: req.group ?? null,
      app: req.app ?? null,
      round: req.round ?? null,
      page: req.page ?? null,
      turn: req.turn,
    };
  }

  private ask(
    agent: AgentSpec,
    req: TurnRequest,
    owner: string,
    memoryKey: string,
    system: string | undefined,
    prompt: string,
  ): Promise<TurnReply> {
    const memory = req.transcript === undefined;
    const earlier = memory ? this.memoryOf(memoryKey) : [];
    const history: { role: "user" | "assistant"; content: string }[] = memory
      ? earlier.flatMap((t) => [
          { role: "user" as const, content: t.prompt },
          { role: "assistant" as const, content: t.reply },
        ])
      : (req.transcript ?? []).slice(0, -1);
    const turnIndex = memory ? earlier.length + 1 : Math.ceil((req.transcript?.length ?? 1) / 2);
    const sessionKey = `${req.session}/${owner}/${agent.name}/${req.turn}`;
    const pid = agent.name;
    return new Promise<TurnReply>((resolve, reject) => {
      const session: SessionPlan = {
        key: sessionKey,
        index: this.nextIndex++,
        draw: 1,
        expectedCalls: 1,
        coords: {
          agent: agent.name,
          otree_session: req.session,
          participant: req.participant,
          owner,
          app: req.app ?? null,
          round: req.round ?? null,
          page: req.page ?? null,
          turn: req.turn,
          turn_index: turnIndex,
        },
        participants: [
          {
            id: pid,
            role: agent.name,
            model: agent.model,
            params: agent.params,
            ...(system ? { system } : {}),
          },
        ],
        procedure: async (ctx) => {
          try {
            for (const m of history) ctx.tell(pid, m.role, m.content);
            const answer: Answer = await ctx.ask(pid, {
              prompt,
              parser: agent.parser,
              turn: "reply",
              name: "reply",
              ...(Object.keys(req.vars).length > 0 ? { meta: { vars: req.vars } } : {}),
              ...(agent.reask ? { reask: agent.reask } : {}),
            });
            const record: Omit<AgentTurnRecord, "seq" | "createdAt"> = {
              memoryKey,
              turnKey: req.turn,
              sessionKey,
              agent: agent.name,
              otreeSession: req.session,
              participant: req.participant,
              owner,
              app: req.app ?? null,
              round: req.round ?? null,
              page: req.page ?? null,
              memory,
              vars: req.vars,
              prompt,
              reply: answer.raw,
              value: answer.value,
              valid: answer.valid,
              reason: answer.reason ?? null,
              callId: answer.callId,
            };
            this.store.addAgentTurn(this.runId, record);
            if (memory) earlier.push({ prompt, reply: answer.raw });
            const reply = this.replyOf({ ...record, seq: turnIndex, createdAt: "" }, false, turnIndex);
            // Replied only once the answer is committed (with the session's end, written when
            // this returns): a retried turn key then always finds it and never calls again.
            // Turns finishing together share one commit.
            this.store.committed().then(
              () => resolve(reply),
              (e: unknown) =>
                reject(
                  new TurnFailedError(
                    `the answer could not be stored: ${redact(e instanceof Error ? e.message : String(e))}`,
                    503,
                  ),
                ),
            );
          } catch (e) {
            reject(
              new TurnFailedError(
                `the agent's model call failed: ${redact(e instanceof Error ? e.message : String(e))}`,
                502,
              ),
            );
            throw e;
          }
        },
      };
      this.pending.set(session, { resolve, reject });
      if (!this.queue.push(session))
        reject(new TurnFailedError(this.endedBecause ?? "the service is stopping", 503));
    });
  }

  private memoryOf(memoryKey: string): { prompt: string; reply: string }[] {
    let turns = this.memories.get(memoryKey);
    if (!turns) {
      turns = this.store
        .agentTurns(this.runId, memoryKey)
        .filter((t) => t.memory)
        .map((t) => ({ prompt: t.prompt, reply: t.reply }));
      this.memories.set(memoryKey, turns);
    }
    return turns;
  }

  private replyOf(t: AgentTurnRecord, replayed: boolean, turnIndex?: number): TurnReply {
    return {
      text: t.reply,
      value: t.value,
      valid: t.valid,
      ...(t.reason ? { reason: t.reason } : {}),
      agent: t.agent,
      turn: t.turnKey,
      turn_index: turnIndex ?? t.seq,
      replayed,
      run: this.runId,
      session_key: t.sessionKey,
    };
  }
}

function render(
  agent: AgentSpec,
  which: "system" | "prompt",
  vars: Record<string, unknown>,
  message: string,
): string | undefined {
  const template = agent[which];
  if (!template) return undefined;
  try {
    return template.render({ ...vars, message });
  } catch (e) {
    if (e instanceof TemplateError)
      throw new TurnRequestError(
        `agent "${agent.name}": ${which} could not be rendered with this request: ${e.message} (send the variables it uses in "vars")`,
      );
    throw e;
  }
}
