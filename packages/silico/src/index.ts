/** silico's library API: the same compiler, executor and store as the `silico` command. */
export { factorial, type FactorialRecord, type FactorialRunOptions } from "./api/factorial.js";
export { compileStudyFile, compileStudyText, registerDesign } from "./designs/index.js";
export type { CompiledStudy, Design } from "./designs/design.js";
export { startRun, resumeRun, type RunOptions, type RunResult } from "./engine/run-study.js";
export type { Plan, SessionPlan, SessionContext, Question, Answer } from "./engine/plan.js";
export { Executor } from "./engine/executor.js";
export { RunStore } from "./store/run-store.js";
export type { RunRecord, RunStatus, SessionStatus } from "./store/run-store.js";
export { RunReader } from "./store/run-reader.js";
export type {
  CallFilter,
  CallInfo,
  ModelCounts,
  NumericCell,
  NumericSummaryOptions,
  ObservationCall,
  ObservationFilter,
  ObservationInfo,
  Page,
  PageOptions,
  ParticipantInfo,
  RunDetail,
  RunInfo,
  RunListOptions,
  Scalar,
  SessionFilter,
  SessionInfo,
  SessionStatusFilter,
  Transcript,
  TranscriptMessage,
  TranscriptParticipant,
  ValueCount,
} from "./store/read-types.js";
export { TidyExport } from "./export/tidy-rows.js";
export { summarize } from "./export/summary.js";
export { createParser } from "./parse/index.js";
export { compileTemplate } from "@silico/jinja";
export { registerMockModel } from "./models/mock-model.js";
export { ModelPool } from "./models/registry.js";
export { checkListedModels } from "./models/model-listing.js";
export { checkPlanSize, DEFAULT_MAX_CALLS } from "./engine/plan-size.js";
export type { FailureReason } from "./engine/failures.js";
export type {
  Model,
  ModelChoice,
  ModelInfo,
  ModelRequest,
  ModelResponse,
  ModelParams,
  Message,
  OutputConstraint,
  TokenLogprob,
} from "./models/types.js";
export { ProviderError } from "./models/types.js";
export type { LocalModelOptions, LocalModelPackage } from "./models/local-package.js";
export { SilicoError, StudyError, ConfigError, TemplateError } from "./errors.js";
