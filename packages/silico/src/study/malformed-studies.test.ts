import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { RunStore } from "../store/run-store.js";
import { runCli } from "../test-support/cli.js";
import { testSql } from "../store/test-sql.js";

const GOOD = `kind: factorial
prompt: "Rate {{ politician }} at the {{ time }}."
levels:
  politician: [A, B]
  time: [start, end]
model: mock:random
parse: number
`;

/** Each case: file name, content, and the located fragments its error message must contain. */
const CASES: { name: string; file: string; text: string; expect: string[] }[] = [
  {
    name: "YAML syntax error",
    file: "s.yaml",
    text: "kind: factorial\nprompt: [unclosed\nmodel: mock:random\n",
    expect: ["s.yaml:", "not valid YAML"],
  },
  {
    name: "JSON syntax error",
    file: "s.json",
    text: '{\n  "kind": "factorial",\n  "prompt": "x",\n}\n',
    expect: ["s.json", "not valid JSON"],
  },
  { name: "top level is a list", file: "s.yaml", text: "- kind: factorial\n", expect: ["s.yaml", "mapping"] },
  {
    name: "no kind, not alter_ego",
    file: "s.yaml",
    text: "prompt: hi\nmodel: mock:random\n",
    expect: ["s.yaml", 'missing "kind"'],
  },
  {
    name: "unknown kind",
    file: "s.yaml",
    text: "kind: factorail\nprompt: hi\n",
    expect: ["s.yaml:1: kind", "unknown kind"],
  },
  {
    name: "misspelt key",
    file: "s.yaml",
    text: GOOD.replace("prompt:", "promt:"),
    expect: ["s.yaml:2: promt", 'did you mean "prompt"'],
  },
  {
    name: "prompt missing",
    file: "s.yaml",
    text: "kind: factorial\nmodel: mock:random\n",
    expect: ["s.yaml", "prompt"],
  },
  {
    name: "prompt not text",
    file: "s.yaml",
    text: "kind: factorial\nprompt: 42\nmodel: mock:random\n",
    expect: ["s.yaml:2: prompt"],
  },
  {
    name: "empty level list",
    file: "s.yaml",
    text: GOOD.replace("time: [start, end]", "time: []"),
    expect: ["s.yaml:5: levels.time", "at least one level"],
  },
  {
    name: "levels is a list",
    file: "s.yaml",
    text: "kind: factorial\nprompt: hi\nlevels: [a, b]\nmodel: mock:random\n",
    expect: ["s.yaml:3: levels", "mapping"],
  },
  {
    name: "level value is a mapping",
    file: "s.yaml",
    text: GOOD.replace("[A, B]", "[A, {x: 1}]"),
    expect: ["s.yaml:4: levels.politician[1]"],
  },
  {
    name: "unknown provider",
    file: "s.yaml",
    text: GOOD.replace("mock:random", "opnai:gpt-4o"),
    expect: ["s.yaml:6: model", 'unknown provider "opnai"', 'did you mean "openai"'],
  },
  {
    name: "model id without provider",
    file: "s.yaml",
    text: GOOD.replace("mock:random", "gpt-4o"),
    expect: ["s.yaml:6: model", "provider:model"],
  },
  { name: "times is zero", file: "s.yaml", text: `${GOOD}times: 0\n`, expect: ["s.yaml:8: times"] },
  { name: "times is text", file: "s.yaml", text: `${GOOD}times: three\n`, expect: ["s.yaml:8: times"] },
  {
    name: "choice without options",
    file: "s.yaml",
    text: GOOD.replace("parse: number", "parse: {type: choice}"),
    expect: ["s.yaml:7: parse", "options"],
  },
  {
    name: "unknown parser type",
    file: "s.yaml",
    text: GOOD.replace("parse: number", "parse: {type: nmber}"),
    expect: ["s.yaml:7: parse"],
  },
  {
    name: "undefined template variable",
    file: "s.yaml",
    text: GOOD.replace("{{ politician }}", "{{ politican }}"),
    expect: ["s.yaml", "prompt", "politican"],
  },
  {
    name: "template syntax error",
    file: "s.yaml",
    text: GOOD.replace('"Rate {{ politician }} at the {{ time }}."', '"{% if politician %}Rate"'),
    expect: ["s.yaml", "prompt"],
  },
  {
    name: "temperature not a number",
    file: "s.yaml",
    text: `${GOOD}params: {temperature: hot}\n`,
    expect: ["s.yaml:8: params.temperature", "number"],
  },
  {
    name: "unknown parameter",
    file: "s.yaml",
    text: `${GOOD}params: {max_token: 5}\n`,
    expect: ["s.yaml:8: params.max_token", 'did you mean "max_tokens"'],
  },
  {
    name: "duplicate levels",
    file: "s.yaml",
    text: GOOD.replace("[A, B]", "[A, A]"),
    expect: ["s.yaml:4: levels.politician", "same level twice"],
  },
  {
    name: "reserved factor name",
    file: "s.yaml",
    text: GOOD.replace("time: [start, end]", "draw: [1, 2]").replace("{{ time }}", "{{ draw }}"),
    expect: ["s.yaml:5: levels.draw", "reserved"],
  },
  {
    name: "duplicate YAML key",
    file: "s.yaml",
    text: `${GOOD}model: mock:echo\n`,
    expect: ["s.yaml:8", "not valid YAML", "unique"],
  },
  {
    name: "negative rpm",
    file: "s.yaml",
    text: `${GOOD}settings: {rpm: -5}\n`,
    expect: ["s.yaml:8: settings.rpm"],
  },
  {
    name: "provider without base_url",
    file: "s.yaml",
    text: `${GOOD.replace("mock:random", "vllm:llama")}providers:\n  vllm: {type: openai-compatible}\n`,
    expect: ["s.yaml:9: providers.vllm.base_url"],
  },
  {
    name: "model and models",
    file: "s.yaml",
    text: `${GOOD}models: [mock:echo]\n`,
    expect: ["s.yaml:8: models", "either"],
  },
  {
    name: "bad regex",
    file: "s.yaml",
    text: GOOD.replace("parse: number", 'parse: {type: regex, pattern: "(unclosed"}'),
    expect: ["s.yaml:7: parse"],
  },
  {
    name: "api key in provider config",
    file: "s.yaml",
    text:
      GOOD.replace("mock:random", "vllm:llama") +
      "providers:\n  vllm: {base_url: 'http://127.0.0.1:1/v1', key_env: sk-abc123}\n",
    expect: ["s.yaml:9: providers.vllm.key_env", "NAME of an environment variable"],
  },
];

describe("malformed studies are rejected before anything is written", () => {
  let dir: string;
  let db: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "silico-malformed-"));
    db = join(dir, "silico.db");
    RunStore.open(db).close();
  });

  it("has at least 20 cases", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(20);
  });

  it.each(CASES)("$name", async (c) => {
    const path = join(dir, c.file);
    writeFileSync(path, c.text);
    const r = await runCli(["run", path, "--db", db, "--quiet"], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    for (const fragment of c.expect) expect(r.stderr).toContain(fragment);
    expect(r.stdout).toBe("");
    const store = RunStore.open(db);
    try {
      expect(testSql(store).prepare("SELECT count(*) FROM runs").pluck().get()).toBe(0);
      expect(testSql(store).prepare("SELECT count(*) FROM calls").pluck().get()).toBe(0);
    } finally {
      store.close();
    }
  });

  it("accepts the good study (the cases fail for the stated reason)", async () => {
    const path = join(dir, "good.yaml");
    writeFileSync(path, GOOD);
    const r = await runCli(["run", path, "--db", join(dir, "good.db"), "--quiet"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
  });
});
