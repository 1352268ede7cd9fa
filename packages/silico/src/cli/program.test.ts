import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { CLI } from "../test-support/cli.js";
import type { CliIo } from "./io.js";
import { buildProgram, runCli } from "./main.js";

function buffers(env: Record<string, string | undefined> = {}): CliIo & { out(): string; err(): string } {
  let out = "";
  let err = "";
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env,
    out: () => out,
    err: () => err,
  };
}

describe("the CLI as a library", () => {
  it("runs command lines in-process: output to the given io, the exit code returned, process.exitCode untouched", async () => {
    const before = process.exitCode;
    const io = buffers();
    expect(await runCli(["--version"], io)).toBe(0);
    expect(io.out().trim()).toBe("0.1.0");
    const bad = buffers();
    expect(await runCli(["data"], bad)).toBe(2);
    expect(bad.err()).toContain("missing required argument 'run'");
    const missing = buffers();
    const db = join(mkdtempSync(join(tmpdir(), "silico-prog-")), "none.db");
    expect(await runCli(["runs", "--db", db], missing)).toBe(2);
    expect(missing.err()).toContain(`no store at ${db}`);
    expect(process.exitCode).toBe(before);
  });

  it("takes the default store from the io's environment", () => {
    const program = buildProgram(buffers({ SILICO_DB: "elsewhere.db" }));
    expect(program.opts().db).toBe("elsewhere.db");
    expect(program.commands.map((c) => c.name())).toEqual(
      expect.arrayContaining(["run", "resume", "runs", "show", "data", "summary", "check", "models"]),
    );
  });

  it("importing the built module runs nothing; running it as a script does", () => {
    const imported = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `await import(${JSON.stringify(pathToFileURL(CLI).href)}); console.log("ok")`,
      ],
      { encoding: "utf8" },
    );
    expect(imported.stderr).toBe("");
    expect(imported.stdout).toBe("ok\n");
    expect(imported.status).toBe(0);
    const direct = spawnSync(process.execPath, [CLI, "--version"], { encoding: "utf8" });
    expect(direct.stdout.trim()).toBe("0.1.0");
    const bin = spawnSync(process.execPath, [join(CLI, "..", "..", "..", "bin", "silico.js"), "--version"], {
      encoding: "utf8",
    });
    expect(bin.stdout.trim()).toBe("0.1.0");
  });
});
