/**
 * @silico/local-model: the embedded local model provider (`local:<name>` or
 * `local:/path/to/model.gguf`) for silico, which imports this package on demand.
 * Importing it is cheap: node-llama-cpp is loaded on the first generate().
 */
export type { GrammarPlan, NormalizedSchema, PlannedGrammar } from "./grammar.js";
export { choiceGrammar, gbnfLiteral, normalizeJsonSchema, numberGrammar, planGrammar } from "./grammar.js";
export {
  choiceSeed,
  DEFAULT_BATCH_SIZE,
  DEFAULT_PROMPT_BLOCK,
  type LocalDecodeRecord,
  wholeItemsStrategy,
} from "./decode-batching.js";
export {
  createLocalModel,
  DEFAULT_MAX_TOKENS,
  defaultThreads,
  DEFAULT_PARALLEL,
  LocalModel,
  type LocalModelManifest,
  type LocalModelOptions,
  resolveDefaultThreads,
} from "./local-model.js";
export {
  type Catalog,
  type CatalogEntry,
  catalogEntry,
  findCachedModel,
  type LocalModelRecord,
  listModels,
  loadCatalog,
  modelsDir,
  type StoreOptions,
  sha256File,
  silicoHome,
} from "./model-store.js";
export { ensureModel, type PullOptions, pullModel } from "./pull.js";
