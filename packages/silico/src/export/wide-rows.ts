import type { ObservationInfo } from "../store/read-types.js";
import { RunReader } from "../store/run-reader.js";
import type { RunRecord, RunStore } from "../store/run-store.js";
import { TypeTally } from "./column-types.js";
import { columnType, coordinateMeaning, type ExportTable, TIDY_MEANINGS } from "./table.js";
import type { Cell, TidyRow } from "./tidy-rows.js";

/**
 * The wide layout: one row per participant-turn — a participant's answers at one point of a
 * session (a factorial draw, a stimulus trial, a game round) — with each observation as its own
 * column and JSON answers split into one typed column per field (`offer` {"keep": 6} → `offer_keep`).
 *
 * - A row is keyed by session, participant, sample and the observation's coordinates except
 *   `stage` (a game's stages of one round share a row).
 * - Object answers are split recursively, fields joined with `_` (`a: {b: {c: 1}}` → `a_b_c`);
 *   lists stay whole, as JSON text (type json). Characters other than letters, digits and `_`
 *   in a field name become `_`.
 * - `<name>_valid` says whether that answer passed its parser and checks (answers from calls only;
 *   values the study computes, such as payoffs, have none).
 * - input_tokens, output_tokens and cost_usd of a call with n samples appear on each sample's row,
 *   as in the tidy layout.
 * - A name already taken (by a fixed column, a coordinate or an earlier answer column) gets `_2`,
 *   `_3` … in the order names are first met; `--describe` says where each column comes from.
 * - input_tokens, output_tokens and cost_usd add up the row's distinct calls.
 */
const TAIL = ["input_tokens", "output_tokens", "cost_usd"] as const;

interface Leaf {
  column: string;
  meaning: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const safe = (s: string) => s.replace(/[^A-Za-z0-9_]/g, "_");

export function wideTable(store: RunStore, run: RunRecord): ExportTable {
  const reader = new RunReader(store);
  const declared = ((run.manifest.coordinate_columns as string[] | undefined) ?? []).filter(
    (c) => c !== "stage",
  );
  const extra = reader
    .observationCoordinateKeys(run.id)
    .filter((k) => k !== "stage" && !declared.includes(k));
  const coordColumns = [...declared, ...extra];
  const head = ["run", "session", ...coordColumns];
  for (const c of ["participant", "role", "model", "sample", "session_status"])
    if (!head.includes(c)) head.push(c);
  const tail = TAIL.filter((c) => !head.includes(c));
  const taken = new Set<string>([...head, ...tail]);
  const meanings = new Map<string, string>();
  for (const c of head)
    meanings.set(c, coordColumns.includes(c) ? coordinateMeaning(c) : (TIDY_MEANINGS[c] ?? ""));
  meanings.set("input_tokens", "input tokens billed for the row's calls (summed)");
  meanings.set("output_tokens", "output tokens billed for the row's calls (summed)");
  meanings.set("cost_usd", "cost of the row's calls in US dollars, empty when unknown");
  /** Answer path (observation name, then field names, joined by NUL) → its column. */
  const leaves = new Map<string, Leaf>();
  const answerColumns: string[] = [];

  const claim = (path: string, wanted: string, meaning: string): string => {
    const known = leaves.get(path);
    if (known) return known.column;
    let column = wanted;
    for (let i = 2; taken.has(column); i++) column = `${wanted}_${i}`;
    taken.add(column);
    leaves.set(path, { column, meaning });
    answerColumns.push(column);
    meanings.set(column, meaning);
    return column;
  };

  const put = (row: TidyRow, name: string, value: unknown, valid: boolean, fromCall: boolean) => {
    // Values the study computed (payoffs) are always valid: only answers get a _valid column.
    if (fromCall)
      row[claim(`${name}\0#valid`, `${safe(name)}_valid`, `answer "${name}" passed its parser and checks`)] =
        valid;
    const walk = (v: unknown, path: string[], column: string) => {
      if (isPlainObject(v) && Object.keys(v).length > 0) {
        for (const [k, sub] of Object.entries(v)) walk(sub, [...path, k], `${column}_${safe(k)}`);
        return;
      }
      const where =
        path.length > 1 ? `field ${path.slice(1).join(".")} of answer "${name}"` : `answer "${name}"`;
      row[claim(path.join("\0"), column, where)] = v as Cell;
    };
    walk(value, [name], safe(name));
  };

  function* rows(): Generator<TidyRow> {
    let session: string | undefined;
    let pending = new Map<string, { row: TidyRow; calls: Map<number, ObservationInfo["call"]> }>();
    const flush = function* () {
      for (const { row, calls } of pending.values()) {
        let input = 0;
        let output = 0;
        let cost: number | null = 0;
        for (const c of calls.values()) {
          input += c?.inputTokens ?? 0;
          output += c?.outputTokens ?? 0;
          cost = cost === null || c?.costUsd == null ? null : cost + c.costUsd;
        }
        const totals: TidyRow = {
          input_tokens: calls.size ? input : null,
          output_tokens: calls.size ? output : null,
          cost_usd: calls.size ? cost : null,
        };
        for (const c of tail) row[c] = totals[c] as Cell;
        yield row;
      }
      pending = new Map();
    };
    for (const o of reader.iterateObservations(run.id)) {
      if (o.sessionKey !== session) {
        yield* flush();
        session = o.sessionKey;
      }
      const coords = { ...o.sessionCoords, ...o.coords } as Record<string, Cell>;
      const own = Object.entries(o.coords).filter(([k]) => k !== "stage");
      const key = JSON.stringify([o.participant, o.choiceIndex, own]);
      let entry = pending.get(key);
      if (!entry) {
        const row: TidyRow = { run: run.id, session: o.sessionKey };
        for (const c of coordColumns) row[c] = coords[c] ?? null;
        const fixed: TidyRow = {
          participant: o.participant,
          role: o.role,
          model: o.model,
          sample: o.choiceIndex,
          session_status: o.sessionStatus,
        };
        for (const c of head) if (!(c in row)) row[c] = fixed[c] ?? null;
        entry = { row, calls: new Map() };
        pending.set(key, entry);
      }
      put(entry.row, o.name, o.value, o.valid, o.callId !== null);
      if (o.callId !== null) entry.calls.set(o.callId, o.call);
    }
    yield* flush();
  }

  // One pass names the answer columns (in the order met) and tallies every column's types.
  const tallies = new Map<string, TypeTally>();
  for (const r of rows())
    for (const [c, v] of Object.entries(r)) {
      let t = tallies.get(c);
      if (!t) {
        t = new TypeTally();
        tallies.set(c, t);
      }
      t.add(v);
    }
  const columns = [...head, ...answerColumns, ...tail];
  return {
    layout: "wide",
    names: columns,
    columns: columns.map((name) => ({
      name,
      type: columnType(name, tallies.get(name)),
      meaning: meanings.get(name) ?? "",
    })),
    rows,
  };
}
