import { spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { RunStore } from "../store/run-store.js";
import { PACKAGE_DIR } from "../test-support/cli.js";
import { LOCAL_MODEL_PACKAGE, loadLocalModelPackage } from "./local-package.js";
import { ModelPool, recordedDecode } from "./registry.js";

// silico without the local-model package, as a library user installs it: `local:` must fail with
// a clear error naming the package, exit 2, and write nothing.

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "silico-no-local-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("the local-model package seam", () => {
  it("loads the workspace's package on demand", async () => {
    const pkg = await loadLocalModelPackage();
    expect(typeof pkg.createLocalModel).toBe("function");
    expect(typeof pkg.listModels).toBe("function");
    expect(pkg.catalogEntry("smollm2-135m")).toBeDefined();
  });

  it("a missing package is a ConfigError saying what to install", async () => {
    const err = await loadLocalModelPackage("@silico/no-such-local-model").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe("local_model_not_installed");
    expect((err as Error).message).toMatch(/npm install @silico\/no-such-local-model/);
  });

  it("reads the recorded decode settings of a run's model", () => {
    expect(
      recordedDecode({
        id: "local:x",
        manifest: { decode: { sequences: 8, promptBlock: 32, contextSize: 2048, batchSize: 512, extra: 1 } },
      }),
    ).toEqual({ sequences: 8, promptBlock: 32, contextSize: 2048, batchSize: 512 });
    expect(recordedDecode({ id: "openai:x", manifest: { baseURL: "http://h" } })).toEqual({});
    expect(recordedDecode({ manifest: { decode: { promptBlock: "32", sequences: -1 } } })).toEqual({});
    expect(recordedDecode(undefined)).toEqual({});
  });

  it("a resumed run's local model decodes with the recorded settings, not the options", async () => {
    const pool = new ModelPool({
      local: { promptBlock: 128, sequences: 2 },
      recorded: { "local:smollm2-135m": { manifest: { decode: { promptBlock: 16, sequences: 3 } } } },
    });
    try {
      const m = await pool.get("local:smollm2-135m");
      expect((m.info.manifest as { decode: unknown }).decode).toMatchObject({
        promptBlock: 16,
        sequences: 3,
      });
      expect(m.info.cacheScope).toMatchObject({ promptBlock: 16 });
    } finally {
      await pool.closeAll();
    }
  });
});

describe("silico installed without @silico/local-model", () => {
  /** A copy of the built package whose node_modules holds every dependency but the local model. */
  function installWithoutLocalModel(): string {
    const root = join(dir, "install");
    const pkg = join(root, "silico");
    for (const part of ["bin", "dist", "data", "package.json"])
      cpSync(join(PACKAGE_DIR, part), join(pkg, part), { recursive: true });
    const modules = join(root, "node_modules");
    mkdirSync(modules, { recursive: true });
    const source = resolve(PACKAGE_DIR, "..", "..", "node_modules");
    for (const name of readdirSync(source)) {
      if (name === "silico" || name === "node-llama-cpp" || name === "@node-llama-cpp") continue;
      if (name === "@silico") {
        // silico's own dependencies (the template engine) stay; the local model does not.
        mkdirSync(join(modules, name));
        for (const sub of readdirSync(join(source, name)))
          if (sub !== "local-model") symlinkSync(join(source, name, sub), join(modules, name, sub));
        continue;
      }
      symlinkSync(join(source, name), join(modules, name));
    }
    return join(pkg, "bin", "silico.js");
  }

  function run(cli: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
    return new Promise((done, reject) => {
      const child = spawn(process.execPath, [cli, ...args], {
        cwd: dir,
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      child.on("error", reject);
      child.on("close", (code) => done({ code, stderr }));
    });
  }

  it("runs mock studies, and refuses local: with exit 2 before any run row", async () => {
    const cli = installWithoutLocalModel();
    const db = join(dir, "runs.sqlite");
    const study = (model: string) => {
      const file = join(dir, `${model.replace(/\W/g, "-")}.yaml`);
      writeFileSync(
        file,
        `kind: factorial\nname: no-local\nprompt: "Rate {{ x }} from 0 to 100."\nlevels:\n  x: [a, b]\nmodel: ${model}\nparse: {type: number}\n`,
      );
      return file;
    };
    const ok = await run(cli, ["--db", db, "run", study("mock:fixed:42"), "--quiet"]);
    expect(ok.code, ok.stderr).toBe(0);

    const before = readdirSync(dir).filter((f) => f.startsWith("runs.sqlite"));
    const local = await run(cli, [
      "--db",
      join(dir, "local.sqlite"),
      "run",
      study("local:smollm2-135m"),
      "--quiet",
    ]);
    expect(local.code).toBe(2);
    expect(local.stderr).toMatch(
      new RegExp(`needs? the package ${LOCAL_MODEL_PACKAGE}.*npm install ${LOCAL_MODEL_PACKAGE}`, "s"),
    );
    // The store may exist (it is opened first), but holds no run.
    if (existsSync(join(dir, "local.sqlite"))) {
      const store = RunStore.openExisting(join(dir, "local.sqlite"));
      try {
        expect(store.listRuns()).toEqual([]);
      } finally {
        store.close();
      }
    }
    expect(readdirSync(dir).filter((f) => f.startsWith("runs.sqlite"))).toEqual(before);

    const list = await run(cli, ["models", "list"]);
    expect(list.code).toBe(2);
    expect(list.stderr).toMatch(/npm install @silico\/local-model/);
  }, 120_000);
});
