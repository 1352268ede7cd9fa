import { describe, expect, it } from "vitest";
import { SilicoError, TemplateError } from "../errors.js";
import { ProviderError } from "../models/types.js";
import { classifyFailure, classifyStoredFailure, FailureTally } from "./failures.js";

describe("classifyFailure", () => {
  it("sorts provider errors into permanent, unreachable and transient", () => {
    const e404 = new ProviderError("m: HTTP 404: no such model", { status: 404, retryable: false });
    expect(classifyFailure(e404)).toEqual({ reason: "m: HTTP 404: no such model", kind: "permanent" });
    expect(
      classifyFailure(new ProviderError("m: HTTP 503: busy", { status: 503, retryable: true })).kind,
    ).toBe("transient");
    const refused = new ProviderError("m: Cannot connect to API: connect ECONNREFUSED 127.0.0.1:9", {
      retryable: true,
    });
    expect(classifyFailure(refused).kind).toBe("unreachable");
    expect(classifyFailure(new ProviderError("m: request timed out", { retryable: true })).kind).toBe(
      "transient",
    );
    expect(classifyFailure(new SilicoError("template_error", "prompt: x is undefined")).kind).toBe(
      "permanent",
    );
    // The template engine's own error (not a SilicoError) is a design error too.
    const template = new TemplateError("s.yaml: prompt (line 2)", "ZeroDivisionError: division by zero");
    expect(classifyFailure(template)).toEqual({
      reason: "s.yaml: prompt (line 2): ZeroDivisionError: division by zero",
      kind: "permanent",
    });
  });

  it("keeps reasons on one bounded line without keys", () => {
    const long = `m: HTTP 400: ${"bad ".repeat(200)}\nsecond line`;
    const { reason } = classifyFailure(new ProviderError(long, { status: 400, retryable: false }));
    expect(reason.length).toBeLessThanOrEqual(240);
    expect(reason).not.toContain("\n");
  });

  it("classifies stored messages of sessions that failed in an earlier process", () => {
    expect(classifyStoredFailure("m: HTTP 422: bad").kind).toBe("permanent");
    expect(classifyStoredFailure("m: HTTP 429: slow down").kind).toBe("transient");
    expect(classifyStoredFailure("m: connect ECONNREFUSED 127.0.0.1:1").kind).toBe("unreachable");
    expect(classifyStoredFailure("something odd").kind).toBe("transient");
    // A template or condition that failed while a session rendered it: the study must change.
    for (const stored of [
      "g.yaml: stages[1].prompt (line 51): ZeroDivisionError: integer division or modulo by zero",
      "my study.yml: prompt (line 2), column 13: unexpected '}'",
      "g.yaml:44: stages[1].when: ZeroDivisionError: integer division or modulo by zero (participant p, round 1)",
      "b.json: prompts.user (after homogenize) (line 32): 'x' is undefined",
    ])
      expect(classifyStoredFailure(stored).kind, stored).toBe("permanent");
    for (const other of ["openai:gpt-4o: ECONNRESET: socket hang up", "mock:random: boom: x"])
      expect(classifyStoredFailure(other).kind, other).toBe("transient");
  });
});

describe("FailureTally", () => {
  it("counts by reason, most frequent first", () => {
    const t = new FailureTally();
    for (let i = 0; i < 3; i++) t.add({ reason: "a", kind: "transient" });
    t.add({ reason: "b", kind: "permanent" });
    t.add({ reason: "c", kind: "permanent" });
    t.add({ reason: "c", kind: "permanent" });
    expect(t.list()).toEqual([
      { reason: "a", kind: "transient", count: 3 },
      { reason: "c", kind: "permanent", count: 2 },
      { reason: "b", kind: "permanent", count: 1 },
    ]);
  });
});
