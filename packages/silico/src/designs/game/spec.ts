import type { ModelParams } from "../../models/types.js";
import type { ParserSpec, Parser } from "../../parse/types.js";
import type { CompiledExpression, CompiledTemplate } from "@silico/jinja";
import type { AssignmentMode } from "./assignment.js";

/** A payoff or stage condition: a Python-like expression of the template engine. */
export type Expression = CompiledExpression;

/** A game study after validation: everything the plan and the procedure need. */
export interface GameSpec {
  name?: string;
  seed?: number;
  /** Number of groups (with stranger matching: pools × groups per pool). */
  groups: number;
  rounds: number;
  roles: RoleSpec[];
  treatments: TreatmentSpec[];
  assignment: AssignmentMode;
  matching: { type: "partner" } | { type: "stranger"; poolSize: number; groupsPerPool: number };
  stages: StageSpec[];
  /** Role → payoff expression; undefined when the game has no payoffs. */
  payoffs?: Map<string, Expression>;
  invalid: InvalidPolicy;
}

export interface RoleSpec {
  name: string;
  count: number;
  model: string;
  params: ModelParams;
  system?: CompiledTemplate;
}

export interface TreatmentSpec {
  name: string;
  variables: Record<string, unknown>;
}

export interface StageSpec {
  name: string;
  /** Name of the choice in data, templates and expressions (`as:`, default the stage name). */
  choice: string;
  /** Acting roles, in move order. */
  roles: string[];
  mode: "simultaneous" | "sequential";
  /** Prompt template per acting role. */
  prompts: Map<string, CompiledTemplate>;
  parserSpec: ParserSpec;
  parser: Parser;
  params?: ModelParams;
  /** Only participants for whom this is true act (evaluated per participant). */
  when?: Expression;
}

export interface InvalidPolicy {
  /** Re-asks after an invalid answer (the executor sends `message` and asks again). */
  reask: number;
  message?: string;
  /** `then:` in the study. taint: stop the session and mark it invalid (alter_ego's rule); continue: record and go on. */
  action: "taint" | "continue";
}
