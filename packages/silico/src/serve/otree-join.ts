import { parseCsv } from "../designs/stimuli/csv-reader.js";
import type { AgentTurnRecord } from "../store/run-store.js";

/**
 * The coordinates that tie an agent turn to oTree's data: oTree's session code, the participant
 * code of the page that asked, the app, the round, and the turn key. Every answered turn has them
 * (table agent_turns), so agent turns can be joined with any oTree export.
 */
export const JOIN_KEYS = ["otree_session", "participant", "app", "round", "turn"] as const;

export interface JoinedRow {
  [column: string]: unknown;
}

export interface OtreeJoin {
  rows: JoinedRow[];
  /** Columns in order: the turn's, then oTree's (as oTree names them: player.payoff …). */
  columns: string[];
  /** Turns with no row in the export (another session, or a participant the export lacks). */
  unmatched: number;
}

const TURN_COLUMNS = [
  ...JOIN_KEYS,
  "page",
  "agent",
  "owner",
  "turn_index",
  "prompt",
  "reply",
  "value",
  "valid",
  "reason",
] as const;

/** One table of oTree's data for one app: a header and rows (a per-app export, or one rebuilt from the wide export). */
export interface OtreeAppTable {
  header: string[];
  rows: string[][];
}

/** Header and rows of an oTree CSV export (a UTF-8 BOM and blank lines are dropped). */
export function readOtreeCsv(csv: string): OtreeAppTable {
  const records = parseCsv(csv.replace(/^\uFEFF/, "")).records.map((r) => r.fields);
  const [header = [], ...rows] = records;
  return { header, rows: rows.filter((r) => !(r.length === 1 && r[0] === "")) };
}

/** A per-app export has participant.code and subsession.round_number. */
export function isAppExport(header: string[]): boolean {
  return header.includes("participant.code") && header.includes("subsession.round_number");
}

const WIDE_COLUMN = /^([^.]+)\.(\d+)\.(player|group|subsession)\.(.+)$/;

/** oTree's wide export ("all apps") has participant.code and APP.ROUND.player.* columns. */
export function isWideExport(header: string[]): boolean {
  return header.includes("participant.code") && header.some((h) => WIDE_COLUMN.test(h));
}

/** The apps (in order) of a wide export's APP.ROUND.* columns. */
export function wideExportApps(header: string[]): string[] {
  const apps = new Set<string>();
  for (const h of header) {
    const m = WIDE_COLUMN.exec(h);
    if (m?.[1]) apps.add(m[1]);
  }
  return [...apps];
}

/**
 * Rebuilds one app's per-app table from oTree's wide export: per participant and round, the
 * participant.* and session.* columns plus that round's `APP.ROUND.player|group|subsession.x`
 * columns under their per-app names (player.x …), and subsession.round_number — the same
 * columns and rows the per-app export has, so either can be joined.
 */
export function appTableFromWide(wide: OtreeAppTable, app: string): OtreeAppTable {
  const shared: number[] = [];
  const perRound = new Map<number, Map<string, number>>();
  const names: string[] = [];
  wide.header.forEach((h, i) => {
    const m = WIDE_COLUMN.exec(h);
    if (!m) {
      if (h.startsWith("participant.") || h.startsWith("session.")) shared.push(i);
      return;
    }
    if (m[1] !== app) return;
    const name = `${m[3]}.${m[4]}`;
    if (!names.includes(name)) names.push(name);
    const round = Number(m[2]);
    if (!perRound.has(round)) perRound.set(round, new Map());
    perRound.get(round)?.set(name, i);
  });
  if (!names.includes("subsession.round_number")) names.push("subsession.round_number");
  const header = [...shared.map((i) => wide.header[i] ?? ""), ...names];
  const rows: string[][] = [];
  const rounds = [...perRound.keys()].sort((a, b) => a - b);
  for (const row of wide.rows) {
    for (const round of rounds) {
      const at = perRound.get(round) ?? new Map<string, number>();
      rows.push([
        ...shared.map((i) => row[i] ?? ""),
        ...names.map((n) =>
          n === "subsession.round_number" && !at.has(n) ? String(round) : (row[at.get(n) ?? -1] ?? ""),
        ),
      ]);
    }
  }
  return { header, rows };
}

/**
 * Joins agent turns with an oTree per-app export (`/api/export_app?app=A`, or the app's CSV from
 * the admin's data page): each turn gets the columns of its participant's row in that round
 * (participant.code + subsession.round_number, and session.code where both have it). A left join:
 * every turn of `app` gives one row, matched or not.
 */
export function joinOtreeAppExport(turns: AgentTurnRecord[], csv: string, app: string): OtreeJoin {
  const table = readOtreeCsv(csv);
  if (!isAppExport(table.header)) throw new Error(NOT_APP_EXPORT);
  return joinOtreeTables(
    turns.filter((t) => t.app === app),
    new Map([[app, [table]]]),
  );
}

const NOT_APP_EXPORT =
  "not an oTree per-app export: it needs the columns participant.code and subsession.round_number";

/**
 * Joins every turn (in the order given) with its app's tables: a turn gets the row of its
 * participant code and round (and session code, where the table has session.code). A left join:
 * each turn gives one row; turns of an app without a table, or whose participant and round no
 * table has, keep empty oTree columns and are counted in `unmatched`. oTree's columns are the
 * union of the tables' headers, in order of first appearance.
 */
export function joinOtreeTables(turns: AgentTurnRecord[], tables: Map<string, OtreeAppTable[]>): OtreeJoin {
  const otreeColumns: string[] = [];
  const index = new Map<string, Map<string, { header: string[]; fields: string[]; session: number }>>();
  for (const [app, list] of tables) {
    const byKey = new Map<string, { header: string[]; fields: string[]; session: number }>();
    for (const table of list) {
      const code = table.header.indexOf("participant.code");
      const round = table.header.indexOf("subsession.round_number");
      if (code < 0 || round < 0) throw new Error(NOT_APP_EXPORT);
      const session = table.header.indexOf("session.code");
      for (const name of table.header) if (!otreeColumns.includes(name)) otreeColumns.push(name);
      for (const fields of table.rows) {
        byKey.set(`${fields[code]}\u0000${fields[round]}`, { header: table.header, fields, session });
      }
    }
    index.set(app, byKey);
  }
  let unmatched = 0;
  const rows: JoinedRow[] = [];
  for (const t of turns) {
    const hit = index.get(t.app ?? "")?.get(`${t.participant}\u0000${t.round ?? ""}`);
    const match = hit && (hit.session < 0 || hit.fields[hit.session] === t.otreeSession) ? hit : undefined;
    if (!match) unmatched++;
    const row: JoinedRow = {
      otree_session: t.otreeSession,
      participant: t.participant,
      app: t.app,
      round: t.round,
      turn: t.turnKey,
      page: t.page,
      agent: t.agent,
      owner: t.owner,
      turn_index: t.seq,
      prompt: t.prompt,
      reply: t.reply,
      value: t.value,
      valid: t.valid,
      reason: t.reason,
    };
    for (const name of otreeColumns) row[name] = null;
    match?.header.forEach((name, i) => {
      row[name] = match.fields[i] ?? null;
    });
    rows.push(row);
  }
  return { rows, columns: [...TURN_COLUMNS, ...otreeColumns], unmatched };
}
