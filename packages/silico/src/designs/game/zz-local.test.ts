import { it } from "vitest";
import { readFileSync } from "node:fs";
import { parseStudyText } from "../../study/source.js";
import { gameDesign } from "./index.js";
import { startRun } from "../../engine/run-study.js";
import { RunStore } from "../../store/run-store.js";
import { TidyExport } from "../../export/tidy-rows.js";
it("local", async () => {
  const store = RunStore.open("/tmp/local-game.db");
  for (const ex of ["ultimatum", "public-goods", "framed-pd"]) {
    let text = readFileSync(`/work/main/examples/${ex}/study.yaml`, "utf8");
    if (ex === "framed-pd") text = text.replace("groups: 20", "groups: 10");
    const t0 = Date.now();
    const r = await startRun(gameDesign.compile(parseStudyText(text, `/tmp/${ex}.yaml`), {}), { store });
    const rows = [...new TidyExport(store, store.getRun(r.runId)).rows()];
    const choices = rows.filter((x) => x.name !== "payoff");
    console.log(ex, r.status, JSON.stringify(r.totals), ((Date.now() - t0) / 1000).toFixed(1) + "s");
    console.log("  valid", choices.filter((x) => x.valid).length, "/", choices.length, "sample", choices.slice(0, 6).map((x) => `${x.role}:${JSON.stringify(x.value)}<-${JSON.stringify(x.raw)}`).join(" | "));
  }
}, 600000);
