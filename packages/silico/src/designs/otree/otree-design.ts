import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { type CompiledTemplate, TemplateError } from "@silico/jinja";
import { sha256 } from "../../engine/hash.js";
import type { Plan, SessionPlan } from "../../engine/plan.js";
import { ProblemList, SilicoError } from "../../errors.js";
import { checkModelId } from "../../models/registry.js";
import { registerKeyEnvVar } from "../../models/secrets.js";
import type { PageHandler, PageTransport, WaitForPage } from "../../otree/bot-contract.js";
import { waitOnSocket } from "../../otree/wait-socket.js";
import { compileTemplateAt } from "../../study/common.js";
import { parseLocated } from "../../study/located-issues.js";
import { toModelParams, toProviders, toSettings } from "../../study/schema-parts.js";
import type { StudySource } from "../../study/source.js";
import { decodeCsvBytes, parseCsv } from "../stimuli/csv-reader.js";
import type { CompiledStudy, CompileOptions, Design } from "../design.js";
import { BOT_ID, playBot } from "./bot.js";
import { BotParts } from "./bot-parts.js";
import type { LiveAdapterInput } from "./live-adapter-schema.js";
import { type OtreeStudy, otreeSchema } from "./otree-schema.js";
import { assignSeats, OtreeSessionHost } from "./otree-session.js";
import { StallWatch } from "./stall-watch.js";
import { botModels, botSettingsFor, type OtreeSpec, type SeatOverride } from "./spec.js";

/**
 * What a bot is built from. The defaults: the study's driver (HTTP, or a page of the run's shared
 * Chromium), the wait page's socket (GET polling as its fallback), and the live and chat handlers.
 */
export interface OtreeDesignOptions {
  /** A transport for the study's `driver` (default: see `BotParts`). */
  transport?(driver: OtreeSpec["bots"]["driver"], signal?: AbortSignal): PageTransport;
  /** The wait-page waiter (default: the wait page's socket, polling as its fallback). */
  waitForPage?: WaitForPage;
  /** Chat and live page handlers for one bot (default: live adapters of `bots.live`, chat). */
  handlers?(spec: OtreeSpec, seat: number): PageHandler[];
  /** Where `driver: browser` finds Chromium (default `findChromium`: SILICO_CHROMIUM, else PATH). */
  findChromium?(): string;
  /** At most one "waiting" line per this many ms for all bots together (default 30 s). */
  waitNoticeEveryMs?: number;
  /** Bots done, humans still playing: look at their progress this often (default 5 s). */
  humanPollMs?: number;
  /** … and print a progress line at most this often (default 60 s). */
  humanNoticeEveryMs?: number;
}

/** Rough model calls per bot, for progress and dry runs: oTree pages are not known before the run. */
const CALLS_PER_BOT = 10;

export const COORDINATE_COLUMNS = [
  "participant_code",
  "seat",
  "app",
  "round",
  "page",
  "page_index",
  "timeout",
];

/**
 * `kind: otree`: LLM participants in a real oTree session. One plan session per bot seat, all in
 * flight at once (they wait for each other on wait pages); the oTree session is created over REST
 * before the run is recorded, and recorded in the run's design state before any bot starts.
 */
export function createOtreeDesign(options: OtreeDesignOptions = {}): Design {
  return {
    kind: "otree",
    compile(src: StudySource, _compile: CompileOptions = {}): CompiledStudy {
      const problems = new ProblemList();
      const providers = toProviders((src.data as Record<string, unknown>).providers);
      const { data } = parseLocated(otreeSchema, src, problems);
      const spec = readSpec(data, src, problems, providers);
      problems.throwIfAny();
      const s = spec as OtreeSpec;
      const settings = toSettings(data.settings);
      const models = botModels(s);
      const personasText = JSON.stringify(s.bots.personas);
      const compiled: CompiledStudy = {
        kind: "otree",
        ...(s.name ? { name: s.name } : {}),
        source: src,
        ...(data.seed !== undefined ? { seed: data.seed } : {}),
        settings,
        providers,
        models,
        size: {
          sessions: s.botSeats.length,
          calls: s.botSeats.length * CALLS_PER_BOT,
          where: src.where(["session", "participants"]),
        },
        manifest: {
          otree: {
            config: s.session.config,
            participants: s.session.participants,
            human_seats: s.humanSeats,
            bot_seats: s.botSeats,
            personas: s.bots.personas.length,
            personas_sha256: sha256(personasText),
            memory: s.bots.memory,
            driver: s.bots.driver,
            ...(s.bots.overrides.length > 0
              ? {
                  seat_settings: s.bots.overrides.map((o) => ({
                    seats: o.seats,
                    model: o.model,
                    memory: o.memory,
                    personas: o.ownPersonas ? o.personas.length : undefined,
                  })),
                }
              : {}),
          },
        },
        plan: (seed) => otreePlan(s, seed, options),
      };
      specs.set(compiled, s);
      return compiled;
    },
  };
}

