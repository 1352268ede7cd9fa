import { resolve } from "node:path";
import { writeEgoCsv } from "../designs/alter-ego/index.js";
import { writeOtreeWide } from "../designs/otree/index.js";
import { ConfigError } from "../errors.js";
import { writeParquet } from "../export/parquet.js";
import { type ExportTable, tidyTable } from "../export/table.js";
import { fileSink, stdoutSink, writeCsv, writeJsonl, writeXlsx } from "../export/writers.js";
import { refuseOtreeSourceFlags, writeAgentsOtree } from "../serve/otree-data.js";
import { registerDataFormat } from "./data-formats.js";

registerDataFormat("csv", async (store, run, out, to, opts) => {
  const t: ExportTable = opts?.table ?? tidyTable(store, run);
  const sink = out ? fileSink(out) : (to ?? stdoutSink());
  const n = writeCsv(t.names, t.rows(), sink);
  await sink.end();
  return n;
});

registerDataFormat("jsonl", async (store, run, out, to, opts) => {
  const t = opts?.table ?? tidyTable(store, run);
  const sink = out ? fileSink(out) : (to ?? stdoutSink());
  const n = writeJsonl(t.names, t.rows(), sink);
  await sink.end();
  return n;
});

registerDataFormat("xlsx", async (store, run, out, _to, opts) => {
  if (!out)
    throw new ConfigError("bad_flag", "--format xlsx needs --out FILE.xlsx (a spreadsheet is not text)");
  const t = opts?.table ?? tidyTable(store, run);
  return writeXlsx(t.names, t.rows(), resolve(out));
});

registerDataFormat("parquet", async (store, run, out, _to, opts) => {
  if (!out)
    throw new ConfigError("bad_flag", "--format parquet needs --out FILE.parquet (Parquet is not text)");
  return writeParquet(opts?.table ?? tidyTable(store, run), resolve(out));
});

// alter_ego's `ego data` CSV (columns, order, CRLF and value encodings).
registerDataFormat("ego", writeEgoCsv);

// The one place `--format otree` dispatches on the run's kind. kind: otree — oTree's own wide
// export of the run's session, with the bots' columns joined on participant.code (the run knows
// its server). kind: agents — the agent turns joined with oTree's per-app data on participant
// code, round (and session), from --otree-url or --otree-export (the run does not know the server).
registerDataFormat("otree", async (store, run, out, to, opts) => {
  if (run.kind === "agents") return writeAgentsOtree(store, run, out, to, opts?.otree, opts?.warn);
  if (run.kind !== "otree")
    throw new ConfigError(
      "bad_flag",
      `--format otree is for kind: otree and kind: agents runs; run ${run.id} is kind ${run.kind}`,
    );
  refuseOtreeSourceFlags(run, opts?.otree);
  return writeOtreeWide(store, run, out, to);
});
