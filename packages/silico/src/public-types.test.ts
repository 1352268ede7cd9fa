/**
 * What a user installing silico gets: the built entry point and its declarations, compiled by a
 * fresh project that has silico's runtime dependencies and @types/node, but none of silico's
 * dev-only types (e.g. @types/better-sqlite3). Needs `npm run build` (npm test does it).
 */
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { PACKAGE_DIR } from "./test-support/cli.js";
import { REPO_ROOT } from "./test-support/python.js";

const DIST = join(PACKAGE_DIR, "dist");
const pkg = JSON.parse(readFileSync(join(PACKAGE_DIR, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
};

function* declarationFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) yield* declarationFiles(p);
    else if (entry.name.endsWith(".d.ts")) yield p;
  }
}

/** Where the workspace installed a package (hoisted to the root, or nested under silico). */
function installed(name: string): string {
  const nested = join(PACKAGE_DIR, "node_modules", name);
  return existsSync(nested) ? nested : join(REPO_ROOT, "node_modules", name);
}

describe("the published package", () => {
  it("does not export the test server or other test tooling", async () => {
    expect(existsSync(join(DIST, "index.js")), "run npm run build first").toBe(true);
    const api = (await import(pathToFileURL(join(DIST, "index.js")).href)) as Record<string, unknown>;
    expect(Object.keys(api)).toContain("startRun");
    expect(Object.keys(api).filter((k) => /test.?server|responder/i.test(k))).toEqual([]);
    expect(existsSync(join(DIST, "testing"))).toBe(false);
  });

  it("declarations import only runtime dependencies and Node built-ins", () => {
    const imported = new Set<string>();
    for (const file of declarationFiles(DIST)) {
      for (const m of readFileSync(file, "utf8").matchAll(/(?:from|import\()\s*["']([^"'.][^"']*)["']/g)) {
        const spec = m[1] as string;
        imported.add(
          spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : (spec.split("/")[0] as string),
        );
      }
    }
    const allowed = new Set(Object.keys(pkg.dependencies));
    const stray = [...imported].filter((name) => !allowed.has(name) && !name.startsWith("node:"));
    expect(stray).toEqual([]);
  });

  it("type-checks in a user's project with default strict settings and without silico's dev types", () => {
    const dir = mkdtempSync(join(tmpdir(), "silico-user-"));
    const modules = join(dir, "node_modules");
    cpSync(DIST, join(modules, "silico", "dist"), { recursive: true, filter: (p) => !p.endsWith(".map") });
    cpSync(join(PACKAGE_DIR, "package.json"), join(modules, "silico", "package.json"));
    for (const name of [...Object.keys(pkg.dependencies), "@types/node"]) {
      mkdirSync(dirname(join(modules, name)), { recursive: true });
      symlinkSync(installed(name), join(modules, name), "dir");
    }
    writeFileSync(join(dir, "package.json"), '{"type": "module"}\n');
    writeFileSync(
      join(dir, "index.ts"),
      [
        'import { compileStudyText, RunStore, startRun, summarize, TidyExport } from "silico";',
        'const store = RunStore.open("runs.db");',
        'const study = compileStudyText("kind: factorial\\nprompt: hi\\nmodel: mock:echo\\n", "s.yaml");',
        "const result = await startRun(study, { store });",
        "console.log(result.runId, store.path, typeof summarize, typeof TidyExport);",
        "",
      ].join("\n"),
    );
    const tsc = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
    const r = spawnSync(
      process.execPath,
      [
        tsc,
        "--noEmit",
        "--strict",
        "--module",
        "nodenext",
        "--target",
        "es2022",
        "--skipLibCheck",
        "false",
        "index.ts",
      ],
      { cwd: dir, encoding: "utf8" },
    );
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
