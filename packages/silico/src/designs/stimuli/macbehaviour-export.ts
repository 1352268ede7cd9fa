import { resolve } from "node:path";
import { ConfigError } from "../../errors.js";
import type { TidyRow } from "../../export/tidy-rows.js";
import { fileSink, type Sink, stdoutSink, writeCsv, writeXlsx } from "../../export/writers.js";
import { RunReader } from "../../store/run-reader.js";
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
  const reader = new RunReader(store);
  const measureNames = reader
    .observationNames(run.id, { fromCall: false })
    // As SQL LIKE matched them: "p_" in any case.
    .filter((n) => /^p_/i.test(n) || n === "covered")
    .sort((a, b) => (a === "covered" ? 1 : b === "covered" ? -1 : 0));
  const fixed = [...MACBEHAVIOUR_COLUMNS, ...PROVENANCE, ...PARSED, ...measureNames];
  // An extra stimulus column whose name is already a column here is left out of this layout (the tidy export has it).
  const extraColumns = extras.filter((x) => !fixed.includes(x));
  const columns = [...fixed, ...extraColumns];

  function* rows(): Generator<TidyRow> {
    let pending: { row: TidyRow; key: string }[] = [];
    let session = "";
    for (const r of reader.iterateObservations(run.id, { includeCallBodies: true })) {
      if (r.sessionKey !== session) {
        for (const p of pending) yield p.row;
        pending = [];
        session = r.sessionKey;
      }
      const coords = { ...(r.sessionCoords as Coords), ...(r.coords as Coords) };
      const key = `${coords.trial}/${coords.item}/${coords.event}`;
      if (r.callId === null) {
        // A measure recorded after its answer: fill it into that answer's rows.
        for (const p of pending) if (p.key === key) p.row[r.name] = r.value as number | null;
        continue;
      }
      if (r.name !== "answer" && r.name !== "response") continue;
      const meta = (r.meta ?? {}) as { prompt?: string };
      const request = (r.call?.request ?? {}) as { messages?: unknown[]; params?: unknown };
      const response = (r.call?.response ?? undefined) as { raw?: unknown } | undefined;
      const first = r.choiceIndex === 0;
      const row: TidyRow = {
        Session: coords.repetition ?? null,
        Run: coords.list ?? null,
        Item: coords.item ?? null,
        Event: coords.event ?? null,
        Trial: coords.trial ?? null,
        Condition: coords.condition ?? null,
        Prompt: meta.prompt ?? null,
        Response: r.raw,
        N: r.choiceIndex + 1,
        Message: flattenMessages(request.messages ?? []),
        rawResponse: response === undefined ? null : JSON.stringify(response.raw ?? response),
        model: r.model,
        parameters: request.params === undefined ? null : JSON.stringify(request.params),
        input_tokens: first ? (r.call?.inputTokens ?? null) : null,
        output_tokens: first ? (r.call?.outputTokens ?? null) : null,
        cost_usd: first ? (r.call?.costUsd ?? null) : null,
        position: coords.position ?? null,
        answer: r.name === "answer" && r.value !== null ? (r.value as TidyRow[string]) : null,
        valid: r.name === "answer" ? r.valid : null,
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
  to?: Sink,
): Promise<number> {
  const { columns, rows } = macbehaviourExport(store, run);
  if (format === "csv") {
    const sink = out ? fileSink(out) : (to ?? stdoutSink());
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
