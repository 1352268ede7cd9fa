/**
 * The library face of the CLI verbs: `run`, `resume`, `runs`, `show`, `data`, `summary`. The
 * `silico` command calls these (cli/main.ts, cli/commands-run.ts), so there is one implementation;
 * the CLI only parses flags and prints.
 */
import { writeFileSync } from "node:fs";
import "../cli/builtin-formats.js";
import { dataFormats, TABLE_FORMATS } from "../cli/data-formats.js";
import type { CompiledStudy } from "../designs/design.js";
import { compileStudyFile } from "../designs/index.js";
import { writeMacbehaviour } from "../designs/stimuli/macbehaviour-export.js";
import type { ExecutorEvent, RunTotals } from "../engine/executor.js";
import type { Plan } from "../engine/plan.js";
import { checkPlanSize, type PlanSize } from "../engine/plan-size.js";
import { type RunOptions, resumeRun, startRun } from "../engine/run-study.js";
import { ConfigError } from "../errors.js";
import { type SummaryRow, summarize } from "../export/summary.js";
import { columnsJson } from "../export/describe.js";
import { checkOutExtension, checkOutPath } from "../export/out-path.js";
import { type ExportTable, tidyTable } from "../export/table.js";
import type { TidyRow } from "../export/tidy-rows.js";
import { wideTable } from "../export/wide-rows.js";
import { selectTranscripts } from "../export/transcript.js";
import type { Sink } from "../export/writers.js";
import { checkListedModels } from "../models/model-listing.js";
import { ModelPool, type ModelResolverOptions } from "../models/registry.js";
import { checkOtreeSourceFlags, type OtreeDataSource } from "../serve/otree-data.js";
import type { BatchInfo, Transcript } from "../store/read-types.js";
import { RunReader } from "../store/run-reader.js";
import { type RunRecord, type RunStatus, RunStore } from "../store/run-store.js";
import { toWarnings, type SilicoWarning } from "./warnings.js";

/**
 * A store: a file path (opened when needed and closed by the call), an open RunStore (left open),
 * or a function that opens one (called only once the run is about to be recorded, so a refused
 * run creates no file; the caller closes what it returns).
 */
export type StoreRef = string | RunStore | (() => RunStore);

/** Model options a library caller may set; keys and fetch go to the model registry, never to the store. */
export interface ModelAccess {
  /** Keys (and endpoints) by variable name; when given, process.env and .env are not read for keys. */
  apiKeys?: Readonly<Record<string, string>>;
  /** The HTTP client for provider calls and model listings. */
  fetch?: typeof globalThis.fetch;
  /** `human` participants and local-model options. */
  models?: Pick<ModelResolverOptions, "human" | "local">;
}

/** The run-time options a library run shares with the engine's `startRun`/`resumeRun`. */
type EngineRunOptions = Pick<
  RunOptions,
  | "seed"
  | "cache"
  | "concurrency"
  | "limits"
  | "maxCostUsd"
  | "maxAttempts"
  | "maxCalls"
  | "onEvent"
  | "onRunCreated"
  | "signal"
  | "graceMs"
  | "backoffMs"
  | "batch"
  | "batchPollMs"
>;

export interface RunCallOptions extends ModelAccess, EngineRunOptions {
  /** The run store (SQLite file path, or an open RunStore). */
  db: StoreRef;
  /**
   * Replications of the whole design (`-n`/`--times`) for a study file path. A compiled study
   * carries its own (the builders' `replications` option) and is resumed with them.
   */
  replications?: number;
  /** Check model ids against the provider's model list before the first call (default true). */
  modelCheck?: boolean;
  /**
   * Called once every check has passed, just before the run is recorded: the plan's size and
   * warnings (the CLI starts its progress line here).
   */
  onReady?: (ready: { plan: Plan; size: PlanSize; warnings: SilicoWarning[] }) => void;
}

export interface RunOutcome {
  runId: string;
  status: RunStatus;
  totals: RunTotals;
  warnings: SilicoWarning[];
}

/** The store a StoreRef names, and how to close it: only a store opened here from a path is closed. */
export function openStore(
  db: StoreRef,
  mode: "create" | "existing" | "read",
): { store: RunStore; close(): void } {
  if (typeof db === "function") return { store: db(), close: () => {} };
  if (typeof db !== "string") return { store: db, close: () => {} };
  const store =
    mode === "create"
      ? RunStore.open(db)
      : mode === "existing"
        ? RunStore.openExisting(db)
        : RunStore.openForReading(db);
  return { store, close: () => store.close() };
}

/** The file of the store a StoreRef names, when it can be known without opening it. */
function storePath(db: StoreRef): string | undefined {
  if (typeof db === "string") return db;
  if (typeof db === "function") return undefined;
  return db.path;
}

