import { it } from "vitest";
import { readStudyFile } from "../../study/source.js";
import { gameDesign } from "./index.js";
it("smoke", () => {
  for (const ex of ["ultimatum", "framed-pd", "public-goods"]) {
    try {
      const c = gameDesign.compile(readStudyFile(`/work/main/examples/${ex}/study.yaml`), {});
      const plan = c.plan(c.seed ?? 0);
      const ss = [...plan.sessions()];
      console.log(ex, plan.total, plan.warnings, plan.estimate, JSON.stringify(ss[0]?.coords), ss[0]?.participants.map(p => p.id), ss[0]?.participants[0]?.system);
    } catch (e) { console.log(ex, (e as Error).message); }
  }
});
