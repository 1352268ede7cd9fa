import type { CompiledStudy, CompileOptions } from "../engine/compiled-study.js";
import type { StudySource } from "../study/source.js";

export type { CompiledStudy, CompileOptions } from "../engine/compiled-study.js";

/** One kind of study: a compiler from a study file to a plan. */
export interface Design {
  kind: string;
  /** Recognise a file without a `kind:` key (e.g. an alter_ego built.json). */
  detect?(data: Record<string, unknown>): boolean;
  compile(source: StudySource, options: CompileOptions): CompiledStudy;
}