const specs = new WeakMap<CompiledStudy, OtreeSpec>();

/** The checked study behind a compiled `kind: otree` study (exports reach its server with it). */
export function otreeSpecOf(study: CompiledStudy): OtreeSpec {
  const spec = specs.get(study);
  if (!spec) throw new SilicoError("otree_server", `not a kind: otree study (kind ${study.kind})`);
  return spec;
}

export const otreeDesign: Design = createOtreeDesign();

function otreePlan(spec: OtreeSpec, seed: number, options: OtreeDesignOptions): Plan {
  const host = new OtreeSessionHost(spec);
  const parts = new BotParts(spec, options.findChromium ? { findChromium: options.findChromium } : {});
  let notice: (message: string) => void = () => {};
  const humans = spec.humanSeats.length > 0;
  const waiting = new WaitingBoard(humans, options.waitNoticeEveryMs ?? 30_000, (m) => notice(m));
  const stall = new StallWatch(spec.bots.stallS * 1000, !humans && spec.bots.stallS > 0);
  return {
    kind: "otree",
    total: spec.botSeats.length,
    models: botModels(spec),
    warnings: [],
    coordinateColumns: COORDINATE_COLUMNS,
    allAtOnce: true,
    // A bot's submitted pages cannot be played again: a resumed bot goes on from its state.
    resumeInPlace: true,
    checkCredentials: () => host.checkCredentials(),
    prepare: async (ctx) => {
      notice = ctx.notice;
      // Chromium and live hooks first: a bad one refuses the run before oTree has a session.
      await parts.prepare();
      await host.prepare(ctx.seed);
    },
    setUp: async (ctx) => {
      notice = ctx.notice;
      await parts.prepare(); // a resume has no prepare
      await host.setUp(ctx);
    },
    tearDown: async (ctx) => {
      try {
        await parts.close();
      } finally {
        await host.tearDown(ctx, {
          ...(options.humanPollMs !== undefined ? { pollMs: options.humanPollMs } : {}),
          ...(options.humanNoticeEveryMs !== undefined ? { noticeEveryMs: options.humanNoticeEveryMs } : {}),
        });
      }
    },
    *sessions(): Iterable<SessionPlan> {
      // Before set-up (a dry run) the seats are known but not their participant codes.
      const seats =
        host.state?.seats ??
        assignSeats(
          spec,
          Array.from({ length: spec.session.participants }, (_, i) => ({ idInSession: i + 1, code: "" })),
          seed,
        );
      for (const [index, seatNo] of spec.botSeats.entries()) {
        const seat = seats?.find((x) => x.seat === seatNo);
        const code = seat?.code ?? "";
        const bot = botSettingsFor(spec, seatNo);
        const persona = seat?.persona !== undefined ? (bot.personas[seat.persona] ?? {}) : {};
        const system = bot.system?.render(
          systemContext(persona, seatNo, code, spec.session.config, spec.session.modifiedConfig),
        );
        yield {
          key: `seat-${seatNo}`,
          index,
          coords: { seat: seatNo, participant_code: code },
          draw: seatNo,
          participants: [
            {
              id: BOT_ID,
              role: "bot",
              model: bot.model,
              params: bot.params,
              ...(system !== undefined && system !== "" ? { system } : {}),
            },
          ],
          expectedCalls: CALLS_PER_BOT,
          procedure: async (ctx) => {
            if (!seat || !host.state) {
              throw new Error(`seat ${seatNo}: oTree pages are known only once the session runs`);
            }
            if (ctx.state.get() === undefined) {
              // Once per bot (not again on resume): the persona in the same commit as the first state.
              if (seat.persona !== undefined) {
                ctx.record(BOT_ID, "persona", persona, { seat: seatNo, participant_code: code });
              }
              ctx.state.set({ visits: {}, pages: 0 });
            }
            const signal = ctx.signal;
            const transport = options.transport?.(spec.bots.driver, signal) ?? parts.transport(signal);
            stall.start(seatNo);
            let stopped: string | undefined;
            try {
              await playBot(ctx, {
                seat: seatNo,
                participantCode: code,
                startLink: host.startLink(code),
                baseUrl: host.baseUrl,
                humans,
                memory: bot.memory,
                ...(host.rounds ? { rounds: host.rounds } : {}),
                rejections: spec.bots.rejections,
                waitLimitMs: spec.bots.waitLimitS * 1000,
                parseReasks: 2,
                transport,
                waitForPage: options.waitForPage ?? waitOnSocket,
                handlers: options.handlers?.(spec, seatNo) ?? parts.handlers(),
                notice: (m) => notice(m),
                onWaiting: (seconds) => waiting.report(seatNo, seconds),
                stall,
                ...(signal ? { signal } : {}),
              });
            } catch (e) {
              stopped = e instanceof Error ? e.message : String(e);
              throw e;
            } finally {
              stall.end(seatNo, stopped);
              await transport.close();
            }
          },
        };
      }
    },
  };
}

