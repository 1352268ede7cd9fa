import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { PACKAGE_DIR } from "../test-support/cli.js";

// The same as design-state.test.ts, in two real processes through the built library: a design
// and a provider of a user's own (registerDesign, registerProvider), a run stopped by a 401 in
// one process and resumed in another. Needs `npm run build`.

const DIST = resolve(PACKAGE_DIR, "dist", "index.js");
const dir = mkdtempSync(join(tmpdir(), "silico-design-state-proc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SCRIPT = `
import { appendFileSync, writeFileSync } from "node:fs";
import { compileStudyText, createParser, ProviderError, registerDesign, registerProvider, resumeRun, RunStore, startRun } from ${JSON.stringify(pathToFileURL(DIST).href)};
const [mode, dbPath, logPath, runRef] = process.argv.slice(2);
const log = (event) => appendFileSync(logPath, JSON.stringify({ pid: process.pid, ...event }) + "\\n");
registerProvider("flaky", (_name, id) => ({
  info: { id, provider: "flaky" },
  async generate(req) {
    const prompt = String(req.messages.at(-1)?.content ?? "");
    log({ prompt });
    if (process.env.FAIL_ON === prompt) throw new ProviderError("HTTP 401: bad key", { status: 401, retryable: false, fatal: true });
    return { choices: [{ text: "ok", finishReason: "stop" }], warnings: [] };
  },
}), { free: true });
const parser = createParser({ type: "text" });
registerDesign({
  kind: "stateful",
  compile(source) {
    const plan = {
      kind: "stateful", total: 2, models: ["flaky:m"], warnings: [], coordinateColumns: ["s"],
      sessions: () => [0, 1].map((i) => ({
        key: "s" + i, index: i, coords: { s: i }, draw: 0, expectedCalls: 2,
        participants: [{ id: "p", model: "flaky:m", params: {} }],
        async procedure(ctx) {
          const found = ctx.state.get();
          log({ session: ctx.key, found: found ?? null });
          if (!found) {
            await ctx.ask("p", { prompt: "first " + i, parser, turn: "first" });
            ctx.state.set({ step: 1 });
          }
          await ctx.ask("p", { prompt: "second " + i, parser, turn: "second" });
          ctx.state.set({ step: 2 });
        },
      })),
      async setUp(ctx) {
        const found = ctx.state.get();
        log({ setUp: ctx.resumed ? "resumed" : "new", found: found ?? null });
        if (!found) ctx.state.set({ remote: "session-" + process.pid });
      },
      async tearDown(ctx) { log({ tearDown: ctx.outcome }); },
    };
    return { kind: "stateful", source, settings: {}, providers: {}, models: ["flaky:m"], plan: () => plan };
  },
});
const store = RunStore.open(dbPath);
const result = mode === "start"
  ? await startRun(compileStudyText("kind: stateful\\n", "stateful.yaml"), { store, seed: 2, concurrency: 1 })
  : await resumeRun(runRef, { store });
store.close();
writeFileSync(logPath + ".result", JSON.stringify({ runId: result.runId, status: result.status, done: result.totals.done }));
`;

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(dir, "script.mjs"), ...args], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(readFileSync(join(dir, "log.jsonl.result"), "utf8")) as {
    runId: string;
    status: string;
    done: number;
  };
}

describe("set-up state and session state across processes", () => {
  it("a run stopped in one process resumes in another where it was; tear-down runs in both", () => {
    if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run "npm run build" first`);
    writeFileSync(join(dir, "script.mjs"), SCRIPT);
    const db = join(dir, "runs.db");
    const logPath = join(dir, "log.jsonl");
    const first = run(["start", db, logPath], { FAIL_ON: "second 0" });
    expect(first.status).toBe("failed");
    const second = run(["resume", db, logPath, first.runId]);
    expect(second).toEqual({ runId: first.runId, status: "done", done: 2 });

    const events = readFileSync(logPath, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const pids = [...new Set(events.map((e) => e.pid))];
    expect(pids).toHaveLength(2);
    const of = (pid: unknown) => events.filter((e) => e.pid === pid).map(({ pid: _p, ...rest }) => rest);
    expect(of(pids[0])).toEqual([
      { setUp: "new", found: null },
      { session: "s0", found: null },
      { prompt: "first 0" },
      { prompt: "second 0" },
      { tearDown: "failed" },
    ]);
    expect(of(pids[1])).toEqual([
      { setUp: "resumed", found: { remote: `session-${pids[0]}` } },
      { session: "s0", found: { step: 1 } },
      { prompt: "second 0" },
      { session: "s1", found: null },
      { prompt: "first 1" },
      { prompt: "second 1" },
      { tearDown: "done" },
    ]);
  });
});
