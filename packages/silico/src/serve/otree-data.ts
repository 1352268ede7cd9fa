import { existsSync, readFileSync, statSync } from "node:fs";
import { basename } from "node:path";
import { ConfigError, SilicoError } from "../errors.js";
import { csvField, fileSink, type Sink, stdoutSink } from "../export/writers.js";
import { OtreeRestError } from "../otree/errors.js";
import { OtreeRestClient } from "../otree/rest-client.js";
import type { AgentTurnRecord, RunRecord, RunStore } from "../store/run-store.js";
import {
  appTableFromWide,
  isAppExport,
  isWideExport,
  joinOtreeTables,
  type OtreeAppTable,
  readOtreeCsv,
  wideExportApps,
} from "./otree-join.js";

/**
 * Where oTree's data for a `kind: agents` run comes from: the run does not know the oTree server
 * its turns came from, so the experimenter names it (`--otree-url`) or gives the CSV files
 * downloaded from oTree's admin (`--otree-export`).
 */
export interface OtreeDataSource {
  /** A running oTree server: its per-app exports are fetched over REST. */
  url?: string;
  /** Name of the environment variable holding oTree's REST key (default OTREE_REST_KEY). */
  restKeyEnv?: string;
  /** CSV files: per-app exports (`APP=FILE`, or the app told by the file name) or the wide export. */
  exports?: string[];
  /** The environment to read the REST key from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_KEY_ENV = "OTREE_REST_KEY";

const NEEDS_SOURCE =
  "--format otree on a kind: agents run needs oTree's data: --otree-url URL (the oTree server, REST key from $OTREE_REST_KEY) or --otree-export FILE (a CSV from oTree's admin Data page)";

/** Refuses flags that only make sense for an agents run's `--format otree`, before anything is read. */
export function checkOtreeSourceFlags(format: string, source: OtreeDataSource | undefined): void {
  const given = otreeFlagsGiven(source);
  if (given.length > 0 && format !== "otree")
    throw new ConfigError(
      "bad_flag",
      `${given.join(", ")} go(es) with --format otree, not --format ${format}`,
    );
}

function otreeFlagsGiven(source: OtreeDataSource | undefined): string[] {
  const given: string[] = [];
  if (source?.url !== undefined) given.push("--otree-url");
  if (source?.restKeyEnv !== undefined) given.push("--otree-rest-key-env");
  if (source?.exports?.length) given.push("--otree-export");
  return given;
}

/** A kind: otree run knows its server: the agents-only flags are refused there. */
export function refuseOtreeSourceFlags(run: RunRecord, source: OtreeDataSource | undefined): void {
  const given = otreeFlagsGiven(source);
  if (given.length > 0)
    throw new ConfigError(
      "bad_flag",
      `${given.join(", ")}: only for kind: agents runs; run ${run.id} is kind ${run.kind} (a kind: otree run reads its own oTree server)`,
    );
}

/**
 * `silico data RUN --format otree` for a `kind: agents` run: one CSV row per agent turn — the
 * turn's coordinates, prompt, reply and parsed value — joined with oTree's row of the same
 * participant code and round of the turn's app (and session code), oTree's columns as oTree names
 * them (participant.*, player.*, group.*, subsession.*, session.*). Everything is read before
 * anything is written, so a bad flag, file or server leaves no output file.
 */
export async function writeAgentsOtree(
  store: RunStore,
  run: RunRecord,
  out: string | undefined,
  to: Sink | undefined,
  source: OtreeDataSource | undefined,
  warn: (line: string) => void = () => {},
): Promise<number> {
  const turns = store.allAgentTurns(run.id);
  const apps = [...new Set(turns.map((t) => t.app).filter((a): a is string => a !== null))];
  const tables = await loadTables(turns, apps, source ?? {});
  const joined = joinOtreeTables(turns, tables);
  if (joined.unmatched > 0)
    warn(
      `${joined.unmatched} of ${turns.length} agent turn(s) have no row in oTree's data (their oTree columns are empty)`,
    );
  const sink = out ? fileSink(out) : (to ?? stdoutSink());
  const line = (cells: unknown[]) => sink.write(`${cells.map(csvCell).join(",")}\n`);
  line(joined.columns);
  for (const row of joined.rows) line(joined.columns.map((c) => row[c]));
  await sink.end();
  return joined.rows.length;
}

async function loadTables(
  turns: AgentTurnRecord[],
  apps: string[],
  source: OtreeDataSource,
): Promise<Map<string, OtreeAppTable[]>> {
  const files = source.exports ?? [];
  if (source.url === undefined && files.length === 0) throw new ConfigError("bad_flag", NEEDS_SOURCE);
  if (source.url !== undefined && files.length > 0)
    throw new ConfigError("bad_flag", "give --otree-url or --otree-export, not both");
  if (source.restKeyEnv !== undefined && source.url === undefined)
    throw new ConfigError("bad_flag", "--otree-rest-key-env goes with --otree-url");
  return source.url !== undefined ? fetchTables(turns, source.url, source) : readTables(files, apps);
}

/** Per app and oTree session the turns name: `/api/export_app?app=A&session_code=X`. */
async function fetchTables(
  turns: AgentTurnRecord[],
  url: string,
  source: OtreeDataSource,
): Promise<Map<string, OtreeAppTable[]>> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError("bad_flag", `--otree-url: "${url}" is not a URL (e.g. http://127.0.0.1:8000)`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw new ConfigError("bad_flag", `--otree-url: "${url}" is not an http(s) URL`);
  const env = source.env ?? process.env;
  const keyEnv = source.restKeyEnv ?? DEFAULT_KEY_ENV;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(keyEnv))
    throw new ConfigError(
      "bad_flag",
      `--otree-rest-key-env: "${keyEnv}" is not an environment variable name`,
    );
  const restKey = env[keyEnv] || undefined;
  if (source.restKeyEnv !== undefined && restKey === undefined)
    throw new ConfigError(
      "missing_credentials",
      `--otree-rest-key-env ${keyEnv}: the environment variable ${keyEnv} is not set`,
    );
  const client = new OtreeRestClient(parsed.href, restKey === undefined ? {} : { restKey });
  const pairs = new Map<string, { app: string; session: string }>();
  for (const t of turns) {
    if (t.app !== null) pairs.set(`${t.app}\u0000${t.otreeSession}`, { app: t.app, session: t.otreeSession });
  }
  const tables = new Map<string, OtreeAppTable[]>();
  for (const { app, session } of pairs.values()) {
    let csv: string;
    try {
      csv = await client.exportApp(app, session);
    } catch (e) {
      throw restFailure(e, keyEnv, restKey !== undefined);
    }
    const table = readOtreeCsv(csv);
    if (!isAppExport(table.header))
      throw new SilicoError(
        "otree_rest",
        `--otree-url ${client.baseUrl}: the export of app "${app}" (session ${session}) is not an oTree per-app export`,
      );
    tables.set(app, [...(tables.get(app) ?? []), table]);
  }
  return tables;
}