function poolOptions(o: ModelAccess): ModelResolverOptions {
  return {
    ...(o.models ?? {}),
    ...(o.apiKeys ? { apiKeys: o.apiKeys } : {}),
    ...(o.fetch ? { fetch: o.fetch } : {}),
  };
}

/** Engine options from the call's; provider warnings seen during the run are added to `seen`. */
function engineOptions(o: RunCallOptions, seen: Set<string>) {
  const onEvent = (e: ExecutorEvent) => {
    if (e.type === "warning") seen.add(e.message);
    o.onEvent?.(e);
  };
  return {
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.cache ? { cache: o.cache } : {}),
    ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
    ...(o.limits ? { limits: o.limits } : {}),
    ...(o.maxCostUsd !== undefined ? { maxCostUsd: o.maxCostUsd } : {}),
    ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
    ...(o.maxCalls !== undefined ? { maxCalls: o.maxCalls } : {}),
    ...(o.backoffMs !== undefined ? { backoffMs: o.backoffMs } : {}),
    onEvent,
    ...(o.onRunCreated ? { onRunCreated: o.onRunCreated } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.graceMs !== undefined ? { graceMs: o.graceMs } : {}),
    ...(o.batch !== undefined ? { batch: o.batch } : {}),
    ...(o.batchPollMs !== undefined ? { batchPollMs: o.batchPollMs } : {}),
    models: poolOptions(o),
  };
}

function outcomeWarnings(plan: readonly string[], provider: Set<string>): SilicoWarning[] {
  return [...toWarnings(plan), ...toWarnings([...provider], "provider")];
}

/** "study.yaml:8" for the first line that names the model id, for errors about it. */
function locateInStudy(source: { file: string; text: string }, id: string): string {
  const lines = source.text.split("\n");
  const name = id.slice(id.indexOf(":") + 1);
  let i = lines.findIndex((l) => l.includes(id));
  if (i < 0 && name.length >= 3) i = lines.findIndex((l) => l.includes(name));
  return i < 0 ? source.file : `${source.file}:${i + 1}`;
}

/**
 * `silico run`: run a study (a compiled study from a builder, or a study file path). Every check
 * that can refuse the run (plan size, keys, model ids) happens before the store is opened, so a
 * refused run writes nothing.
 */
export async function run(study: CompiledStudy | string, options: RunCallOptions): Promise<RunOutcome> {
  if (typeof study !== "string" && options.replications !== undefined)
    throw new ConfigError(
      "bad_flag",
      "replications: give them when the study is built (e.g. game({...}, { replications: 3 })); a compiled study keeps its own",
    );
  const compiled =
    typeof study === "string"
      ? compileStudyFile(
          study,
          options.replications !== undefined ? { replications: options.replications } : {},
        )
      : study;
  const size = checkPlanSize(compiled, options.maxCalls ?? compiled.settings.maxCalls);
  const pool = new ModelPool({ ...poolOptions(options), providers: compiled.providers });
  pool.checkCredentials(compiled.models);
  if (options.modelCheck !== false)
    await checkListedModels(compiled.models, pool, (id) => locateInStudy(compiled.source, id));
  let opened: ReturnType<typeof openStore> | undefined;
  try {
    if (options.onReady) {
      const plan = compiled.plan(0);
      options.onReady({ plan, size, warnings: toWarnings(plan.warnings) });
    }
    const seen = new Set<string>();
    // The compile options the study carries are recorded in the manifest and used on resume.
    const result = await startRun(compiled, {
      ...engineOptions(options, seen),
      store: () => {
        opened = openStore(options.db, "create");
        return opened.store;
      },
    });
    return { ...result, warnings: outcomeWarnings(result.warnings, seen) };
  } finally {
    opened?.close();
  }
}

export interface ResumeCallOptions extends Omit<RunCallOptions, "replications" | "modelCheck" | "onReady"> {
  /** Also re-run failed or invalid sessions (the originals stay in the record). */
  retryFailed?: boolean;
}

/** `silico resume`: finish an interrupted, stopped or partial run (id, unique prefix or "last"). */
export async function resume(runRef: string, options: ResumeCallOptions): Promise<RunOutcome> {
  const { store, close } = openStore(options.db, "existing");
  try {
    const seen = new Set<string>();
    const result = await resumeRun(runRef, {
      ...engineOptions(options, seen),
      store,
      retryFailed: options.retryFailed === true,
    });
    return { ...result, warnings: outcomeWarnings(result.warnings, seen) };
  } finally {
    close();
  }
}

