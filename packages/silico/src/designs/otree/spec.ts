import type { CompiledTemplate } from "@silico/jinja";
import type { ModelParams } from "../../models/types.js";
import type { LiveAdapterInput } from "./live-adapter-schema.js";

/** A checked `kind: otree` study (paths resolved, defaults filled). */
export interface OtreeSpec {
  name?: string;
  server: {
    /** Absolute path of the oTree project folder (silico starts a devserver there). */
    project?: string;
    /** A running server, without a trailing slash. */
    url?: string;
    restKeyEnv?: string;
    command?: string;
    /**
     * `project` with human seats: how long the devserver stays up for humans still playing once
     * the bots are done (0: not at all).
     */
    humansLimitS: number;
  };
  session: {
    config: string;
    participants: number;
    modifiedConfig?: Record<string, unknown>;
    label?: string;
  };
  /** Seat positions (id_in_session) taken by humans, ascending. */
  humanSeats: number[];
  /** Seat positions played by bots, ascending. */
  botSeats: number[];
  bots: {
    model: string;
    system?: CompiledTemplate;
    personas: Record<string, unknown>[];
    memory: "full" | "summary";
    rejections: number;
    waitLimitS: number;
    /** No humans: stop bots that all wait with no page progress for this long (0: never). */
    stallS: number;
    driver: "http" | "browser";
    params: ModelParams;
    /** `driver: browser`: pages open at once over all bots. */
    browserPages: number;
    chatMaxMessages: number;
    chatReplyWaitS: number;
    /** Live adapters by page name; a `hook` path is relative to `studyDir` (loaded at set-up). */
    live: Record<string, LiveAdapterInput>;
    /** The study file's folder. */
    studyDir: string;
    /** `bots.seats`: seats with settings of their own (disjoint, bot seats only), defaults filled in. */
    overrides: SeatOverride[];
  };
  /** Where things are in the study file, for messages at run time. */
  where: { config: string; participants: string; restKeyEnv: string; live: Record<string, string> };
}

/** What a bot seat is played with: the block's settings, or an entry of `bots.seats`. */
export interface BotSettings {
  model: string;
  system?: CompiledTemplate;
  params: ModelParams;
  personas: Record<string, unknown>[];
  memory: "full" | "summary";
}

/** An entry of `bots.seats`, with the block's settings filled in where it sets none. */
export interface SeatOverride extends BotSettings {
  seats: number[];
  /** The entry has personas of its own (dealt from its own deck). */
  ownPersonas: boolean;
}

/** The settings a bot seat is played with, and the `bots.seats` entry they come from (if any). */
export function botSettingsFor(spec: OtreeSpec, seat: number): BotSettings & { override?: number } {
  const at = spec.bots.overrides.findIndex((o) => o.seats.includes(seat));
  if (at < 0) {
    const b = spec.bots;
    return {
      model: b.model,
      ...(b.system ? { system: b.system } : {}),
      params: b.params,
      personas: b.personas,
      memory: b.memory,
    };
  }
  const o = spec.bots.overrides[at] as SeatOverride;
  return {
    model: o.model,
    ...(o.system ? { system: o.system } : {}),
    params: o.params,
    personas: o.personas,
    memory: o.memory,
    override: at,
  };
}

/** Every model some bot seat plays with, in seat order (the block's model only if a seat uses it). */
export function botModels(spec: OtreeSpec): string[] {
  return [...new Set(spec.botSeats.map((seat) => botSettingsFor(spec, seat).model))];
}
