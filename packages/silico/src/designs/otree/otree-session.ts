import { ConfigError, SilicoError } from "../../errors.js";
import type { RunContext, TearDownContext } from "../../engine/plan.js";
import { Rng } from "../../engine/rng.js";
import { type Devserver, groupAlive, startDevserver } from "../../otree/devserver.js";
import { OtreeRestError, OtreeServerError } from "../../otree/errors.js";
import { OtreeRestClient } from "../../otree/rest-client.js";
import { type RoundLayout, RoundLocator, roundLayoutFromWide } from "./round-locator.js";
import {
  type HumanProgress,
  type HumanWaitResult,
  humanProgressFromWide,
  progressText,
  waitForHumans,
} from "./human-watch.js";
import { botSettingsFor, type OtreeSpec } from "./spec.js";

/** One seat of the oTree session, as recorded in the run's design state. */
export interface SeatRecord {
  /** oTree's id_in_session (1-based). */
  seat: number;
  code: string;
  human: boolean;
  /** Index into the seat's personas (the block's, or its bots.seats entry's own), bots only. */
  persona?: number;
  /** The model the bot plays with (bots only; bots.seats may give seats different models). */
  model?: string;
}

/** What set-up writes to the run's design state before any bot starts (never the REST key). */
export interface OtreeRunState {
  session_code: string;
  config: string;
  otree_version: string;
  /** The server (for `url`); a project's devserver gets a new port each process. */
  base_url: string;
  seats: SeatRecord[];
  /** The devserver started for `project` (so a resume after kill -9 can re-attach to it). */
  devserver?: { pgid: number; port: number };
  /** Apps, rounds and pages of the session (from oTree's wide export): rounds without the debug panel. */
  round_layout?: RoundLayout;
  /** How the wait for human seats ended once the bots were done (`project` runs with human seats). */
  humans?: HumansNote;
}

/** Recorded at tear-down: how long the devserver stayed up for the humans, and where they were. */
export interface HumansNote {
  outcome: HumanWaitResult["outcome"];
  waited_s: number;
  limit_s: number;
  /** Human seats (id_in_session) by state when the server was stopped. */
  finished: number[];
  playing: number[];
  not_started: number[];
}

/**
 * The oTree side of a run: the server (a devserver silico starts, or a running one), the session
 * created over REST, and which seat is a human or a bot. Lives in the plan (one per process).
 */
export class OtreeSessionHost {
  #devserver: Devserver | undefined;
  /** A devserver of an earlier process of this run, re-attached after that process was killed. */
  #adopted: { pgid: number } | undefined;
  #client: OtreeRestClient | undefined;
  #state: OtreeRunState | undefined;
  #rounds: RoundLocator | undefined;

