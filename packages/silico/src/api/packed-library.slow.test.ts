/**
 * The library as a user gets it from npm: `npm pack` of @silico/jinja and silico, installed from
 * the tarballs into a fresh project (offline, from npm's cache), a `.ts` file using `run`, the
 * game builder and `data` compiled by `tsc --strict` with default settings, then run on the mock
 * model. Install scripts are skipped (they would download prebuilt binaries); the workspace's
 * built better-sqlite3 binding is copied in instead. Needs `npm run build` first.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PACKAGE_DIR } from "../test-support/cli.js";

const REPO = join(PACKAGE_DIR, "..", "..");
const require = createRequire(import.meta.url);

function npm(args: string[], cwd: string): string {
  return execFileSync(process.platform === "win32" ? "npm.cmd" : "npm", args, {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      npm_config_audit: "false",
      npm_config_fund: "false",
      npm_config_update_notifier: "false",
    },
    timeout: 240_000,
  });
}

const USER_CODE = `import {
  data,
  game,
  run,
  show,
  summary,
  SilicoError,
  type DataRows,
  type ExecutorEvent,
  type RunOutcome,
  type SilicoErrorCode,
} from "silico";

const study = game({
  name: "packed",
  seed: 3,
  groups: 2,
  rounds: 1,
  model: "mock:fixed:B",
  roles: { a: { count: 1 }, b: { count: 1 } },
  stages: [{ name: "pick", prompt: "Pick A or B.", parse: { type: "choice", options: ["A", "B"] } }],
  payoffs: { a: "2 if me.pick == other.pick else 0", b: "2 if me.pick == other.pick else 0" },
});

const db = process.argv[2] as string;
const ended: string[] = [];
const outcome: RunOutcome = await run(study, {
  db,
  onEvent: (e: ExecutorEvent) => {
    if (e.type === "session-end") ended.push(e.status);
  },
});
const rows: DataRows = await data(outcome.runId, { db, format: "rows" });
let code: SilicoErrorCode | undefined;
try {
  await data("no-such-run", { db });
} catch (e) {
  if (e instanceof SilicoError) code = e.code;
}
const picks = rows.rows.filter((r) => r.name === "pick").map((r) => r.value);
const payoffs = rows.rows.filter((r) => r.name === "payoff").map((r) => r.value);
const table = await summary(outcome.runId, { db, names: ["payoff"], by: [] });
const { transcripts } = await show(outcome.runId, { db, limit: 1 });
console.log(
  JSON.stringify({
    status: outcome.status,
    sessions: outcome.totals.sessions,
    ended,
    picks,
    payoffs,
    mean: table.rows[0]?.mean,
    firstReply: transcripts[0]?.messages.find((m) => m.role === "assistant")?.content,
    code,
  }),
);
`;

describe("the packed silico tarball in a fresh project", () => {
  const dir = mkdtempSync(join(tmpdir(), "silico-packed-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("installs offline, type-checks a user's .ts with tsc --strict, and runs a game on the mock model", () => {
    expect(existsSync(join(PACKAGE_DIR, "dist", "index.js")), "run npm run build first").toBe(true);
    const tarballs = join(dir, "tarballs");
    mkdirSync(tarballs);
    npm(["pack", "--pack-destination", tarballs], join(REPO, "packages", "jinja"));
    npm(["pack", "--pack-destination", tarballs], PACKAGE_DIR);
    const files = readdirSync(tarballs).sort();
    expect(files).toEqual(["silico-0.1.0.tgz", "silico-jinja-0.1.0.tgz"]);

    const project = join(dir, "project");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      '{ "name": "user-project", "private": true, "type": "module" }\n',
    );
    npm(
      [
        "install",
        ...files.map((f) => join(tarballs, f)),
        "--offline",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
      ],
      project,
    );
    const modules = join(project, "node_modules");
    expect(existsSync(join(modules, "silico", "dist", "index.d.ts"))).toBe(true);
    expect(existsSync(join(modules, "@silico", "jinja", "package.json"))).toBe(true);
    expect(existsSync(join(modules, "silico", "dist", "testing"))).toBe(false);
    // The local model is an optional package of its own: installing silico brings no llama.cpp.
    expect(existsSync(join(modules, "node-llama-cpp"))).toBe(false);
    expect(existsSync(join(modules, "@silico", "local-model"))).toBe(false);
    // The native SQLite binding: the workspace's build, since install scripts were skipped.
    const binding = join(
      dirname(require.resolve("better-sqlite3/package.json")),
      "build",
      "Release",
      "better_sqlite3.node",
    );
    mkdirSync(join(modules, "better-sqlite3", "build", "Release"), { recursive: true });
    copyFileSync(binding, join(modules, "better-sqlite3", "build", "Release", "better_sqlite3.node"));
    // A user's project installs its own @types/node (here the workspace's), which takes the place
    // of the old one exceljs → fast-csv brings along (@types/node 14 clashes with the DOM lib of
    // tsc's defaults). typescript is the workspace's own.
    rmSync(join(modules, "@types", "node"), { recursive: true, force: true });
    mkdirSync(join(modules, "@types"), { recursive: true });
    symlinkSync(dirname(require.resolve("@types/node/package.json")), join(modules, "@types", "node"), "dir");

    writeFileSync(join(project, "main.ts"), USER_CODE);
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          outDir: "out",
          types: ["node"],
        },
        files: ["main.ts"],
      }),
    );
    const tsc = spawnSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "."], {
      cwd: project,
      encoding: "utf8",
    });
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.status).toBe(0);

    const ran = spawnSync(process.execPath, [join("out", "main.js"), join(project, "runs.db")], {
      cwd: project,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(ran.stderr).toBe("");
    expect(JSON.parse(ran.stdout)).toEqual({
      status: "done",
      sessions: 2,
      ended: ["done", "done"],
      picks: ["B", "B", "B", "B"],
      payoffs: [2, 2, 2, 2],
      mean: 2,
      firstReply: "B",
      code: "run_missing",
    });

    // The bin is wired: the installed command prints its version.
    const bin = spawnSync(process.execPath, [join(modules, "silico", "bin", "silico.js"), "--version"], {
      encoding: "utf8",
    });
    expect(bin.stdout.trim()).toBe("0.1.0");
  });
});
