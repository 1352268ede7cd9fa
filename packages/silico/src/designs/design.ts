import type { ReaskPolicy } from "../engine/plan.js";
import type { Plan } from "../engine/plan.js";
import type { ProviderConfig } from "../models/registry.js";
import type { StudySettings } from "../study/common.js";
import type { StudySource } from "../study/source.js";

export interface CompileOptions {
  /** Replications of the whole design (alter_ego's `-n`), where the design supports it. */
  replications?: number;
}

/** A study that passed validation: everything needed to make its plan for a given seed. */
export interface CompiledStudy {
  kind: string;
  name?: string;
  source: StudySource;
  seed?: number;
  settings: StudySettings;
  providers: Record<string, ProviderConfig>;
  reask?: ReaskPolicy;
  models: string[];
  /**
   * Sessions and expected calls, computed without building the plan, and where in the study (or
   * which flag) sets the size. Lets a huge plan be refused at once (engine/plan-size.ts).
   */
  size?: import("../engine/plan-size.js").PlanSize;
  /** Deterministic for a given seed, so a resumed run rebuilds exactly the same sessions. */
  plan(seed: number): Plan;
  /** Extra facts for the run manifest (e.g. hashes of stimulus files). */
  manifest?: Record<string, unknown>;
  /** How `silico data --format ego` and similar design-specific exports find their columns. */
  exportHints?: Record<string, unknown>;
}

/** One kind of study: a compiler from a study file to a plan. */
export interface Design {
  kind: string;
  /** Recognise a file without a `kind:` key (e.g. an alter_ego built.json). */
  detect?(data: Record<string, unknown>): boolean;
  compile(source: StudySource, options: CompileOptions): CompiledStudy;
}
