// The oTree test project's own bots (`otree test`, in-process, no server) pass on every session
// config: the project the integration tests play is itself a working oTree project.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OTREE_SETUP_HINT, OTREE_TEST_PROJECT, testOtree } from "../test-support/python.js";

describe("the oTree test project", () => {
  const otree = testOtree();
  if (!otree) throw new Error(`the oTree integration tests need oTree 6.0. To get it: ${OTREE_SETUP_HINT}.`);
  // `otree test` writes a database and bytecode: run it on a copy, never in the repository.
  const dir = mkdtempSync(join(tmpdir(), "silico-otree-bots-"));
  const project = join(dir, "project");
  cpSync(OTREE_TEST_PROJECT, project, { recursive: true });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Every session config of settings.py, so that a config added there is tested without a change here.
  const configs = [
    ...readFileSync(join(OTREE_TEST_PROJECT, "settings.py"), "utf8").matchAll(/dict\(\s*name="([^"]+)"/g),
  ].map((m) => m[1] as string);

  it("finds the session configs in settings.py", () => {
    expect(configs).toEqual(
      expect.arrayContaining([
        "widgets",
        "waiting",
        "more_widgets",
        "flow",
        "page_markup",
        "tour",
        "two_apps",
        "unsupported",
        "timing",
        "chat",
        "live_bargain",
        "js_slider",
        "rounds",
      ]),
    );
    expect(new Set(configs).size).toBe(configs.length);
  });

  for (const config of configs) {
    it(`passes its oTree bots: otree test ${config}`, () => {
      const r = spawnSync(otree, ["test", config], {
        cwd: project,
        encoding: "utf8",
        timeout: 120_000,
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
      });
      expect(r.stderr + r.stdout).toContain("Bots completed session");
      expect(r.status).toBe(0);
    }, 150_000);
  }
});
