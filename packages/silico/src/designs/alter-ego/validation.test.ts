import { describe, expect, it } from "vitest";
import { StudyError } from "../../errors.js";
import { compileText, fixture, ULTIMATUM } from "./test-helpers.js";
import { alterEgoDesign } from "./alter-ego-design.js";

/** A valid scenario to break one key at a time (pretty-printed, so that problems have distinct lines). */
function base(): Record<string, unknown> {
  return {
    threads: [
      [1, ["GPTThread", "gpt-4o"]],
      [2, "CLIThread"],
    ],
    treatments: ["give", "take"],
    rounds: 2,
    variables: { amount: { give: 3, take: 4 } },
    prompts: { system: "You are {{ i }}.", user: "Round {{ round }}: {{ amount }}" },
    filters: [["extract_number"], ["exclusive_response", "ACCEPT;REJECT"]],
  };
}

function problemsOf(scenario: unknown): { where: string; message: string }[] {
  const text = typeof scenario === "string" ? scenario : JSON.stringify(scenario, null, 2);
  try {
    compileText(text);
  } catch (e) {
    if (e instanceof StudyError) return e.problems;
    throw e;
  }
  return [];
}

const change = (edit: (s: Record<string, unknown>) => void) => {
  const s = base();
  edit(s);
  return s;
};

/** [what, scenario, expected where (regex), expected message (regex)] */
const MALFORMED: [string, unknown, RegExp, RegExp][] = [
  [
    "misspelt thread type",
    change((s) => ((s.threads as unknown[])[1] = [2, "GPTThred"])),
    /^built\.json:12: threads\[1\]\[1\]$/,
    /unknown thread type "GPTThred" \(did you mean "GPTThread"\?\)/,
  ],
  [
    "fewer filters than threads",
    change((s) => (s.filters = [["JSON"]])),
    /^built\.json:\d+: filters$/,
    /1 entry for 2 threads: .*threads\[1\] has no filter/,
  ],
  [
    "unknown filter",
    change((s) => (s.filters = [["json"], ["As is"]])),
    /^built\.json:\d+: filters\[0\]$/,
    /unknown filter "json" \(did you mean "JSON"\?\)/,
  ],
  [
    "treatments not a list",
    change((s) => (s.treatments = "give")),
    /: treatments$/,
    /must be a non-empty list/,
  ],
  ["no treatments", change((s) => (s.treatments = [])), /: treatments$/, /must be a non-empty list/],
  ["rounds as text", change((s) => (s.rounds = "3")), /: rounds$/, /whole number of rounds.*the text "3"/],
  ["zero rounds", change((s) => (s.rounds = 0)), /: rounds$/, /at least 1, got 0/],
  [
    "rounds as a float",
    '{"threads": [[1, "CLIThread"]], "treatments": ["a"], "rounds": 2.0, "variables": {}, "prompts": {"system": "", "user": "x"}, "filters": [["As is"]]}',
    /^built\.json:1: rounds$/,
    /got the number 2\.0/,
  ],
  ["missing key", change((s) => delete s.prompts), /^built\.json:1$/, /missing key "prompts"/],
  [
    "variable without a value for a treatment",
    change((s) => (s.variables = { amount: { give: 3 } })),
    /: variables\.amount$/,
    /no value for treatment "take"/,
  ],
  [
    "variable named like a context name",
    change((s) => (s.variables = { round: { give: 1, take: 2 } })),
    /: variables\.round$/,
    /clashes with the thread attribute/,
  ],
  [
    "round in the system prompt",
    change((s) => ((s.prompts as { system: string }).system = "Round {{ round }}")),
    /prompts\.system$/,
    /uses `round`, which exists only in the user prompt/,
  ],
  [
    "template syntax error",
    change((s) => ((s.prompts as { user: string }).user = "{% if round > 1 %}x")),
    /prompts\.user \(after homogenize\) \(line 1\)/,
    /if|endif|end of template/i,
  ],
  [
    "exclusive_response without tokens",
    change((s) => (s.filters = [["JSON"], ["exclusive_response"]])),
    /: filters\[1\]$/,
    /needs its tokens/,
  ],
  [
    "empty token",
    change((s) => (s.filters = [["JSON"], ["exclusive_response", "A;;B"]])),
    /: filters\[1\]$/,
    /token 2 is empty/,
  ],
  [
    "thread entry not a pair",
    change((s) => ((s.threads as unknown[])[0] = [1])),
    /: threads\[0\]$/,
    /must be a pair \[i, thread\]/,
  ],
  [
    "i not a whole number",
    change((s) => ((s.threads as unknown[])[0] = ["1", ["GPTThread", "gpt-4o"]])),
    /: threads\[0\]\[0\]$/,
    /must be a whole number, got the text "1"/,
  ],
  [
    "typo in a variable name",
    change((s) => ((s.prompts as { user: string }).user = "{{ amont }}")),
    /prompts\.user$/,
    /uses `amont`, which is neither a variable/,
  ],
  [
    "other with three threads",
    change((s) => {
      (s.threads as unknown[]).push([3, "CLIThread"]);
      (s.filters as unknown[]).push(["As is"]);
      (s.prompts as { user: string }).user = "{{ other.choices }}";
    }),
    /prompts\.user$/,
    /exists only with exactly 2 threads \(this scenario has 3\)/,
  ],
  [
    "api_key in a prompt",
    change((s) => ((s.prompts as { system: string }).system = "{{ api_key }}")),
    /prompts\.system$/,
    /never shows API keys/,
  ],
  [
    "first turn always fails",
    change((s) => ((s.prompts as { user: string }).user = "{{ other.choices[-1] }}")),
    /prompts\.user \(after homogenize\) \(line 1\)$/,
    /threads\[0\] in round 1, treatment "give": every conversation would fail/,
  ],
  [
    "no threads",
    change((s) => {
      s.threads = [];
      s.filters = [];
    }),
    /: threads$/,
    /at least one/,
  ],
  [
    "unknown model provider via OpenRouter id",
    change((s) => ((s.threads as unknown[])[0] = [1, ["OpenRouterThread", " x "]])),
    /: threads\[0\]\[1\]$/,
    /spaces around it/,
  ],
  ["prompts not a mapping", change((s) => (s.prompts = "hi")), /: prompts$/, /must be a mapping/],
];

