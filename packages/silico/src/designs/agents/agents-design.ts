import type { CompiledTemplate } from "@silico/jinja";
import type { Plan, ReaskPolicy, SessionArrivals } from "../../engine/plan.js";
import { ConfigError, ProblemList } from "../../errors.js";
import { checkModelId } from "../../models/registry.js";
import type { ModelParams } from "../../models/types.js";
import { createParser, normalizeParserSpec } from "../../parse/index.js";
import type { Parser, ParserSpec } from "../../parse/types.js";
import { compileTemplateAt } from "../../study/common.js";
import { parseLocated } from "../../study/located-issues.js";
import { toModelParams, toProviders, toReask, toSettings } from "../../study/schema-parts.js";
import type { StudySource } from "../../study/source.js";
import type { CompiledStudy, Design } from "../design.js";
import { agentsSchema } from "./agents-schema.js";

/** One agent of an agents file, ready to answer turns. */
export interface AgentSpec {
  name: string;
  model: string;
  owner: "participant" | "group";
  system?: CompiledTemplate;
  /** Template of the user message; absent: the message as sent. */
  prompt?: CompiledTemplate;
  parser: Parser;
  params: ModelParams;
  reask?: ReaskPolicy;
}

export interface AgentsStudy extends CompiledStudy {
  agents: Map<string, AgentSpec>;
}

/** Columns every observation of an agents run carries: where in the oTree session the turn was. */
export const AGENT_COLUMNS = [
  "agent",
  "otree_session",
  "participant",
  "owner",
  "app",
  "round",
  "page",
  "turn",
  "turn_index",
];

const serveOnly = () =>
  new ConfigError(
    "bad_flag",
    "an agents file answers turns for a running experiment: `silico serve AGENTS_FILE` starts its run and continues it; `silico run` and `silico resume` cannot",
  );

/**
 * `kind: agents`: LLM agents that answer human participants' turns (silico serve). Its plan is
 * open: a session is one answered turn, made when the request arrives.
 */
export const agentsDesign: Design = {
  kind: "agents",
  compile(src: StudySource): AgentsStudy {
    const problems = new ProblemList();
    const raw = src.data as Record<string, unknown>;
    const { data: d } = parseLocated(agentsSchema, src, problems);
    const providers = toProviders(raw.providers);
    const defaults = toModelParams(d.params);
    const agents = new Map<string, AgentSpec>();
    const models = new Set<string>();
    const rawAgents = (raw.agents ?? {}) as Record<string, Record<string, unknown>>;
    if (d.agents && Object.keys(d.agents).length === 0) problems.add(src.where(["agents"]), "names no agent");
    for (const [name, a] of Object.entries(d.agents ?? {})) {
      const at = (...rest: (string | number)[]) => ["agents", name, ...rest];
      const model = a.model ?? d.model;
      if (model === undefined)
        problems.add(src.where(at()), 'needs a "model" (or give one at the top of the file)');
      else {
        checkModelId(model, src.where(a.model !== undefined ? at("model") : ["model"]), problems, providers);
        models.add(model);
      }
      const system =
        a.system !== undefined
          ? compileTemplateAt(a.system, at("system"), src, problems, "system")
          : undefined;
      const prompt =
        a.prompt !== undefined
          ? compileTemplateAt(a.prompt, at("prompt"), src, problems, "prompt")
          : undefined;
      let spec: ParserSpec | undefined = { type: "text" };
      const rawParse = rawAgents[name]?.parse;
      if (rawParse !== undefined)
        spec = normalizeParserSpec(rawParse, (sub) => src.where([...at("parse"), ...sub]), problems);
      const reask = toReask(a.reask);
      if (!problems.ok || !spec || model === undefined) continue;
      agents.set(name, {
        name,
        model,
        owner: a.owner ?? "participant",
        ...(system ? { system } : {}),
        ...(prompt ? { prompt } : {}),
        parser: createParser(spec),
        params: { ...defaults, ...toModelParams(a.params) },
        ...(reask ? { reask } : {}),
      });
    }
    problems.throwIfAny();
    const modelList = [...models];
    return {
      kind: "agents",
      ...(d.name !== undefined ? { name: d.name } : {}),
      source: src,
      ...(d.seed !== undefined ? { seed: d.seed } : {}),
      settings: toSettings(d.settings),
      providers,
      models: modelList,
      size: { sessions: 0, calls: 0, where: src.where(["agents"]) },
      agents,
      plan(): Plan {
        throw serveOnly();
      },
    };
  },
};

/** The study with an open plan whose sessions come from `arrivals` (what silico serve runs). */
export function servedStudy(study: AgentsStudy, arrivals: SessionArrivals): AgentsStudy {
  return {
    ...study,
    plan(): Plan {
      return {
        kind: "agents",
        total: 0,
        models: study.models,
        warnings: [],
        coordinateColumns: AGENT_COLUMNS,
        sessions: () => [],
        arrivals,
      };
    },
  };
}