  constructor(
    private readonly spec: OtreeSpec,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** A REST key the study names must be in the environment (checked before a run or resume). */
  checkCredentials(): void {
    if (this.spec.server.url !== undefined) restKeyOf(this.spec, this.env);
  }

  get state(): OtreeRunState | undefined {
    return this.#state;
  }

  /** Rounds from page indexes, shared by all bots of the run (undefined when oTree's export did not say). */
  get rounds(): RoundLocator | undefined {
    return this.#rounds;
  }

  get baseUrl(): string {
    if (!this.#client) throw new SilicoError("otree_server", "the oTree server is not set up");
    return this.#client.baseUrl;
  }

  startLink(code: string): string {
    return `${this.baseUrl}/InitializeParticipant/${encodeURIComponent(code)}`;
  }

  /**
   * Before the run is recorded: start or reach the server, check the session config and create
   * the session. Every refusal of oTree (400/403/404) is a ConfigError (exit 2) and nothing is
   * written; a devserver started here is stopped again.
   */
  async prepare(seed: number): Promise<void> {
    try {
      const client = await this.#connect();
      const version = await rest(() => client.version());
      await this.#checkConfig(client);
      const created = await rest(() =>
        client.createSession({
          configName: this.spec.session.config,
          participants: this.spec.session.participants,
          ...(this.spec.session.modifiedConfig ? { modifiedConfig: this.spec.session.modifiedConfig } : {}),
          ...(this.spec.session.label !== undefined ? { label: this.spec.session.label } : {}),
        }),
      );
      const session = await rest(() => client.session(created.code));
      const seats = assignSeats(this.spec, session.participants, seed);
      const layout = await roundLayoutOf(client, created.code, session.raw);
      this.#state = {
        session_code: created.code,
        config: this.spec.session.config,
        otree_version: version,
        base_url: client.baseUrl,
        seats,
        ...(layout ? { round_layout: layout } : {}),
        ...(this.#devserver ? { devserver: { pgid: this.#devserver.pgid, port: this.#devserver.port } } : {}),
      };
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** In the run: record the session (new run) or re-attach to it (resume), then print the links. */
  async setUp(ctx: RunContext): Promise<void> {
    if (!ctx.resumed) {
      if (!this.#state) throw new SilicoError("otree_server", "the oTree session was not prepared");
      ctx.state.set(this.#state);
    } else {
      const recorded = ctx.state.get() as OtreeRunState | undefined;
      if (!recorded?.session_code) {
        throw new SilicoError(
          "otree_server",
          "this run has no oTree session recorded (its set-up never finished): start a new run",
        );
      }
      const client = await this.#reattach(recorded);
      let session: Awaited<ReturnType<OtreeRestClient["session"]>>;
      try {
        session = await client.session(recorded.session_code);
      } catch (e) {
        if (e instanceof OtreeRestError && e.kind === "not_found") {
          throw new SilicoError(
            "otree_server",
            this.spec.server.project !== undefined
              ? `oTree no longer has session ${recorded.session_code}: the devserver of ${this.spec.server.project} lost it (it keeps its database in memory and saves db.sqlite3 only when stopped with SIGTERM; a devserver killed with SIGKILL, or a project folder whose db.sqlite3 was reset, cannot be resumed)`
              : `oTree at ${client.baseUrl} no longer has session ${recorded.session_code} (deleted, or the server's database was reset)`,
          );
        }
        throw e;
      }
      // A run recorded before round layouts were: read it now (one request).
      const layout =
        recorded.round_layout ?? (await roundLayoutOf(client, recorded.session_code, session.raw));
      this.#state = {
        ...recorded,
        base_url: client.baseUrl,
        ...(this.#devserver ? { devserver: { pgid: this.#devserver.pgid, port: this.#devserver.port } } : {}),
        ...(layout ? { round_layout: layout } : {}),
      };
      if (this.#devserver || (layout && !recorded.round_layout)) ctx.state.set(this.#state);
    }
    const state = this.#state;
    this.#rounds = state.round_layout ? new RoundLocator(state.round_layout) : undefined;
    ctx.notice(`oTree session ${state.session_code} (${state.config}) on ${this.baseUrl}`);
    ctx.notice(`  admin: ${this.baseUrl}/SessionStartLinks/${state.session_code}`);
    for (const seat of state.seats.filter((s) => s.human)) {
      ctx.notice(`  human seat ${seat.seat}: ${this.startLink(seat.code)}`);
    }
    if (this.spec.bots.overrides.length > 0) {
      // bots.seats: say which model plays which seat, so a mix-up shows before any call.
      const byModel = new Map<string, number[]>();
      for (const seat of state.seats.filter((s) => !s.human)) {
        const model = seat.model ?? botSettingsFor(this.spec, seat.seat).model;
        byModel.set(model, [...(byModel.get(model) ?? []), seat.seat]);
      }
      for (const [model, seats] of byModel) {
        ctx.notice(`  ${model}: bot seat${seats.length === 1 ? "" : "s"} ${seats.join(", ")}`);
      }
    }
  }

  /**
   * Stops the devserver silico started — but first, when human seats are still playing on it
   * after the bots are done, keeps it up for them (see `waitForHumans`) and records how that
   * ended in the run state (`humans`).
   */
  async tearDown(
    ctx: TearDownContext,
    humans: { pollMs?: number; noticeEveryMs?: number } = {},
  ): Promise<void> {
    try {
      await this.#keepUpForHumans(ctx, humans.pollMs ?? 5_000, humans.noticeEveryMs ?? 60_000);
    } finally {
      await this.stop();
    }
  }

  async #keepUpForHumans(ctx: TearDownContext, pollMs: number, noticeEveryMs: number): Promise<void> {
    const state = this.#state;
    const client = this.#client;
    const pgid = this.#devserver?.pgid ?? this.#adopted?.pgid;
    // A url server is not ours to stop: the humans play on. A run that broke, or was stopped by
    // Ctrl-C while bots were still playing, stops at once.
    if (this.spec.server.project === undefined || pgid === undefined || !state || !client) return;
    if (ctx.outcome === "error" || (ctx.outcome as string) === "interrupted" || ctx.signal?.aborted) return;
    const seats = state.seats.filter((s) => s.human).map((s) => ({ seat: s.seat, code: s.code }));
    if (seats.length === 0) return;
    const limitS = this.spec.server.humansLimitS;
    const result = await waitForHumans({
      read: async () => humanProgressFromWide(await client.exportWide(state.session_code), seats),
      limitMs: limitS * 1000,
      pollMs,
      noticeEveryMs,
      notice: ctx.notice,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      serverAlive: () => groupAlive(pgid),
    });
    const of = (st: HumanProgress["state"]) => result.seats.filter((s) => s.state === st).map((s) => s.seat);
    const note: HumansNote = {
      outcome: result.outcome,
      waited_s: result.waitedS,
      limit_s: limitS,
      finished: of("finished"),
      playing: of("playing"),
      not_started: of("not_started"),
    };
    if (result.outcome === "finished" && result.waitedS === 0) {
      // Nobody was playing: only seats nobody opened are worth a line.
      if (note.not_started.length > 0) {
        ctx.notice(
          `bots done; human seat${note.not_started.length === 1 ? "" : "s"} ${note.not_started.join(", ")} never started: stopping the oTree server`,
        );
      }
    } else if (result.outcome === "finished") {
      ctx.notice(
        `every human who started has finished (after ${result.waitedS} s)${note.not_started.length > 0 ? `; seat${note.not_started.length === 1 ? "" : "s"} ${note.not_started.join(", ")} never started` : ""}: stopping the oTree server`,
      );
    } else {
      const reason = ctx.signal?.reason;
      const why =
        result.outcome === "limit"
          ? `the humans' limit has passed (otree.humans_limit_s: ${limitS} s)`
          : result.outcome === "interrupted"
            ? `${typeof reason === "string" ? reason : "stopped"} while humans were still playing`
            : "the oTree server ended by itself while humans were still playing";
      ctx.notice(
        `${why}; humans: ${progressText(result.seats)}${result.outcome === "server_gone" ? "" : ": stopping the oTree server (what they answered so far is saved)"}`,
      );
    }
    this.#state = { ...state, humans: note };
    try {
      ctx.state.set(this.#state);
    } catch {
      // A store that fails now fails the run's own finish too, which says so.
    }
  }

  /** Stops a devserver this process started or re-attached to (SIGTERM to its group: oTree saves its data). */
  async stop(): Promise<void> {
    const server = this.#devserver;
    this.#devserver = undefined;
    if (server) await server.stop();
    const adopted = this.#adopted;
    this.#adopted = undefined;
    if (adopted) await stopGroup(adopted.pgid);
  }

  /**
   * For reading a finished run's session (exports): the run's devserver if it still runs (left
   * running), else a devserver started now (it loads the db.sqlite3 oTree saved; stopped by stop()).
   */
  async attach(recorded: OtreeRunState): Promise<void> {
    const previous = recorded.devserver;
    if (this.spec.server.project !== undefined && previous && groupAlive(previous.pgid)) {
      const client = new OtreeRestClient(`http://127.0.0.1:${previous.port}`);
      if (
        await client.session(recorded.session_code).then(
          () => true,
          () => false,
        )
      ) {
        this.#client = client;
        return;
      }
    }
    await this.#connect();
  }

  /** oTree's wide CSV export of one session (all apps, all participants). */
  async exportWide(sessionCode: string): Promise<string> {
    const url = `${this.baseUrl}/api/export_wide?session_code=${encodeURIComponent(sessionCode)}`;
    const key =
      this.spec.server.restKeyEnv !== undefined ? restKeyOf(this.spec, this.env).restKey : undefined;
    let res: Response;
    try {
      res = await fetch(url, {
        headers: key === undefined ? {} : { "otree-rest-key": key },
        redirect: "manual",
        signal: AbortSignal.timeout(120_000),
      });
    } catch (e) {
      throw new SilicoError(
        "otree_rest",
        `could not read oTree's wide export: no answer from ${this.baseUrl} (${(e as Error).message})`,
      );
    }
    const text = await res.text();
    if (res.status === 403 || res.status === 404 || res.status === 400) {
      throw new ConfigError(
        "otree_rest",
        `could not read oTree's wide export: oTree answered ${res.status}: ${text.slice(0, 300)}`,
      );
    }
    if (res.status !== 200) {
      throw new SilicoError("otree_rest", `could not read oTree's wide export: oTree answered ${res.status}`);
    }
    return text;
  }

  async #connect(): Promise<OtreeRestClient> {
    const { server } = this.spec;
    if (server.project !== undefined) {
      const otree = server.command ?? this.env.SILICO_OTREE ?? "otree";
      try {
        this.#devserver = await startDevserver({ projectDir: server.project, otree });
      } catch (e) {
        if (e instanceof OtreeServerError && /ENOENT/.test(e.message)) {
          throw new ConfigError(
            "otree_server",
            `cannot run the otree command "${otree}": not found. Install oTree 6 (pip install "otree>=6,<7") or name the executable in otree.command or the environment variable SILICO_OTREE`,
          );
        }
        throw e;
      }
      this.#client = new OtreeRestClient(this.#devserver.baseUrl);
      return this.#client;
    }
    this.#client = new OtreeRestClient(server.url as string, restKeyOf(this.spec, this.env));
    return this.#client;
  }

  async #reattach(recorded: OtreeRunState): Promise<OtreeRestClient> {
    const previous = recorded.devserver;
    if (this.spec.server.project !== undefined && previous && groupAlive(previous.pgid)) {
      // The earlier process was killed before it could stop its devserver, which still holds the
      // session in memory: use it (a new devserver would load an older db.sqlite3).
      const client = new OtreeRestClient(`http://127.0.0.1:${previous.port}`);
      const alive = await client.session(recorded.session_code).then(
        () => true,
        () => false,
      );
      if (alive) {
        this.#adopted = { pgid: previous.pgid };
        this.#client = client;
        return client;
      }
    }
    return this.#connect();
  }

  async #checkConfig(client: OtreeRestClient): Promise<void> {
    const names = await rest(() => client.sessionConfigNames());
    if (!names.includes(this.spec.session.config)) {
      throw new ConfigError(
        "otree_rest",
        `${this.spec.where.config}: oTree has no session config "${this.spec.session.config}"; its configs are: ${names.join(", ") || "(none)"}`,
      );
    }
  }
}

/**
 * The session's apps (its config's app_sequence), their rounds and its page count, from oTree's wide
 * export: once per run, so a bot needs no request per page to know its round. Undefined when the
 * server does not give it (the bots then count rounds per page).
 */
async function roundLayoutOf(
  client: OtreeRestClient,
  sessionCode: string,
  session: Record<string, unknown>,
): Promise<RoundLayout | undefined> {
  const config = session.config as { app_sequence?: unknown } | undefined;
  const apps = Array.isArray(config?.app_sequence) ? config.app_sequence.map(String) : [];
  if (apps.length === 0) return undefined;
  try {
    return roundLayoutFromWide(await client.exportWide(sessionCode), apps);
  } catch {
    return undefined;
  }
}

function restKeyOf(spec: OtreeSpec, env: NodeJS.ProcessEnv): { restKey?: string } {
  const name = spec.server.restKeyEnv;
  if (name === undefined) return {};
  const key = env[name];
  if (key === undefined || key === "") {
    throw new ConfigError(
      "missing_credentials",
      `${spec.where.restKeyEnv}: the environment variable ${name} (oTree's REST key) is not set`,
    );
  }
  return { restKey: key };
}

/** oTree's refusals (bad config, wrong key, unknown session) are the study's problem: exit 2. */
async function rest<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (
      e instanceof OtreeRestError &&
      (e.kind === "bad_request" || e.kind === "forbidden" || e.kind === "not_found")
    ) {
      throw new ConfigError("otree_rest", e.message);
    }
    throw e;
  }
}

/**
 * Which seat is a human and which a bot, and each bot's persona: drawn with the run's seed (a
 * shuffled deck of the personas, dealt again when there are more bots than personas).
 */
export function assignSeats(
  spec: OtreeSpec,
  participants: { idInSession: number; code: string }[],
  seed: number,
): SeatRecord[] {
  const sorted = [...participants].sort((a, b) => a.idInSession - b.idInSession);
  const humans = new Set(spec.humanSeats);
  // One deck per list of personas: the block's (drawn as before bots.seats existed), and one per
  // bots.seats entry with personas of its own.
  const decks = new Map<number | undefined, { rng: Rng; cards: number[] }>();
  return sorted.map((p) => {
    const human = humans.has(p.idInSession);
    const seat: SeatRecord = { seat: p.idInSession, code: p.code, human };
    if (human) return seat;
    const bot = botSettingsFor(spec, p.idInSession);
    seat.model = bot.model;
    if (bot.personas.length > 0) {
      const own = bot.override !== undefined && spec.bots.overrides[bot.override]?.ownPersonas === true;
      const key = own ? bot.override : undefined;
      let deck = decks.get(key);
      if (!deck) {
        deck = {
          rng: new Rng(seed, key === undefined ? "otree/personas" : `otree/personas/seats-${key}`),
          cards: [],
        };
        decks.set(key, deck);
      }
      if (deck.cards.length === 0) deck.cards = deck.rng.shuffle(bot.personas.map((_, i) => i));
      seat.persona = deck.cards.shift() as number;
    }
    return seat;
  });
}

async function stopGroup(pgid: number, graceMs = 15_000): Promise<void> {
  if (!groupAlive(pgid)) return;
  try {
    process.kill(-pgid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (groupAlive(pgid)) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // gone
    }
  }
}