function readSpec(
  data: Partial<OtreeStudy>,
  src: StudySource,
  problems: ProblemList,
  providers: ReturnType<typeof toProviders>,
): OtreeSpec | undefined {
  const server = data.otree;
  const session = data.session;
  const bots = data.bots;
  if (server) {
    if ((server.project === undefined) === (server.url === undefined)) {
      problems.add(
        src.where(["otree"]),
        "needs either project (an oTree project folder) or url (a running server), not both",
      );
    }
    if (server.project !== undefined && server.rest_key_env !== undefined) {
      problems.add(
        src.where(["otree", "rest_key_env"]),
        "only with url: the devserver silico starts for a project needs no REST key",
      );
    }
    if (server.url !== undefined && server.humans_limit_s !== undefined) {
      problems.add(
        src.where(["otree", "humans_limit_s"]),
        "only with project: silico keeps up only a devserver it started itself (a url server is not silico's to stop)",
      );
    }
    if (server.rest_key_env !== undefined) registerKeyEnvVar(server.rest_key_env);
    if (server.project !== undefined) {
      const dir = isAbsolute(server.project) ? server.project : resolve(src.dir, server.project);
      if (!existsSync(join(dir, "settings.py"))) {
        problems.add(
          src.where(["otree", "project"]),
          `${server.project} is not an oTree project folder (no settings.py in ${dir})`,
        );
      }
    }
  }
  const participants = session?.participants ?? 0;
  let humanSeats: number[] = [];
  const humans = data.humans;
  if (typeof humans === "number") {
    if (session && humans > participants) {
      problems.add(
        src.where(["humans"]),
        `${humans} human seats but the session has ${participants} participants`,
      );
    }
    humanSeats = Array.from({ length: Math.min(humans, participants) }, (_, i) => i + 1);
  } else if (Array.isArray(humans)) {
    const seen = new Set<number>();
    humans.forEach((seat, i) => {
      if (session && seat > participants) {
        problems.add(
          src.where(["humans", i]),
          `seat ${seat} is beyond the session's ${participants} participants`,
        );
      } else if (seen.has(seat)) {
        problems.add(src.where(["humans", i]), `seat ${seat} is listed twice`);
      }
      seen.add(seat);
    });
    humanSeats = [...seen].filter((s) => s <= participants).sort((a, b) => a - b);
  }
  const botSeats = Array.from({ length: participants }, (_, i) => i + 1).filter(
    (s) => !humanSeats.includes(s),
  );
  if (session && botSeats.length === 0) {
    problems.add(src.where(["humans"]), "every seat is a human: there is no bot for silico to run");
  }
  if (bots?.model !== undefined) checkModelId(bots.model, src.where(["bots", "model"]), problems, providers);
  const system =
    bots?.system !== undefined
      ? compileTemplateAt(bots.system, ["bots", "system"], src, problems, "system")
      : undefined;
  const personas = readPersonas(bots?.personas, ["bots", "personas"], src, problems);
  if (system && session) checkSystem(system, personas, session, problems);
  const overrides = readOverrides(data, humanSeats, system, personas, src, problems, providers);
  const live = readLive(bots?.live, src, problems);
  if (!server || !session || !bots || !problems.ok) return undefined;
  return {
    ...(data.name ? { name: data.name } : {}),
    server: {
      ...(server.project !== undefined
        ? { project: isAbsolute(server.project) ? server.project : resolve(src.dir, server.project) }
        : {}),
      ...(server.url !== undefined ? { url: server.url.replace(/\/+$/, "") } : {}),
      ...(server.rest_key_env !== undefined ? { restKeyEnv: server.rest_key_env } : {}),
      humansLimitS: server.humans_limit_s ?? 3600,
      // A path (with a slash) is relative to the study file; a bare name is looked up on PATH.
      ...(server.command !== undefined
        ? {
            command:
              server.command.includes("/") && !isAbsolute(server.command)
                ? resolve(src.dir, server.command)
                : server.command,
          }
        : {}),
    },
    session: {
      config: session.config,
      participants: session.participants,
      ...(session.modified_config ? { modifiedConfig: session.modified_config } : {}),
      ...(session.label !== undefined ? { label: session.label } : {}),
    },
    humanSeats,
    botSeats,
    bots: {
      model: bots.model,
      ...(system ? { system } : {}),
      personas,
      memory: bots.memory ?? "full",
      rejections: bots.rejections ?? 3,
      waitLimitS: bots.wait_limit_s ?? 3600,
      stallS: bots.stall_s ?? 60,
      driver: bots.driver ?? "http",
      params: toModelParams(bots.params),
      browserPages: bots.browser_pages ?? 8,
      chatMaxMessages: bots.chat?.max_messages ?? 3,
      chatReplyWaitS: bots.chat?.reply_wait_s ?? 5,
      live,
      studyDir: src.dir,
      overrides,
    },
    where: {
      config: src.where(["session", "config"]),
      participants: src.where(["session", "participants"]),
      restKeyEnv: src.where(["otree", "rest_key_env"]),
      live: Object.fromEntries(
        Object.keys(live).map((page) => [page, src.where(["bots", "live", page, "hook"])]),
      ),
    },
  };
}