/** One run as `silico runs --json` lists it. */
export interface RunListing {
  id: string;
  created_at: string;
  kind: string;
  name: string | null;
  status: RunStatus;
  sessions: number;
  seed: number;
  study: string | null;
  summary: Record<string, unknown> | null;
  /** The live process that owns a "running" run (a dead owner's run reads "interrupted"). */
  owner: { pid: number; host: string; command: string; heartbeat_at: string } | null;
  /**
   * A `--batch` run: how many provider batches it sent, by their last status (null for a run that
   * neither was started with `--batch` nor sent a batch).
   */
  batch: { batches: number; statuses: Record<string, number> } | null;
}

function batchListing(settings: Record<string, unknown>, batches: { status: string }[]): RunListing["batch"] {
  if (batches.length === 0 && settings.batch !== true) return null;
  const statuses: Record<string, number> = {};
  for (const b of batches) statuses[b.status] = (statuses[b.status] ?? 0) + 1;
  return { batches: batches.length, statuses };
}

/** `silico runs`: the runs in the store, oldest first. */
export async function runs(options: { db: StoreRef }): Promise<RunListing[]> {
  const { store, close } = openStore(options.db, "read");
  try {
    return store.listRuns().map((r) => ({
      id: r.id,
      created_at: r.created_at,
      kind: r.kind,
      name: r.name,
      status: r.status,
      // An agents run (silico serve) has an open plan: its sessions arrive as turns are answered.
      sessions: r.kind === "agents" ? Math.max(r.total_sessions, store.sessionCount(r.id)) : r.total_sessions,
      seed: r.seed,
      study: r.study_path,
      summary: r.summary as Record<string, unknown> | null,
      owner: r.owner
        ? {
            pid: r.owner.pid,
            host: r.owner.host,
            command: r.owner.command,
            heartbeat_at: r.owner.heartbeat_at,
          }
        : null,
      batch: batchListing(r.settings, store.batchesOf(r.id)),
    }));
  } finally {
    close();
  }
}

export interface ShowOptions {
  db: StoreRef;
  /** Only this session (key or 1-based number). */
  session?: string;
  /** At most this many sessions. */
  limit?: number;
}

export interface ShowResult {
  run: RunRecord;
  /** A `--batch` run's provider batches, oldest first (empty for other runs). */
  batches: BatchInfo[];
  transcripts: Transcript[];
  /** Sessions left out by `limit`. */
  more: number;
}

function checkLimit(limit: number | undefined): void {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    throw new ConfigError("bad_flag", `--limit must be a whole number ≥ 1, got "${limit}"`);
}

/** `silico show`: a run's transcripts, typed. */
export async function show(runRef: string, options: ShowOptions): Promise<ShowResult> {
  checkLimit(options.limit);
  const { store, close } = openStore(options.db, "read");
  try {
    const record = store.getRun(runRef);
    const selected = selectTranscripts(store, record, {
      ...(options.session ? { session: options.session } : {}),
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
    });
    const transcripts: Transcript[] = [];
    let next = selected.next();
    for (; !next.done; next = selected.next()) transcripts.push(next.value);
    return { run: record, batches: new RunReader(store).batches(record.id), transcripts, more: next.value };
  } finally {
    close();
  }
}

export type DataFormatName = "rows" | "csv" | "jsonl" | "xlsx" | "parquet" | "ego";

export interface DataOptions {
  db: StoreRef;
  /** "rows" returns the tidy rows; the others write a file (`out`) or text. Default "rows". */
  format?: DataFormatName | (string & {});
  /**
   * "tidy" (default: one row per observation), "wide" (one row per participant-turn, JSON answers
   * split into typed columns; csv, jsonl, xlsx, parquet) or "macbehaviour" (stimulus runs; csv or xlsx).
   */
  layout?: "tidy" | "wide" | "macbehaviour";
  /** File to write (required for xlsx). Without it, text formats come back as `text` or go to `sink`. */
  out?: string;
  /** Where text goes when there is no `out` (the CLI passes standard output). */
  sink?: Sink;
  /**
   * `format: "otree"` of a `kind: agents` run: where oTree's data comes from (the server's URL, or
   * CSV files from oTree's admin), to join with the agent turns.
   */
  otree?: OtreeDataSource;
  /** Notes for a person (e.g. agent turns oTree's data has no row for); default: dropped. */
  warn?: (line: string) => void;
}

export interface DataRows {
  runId: string;
  columns: string[];
  rows: TidyRow[];
}

export interface DataWritten {
  runId: string;
  format: string;
  /** Rows written. */
  count: number;
  out?: string;
  /** The column dictionary written beside `out` (`<out>.columns.json`), for tidy and wide files. */
  columnsFile?: string;
  /** The exported text, when neither `out` nor `sink` was given. */
  text?: string;
}

