import { type AgentsStudy, agentsDesign, servedStudy } from "../designs/agents/agents-design.js";
import type { ExecutorEvent } from "../engine/executor.js";
import type { Limits } from "../engine/limiter.js";
import { type RunResult, resumeRun, startRun } from "../engine/run-study.js";
import { ConfigError } from "../errors.js";
import type { ModelResolverOptions } from "../models/registry.js";
import type { RunStore } from "../store/run-store.js";
import { parseStudyText, readStudyFile } from "../study/source.js";
import { AgentService } from "./agent-service.js";
import { requiredToken } from "./auth.js";
import { createServeServer, listen } from "./http-server.js";
import { SessionQueue } from "./session-queue.js";

export interface ServeOptions {
  /** The agents file (`kind: agents`). */
  file: string;
  /** The store, or a function that opens it once the agents file has passed its checks. */
  store: RunStore | (() => RunStore);
  /** Default 127.0.0.1. Any other address needs SILICO_SERVE_TOKEN. */
  host?: string;
  /** Default 8790; 0 picks a free port. */
  port?: number;
  env?: NodeJS.ProcessEnv;
  /** Start a new run even when the store holds one of the same agents file to continue. */
  newRun?: boolean;
  /** Turns answered at once (default 256); the model limits still apply per model. */
  concurrency?: number;
  limits?: Partial<Limits>;
  maxCostUsd?: number;
  maxAttempts?: number;
  backoffMs?: number;
  models?: ModelResolverOptions;
  onEvent?: (e: ExecutorEvent) => void;
}

export interface ServeHandle {
  readonly url: string;
  readonly port: number;
  readonly runId: string;
  /** True when an earlier run of the same agents file was continued. */
  readonly continued: boolean;
  /** Settles when the run ends (after close(), or when it stopped by itself: budget, rejected key). */
  readonly done: Promise<RunResult>;
  /**
   * Stop: no new turns; turns in flight get `graceMs` (default 10 s) to be answered and recorded,
   * then the run is interrupted. Resolves with the run's result.
   */
  close(graceMs?: number): Promise<RunResult>;
}

export const DEFAULT_SERVE_PORT = 8790;

function compileAgentsText(text: string, path: string): AgentsStudy {
  const src = parseStudyText(text, path);
  if ((src.data as Record<string, unknown>)?.kind !== "agents")
    throw new ConfigError("bad_flag", `${path}: silico serve needs an agents file (kind: agents)`);
  return agentsDesign.compile(src, {}) as AgentsStudy;
}

/**
 * `silico serve`: the agents of an agents file answer turns over HTTP, every call going through the
 * executor into one run of the store. The newest run of the same file in the store is continued
 * (its agents' memories with it) unless `newRun`.
 */
export async function startServe(opts: ServeOptions): Promise<ServeHandle> {
  const host = opts.host ?? "127.0.0.1";
  const token = requiredToken(host, opts.env ?? process.env);
  const src = readStudyFile(opts.file);
  if ((src.data as Record<string, unknown>)?.kind !== "agents")
    throw new ConfigError("bad_flag", `${opts.file}: silico serve needs an agents file (kind: agents)`);
  const study = agentsDesign.compile(src, {}) as AgentsStudy;
  // The port first: a port in use is refused before the store is opened or a run is made.
  let attached: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    attached = resolve;
  });
  const queue = new SessionQueue();
  let service: AgentService | undefined;
  const server = createServeServer(() => service as AgentService, token, ready);
  let port: number;
  try {
    port = (await listen(server, opts.port ?? DEFAULT_SERVE_PORT, host)).port;
  } catch (e) {
    throw new ConfigError(
      "bad_flag",
      `cannot listen on ${host}:${opts.port ?? DEFAULT_SERVE_PORT}: ${(e as Error).message}`,
    );
  }
  let store: RunStore;
  try {
    // Opened only now: a refused agents file, flag or port leaves no store file behind.
    store = typeof opts.store === "function" ? opts.store() : opts.store;
    // Replies wait for their commit: no WAL checkpoint may run inside one.
    store.checkpointInBackground();
  } catch (e) {
    server.close();
    throw e;
  }
  const previous = opts.newRun
    ? undefined
    : store
        .listRuns()
        .filter((r) => r.kind === "agents" && r.study_hash === study.source.hash)
        .at(-1);
  service = new AgentService(study, store, queue);
  const abort = new AbortController();
  let created: (id: string) => void = () => {};
  const runCreated = new Promise<string>((resolve) => {
    created = resolve;
  });
  const runOptions = {
    store,
    concurrency: opts.concurrency ?? 256,
    signal: abort.signal,
    onRunCreated: (id: string) => created(id),
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.maxCostUsd !== undefined ? { maxCostUsd: opts.maxCostUsd } : {}),
    ...(opts.maxAttempts !== undefined ? { maxAttempts: opts.maxAttempts } : {}),
    ...(opts.backoffMs !== undefined ? { backoffMs: opts.backoffMs } : {}),
    ...(opts.models ? { models: opts.models } : {}),
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
  };
  const done = previous
    ? resumeRun(previous.id, {
        ...runOptions,
        recompile: (text, path) => servedStudy(compileAgentsText(text, path), queue),
      })
    : startRun(servedStudy(study, queue), runOptions);
  // A run refused before it starts (missing key, busy run) rejects `done` before `runCreated`.
  let runId: string | undefined;
  try {
    runId = await Promise.race([runCreated, done.then(() => undefined)]);
    if (runId === undefined) throw new ConfigError("bad_flag", "the agents run ended before it started");
  } catch (e) {
    service.end("the service did not start");
    attached();
    server.close();
    server.closeAllConnections();
    throw e;
  }
  service.attach(runId);
  attached();
  const ended = done.finally(() => {
    service.end("the agents run has ended");
    server.close();
    server.closeAllConnections();
  });
  ended.catch(() => undefined);
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}`,
    port,
    runId,
    continued: previous !== undefined,
    done: ended,
    async close(graceMs = 10_000) {
      server.close();
      service.end("the service is stopping");
      const timer = setTimeout(() => abort.abort("SIGTERM"), graceMs);
      try {
        return await ended;
      } finally {
        clearTimeout(timer);
        server.closeAllConnections();
      }
    },
  };
}
