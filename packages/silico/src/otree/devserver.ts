import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { OtreeServerError } from "./errors.js";
import { freeLoopbackPort, loopbackPortFree } from "./free-port.js";

export interface DevserverOptions {
  /** The oTree project folder (the one with settings.py). oTree writes db.sqlite3 there on stop. */
  projectDir: string;
  /** The `otree` command: a path (its folder goes first on PATH) or a name on PATH. Default "otree". */
  otree?: string;
  /** Default: a free loopback port. */
  port?: number;
  /**
   * When set, oTree runs with OTREE_AUTH_LEVEL=STUDY and this REST key (REST calls then need the
   * `otree-rest-key` header); when unset, REST, admin and exports are open (auth level unset).
   */
  restKey?: string;
  /** OTREE_ADMIN_PASSWORD under a REST key; default a random one. */
  adminPassword?: string;
  /**
   * OTREE_PRODUCTION=1: oTree's production mode (no debug panel on participant pages), as on a
   * real study's server. Default off.
   */
  production?: boolean;
  /** How long to wait for the first answer. Default 90 s: a loaded machine is slow to import oTree. */
  readyTimeoutMs?: number;
}

export interface Devserver {
  /** Like http://127.0.0.1:PORT, no trailing slash. */
  readonly baseUrl: string;
  readonly port: number;
  /** The process group id (the devserver's own pid). */
  readonly pgid: number;
  /** What oTree printed so far (stdout and stderr, last 64 kB), for error messages. */
  output(): string;
  /**
   * SIGTERM to the whole process group (oTree saves its in-memory database to db.sqlite3 then),
   * and waits until no process of the group is left; SIGKILL after `graceMs` (default 15 s).
   */
  stop(graceMs?: number): Promise<void>;
}

const OUTPUT_LIMIT = 64 * 1024;

/**
 * Starts `otree devserver PORT` for a project, in its own process group, and resolves once
 * `/api/otree_version` answers. The devserver keeps its database in memory and reloads when a
 * `*.py` of the project changes: write nothing into the project while it runs.
 */
export async function startDevserver(options: DevserverOptions): Promise<Devserver> {
  if (!existsSync(join(options.projectDir, "settings.py"))) {
    throw new OtreeServerError(`${options.projectDir} is not an oTree project: it has no settings.py`);
  }
  if (options.port !== undefined) {
    // Otherwise the server already on that port would answer the readiness check for ours.
    if (!(await loopbackPortFree(options.port))) {
      throw new OtreeServerError(
        `oTree devserver for ${options.projectDir} did not start: port ${options.port} is already in use`,
      );
    }
    return startOnce(options, options.port);
  }
  // A port found free can be taken before oTree binds it: then try another one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options, await freeLoopbackPort());
    } catch (err) {
      if (attempt >= 3 || !(err instanceof OtreeServerError) || !PORT_TAKEN.test(err.message)) throw err;
    }
  }
}

const PORT_TAKEN = /address already in use|error while attempting to bind/i;

async function startOnce(options: DevserverOptions, port: number): Promise<Devserver> {
  const { projectDir } = options;
  const otree = options.otree ?? "otree";
  const child = spawn(otree, ["devserver", String(port)], {
    cwd: projectDir,
    env: devserverEnv(otree, options),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  let exited: string | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once("error", (err) => {
      exited = `could not run ${otree}: ${err.message}`;
      resolve();
    });
    child.once("exit", (code, signal) => {
      exited = `oTree exited (${signal ?? `code ${code}`})`;
      resolve();
    });
  });
  const pgid = child.pid;
  if (pgid === undefined) {
    await exitedPromise;
    throw new OtreeServerError(exited ?? `could not run ${otree}`);
  }
  const baseUrl = `http://127.0.0.1:${port}`;
  const server: Devserver = {
    baseUrl,
    port,
    pgid,
    output: () => output,
    stop: (graceMs = 15_000) => stopGroup(child, pgid, graceMs),
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 90_000);
  while (!(await answers(baseUrl, options.restKey))) {
    if (exited !== undefined || Date.now() > deadline) {
      const why = exited ?? `no answer on ${baseUrl} after ${options.readyTimeoutMs ?? 90_000} ms`;
      await server.stop(2_000);
      throw new OtreeServerError(`oTree devserver for ${projectDir} did not start: ${why}\n${tail(output)}`);
    }
    await sleep(250);
  }
  if (exited !== undefined) {
    // Someone else answered on the port while our oTree died (it lost the race for the port).
    throw new OtreeServerError(`oTree devserver for ${projectDir} did not start: ${exited}\n${tail(output)}`);
  }
  return server;
}

function devserverEnv(otree: string, options: DevserverOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" };
  // `otree devserver` starts its inner server as plain `otree` from PATH, so the venv's bin folder
  // must be on PATH even when we were given the full path.
  if (isAbsolute(otree) || otree.includes("/")) env.PATH = `${dirname(otree)}${delimiter}${env.PATH ?? ""}`;
  if (options.production === true) env.OTREE_PRODUCTION = "1";
  else delete env.OTREE_PRODUCTION;
  if (options.restKey !== undefined) {
    env.OTREE_AUTH_LEVEL = "STUDY";
    env.OTREE_REST_KEY = options.restKey;
    env.OTREE_ADMIN_PASSWORD = options.adminPassword ?? randomSecret();
  } else {
    delete env.OTREE_AUTH_LEVEL;
    delete env.OTREE_REST_KEY;
  }
  return env;
}

async function answers(baseUrl: string, restKey: string | undefined): Promise<boolean> {
  try {
    const res = await fetch(`${baseUrl}/api/otree_version`, {
      headers: restKey === undefined ? {} : { "otree-rest-key": restKey },
      signal: AbortSignal.timeout(5_000),
    });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function stopGroup(child: ChildProcess, pgid: number, graceMs: number): Promise<void> {
  if (!groupAlive(pgid)) return;
  signalGroup(pgid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) await sleep(100);
  if (groupAlive(pgid)) {
    signalGroup(pgid, "SIGKILL");
    while (groupAlive(pgid)) await sleep(50);
  }
  child.stdout?.destroy();
  child.stderr?.destroy();
}

/** True while any process of the group exists (zombies of our own child are reaped by Node). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

function randomSecret(): string {
  return crypto.randomUUID();
}

function tail(text: string): string {
  return text.split("\n").slice(-20).join("\n");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
