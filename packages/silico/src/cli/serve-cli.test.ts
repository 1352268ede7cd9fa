import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, lastLine, runCli } from "../test-support/cli.js";

// `silico serve` and `silico otree helper` as a user runs them.

let dir: string;
let llm: TestServer;
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silico-serve-cli-"));
  llm = await startOpenAITestServer({ script: ["Hello, human."] });
});
afterAll(async () => {
  await llm.close();
  rmSync(dir, { recursive: true, force: true });
});

function file(text: string): string {
  const path = join(dir, `agents-${++n}.yaml`);
  writeFileSync(path, text);
  return path;
}

const GOOD = () => `kind: agents
model: ts:silico-test
providers:
  ts: {type: openai-compatible, base_url: "${llm.url}"}
agents:
  chat:
    system: "Be brief."
`;

describe("silico serve (command)", () => {
  it("refuses a malformed agents file with located problems, exit 2, and no store file", async () => {
    const bad = file(`kind: agents
agents:
  chat:
    owner: everyone
    system: "{{ unclosed"
    parse: {type: choice}
  2nd: {}
`);
    const db = join(dir, "bad.db");
    const r = await runCli(["serve", bad, "--db", db, "--port", "0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/agents-\d+\.yaml:4: agents\.chat\.owner: must be participant .* or group/);
    expect(r.stderr).toMatch(/agents-\d+\.yaml:7: agents\.2nd: agent name "2nd" must be an identifier/);
    expect(existsSync(db)).toBe(false);
    // Past the shape: models, templates and parsers, every problem at once.
    const deeper = file(`kind: agents
agents:
  chat:
    system: "{{ unclosed"
  pick:
    model: opnai:gpt-4o-mini
    parse: {type: choice}
`);
    const d = await runCli(["serve", deeper, "--db", db, "--port", "0"]);
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/:4: agents\.chat: needs a "model"/);
    expect(d.stderr).toMatch(/agents\.chat\.system \(line 4\), column 12: unexpected end of template/);
    expect(d.stderr).toMatch(/:6: .*unknown provider "opnai"/);
    expect(d.stderr).toMatch(/:7: .*options/);
    expect(existsSync(db)).toBe(false);
  });

  it("binding beyond loopback without SILICO_SERVE_TOKEN is refused before anything is written", async () => {
    const db = join(dir, "open.db");
    const r = await runCli(["serve", file(GOOD()), "--db", db, "--host", "0.0.0.0", "--port", "0"], {
      env: { SILICO_SERVE_TOKEN: undefined },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("SILICO_SERVE_TOKEN");
    expect(existsSync(db)).toBe(false);
  });

  it("a port in use is refused before a store or a run is made", async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      const db = join(dir, "busy.db");
      const r = await runCli(["serve", file(GOOD()), "--db", db, "--port", String(port)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}`);
      expect(existsSync(db)).toBe(false);
    } finally {
      busy.close();
    }
  });

  it("`silico run` on an agents file says to use silico serve", async () => {
    const r = await runCli(["run", file(GOOD()), "--db", join(dir, "run.db")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("silico serve");
  });

  it("serves until SIGTERM, exits 0 with the run id; show and data read the run", async () => {
    const db = join(dir, "served.db");
    const child = spawn(process.execPath, [CLI, "serve", file(GOOD()), "--db", db, "--port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (c) => {
      stderr += c;
    });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (c) => {
        stdout += c;
        if (stdout.includes("\n")) resolve(stdout.split("\n")[0] as string);
      });
      child.once("exit", () => reject(new Error(`silico serve exited: ${stderr}`)));
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${url}/v1/turn`, {
      method: "POST",
      body: JSON.stringify({ agent: "chat", session: "s", participant: "p", turn: "m1", message: "Hi" }),
    });
    expect(await res.json()).toMatchObject({ text: "Hello, human.", valid: true });
    const code = await new Promise<number | null>((resolve) => {
      child.once("exit", resolve);
      child.kill("SIGTERM");
    });
    expect(code).toBe(0);
    const runId = lastLine(stdout);
    expect(stderr).toContain(`run ${runId}`);
    const shown = await runCli(["show", runId, "--db", db]);
    expect(shown.stdout).toContain("Hello, human.");
    const csv = await runCli(["data", runId, "--db", db, "--format", "csv"]);
    expect(csv.code).toBe(0);
    expect(csv.stdout.split("\n")[0]).toContain("otree_session");
    expect(csv.stdout).toContain("Hello, human.");
  }, 30_000);
});

describe("silico otree helper", () => {
  it("prints the stdlib-only Python helper with this silico's version", async () => {
    const r = await runCli(["otree", "helper"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('SILICO_VERSION = "0.1.0"');
    expect(r.stdout).toContain("async def ask(player, agent");
    const imports = [...r.stdout.matchAll(/^(?:import|from) (\w+)/gm)].map((m) => m[1]);
    expect(imports.sort()).toEqual(["asyncio", "concurrent", "json", "logging", "os", "urllib", "urllib"]);
    // That Python runs it: serve/otree-agents.slow.test.ts (the Python tier).
  });
});
