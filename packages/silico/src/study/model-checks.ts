import type { ProblemList } from "../errors.js";
import { checkModelId, type ProviderConfig } from "../models/registry.js";
import type { PathPart, StudySource } from "./source.js";

/**
 * The models of a study with `model:` or `models:`: exactly one of them, every id naming a known
 * provider, none twice. The schema has checked the ids' form; this needs the providers.
 */
export function checkModels(
  raw: Record<string, unknown>,
  valid: { model?: string | undefined; models?: string[] | undefined },
  src: StudySource,
  problems: ProblemList,
  providers: Record<string, ProviderConfig>,
): { ids: string[]; paths: PathPart[][]; ok: boolean[] } {
  if (raw.model !== undefined && raw.models !== undefined) {
    problems.add(src.where(["models"]), 'give either "model" or "models", not both');
  }
  if (raw.model === undefined && raw.models === undefined) {
    problems.add(src.where([]), 'needs "model" (e.g. model: local:smollm2-135m) or "models"');
  }
  const ids: string[] = [];
  const paths: PathPart[][] = [];
  if (valid.models) {
    ids.push(...valid.models);
    paths.push(...valid.models.map((_, i) => ["models", i]));
  } else if (raw.models === undefined && valid.model !== undefined) {
    ids.push(valid.model);
    paths.push(["model"]);
  }
  const ok = ids.map((m, i) => checkModelId(m, src.where(paths[i] ?? ["models"]), problems, providers));
  if (new Set(ids).size !== ids.length) problems.add(src.where(["models"]), "lists the same model twice");
  return { ids, paths, ok };
}
