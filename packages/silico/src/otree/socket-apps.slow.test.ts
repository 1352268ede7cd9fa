// The test project's socket apps (`chat`, `live_bargain`) pass their own oTree bots (`otree test`,
// in-process, no server): what the socket tests play is itself a working oTree app.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OTREE_SETUP_HINT, OTREE_TEST_PROJECT, testOtree } from "../test-support/python.js";

describe("the chat and live test apps", () => {
  const otree = testOtree();
  if (!otree) throw new Error(`the oTree integration tests need oTree 6.0. To get it: ${OTREE_SETUP_HINT}.`);
  // `otree test` writes a database and bytecode: run it on a copy, never in the repository.
  const dir = mkdtempSync(join(tmpdir(), "silico-otree-socket-bots-"));
  const project = join(dir, "project");
  cpSync(OTREE_TEST_PROJECT, project, { recursive: true });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const config of ["chat", "live_bargain"]) {
    it(`passes its oTree bots: otree test ${config}`, () => {
      const r = spawnSync(otree, ["test", config], {
        cwd: project,
        encoding: "utf8",
        timeout: 120_000,
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
      });
      expect(r.stderr + r.stdout).toContain("Bots completed session");
      expect(r.status).toBe(0);
      if (config === "live_bargain") {
        // The bots' live calls ran (a deal was struck): both participants passed the Bargain page.
        expect(((r.stderr + r.stdout).match(/Submit \/p\/\w+\/live_bargain\/Bargain\/1/g) ?? []).length).toBe(
          2,
        );
      }
    }, 150_000);
  }
});