/** Live adapters with their hook paths made absolute; a hook file that is not there is a located error now. */
function readLive(
  raw: OtreeStudy["bots"]["live"] | undefined,
  src: StudySource,
  problems: ProblemList,
): Record<string, LiveAdapterInput> {
  const live: Record<string, LiveAdapterInput> = {};
  for (const [page, adapter] of Object.entries(raw ?? {})) {
    if (adapter.hook === undefined) {
      live[page] = adapter;
      continue;
    }
    const hook = isAbsolute(adapter.hook) ? adapter.hook : resolve(src.dir, adapter.hook);
    if (!existsSync(hook)) {
      problems.add(
        src.where(["bots", "live", page, "hook"]),
        `the live hook ${adapter.hook} is not there (looked for ${hook}; the path is relative to the study file)`,
      );
    }
    // Kept as written (messages name it so); BotParts loads it against the study's folder.
    live[page] = adapter;
  }
  return live;
}

/** Every persona must render the prompt: a persona without a variable it uses is found now, not mid-run. */
function checkSystem(
  system: CompiledTemplate,
  personas: Record<string, unknown>[],
  session: NonNullable<OtreeStudy["session"]>,
  problems: ProblemList,
): void {
  for (const [i, persona] of (personas.length > 0 ? personas : [{}]).entries()) {
    try {
      system.render(systemContext(persona, 1, "abcd1234", session.config, session.modified_config));
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      problems.add(e.where, `${e.detail}${personas.length > 0 ? ` (persona ${i + 1})` : ""}`);
      return;
    }
  }
}

/**
 * `bots.seats`: each entry's seats must be bot seats of the session, in no other entry; what an
 * entry does not set comes from the block (params key by key).
 */
