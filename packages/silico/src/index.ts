/** silico's library API: the same compiler, executor and store as the `silico` command. */
export {
  data,
  describeData,
  resume,
  run,
  runs,
  show,
  summary,
  type DataFormatName,
  type DataOptions,
  type DataRows,
  type DataWritten,
  type DescribeOptions,
  type ModelAccess,
  type ResumeCallOptions,
  type RunCallOptions,
  type RunListing,
  type RunOutcome,
  type ShowOptions,
  type ShowResult,
  type StoreRef,
  type SummaryOptions,
  type SummaryResult,
} from "./api/verbs.js";
export {
  factorialStudy,
  game,
  stimuli,
  study,
  type BuildOptions,
  type FactorialSpec,
  type GameSpec,
  type GameStage,
  type ParseSpec,
  type StimuliSpec,
  type StudyParams,
} from "./api/builders.js";
export type { SilicoWarning, SilicoWarningCode } from "./api/warnings.js";
export { buildProgram, runCli } from "./cli/main.js";
export type { CliIo, CliStream } from "./cli/io.js";
export { factorial, type FactorialRecord, type FactorialRunOptions } from "./api/factorial.js";
export { compileStudyFile, compileStudyText, registerDesign } from "./designs/index.js";
export { studyJsonSchemas } from "./designs/json-schemas.js";
export { TURN_VARIABLES } from "./designs/agents/agents-schema.js";
export {
  readStimulusTable,
  TableError,
  type StimulusTable,
  type TableCell,
  type TableRow,
} from "./designs/stimuli/stimulus-table.js";
export type { CompiledStudy, Design } from "./designs/design.js";
export { startRun, resumeRun, type RunOptions, type RunResult } from "./engine/run-study.js";
export type {
  Plan,
  SessionPlan,
  SessionContext,
  Question,
  Answer,
  Coordinates,
  Procedure,
  ReaskPolicy,
  DesignState,
  RunContext,
  TearDownContext,
} from "./engine/plan.js";
export type { CompileOptions, Recompile } from "./engine/compiled-study.js";
export { Executor, type CacheMode, type ExecutorEvent, type RunTotals } from "./engine/executor.js";
export type { Limits } from "./engine/limiter.js";
export type { PlanSize } from "./engine/plan-size.js";
export type { SummaryRow } from "./export/summary.js";
export type { Cell, TidyRow } from "./export/tidy-rows.js";
export type { Sink } from "./export/writers.js";
export type { ModelResolverOptions, ProviderConfig } from "./models/registry.js";
export type { ParserSpec } from "./parse/types.js";
export { RunStore } from "./store/run-store.js";
export type { RunRecord, RunStatus, SessionStatus } from "./store/run-store.js";
export { RunReader } from "./store/run-reader.js";
export type {
  BatchInfo,
  CallFilter,
  CallInfo,
  CursorOptions,
  CursorPage,
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
export {
  capabilitiesOf,
  ModelPool,
  type ProviderCapabilities,
  type ProviderFactory,
  registerProvider,
  unregisterProvider,
} from "./models/registry.js";
export { checkListedModels } from "./models/model-listing.js";
export { pricedModels } from "./engine/cost.js";
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
export {
  SilicoError,
  StudyError,
  ConfigError,
  TemplateError,
  type SilicoErrorCode,
  type StudyProblem,
} from "./errors.js";
export {
  startServe,
  DEFAULT_SERVE_PORT,
  type ServeOptions,
  type ServeHandle,
} from "./serve/serve.js";
export type { TurnReply } from "./serve/agent-service.js";
export type { TurnRequest } from "./serve/turn-request.js";
export { joinOtreeAppExport, JOIN_KEYS, type OtreeJoin } from "./serve/otree-join.js";
export type { OtreeDataSource } from "./serve/otree-data.js";
export type { AgentTurnRecord } from "./store/run-store.js";
export {
  simulatePlan,
  type SimulatedCall,
  type SimulateOptions,
  type SimulationResult,
} from "./tokens/simulate.js";
export { estimatePlan, formatDryRun, type DryRunEstimate, type ModelEstimate } from "./tokens/dry-run.js";
export { findChromium } from "./otree/chromium.js";
// oTree live pages: the types a `bots.live.<Page>.hook` module is written against.
export type { LiveHook, LiveHookSession, LiveMessage } from "./otree/live-handler.js";
