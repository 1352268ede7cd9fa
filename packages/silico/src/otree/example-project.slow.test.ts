// The oTree project of examples/otree-public-goods passes its own oTree bots (`otree test`,
// in-process, no server) with the session config and participant count its study.yaml asks for,
// so a new user's first run does not fail on the example itself.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { OTREE_SETUP_HINT, REPO_ROOT, testOtree } from "../test-support/python.js";

const EXAMPLE = join(REPO_ROOT, "examples", "otree-public-goods");

describe("examples/otree-public-goods", () => {
  const otree = testOtree();
  if (!otree) throw new Error(`the oTree example test needs oTree 6.0. To get it: ${OTREE_SETUP_HINT}.`);
  const studyPath = join(EXAMPLE, "study.yaml");
  const study = parse(readFileSync(studyPath, "utf8")) as {
    kind: string;
    otree: { project: string };
    session: { config: string; participants: number };
    bots: { model: string };
  };
  const projectDir = resolve(dirname(studyPath), study.otree.project);
  // `otree test` writes a database and bytecode: run it on a copy, never in the repository.
  const dir = mkdtempSync(join(tmpdir(), "silico-otree-example-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is a kind: otree study of bots on the local model, with an oTree project beside it", () => {
    expect(study.kind).toBe("otree");
    expect(study.bots.model).toMatch(/^local:/);
    expect(existsSync(join(projectDir, "settings.py"))).toBe(true);
    expect(existsSync(join(projectDir, "_static"))).toBe(true);
  });

  it("passes its oTree bots with the study's config and participant count", () => {
    const project = join(dir, "project");
    cpSync(projectDir, project, { recursive: true });
    const r = spawnSync(otree, ["test", study.session.config, String(study.session.participants)], {
      cwd: project,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    });
    expect(r.stderr + r.stdout).toContain("Bots completed session");
    expect(r.status).toBe(0);
  }, 150_000);
});
