// The ceiling of `npm run bench:otree` at small scale, on a real devserver, so the bench cannot
// rot: the scripted clients finish every participant, oTree's own page count agrees with theirs,
// and the bench script itself prints its JSON.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Devserver, startDevserver } from "../../packages/silico/src/otree/devserver.js";
import { OTREE_SETUP_HINT, testOtree } from "../../packages/silico/src/test-support/python.js";
// @ts-expect-error: plain ESM of the bench, no declarations
import { runCeiling } from "./ceiling.mjs";
// @ts-expect-error: plain ESM of the bench, no declarations
import { countPages, pageTimes } from "./page-times.mjs";

const here = dirname(fileURLToPath(import.meta.url));

describe("bench:otree ceiling", () => {
  const otree = testOtree();
  if (!otree) throw new Error(`the oTree bench test needs oTree 6.0. To get it: ${OTREE_SETUP_HINT}.`);
  const dir = mkdtempSync(join(tmpdir(), "silico-bench-otree-test-"));
  const project = join(dir, "project");
  cpSync(join(here, "project"), project, { recursive: true });
  let server: Devserver;
  beforeAll(async () => {
    server = await startDevserver({ projectDir: project, otree });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the bench project passes its own oTree bots (otree test bench_pairs 4)", () => {
    const copy = join(dir, "otree-test");
    cpSync(join(here, "project"), copy, { recursive: true });
    const r = spawnSync(otree, ["test", "bench_pairs", "4"], {
      cwd: copy,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    });
    expect(r.stderr + r.stdout).toContain("Bots completed session");
    expect(r.status).toBe(0);
  }, 150_000);

  it("plays 4 participants (2 groups × 3 rounds) to the end, polling wait pages", async () => {
    const r = await runCeiling({
      baseUrl: server.baseUrl,
      config: "bench_pairs",
      participants: 4,
      wait: "poll",
    });
    expect(r.errors).toEqual([]);
    expect(r.completed).toBe(4);
    expect(r.pages).toBe(4 * 2 * 3); // a form page and a results page per round
    expect(r.pages_per_s).toBeGreaterThan(0);
    // oTree's own record agrees: every form page submitted once, every participant on the last page.
    const counted = countPages(await pageTimes(server.baseUrl), new Set([r.sessionCode]), 9);
    expect(counted).toEqual({ pages: 24, completed: 4 });
  }, 120_000);

  it("npm run bench:otree -- --only ceiling prints the ceiling as JSON (wait-page sockets)", () => {
    const r = spawnSync(
      process.execPath,
      [join(here, "otree-bench.mjs"), "--only", "ceiling", "--bots", "4", "--ceiling-runs", "1", "--json"],
      { encoding: "utf8", timeout: 240_000, env: { ...process.env, SILICO_OTREE: otree } },
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out.ceiling_runs).toHaveLength(1);
    expect(out.ceiling_runs[0]).toMatchObject({ completed: 4, pages: 24 });
    // What the clients asked of oTree, counted on Node's diagnostics channels: at least the start
    // link and, per round, GET+POST of the form, the wait page, GET+POST of the results (64).
    expect(out.ceiling_runs[0].requests.pages).toBeGreaterThanOrEqual(64);
    expect(out.ceiling_runs[0].requests.rest).toBe(2);
    expect(out.ceiling_requests_per_page.http).toBeGreaterThanOrEqual(2.666);
    expect(out.ceiling_pages_per_s).toBeGreaterThan(0);
    expect(out.ceiling_wait).toBe("socket");
    expect(out.pages_per_participant).toBe(6);
    expect(out.bots_error).toBeUndefined();
  }, 300_000);
});
