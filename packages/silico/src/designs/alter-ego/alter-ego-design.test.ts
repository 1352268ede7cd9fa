import { describe, expect, it } from "vitest";
import type { ModelRequest } from "../../models/types.js";
import { startOpenAITestServer } from "@silico/test-server";
import { ALTER_EGO_PARAMS } from "./alter-ego-design.js";
import { egoRows } from "./ego-export.js";
import {
  compileScenario,
  compileText,
  fixture,
  runStudy,
  scriptedHuman,
  STAG_HUNT,
  ULTIMATUM,
  withGptThreads,
} from "./test-helpers.js";
import { testSql } from "../../store/test-sql.js";

const lastUser = (req: ModelRequest) => {
  const m = [...req.messages].reverse().find((x) => x.role === "user");
  return typeof m?.content === "string" ? m.content : "";
};
const system = (req: ModelRequest) =>
  typeof req.messages[0]?.content === "string" ? req.messages[0].content : "";

describe("compiling built.json", () => {
  it("runs the fixtures unchanged: CLIThread is a human at the terminal", () => {
    const study = compileScenario(fixture(ULTIMATUM));
    expect(study.kind).toBe("alter_ego");
    expect(study.models).toEqual(["human"]);
    const [s] = [...study.plan(1).sessions()];
    expect(s?.participants.map((p) => [p.id, p.model, p.params])).toEqual([
      ["t1", "human", {}],
      ["t2", "human", {}],
    ]);
    expect(s?.participants[0]?.system).toMatch(/^You are participating .*\n\nYou are the proposer\./s);
    expect(s?.participants[1]?.system).toMatch(/You are the responder\./);
    expect(study.settings.concurrency).toBe(1); // one conversation after another at the terminal
    expect(compileScenario(withGptThreads(fixture(ULTIMATUM))).settings.concurrency).toBeUndefined();
  });

  it("API threads get alter_ego's fixed temperature 1 and max_tokens 500", () => {
    const study = compileScenario({
      ...fixture(ULTIMATUM),
      threads: [
        [1, "GPTThread (GPT-4o)"],
        [4, ["OpenRouterThread", "meta-llama/llama-3-70b"]],
      ],
    });
    expect(study.models).toEqual(["openai:gpt-4o", "openrouter:meta-llama/llama-3-70b"]);
    const [s] = [...study.plan(1).sessions()];
    expect(s?.participants.map((p) => p.params)).toEqual([ALTER_EGO_PARAMS, ALTER_EGO_PARAMS]);
    expect(ALTER_EGO_PARAMS).toEqual({ temperature: 1, maxTokens: 500 });
  });

  it("-n N gives N conversations, treatments balanced, seeded and stable", () => {
    const study = compileScenario(fixture(STAG_HUNT), { replications: 7 });
    const plan = study.plan(42);
    const sessions = [...plan.sessions()];
    expect(plan.total).toBe(7);
    expect(sessions).toHaveLength(7);
    const counts = new Map<string, number>();
    for (const s of sessions)
      counts.set(String(s.coords.treatment), (counts.get(String(s.coords.treatment)) ?? 0) + 1);
    expect([...counts.values()].sort()).toEqual([2, 2, 3]);
    expect(sessions.map((s) => s.coords.convo)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(sessions.map((s) => s.key)).size).toBe(7);
    expect(sessions.map((s) => s.draw)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect([...study.plan(42).sessions()].map((s) => s.key)).toEqual(sessions.map((s) => s.key));
    expect(sessions[0]?.expectedCalls).toBe(8); // 4 rounds × 2 threads
    expect(plan.coordinateColumns).toEqual(["treatment", "convo", "i", "round", "thread", "thread_type"]);
  });

  it("random assignment and a given sequence are available to callers", () => {
    const random = compileScenario(fixture(STAG_HUNT), { replications: 30, assignment: "random" });
    const drawn = [...random.plan(7).sessions()].map((s) => s.coords.treatment);
    expect(new Set(drawn).size).toBe(3);
    const given = compileScenario(fixture(STAG_HUNT), { treatmentSequence: ["rivals", "neutral", "rivals"] });
    expect([...given.plan(1).sessions()].map((s) => s.coords.treatment)).toEqual([
      "rivals",
      "neutral",
      "rivals",
    ]);
    expect(() => compileScenario(fixture(STAG_HUNT), { treatmentSequence: ["rivals", "nope"] })).toThrow(
      /"nope" is not a treatment/,
    );
  });

  it("warns once per deliberate difference, and only where the scenario can hit it", () => {
    const hunt = compileScenario(fixture(STAG_HUNT), { replications: 3 }).plan(1).warnings;
    expect(hunt.some((w) => w.startsWith("extract_number:"))).toBe(true);
    expect(hunt.some((w) => w.startsWith("exclusive_response:"))).toBe(false);
    expect(hunt.some((w) => w.startsWith("treatments: assigned balanced"))).toBe(true);
    expect(hunt.some((w) => /exits with 3 if some and 1 if all/.test(w))).toBe(true);
    const ug = compileScenario(fixture(ULTIMATUM)).plan(1).warnings;
    expect(ug.some((w) => w.startsWith("exclusive_response:"))).toBe(true);
    expect(ug.some((w) => w.startsWith("extract_number:"))).toBe(false);
    expect(ug.some((w) => w.startsWith("treatments:"))).toBe(false); // one conversation: nothing to balance
    expect(ug.some((w) => w.includes("`others`"))).toBe(false);
    const single = compileScenario({ ...fixture(ULTIMATUM), treatments: ["give"] }).plan(1).warnings;
    expect(
      single.some((w) => /only one treatment; silico runs it \(alter_ego requires at least two\)/.test(w)),
    ).toBe(true);
  });
});

describe("the template context", () => {
  const scenario = (user: string, threads = 2, extra: Record<string, unknown> = {}) => ({
    threads: Array.from({ length: threads }, (_, k) => [k * 2 + 1, "CLIThread"]),
    treatments: ["t"],
    rounds: 2,
    variables: { endowment: { t: 10 }, price: { t: 4.0 }, label: { t: "x" } },
    prompts: { system: "sys {{ i }}", user },
    filters: Array.from({ length: threads }, () => ["JSON"]),
    ...extra,
  });

  async function prompts(sc: unknown, answer: (req: ModelRequest) => string = () => '{"keep": 5.0}') {
    const seen: string[] = [];
    // JSON.stringify writes 4.0 as 4; the file must say 4.0 (as a builder file typed by hand could).
    const study = compileText(JSON.stringify(sc).replace('"price":{"t":4}', '"price":{"t":4.0}'));
    const { result, store } = await runStudy(study, {
      human: scriptedHuman((req) => {
        seen.push(lastUser(req));
        return answer(req);
      }),
    });
    return { seen, result, store, warnings: study.plan(1).warnings };
  }

  it("`other.choices[-1].keep` reads the other thread's dict with Python floats; `10 - keep` is Python arithmetic", async () => {
    const { seen } = await prompts(
      scenario(
        "{% if i == 3 %}{{ endowment - other.choices[-1].keep }} {{ other.choices }} {{ other.i }}{% else %}r{{ round }} {{ choices }}{% endif %}",
      ),
    );
    expect(seen).toEqual([
      "r1 []",
      "5.0 [{'keep': 5.0}] 1",
      "r2 [{'keep': 5.0}]",
      "5.0 [{'keep': 5.0}, {'keep': 5.0}] 1",
    ]);
  });

  it("variables keep their Python type (4.0 prints as 4.0), and treatment prints like alter_ego's dataclass", async () => {
    const { seen } = await prompts(
      scenario(
        "{{ price }} {{ label }} {{ treatment.name }} {{ treatment.variables.endowment }} {{ rounds }} {{ treatment }}",
        1,
      ),
    );
    expect(seen[0]).toBe(
      "4.0 x t 10 2 Treatment(name='t', variables={'endowment': 10, 'price': 4.0, 'label': 'x'})",
    );
  });

  it("`others` is defined for every group size (with a warning for 2 threads); `other` only for 2", async () => {
    const three = await prompts(
      scenario("{{ others|length }} {{ others|map(attribute='i')|list }} {{ others[0].choices|length }}", 3),
    );
    expect(three.seen.slice(0, 3)).toEqual(["2 [3, 5] 0", "2 [1, 5] 1", "2 [1, 3] 1"]);
    expect(three.warnings.some((w) => w.includes("`others`"))).toBe(false);
    const two = await prompts(scenario("{{ others|length }} {{ others[0].i }}", 2));
    expect(two.seen[0]).toBe("1 3");
    expect(
      two.warnings.some((w) =>
        /prompts use `others` with 2 threads: silico defines it for every group size/.test(w),
      ),
    ).toBe(true);
  });

  it("a thread's own `_history` and the other's, as alter_ego keeps them", async () => {
    const { seen } = await prompts(
      scenario("{{ _history|length }} {{ other._history|length }} {{ _history[0].role }}"),
    );
    // thread 1 round 1: own system only; other has its system. Thread 2 round 1: own system; other has system, user, assistant.
    expect(seen.slice(0, 4)).toEqual(["1 1 system", "1 3 system", "3 3 system", "3 5 system"]);
  });
});

describe("running: the taint rule", () => {
  it("an invalid answer taints the whole conversation and stops it; other conversations go on; raw text is kept", async () => {
    // The responder answers nonsense in "take" conversations only.
    const study = compileScenario(fixture(ULTIMATUM), { replications: 6 });
    const { result, store } = await runStudy(study, {
      human: scriptedHuman((req) => {
        const u = lastUser(req);
        if (u.includes("JSON")) return u.includes("take money") ? "I keep everything" : '{"keep": 6}';
        return "ACCEPT";
      }),
    });
    expect(result.status).toBe("partial");
    const sessions = testSql(store)
      .prepare("SELECT key, status, error, coords FROM sessions WHERE run_id = ? ORDER BY idx")
      .all(result.runId) as {
      key: string;
      status: string;
      error: string | null;
      coords: string;
    }[];
    expect(sessions).toHaveLength(6);
    for (const s of sessions) {
      const take = JSON.parse(s.coords).treatment === "take";
      expect(s.status).toBe(take ? "invalid" : "done");
      const calls = testSql(store)
        .prepare("SELECT COUNT(*) FROM calls WHERE session_key = ?")
        .pluck()
        .get(s.key);
      expect(calls).toBe(take ? 1 : 2);
      if (take) expect(s.error).toMatch(/threads\[0\] \(i=1\), round 1: JSON: not JSON/);
    }
    const raw = testSql(store)
      .prepare("SELECT raw FROM observations WHERE valid = 0")
      .pluck()
      .all() as string[];
    expect(raw).toEqual(["I keep everything", "I keep everything"]);
    // ego rows: a JSON parse error leaves no row (alter_ego's filter raised); the others are complete
    const rows = [...egoRows(store, store.getRun(result.runId))];
    expect(rows).toHaveLength(8);
    expect(rows.every((r) => r.tainted === false)).toBe(true);
  });

  it("a filter returning None records a null choice and taints every thread of the conversation", async () => {
    const study = compileScenario(fixture(STAG_HUNT));
    const { result, store } = await runStudy(study, {
      human: scriptedHuman((req) =>
        lastUser(req).includes("round 2 of") && system(req).includes("You are Ben.")
          ? "OPTION 1 or OPTION 2"
          : "OPTION 2",
      ),
    });
    expect(result.status).toBe("failed"); // the only conversation is tainted
    const rows = [...egoRows(store, store.getRun(result.runId))];
    expect(rows.map((r) => [r.round, r.i, r.choice, r.tainted])).toEqual([
      [1, "1", "2", true],
      [1, "2", "2", true],
      [2, "1", "2", true],
      [2, "2", "null", true],
    ]);
  });

  it("a call that fails after retries taints its conversation only", async () => {
    const server = await startOpenAITestServer({
      failFirst: { count: 1, status: 400, message: "bad request" },
    });
    const saved = { url: process.env.OPENAI_BASE_URL, key: process.env.OPENAI_API_KEY };
    process.env.OPENAI_BASE_URL = server.url;
    process.env.OPENAI_API_KEY = "sk-test-key";
    try {
      const study = compileScenario(withGptThreads(fixture(ULTIMATUM)), { replications: 3 });
      const { result, store } = await runStudy(study, { concurrency: 1 });
      const statuses = testSql(store)
        .prepare("SELECT status, error FROM sessions WHERE run_id = ? ORDER BY idx")
        .all(result.runId) as {
        status: string;
        error: string;
      }[];
      expect(statuses.map((s) => s.status)).toEqual(["invalid", "done", "done"]);
      expect(statuses[0]?.error).toMatch(/round 1: the call failed/);
      expect(server.requests.filter((r) => r.path === "/v1/chat/completions")).toHaveLength(5);
      expect(result.status).toBe("partial");
    } finally {
      await server.close();
      process.env.OPENAI_BASE_URL = saved.url;
      process.env.OPENAI_API_KEY = saved.key;
    }
  });

  it("filters apply by position; stale extra filters are ignored with a warning", async () => {
    const sc = {
      threads: [
        [1, "CLIThread"],
        [3, "CLIThread"],
      ],
      treatments: ["a", "b"],
      rounds: 1,
      variables: {},
      prompts: { system: "", user: "go" },
      filters: [["extract_number"], ["As is"], ["JSON"]],
    };
    const study = compileScenario(sc);
    expect(
      study.plan(1).warnings.some((w) => /3 filters for 2 threads; filters\[2\] is ignored/.test(w)),
    ).toBe(true);
    const { result, store } = await runStudy(study, { human: scriptedHuman(() => "I pick 7, not JSON") });
    expect(result.status).toBe("done");
    const rows = [...egoRows(store, store.getRun(result.runId))];
    expect(rows.map((r) => r.choice)).toEqual(["7", '"I pick 7, not JSON"']);
  });

  it("an empty system prompt is a warning (silico sends no system message)", () => {
    const sc = {
      ...fixture(ULTIMATUM),
      prompts: { system: "{% if i == 9 %}x{% endif %}", user: "{{ round }}" },
    };
    const warnings = compileScenario(sc).plan(1).warnings;
    expect(warnings.some((w) => /system prompt renders empty for threads\[0\]/.test(w))).toBe(true);
  });
});
