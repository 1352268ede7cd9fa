import type { ProviderConfig } from "../models/registry.js";
import type { StudySettings } from "../study/common.js";
import type { StudySource } from "../study/source.js";
import type { Plan, ReaskPolicy } from "./plan.js";

/** How big a study's plan is, without building it (games allocate per group when planned). */
export interface PlanSize {
  sessions: number;
  /** Expected calls (re-asks not counted). */
  calls: number;
  /** Where the size comes from, e.g. "study.yaml:7: times" or "-n". */
  where: string;
}

/**
 * Options given to a compiler beside the study file (alter_ego's `-n`, `silico run --times`).
 * Designs extend it with their own; whatever they are, they must be JSON, because a run records
 * them in its manifest and a resume compiles the stored study text with them again.
 */
export interface CompileOptions {
  /** Replications of the whole design (alter_ego's `-n`), where the design supports it. */
  replications?: number;
}

/**
 * A study that passed validation: everything needed to make its plan for a given seed. The
 * engine's side of the contract with designs (src/designs implements it; the engine never
 * imports a design).
 */
export interface CompiledStudy {
  kind: string;
  name?: string;
  source: StudySource;
  /** The options it was compiled with: recorded in the run manifest and used again on resume. */
  compileOptions?: CompileOptions;
  seed?: number;
  settings: StudySettings;
  providers: Record<string, ProviderConfig>;
  reask?: ReaskPolicy;
  models: string[];
  /**
   * Sessions and expected calls, computed without building the plan, and where in the study (or
   * which flag) sets the size. Lets a huge plan be refused at once (engine/plan-size.ts).
   */
  size?: PlanSize;
  /** Deterministic for a given seed, so a resumed run rebuilds exactly the same sessions. */
  plan(seed: number): Plan;
  /** Extra facts for the run manifest (e.g. hashes of stimulus files). */
  manifest?: Record<string, unknown>;
  /** How `silico data --format ego` and similar design-specific exports find their columns. */
  exportHints?: Record<string, unknown>;
}

/** Compiles a stored study text again (resume): the caller supplies it, the engine knows no design. */
export type Recompile = (text: string, path: string, options: CompileOptions) => CompiledStudy;