function textSink(): Sink & { text(): string } {
  const parts: string[] = [];
  return { write: (c) => void parts.push(c), end: async () => {}, text: () => parts.join("") };
}

/** `silico data`: a run's observations as tidy rows, or written as csv / jsonl / xlsx / ego. */
export async function data(runRef: string, options: DataOptions & { format?: "rows" }): Promise<DataRows>;
export async function data(runRef: string, options: DataOptions): Promise<DataWritten>;
export async function data(runRef: string, options: DataOptions): Promise<DataRows | DataWritten> {
  const format = options.format ?? "rows";
  const layout = options.layout ?? "tidy";
  if (layout !== "tidy" && layout !== "wide" && layout !== "macbehaviour")
    throw new ConfigError("bad_flag", `unknown layout ${layout} (tidy, wide or macbehaviour)`);
  if (format === "rows" && layout === "macbehaviour")
    throw new ConfigError("bad_flag", `--layout ${layout} writes csv or xlsx`);
  if (layout === "macbehaviour" && format !== "csv" && format !== "xlsx")
    throw new ConfigError("bad_flag", "--layout macbehaviour writes csv or xlsx");
  if (layout === "wide" && format !== "rows" && !TABLE_FORMATS.includes(format))
    throw new ConfigError("bad_flag", `--wide writes ${TABLE_FORMATS.join(", ")}, not ${format}`);
  const write = format === "rows" ? undefined : dataFormats[format];
  if (format !== "rows" && !write) throw new ConfigError("bad_flag", `unknown format ${format}`);
  checkOtreeSourceFlags(format, options.otree);
  if (options.out !== undefined) {
    checkOutPath(options.out, storePath(options.db));
    if (format !== "rows") checkOutExtension(options.out, format);
  }
  const { store, close } = openStore(options.db, "read");
  try {
    const record = store.getRun(runRef);
    const table = () => (layout === "wide" ? wideTable(store, record) : tidyTable(store, record));
    if (format === "rows") {
      const t = table();
      return { runId: record.id, columns: t.names, rows: [...t.rows()] };
    }
    const collect = options.out || options.sink ? undefined : textSink();
    const sink = options.sink ?? collect;
    const tabular = layout !== "macbehaviour" && TABLE_FORMATS.includes(format);
    const t = tabular ? table() : undefined;
    const count =
      layout === "macbehaviour"
        ? await writeMacbehaviour(store, record, format, options.out, sink)
        : await (write as NonNullable<typeof write>)(store, record, options.out, sink, {
            ...(t ? { table: t } : {}),
            ...(options.otree ? { otree: options.otree } : {}),
            ...(options.warn ? { warn: options.warn } : {}),
          });
    let columnsFile: string | undefined;
    if (t && options.out) {
      columnsFile = `${options.out}.columns.json`;
      writeFileSync(columnsFile, columnsJson(record.id, format, t));
    }
    return {
      runId: record.id,
      format,
      count,
      ...(options.out ? { out: options.out } : {}),
      ...(columnsFile ? { columnsFile } : {}),
      ...(collect ? { text: collect.text() } : {}),
    };
  } finally {
    close();
  }
}

export interface DescribeOptions {
  db: StoreRef;
  /** "tidy" (default) or "wide". */
  layout?: "tidy" | "wide";
}

/** `silico data RUN --describe`: the export's columns with their types and meanings. */
export async function describeData(
  runRef: string,
  options: DescribeOptions,
): Promise<ExportTable["columns"]> {
  const { store, close } = openStore(options.db, "read");
  try {
    const record = store.getRun(runRef);
    return (options.layout === "wide" ? wideTable(store, record) : tidyTable(store, record)).columns;
  } finally {
    close();
  }
}

export interface SummaryOptions {
  db: StoreRef;
  /** Columns to group by (default: the design's condition columns). */
  by?: string[];
  /** Observation names to include (default: all). */
  names?: string[];
}

export interface SummaryResult {
  by: string[];
  rows: SummaryRow[];
}

/** `silico summary`: per-cell means (numbers) or rates (categories) with 95 % confidence intervals. */
export async function summary(runRef: string, options: SummaryOptions): Promise<SummaryResult> {
  const { store, close } = openStore(options.db, "read");
  try {
    const record = store.getRun(runRef);
    try {
      return summarize(store, record, {
        ...(options.by !== undefined ? { by: options.by } : {}),
        ...(options.names ? { names: options.names } : {}),
      });
    } catch (e) {
      throw new ConfigError("bad_flag", (e as Error).message);
    }
  } finally {
    close();
  }
}
