import { compileStoredStudy } from "../../engine/run-study.js";
import { ConfigError, SilicoError } from "../../errors.js";
import { csvField, fileSink, type Sink, stdoutSink } from "../../export/writers.js";
import { RunReader } from "../../store/run-reader.js";
import type { RunRecord, RunStore } from "../../store/run-store.js";
import { parseCsv } from "../stimuli/csv-reader.js";
import { otreeSpecOf } from "./otree-design.js";
import { type OtreeRunState, OtreeSessionHost } from "./otree-session.js";

/** Columns silico adds to each participant row of oTree's wide export. */
export const BOT_COLUMNS = [
  "silico.bot",
  "silico.seat",
  "silico.model",
  "silico.persona",
  "silico.status",
  "silico.stopped",
  "silico.calls",
  "silico.input_tokens",
  "silico.output_tokens",
  "silico.cost_usd",
  "silico.run",
] as const;

/**
 * `silico data RUN --format otree`: oTree's own wide export of the run's session (all humans and
 * bots, every app's fields), fetched over REST, with silico's bot columns joined on
 * `participant.code`. A project's devserver is started for it (it loads the db.sqlite3 oTree saved)
 * and stopped again, unless the run's own devserver still runs.
 */
export async function writeOtreeWide(
  store: RunStore,
  run: RunRecord,
  out?: string,
  to?: Sink,
): Promise<number> {
  if (run.kind !== "otree") {
    throw new ConfigError(
      "bad_flag",
      `--format otree is for kind: otree runs; run ${run.id} is kind ${run.kind}`,
    );
  }
  const state = store.designState(run.id, "").get() as OtreeRunState | undefined;
  if (!state?.session_code) {
    throw new SilicoError(
      "otree_server",
      `run ${run.id} has no oTree session recorded (its set-up never finished)`,
    );
  }
  const study = compileStoredStudy(run);
  const host = new OtreeSessionHost(otreeSpecOf(study));
  let csv: string;
  try {
    await host.attach(state);
    csv = await host.exportWide(state.session_code);
  } finally {
    await host.stop();
  }
  const records = parseCsv(csv).records.map((r) => r.fields);
  const [header, ...rows] = records;
  if (!header) throw new SilicoError("otree_rest", "oTree's wide export is empty");
  const codeAt = header.indexOf("participant.code");
  if (codeAt < 0) throw new SilicoError("otree_rest", "oTree's wide export has no participant.code column");
  const bots = botColumns(store, run.id, state);
  const sink = out ? fileSink(out) : (to ?? stdoutSink());
  const line = (cells: unknown[]) => sink.write(`${cells.map(csvField).join(",")}\n`);
  line([...header, ...BOT_COLUMNS]);
  let n = 0;
  for (const row of rows) {
    if (row.length === 1 && row[0] === "") continue;
    const extra = bots.get(row[codeAt] ?? "") ?? { "silico.bot": false };
    line([...row, ...BOT_COLUMNS.map((c) => extra[c] ?? null)]);
    n++;
  }
  await sink.end();
  return n;
}

type BotRow = Partial<Record<(typeof BOT_COLUMNS)[number], unknown>>;

/** Per participant code: the bot's seat, model, persona, outcome, calls, tokens and cost. */
function botColumns(store: RunStore, runId: string, state: OtreeRunState): Map<string, BotRow> {
  const reader = new RunReader(store);
  const sessions = new Map([...reader.iterateSessions(runId)].map((s) => [s.key, s]));
  const out = new Map<string, BotRow>();
  for (const seat of state.seats.filter((s) => !s.human)) {
    const key = `seat-${seat.seat}`;
    const session = sessions.get(key);
    let calls = 0;
    let input = 0;
    let output = 0;
    let cost = 0;
    let model: string | null = null;
    for (const c of reader.iterateCalls(runId, { sessionKey: key, includeBodies: false })) {
      calls++;
      input += c.inputTokens ?? 0;
      output += c.outputTokens ?? 0;
      cost += c.costUsd ?? 0;
      model = c.model;
    }
    const persona = [...reader.iterateObservations(runId, { sessionKey: key, name: "persona" })][0]?.value;
    out.set(seat.code, {
      "silico.bot": true,
      "silico.seat": seat.seat,
      "silico.model": model ?? reader.participants(runId, key)[0]?.model ?? null,
      "silico.persona": persona === undefined ? null : JSON.stringify(persona),
      "silico.status": session?.status ?? "pending",
      "silico.stopped": session?.status === "failed" ? session.error : null,
      "silico.calls": calls,
      "silico.input_tokens": input,
      "silico.output_tokens": output,
      "silico.cost_usd": cost,
      "silico.run": runId,
    });
  }
  return out;
}
