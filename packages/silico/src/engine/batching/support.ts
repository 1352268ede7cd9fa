import { ConfigError } from "../../errors.js";
import { splitModelId } from "../../models/providers.js";

/** Provider APIs with a batch endpoint silico can use. */
export const BATCH_PROVIDERS = ["openai", "anthropic"] as const;

/** The batch protocol a model's provider speaks (a study's own provider by its API type), if any. */
export function batchApiOf(
  modelId: string,
  providers: Record<string, { type: string }> = {},
): (typeof BATCH_PROVIDERS)[number] | undefined {
  const provider = splitModelId(modelId)?.provider;
  if (provider === undefined) return undefined;
  const type = providers[provider]?.type ?? provider;
  return (BATCH_PROVIDERS as readonly string[]).includes(type)
    ? (type as (typeof BATCH_PROVIDERS)[number])
    : undefined;
}

/** Refuses a batch run with a model whose provider has no batch API, naming the ones that do. */
export function checkBatchModels(models: string[], providers: Record<string, { type: string }> = {}): void {
  const unsupported = [...new Set(models)].filter((m) => batchApiOf(m, providers) === undefined);
  if (unsupported.length === 0) return;
  throw new ConfigError(
    "batch_unsupported",
    `--batch: ${unsupported.map((m) => `"${m}"`).join(", ")} ${unsupported.length === 1 ? "has" : "have"} no batch API; batch runs support the ${BATCH_PROVIDERS.join(" and ")} providers (a study's own provider of type openai or anthropic too). Run without --batch (and without settings.batch), or use one of those providers.`,
  );
}
