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

/**
 * Joins agent turns with an oTree per-app export (`/api/export_app?app=A`, or the app's CSV from
 * the admin's data page): each turn gets the columns of its participant's row in that round
 * (participant.code + subsession.round_number, and session.code where both have it). A left join:
 * every turn of `app` gives one row, matched or not.
 */
export function joinOtreeAppExport(turns: AgentTurnRecord[], csv: string, app: string): OtreeJoin {
  const records = parseCsv(csv.replace(/^\uFEFF/, "")).records;
  const header = records[0]?.fields ?? [];
  const col = (name: string) => header.indexOf(name);
  const code = col("participant.code");
  const round = col("subsession.round_number");
  const session = col("session.code");
  if (code < 0 || round < 0)
    throw new Error(
      "not an oTree per-app export: it needs the columns participant.code and subsession.round_number",
    );
  const byKey = new Map<string, string[]>();
  for (const r of records.slice(1)) {
    if (r.fields.length === 1 && r.fields[0] === "") continue;
    byKey.set(`${r.fields[code]}\u0000${r.fields[round]}`, r.fields);
  }
  let unmatched = 0;
  const rows: JoinedRow[] = [];
  for (const t of turns) {
    if (t.app !== app) continue;
    const fields = byKey.get(`${t.participant}\u0000${t.round ?? ""}`);
    const sameSession = fields && (session < 0 || fields[session] === t.otreeSession);
    if (!sameSession) unmatched++;
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
    header.forEach((name, i) => {
      row[name] = sameSession ? (fields?.[i] ?? null) : null;
    });
    rows.push(row);
  }
  return { rows, columns: [...TURN_COLUMNS, ...header], unmatched };
}
