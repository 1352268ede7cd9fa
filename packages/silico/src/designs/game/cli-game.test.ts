import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { RunStore } from "../../store/run-store.js";
import { lastLine, runCli } from "../../test-support/cli.js";

const GAME = `kind: game
name: human-ug
seed: 1
groups: 1
rounds: 2
variables: { endowment: 10 }
roles:
  proposer: { model: "mock:fixed:6" }
  responder:
    model: human
    system: "You are the responder in a bargaining game."
stages:
  - name: offer
    roles: [proposer]
    prompt: "Round {{ round }}. How much of {{ endowment }} do you keep?"
    parse: { type: number, min: 0, max: 10 }
  - name: respond
    roles: [responder]
    prompt: "Round {{ round }}. The proposer keeps {{ offer }} of {{ endowment }}. Type ACCEPT or REJECT."
    parse: { type: choice, options: [ACCEPT, REJECT] }
payoffs:
  proposer: "offer if respond == 'ACCEPT' else 0"
  responder: "endowment - offer if respond == 'ACCEPT' else 0"
invalid: { reask: 1, then: taint }
`;

describe("silico run with a human at piped stdin (built CLI, child process)", () => {
  let dir: string;
  let db: string;
  let file: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "silico-human-"));
    db = join(dir, "silico.db");
    file = join(dir, "game.yaml");
    writeFileSync(file, GAME);
  });

  it("reads one line per answer, prints the dialogue on stderr and only the run id on stdout", async () => {
    const r = await runCli(["--db", db, "run", file, "-q"], { input: "ACCEPT\nREJECT\n" });
    expect(r.code, r.stderr).toBe(0);
    const runId = lastLine(r.stdout);
    expect(r.stdout.trim()).toBe(runId);
    expect(r.stderr).toContain("You are the responder in a bargaining game.");
    expect(r.stderr).toContain("Round 1. The proposer keeps 6 of 10. Type ACCEPT or REJECT.");
    expect(r.stderr).toContain("Round 2. The proposer keeps 6 of 10. Type ACCEPT or REJECT.");
    expect(r.stderr).not.toContain("How much of");
    const data = await runCli(["--db", db, "data", runId, "--format", "jsonl"]);
    expect(data.code, data.stderr).toBe(0);
    const rows = data.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.filter((x) => x.name === "respond").map((x) => x.value)).toEqual(["ACCEPT", "REJECT"]);
    expect(rows.filter((x) => x.name === "payoff" && x.role === "responder").map((x) => x.value)).toEqual([
      4, 0,
    ]);
    expect(rows.every((x) => x.treatment === "base" && x.group === 1)).toBe(true);
  });

  it("stops with exit code 1 and a clear message when stdin ends before the game does", async () => {
    const r = await runCli(["--db", db, "run", file], { input: "ACCEPT\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/: FAILED/);
    expect(r.stderr).toMatch(/EOF on standard input/);
  });

  it("rejects a malformed game with exit code 2, located errors, and writes nothing", async () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(
      bad,
      GAME.replace("roles: [responder]", "roles: [respondr]").replace(
        "{{ endowment }} do",
        "{{ endowmnt }} do",
      ),
    );
    const fresh = join(dir, "fresh.db");
    RunStore.open(fresh).close();
    const r = await runCli(["--db", fresh, "run", bad], { input: "" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /bad\.yaml:18: stages\[1\]\.roles\[0\]: unknown role "respondr" \(did you mean "responder"\?\)/,
    );
    expect(r.stderr).toMatch(/bad\.yaml: stages\[0\]\.prompt \(line 15\): undefined variable "endowmnt"/);
    const store = RunStore.open(fresh);
    try {
      expect(store.listRuns()).toEqual([]);
    } finally {
      store.close();
    }
  });
});
