import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileStudyText } from "../index.js";
import { startRun } from "../../engine/run-study.js";
import { RunStore } from "../../store/run-store.js";
import { pyCsvLine, writeEgoCsv } from "./ego-export.js";
import { compileScenario, fixture, runStudy, scriptedHuman, tempDir, ULTIMATUM } from "./test-helpers.js";
import { testSql } from "../../store/test-sql.js";

const HEADER = "choice,convo,experiment,i,round,tainted,thread,thread_type,treatment\r\n";

describe("silico data --format ego", () => {
  it("writes alter_ego's CSV: sorted header, CRLF, json.dumps choices, True/False, stable order", async () => {
    const study = compileScenario(fixture(ULTIMATUM), { treatmentSequence: ["give", "take"] });
    const { result, store } = await runStudy(study, {
      human: scriptedHuman((req) => {
        const u = String(req.messages.at(-1)?.content);
        if (u.includes("JSON"))
          return u.includes("give money") ? '{"keep": 4.2, "why": "fair \u2014 ok"}' : '{"keep": 5.0}';
        return "I ACCEPT, no question";
      }),
    });
    const out = join(tempDir(), "ego.csv");
    const n = await writeEgoCsv(store, store.getRun(result.runId), out);
    expect(n).toBe(4);
    const [k1, k2] = testSql(store)
      .prepare("SELECT key FROM sessions ORDER BY idx")
      .pluck()
      .all() as string[];
    const id = result.runId;
    expect(readFileSync(out, "utf8")).toBe(
      HEADER +
        `"{""keep"": 4.2, ""why"": ""fair \\u2014 ok""}",${k1},${id},1,1,False,${k1}/t1,CLIThread,give\r\n` +
        `"""ACCEPT""",${k1},${id},2,1,False,${k1}/t2,CLIThread,give\r\n` +
        `"{""keep"": 5.0}",${k2},${id},1,1,False,${k2}/t1,CLIThread,take\r\n` +
        `"""ACCEPT""",${k2},${id},2,1,False,${k2}/t2,CLIThread,take\r\n`,
    );
  });

  it("a run whose every first turn failed has no rows: a bare CRLF, as alter_ego prints", async () => {
    const study = compileScenario(fixture(ULTIMATUM), { replications: 2 });
    const { result, store } = await runStudy(study, { human: scriptedHuman(() => "no JSON here") });
    expect(result.status).toBe("failed");
    const out = join(tempDir(), "ego.csv");
    expect(await writeEgoCsv(store, store.getRun(result.runId), out)).toBe(0);
    expect(readFileSync(out, "utf8")).toBe("\r\n");
  });

  it("refuses runs of other designs", async () => {
    const dir = tempDir();
    const store = RunStore.open(join(dir, "runs.db"));
    const study = compileStudyText(
      "kind: factorial\nprompt: Say hi\nmodel: mock:echo\n",
      join(dir, "study.yaml"),
    );
    const { runId } = await startRun(study, { store, seed: 1 });
    await expect(writeEgoCsv(store, store.getRun(runId))).rejects.toThrow(
      /factorial run; --format ego is for alter_ego/,
    );
  });

  it("quotes fields like Python's csv module (QUOTE_MINIMAL)", () => {
    expect(pyCsvLine(["a", "b,c", 'say "hi"', "x\ny", "plain"])).toBe(
      'a,"b,c","say ""hi""","x\ny",plain\r\n',
    );
    expect(pyCsvLine([""])).toBe('""\r\n');
    expect(pyCsvLine(["", ""])).toBe(",\r\n");
  });
});