/** oTree's refusals (wrong key, no such app or session) and no answer at all are the flag's fault: exit 2. */
function restFailure(e: unknown, keyEnv: string, hadKey: boolean): unknown {
  if (!(e instanceof OtreeRestError)) return e;
  const message = e.message.replace(/ \(the server wants a REST key: pass restKey\)/, "");
  if (e.kind === "forbidden" && !hadKey)
    return new ConfigError(
      "missing_credentials",
      `--otree-url: ${message} (oTree wants its REST key: set ${keyEnv}, or name the variable with --otree-rest-key-env)`,
    );
  if (e.kind === "server") return new SilicoError("otree_rest", `--otree-url: ${message}`, { cause: e });
  return new ConfigError("bad_flag", `--otree-url: ${message}`);
}

/**
 * `--otree-export` files: oTree's wide export (all apps; one file is enough) or per-app exports.
 * A per-app export does not name its app, so it is `APP=FILE`, or the file name tells it (oTree's
 * admin names them `APP-DATE.csv`), or the run's turns name a single app.
 */
function readTables(files: string[], apps: string[]): Map<string, OtreeAppTable[]> {
  const tables = new Map<string, OtreeAppTable[]>();
  const add = (app: string, table: OtreeAppTable) => tables.set(app, [...(tables.get(app) ?? []), table]);
  for (const arg of files) {
    const named = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(arg);
    const explicit = named && !existsSync(arg) ? named[1] : undefined;
    const path = explicit !== undefined && named?.[2] ? named[2] : arg;
    if (!existsSync(path) || !statSync(path).isFile())
      throw new ConfigError("bad_flag", `--otree-export ${arg}: no such file ${path}`);
    const table = readOtreeCsv(readFileSync(path, "utf8"));
    if (isAppExport(table.header)) {
      const app = explicit ?? appOfFile(path, apps);
      if (app === undefined)
        throw new ConfigError(
          "bad_flag",
          `--otree-export ${arg}: a per-app export does not say which app it is of, and the run's turns name ${apps.length ? apps.join(", ") : "no app"}: write APP=${path}`,
        );
      add(app, table);
    } else if (isWideExport(table.header)) {
      if (explicit !== undefined)
        throw new ConfigError(
          "bad_flag",
          `--otree-export ${arg}: this is oTree's wide export (all apps): give it without APP=`,
        );
      const inFile = wideExportApps(table.header);
      for (const app of apps.filter((a) => inFile.includes(a))) add(app, appTableFromWide(table, app));
    } else {
      throw new ConfigError(
        "bad_flag",
        `--otree-export ${arg}: not an oTree export (a per-app export has the columns participant.code and subsession.round_number; the wide export has APP.ROUND.player.* columns)`,
      );
    }
  }
  return tables;
}

/** oTree's admin names a per-app download `APP-DATE.csv`; else a run with one app. */
function appOfFile(path: string, apps: string[]): string | undefined {
  const name = basename(path);
  const byName = apps
    .filter((a) => name === `${a}.csv` || name.startsWith(`${a}-`))
    .sort((a, b) => b.length - a.length)[0];
  return byName ?? (apps.length === 1 ? apps[0] : undefined);
}

/** A parsed value that is an object or a list goes into its cell as JSON. */
function csvCell(v: unknown): string {
  return csvField(v !== null && typeof v === "object" ? JSON.stringify(v) : v);
}