describe("validation before any call", () => {
  it.each(MALFORMED)("%s", (_what, scenario, where, message) => {
    const problems = problemsOf(scenario);
    expect(problems.length).toBeGreaterThan(0);
    const hit = problems.find((p) => where.test(p.where) && message.test(p.message));
    expect(hit, JSON.stringify(problems, null, 1)).toBeDefined();
  });

  it("reports every problem at once, not just the first", () => {
    const problems = problemsOf(
      change((s) => {
        (s.threads as unknown[])[0] = [1, "GPTThred"];
        s.rounds = -1;
        s.filters = [["nope"]];
      }),
    );
    expect(problems.map((p) => p.where.replace(/^built\.json:\d+: /, ""))).toEqual(
      expect.arrayContaining(["threads[0][1]", "rounds", "filters"]),
    );
    expect(problems.length).toBeGreaterThanOrEqual(3);
  });

  it("the valid base compiles, and both unchanged fixtures compile", () => {
    expect(problemsOf(base())).toEqual([]);
    expect(problemsOf(fixture(ULTIMATUM))).toEqual([]);
  });

  it("a guarded name is fine (`round is defined` in the system prompt)", () => {
    expect(
      problemsOf(
        change(
          (s) =>
            ((s.prompts as { system: string }).system = "{% if round is defined %}{{ round }}{% endif %}x"),
        ),
      ),
    ).toEqual([]);
  });

  it("detects built.json files (no kind, most of the six keys) and nothing else", () => {
    expect(alterEgoDesign.detect?.(fixture(ULTIMATUM))).toBe(true);
    expect(alterEgoDesign.detect?.({ threads: [], prompts: {}, filters: [] })).toBe(true);
    expect(alterEgoDesign.detect?.({ kind: "factorial", threads: [], prompts: {}, filters: [] })).toBe(false);
    expect(alterEgoDesign.detect?.({ prompt: "x", levels: {} })).toBe(false);
  });
});
