import { resolve } from "node:path";
import { ConfigError } from "../../errors.js";
import type { TidyRow } from "../../export/tidy-rows.js";
import { fileSink, stdoutSink, writeCsv, writeXlsx } from "../../export/writers.js";
import type { RunRecord, RunStore } from "../../store/run-store.js";

/** MacBehaviour's output columns, in its order (without its raw-response chunk columns and its "......" column). */
export const MACBEHAVIOUR_COLUMNS = [
  "Session",
  "Run",
  "Item",
  "Event",
  "Trial",
  "Condition",
  "Prompt",
  "Response",
  "N",
  "Message",
  "rawResponse",
];

/** What silico adds after them: provenance per row, then the parsed answer and measures. */
const PROVENANCE = ["model", "parameters", "input_tokens", "output_tokens", "cost_usd"];
const PARSED = ["position", "answer", "valid"];

interface Joined {
  session_key: string;
  s_coords: string;
  coords: string;
  name: string;
  raw: string | null;
  value: string | null;
  valid: number;
  choice_index: number;
  meta: string | null;
  call_id: number | null;
  model: string | null;
  request: string | null;
  response: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_usd: number | null;
}

type Coords = Record<string, string | number | boolean | null>;

/**
 * One row per answer (per choice when n > 1), in MacBehaviour's column order, followed by the
 * model, the parameters sent, token counts and cost of the call (on the row with N = 1, so
 * that sums stay right), the sending position, the parsed answer, probability measures and the
 * extra stimulus columns.
 */
export function macbehaviourExport(
  store: RunStore,
  run: RunRecord,
): { columns: string[]; rows: () => Generator<TidyRow> } {
  if (run.kind !== "stimuli") {
    throw new ConfigError(
      "bad_flag",
      `--layout macbehaviour is for stimulus-list runs; run ${run.id} is a ${run.kind} study`,
    );
  }
  const stimuli = (run.manifest.stimuli ?? {}) as { extra_columns?: string[] };
  const extras = stimuli.extra_columns ?? [];
  const measureNames = (
    store.db
      .prepare(
        "SELECT DISTINCT name FROM observations WHERE run_id = ? AND call_id IS NULL AND (name LIKE 'p\\_%' ESCAPE '\\' OR name = 'covered') ORDER BY name",
      )
      .pluck()
      .all(run.id) as string[]
  ).sort((a, b) => (a === "covered" ? 1 : b === "covered" ? -1 : 0));
  const fixed = [...MACBEHAVIOUR_COLUMNS, ...PROVENANCE, ...PARSED, ...measureNames];
  // An extra stimulus column whose name is already a column here is left out of this layout (the tidy export has it).
  const extraColumns = extras.filter((x) => !fixed.includes(x));
  const columns = [...fixed, ...extraColumns];

  function* rows(): Generator<TidyRow> {
    const stmt = store.db.prepare(
      `SELECT o.session_key, s.coords AS s_coords, o.coords, o.name, o.raw, o.value, o.valid, o.choice_index, o.meta,
              o.call_id, p.model, c.request, c.response, c.input_tokens, c.output_tokens, c.cost_usd
       FROM observations o
       JOIN sessions s ON s.run_id = o.run_id AND s.key = o.session_key
       LEFT JOIN participants p ON p.run_id = o.run_id AND p.session_key = o.session_key AND p.pid = o.pid
       LEFT JOIN calls c ON c.id = o.call_id
       WHERE o.run_id = ? AND s.status != 'superseded'
       ORDER BY s.idx, o.seq`,
    );
    let pending: { row: TidyRow; key: string }[] = [];
    let session = "";
    for (const r of stmt.iterate(run.id) as Iterable<Joined>) {
      if (r.session_key !== session) {
        for (const p of pending) yield p.row;
        pending = [];
        session = r.session_key;
      }
      const coords = { ...(JSON.parse(r.s_coords) as Coords), ...(JSON.parse(r.coords) as Coords) };
      const key = `${coords.trial}/${coords.item}/${coords.event}`;
      if (r.call_id === null) {
        // A measure recorded after its answer: fill it into that answer's rows.
        for (const p of pending)
          if (p.key === key) p.row[r.name] = r.value === null ? null : (JSON.parse(r.value) as number);
        continue;
      }
      if (r.name !== "answer" && r.name !== "response") continue;
      const meta = r.meta ? (JSON.parse(r.meta) as { prompt?: string }) : {};
      const request = r.request ? (JSON.parse(r.request) as { messages?: unknown[]; params?: unknown }) : {};
      const response = r.response ? (JSON.parse(r.response) as { raw?: unknown }) : undefined;
      const first = r.choice_index === 0;
      const row: TidyRow = {
        Session: coords.repetition ?? null,
        Run: coords.list ?? null,
        Item: coords.item ?? null,
        Event: coords.event ?? null,
        Trial: coords.trial ?? null,
        Condition: coords.condition ?? null,
        Prompt: meta.prompt ?? null,
        Response: r.raw,
        N: r.choice_index + 1,
        Message: flattenMessages(request.messages ?? []),
        rawResponse: response === undefined ? null : JSON.stringify(response.raw ?? response),
        model: r.model,
        parameters: request.params === undefined ? null : JSON.stringify(request.params),
        input_tokens: first ? r.input_tokens : null,
        output_tokens: first ? r.output_tokens : null,
        cost_usd: first ? r.cost_usd : null,
        position: coords.position ?? null,
        answer: r.name === "answer" && r.value !== null ? (JSON.parse(r.value) as TidyRow[string]) : null,
        valid: r.name === "answer" ? r.valid === 1 : null,
      };
      for (const m of measureNames) row[m] = null;
      for (const x of extraColumns) row[x] = coords[x] ?? null;
      pending.push({ row, key });
    }
    for (const p of pending) yield p.row;
  }
  return { columns, rows };
}

/**
 * The messages a call sent, as MacBehaviour's Message column shows them: one "role: text"
 * line per message; an inline image is shown by its media type and size, not its bytes.
 */
export function flattenMessages(messages: unknown[]): string {
  return messages
    .map((m) => {
      const { role, content } = m as { role?: string; content?: unknown };
      return `${role ?? "?"}: ${contentText(content)}`;
    })
    .join("\n");
}

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((p) => {
      const part = p as { type?: string; text?: string; url?: string; data?: string; mediaType?: string };
      if (part.type === "text") return part.text ?? "";
      if (part.url) return `<img>${part.url}</img>`;
      const bytes = part.data ? Math.floor((part.data.length * 3) / 4) : 0;
      return `<img>[${part.mediaType ?? "image"}, ${bytes} bytes inline]</img>`;
    })
    .join("");
}

/** `silico data RUN --layout macbehaviour --format csv|xlsx [--out FILE]`. Returns the row count. */
export async function writeMacbehaviour(
  store: RunStore,
  run: RunRecord,
  format: string,
  out?: string,
): Promise<number> {
  const { columns, rows } = macbehaviourExport(store, run);
  if (format === "csv") {
    const sink = out ? fileSink(out) : stdoutSink();
    const n = writeCsv(columns, rows(), sink);
    await sink.end();
    return n;
  }
  if (format === "xlsx") {
    if (!out)
      throw new ConfigError("bad_flag", "--format xlsx needs --out FILE.xlsx (a spreadsheet is not text)");
    return writeXlsx(columns, rows(), resolve(out));
  }
  throw new ConfigError("bad_flag", `--layout macbehaviour writes csv or xlsx, not ${format}`);
}