function readOverrides(
  data: Partial<OtreeStudy>,
  humanSeats: number[],
  system: CompiledTemplate | undefined,
  personas: Record<string, unknown>[],
  src: StudySource,
  problems: ProblemList,
  providers: ReturnType<typeof toProviders>,
): SeatOverride[] {
  const bots = data.bots;
  const session = data.session;
  const participants = session?.participants ?? 0;
  const owner = new Map<number, number>();
  const out: SeatOverride[] = [];
  for (const [i, entry] of (bots?.seats ?? []).entries()) {
    const at = (...path: (string | number)[]) => src.where(["bots", "seats", i, ...path]);
    const seats: number[] = [];
    entry.seats.forEach((seat, k) => {
      const before = owner.get(seat);
      if (session && seat > participants) {
        problems.add(at("seats", k), `seat ${seat} is beyond the session's ${participants} participants`);
      } else if (humanSeats.includes(seat)) {
        problems.add(at("seats", k), `seat ${seat} is a human seat (humans): bots.seats is for bot seats`);
      } else if (before === i) {
        problems.add(at("seats", k), `seat ${seat} is listed twice`);
      } else if (before !== undefined) {
        problems.add(
          at("seats", k),
          `seat ${seat} is already in bots.seats[${before}]: a seat takes its settings from one entry`,
        );
      } else {
        owner.set(seat, i);
        seats.push(seat);
      }
    });
    const sets = (["model", "system", "params", "personas", "memory"] as const).filter(
      (k) => entry[k] !== undefined,
    );
    if (sets.length === 0) {
      problems.add(at(), "sets nothing for its seats: give model, system, params, personas or memory");
    }
    if (entry.model !== undefined) checkModelId(entry.model, at("model"), problems, providers);
    const own =
      entry.system !== undefined
        ? compileTemplateAt(entry.system, ["bots", "seats", i, "system"], src, problems, "system")
        : system;
    const ownPersonas = entry.personas !== undefined;
    const seatPersonas = ownPersonas
      ? readPersonas(entry.personas, ["bots", "seats", i, "personas"], src, problems)
      : personas;
    // A new prompt, or new personas for the block's prompt, must render with every persona.
    if (own && session && (entry.system !== undefined || ownPersonas))
      checkSystem(own, seatPersonas, session, problems);
    if (bots?.model === undefined && entry.model === undefined) continue;
    out.push({
      seats: seats.sort((a, b) => a - b),
      model: entry.model ?? (bots?.model as string),
      ...(own ? { system: own } : {}),
      params: { ...toModelParams(bots?.params), ...toModelParams(entry.params) },
      personas: seatPersonas,
      ownPersonas,
      memory: entry.memory ?? bots?.memory ?? "full",
    });
  }
  return out;
}

function readPersonas(
  raw: OtreeStudy["bots"]["personas"] | undefined,
  at: (string | number)[],
  src: StudySource,
  problems: ProblemList,
): Record<string, unknown>[] {
  if (raw === undefined) return [];
  if (Array.isArray(raw)) return raw;
  const path = isAbsolute(raw) ? raw : resolve(src.dir, raw);
  let text: string;
  try {
    text = decodeCsvBytes(readFileSync(path));
  } catch (e) {
    problems.add(src.where(at), `cannot read the personas file ${raw}: ${(e as Error).message}`);
    return [];
  }
  let records: { line: number; fields: string[] }[];
  try {
    records = parseCsv(text).records;
  } catch (e) {
    problems.add(src.where(at), `${raw}: ${(e as Error).message}`);
    return [];
  }
  const [header, ...rows] = records;
  if (!header || rows.length === 0) {
    problems.add(src.where(at), `${raw} has no personas (a header line and one row per persona)`);
    return [];
  }
  return rows
    .filter((r) => r.fields.some((f) => f.trim() !== ""))
    .map((r) => Object.fromEntries(header.fields.map((h, i) => [h.trim(), r.fields[i] ?? ""])));
}

function systemContext(
  persona: Record<string, unknown>,
  seat: number,
  participantCode: string,
  config: string,
  modified: Record<string, unknown> | undefined,
): Record<string, unknown> {
  return {
    persona,
    seat,
    participant_code: participantCode,
    session_config: { name: config, ...(modified ?? {}) },
  };
}

/**
 * One progress line for all bots on wait pages ("3 bots waiting for humans, longest 95 s"), at
 * most once per interval, instead of a line per bot.
 */
class WaitingBoard {
  readonly #waits = new Map<number, { seconds: number; at: number }>();
  #printed = 0;

  constructor(
    private readonly humans: boolean,
    private readonly everyMs: number,
    private readonly print: (message: string) => void,
  ) {}

  report(seat: number, seconds: number): void {
    const now = Date.now();
    this.#waits.set(seat, { seconds, at: now });
    if (now - this.#printed < this.everyMs) return;
    this.#printed = now;
    // Bots not heard from lately have moved on.
    const recent = [...this.#waits.values()].filter((w) => now - w.at <= Math.max(this.everyMs, 60_000) * 2);
    const longest = Math.max(...recent.map((w) => w.seconds));
    const n = recent.length;
    this.print(
      `${n} bot${n === 1 ? "" : "s"} ${this.humans ? "waiting for humans" : "waiting for the other participants"} on wait pages (longest ${longest} s)`,
    );
  }
}
