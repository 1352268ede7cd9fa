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
  };
  /** Where things are in the study file, for messages at run time. */
  where: { config: string; participants: string; restKeyEnv: string; live: Record<string, string> };
}
