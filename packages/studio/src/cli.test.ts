import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { http } from "./testing/fixtures.js";

const CLI = fileURLToPath(new URL("../../silico/dist/cli/main.js", import.meta.url));

describe("silico studio (the command, a real process)", () => {
  it("serves on 127.0.0.1, prints the URL with its token, answers with the token only, and stops on Ctrl-C", async () => {
    const dir = mkdtempSync(join(tmpdir(), "silico-studio-cli-"));
    const child = spawn(process.execPath, [CLI, "studio", "--port", "0", "--db", "runs.db"], { cwd: dir });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => {
        stdout += c.toString();
        const line = stdout.split("\n").find((l) => l.startsWith("http://"));
        if (line) resolve(line.trim());
      });
      child.once("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    const m = /^http:\/\/127\.0\.0\.1:(\d+)\/\?token=([\w-]+)$/.exec(url);
    expect(m, url).not.toBeNull();
    const port = Number(m?.[1]);
    expect((await http(port, "/api/runs")).status).toBe(401);
    const ok = await http(port, "/api/runs", { headers: { "x-silico-token": m?.[2] as string } });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text)).toMatchObject({ items: [] });
    const code = await new Promise<number | null>((resolve) => {
      child.once("exit", (c) => resolve(c));
      child.kill("SIGINT");
    });
    expect(code).toBe(0);
  });

  it("refuses a bad --port with exit code 2", async () => {
    const child = spawn(process.execPath, [CLI, "studio", "--port", "http"], { cwd: tmpdir() });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(2);
    expect(stderr).toContain("--port must be a port number");
  });
});
