import { describe, expect, it } from "vitest";
import { compileExpression } from "./expression.js";
import { DEFAULT_LIMITS } from "./limits.js";
import { compileTemplate } from "./template.js";
import { TemplateError } from "./template-error.js";

const origin = { where: "study.yaml: prompt", line: 10 };

/** The error of rendering `source`, which must come fast (well under the 5 s time limit). */
function failure(source: string, options = {}): TemplateError {
  const t0 = performance.now();
  let thrown: unknown;
  try {
    compileTemplate(source, origin, options).render({});
  } catch (e) {
    thrown = e;
  }
  expect(performance.now() - t0).toBeLessThan(3000);
  expect(thrown).toBeInstanceOf(TemplateError);
  return thrown as TemplateError;
}

describe("resource limits of a render", () => {
  it("has the documented defaults", () => {
    expect(DEFAULT_LIMITS).toEqual({
      maxOutput: 1_000_000,
      maxSequence: 1_000_000,
      maxItems: 20_000_000,
      maxIterations: 1_000_000,
      maxCalls: 100_000,
      maxCallDepth: 500,
      timeoutMs: 5_000,
    });
  });

  it("refuses a list of 10**9 items before building it", () => {
    const e = failure("line\n{{ ([0] * 10**9)|length }}");
    expect(e.where).toBe("study.yaml: prompt (line 11)");
    expect(e.detail).toBe(
      "TemplateLimitError: a list or string of 1000000000 items is longer than 1000000 (limit per value)",
    );
    expect(failure("{{ ('ab' * 10**6)|length }}").detail).toMatch(/2000000 items.*limit per value/);
    expect(failure("{{ range(10**9)|list|length }}").detail).toMatch(/limit per value/);
    expect(failure("{{ ' '|center(10**9) }}").detail).toMatch(/limit per value/);
    expect(failure("{{ '%*d'|format(10**9, 1) }}").detail).toMatch(/limit per value/);
    expect(failure("{{ '{:>1000000000}'.format(1) }}").detail).toMatch(/limit per value/);
    expect(
      failure(
        "{% set ns = namespace(x=[0] * 1000) %}{% for i in range(20) %}{% set ns.x = ns.x + ns.x %}{% endfor %}",
      ).detail,
    ).toMatch(/limit per value/);
    // Large but allowed values still work.
    expect(compileTemplate("{{ ([0] * 10**6)|length }}", origin).render({})).toBe("1000000");
    expect(compileTemplate("{{ range(10**9)|length }}", origin).render({})).toBe("1000000000");
  });

  it("stops filter chains that copy large lists over and over", () => {
    const e = failure("{{ ([[0] * 10**6] * 10**6)|map('list')|list|length }}");
    expect(e.detail).toBe("TemplateLimitError: more than 20000000 list items built (limit per render)");
    const slow = failure("{{ ([[0] * 10**5] * 10**5)|map('sort')|list|length }}", {
      limits: { timeoutMs: 100 },
    });
    expect(slow.detail).toBe("TemplateLimitError: the render took longer than 0.1 s (limit per render)");
  });

  it("stops nested loops at the iteration limit", () => {
    const e = failure(
      "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}{% endfor %}{% endfor %}{% endfor %}",
    );
    expect(e.where).toBe("study.yaml: prompt (line 10)");
    expect(e.detail).toBe("TemplateLimitError: more than 1000000 loop iterations (limit per render)");
  });

  it("stops printing a value whose text would be longer than the output limit", () => {
    expect(failure("{{ [[0] * 10**6] * 10**6 }}").detail).toBe(
      "TemplateLimitError: the output is longer than 1000000 characters (limit per render)",
    );
    expect(failure("{{ ([[0] * 1000] * 10**6)|string|length }}").detail).toMatch(/output is longer/);
    expect(failure("{{ ([[0] * 1000] * 10**6)|tojson|length }}").detail).toMatch(/output is longer/);
    expect(failure("{{ ([[0] * 1000] * 10**6)|pprint|length }}").detail).toMatch(/output is longer/);
  });

  it("stops output beyond the output limit", () => {
    const e = failure("{% for i in range(2000) %}\n{{ 'x' * 1000 }}{% endfor %}");
    expect(e.detail).toBe(
      "TemplateLimitError: the output is longer than 1000000 characters (limit per render)",
    );
    expect(e.where).toMatch(/\(line 1[01]\)$/);
  });

  it("stops an exponential macro at the call limit", () => {
    const e = failure(
      "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}\n{{ f(40) }}",
    );
    expect(e.detail).toBe("TemplateLimitError: more than 100000 macro calls (limit per render)");
    expect(e.where).toMatch(/^study\.yaml: prompt \(line 1[01]\)$/);
  });

  it("stops deep recursion with Python's RecursionError", () => {
    const e = failure("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
    expect(e.detail).toBe("RecursionError: maximum recursion depth exceeded (limit: 500 nested macro calls)");
  });

  it("stops a render that takes longer than the time limit", () => {
    const e = failure(
      "{% set xs = range(3000)|reverse|list %}{% for i in range(10**6) %}{{ xs|sort|length }}{% endfor %}",
      {
        limits: { timeoutMs: 50 },
      },
    );
    expect(e.detail).toBe("TemplateLimitError: the render took longer than 0.05 s (limit per render)");
  });

  it("takes other limits per template, and each render starts a new budget", () => {
    const t = compileTemplate("{% for i in range(n) %}.{% endfor %}", origin, {
      limits: { maxIterations: 10 },
    });
    expect(t.render({ n: 10 })).toBe("..........");
    expect(t.render({ n: 10 })).toBe("..........");
    expect(() => t.render({ n: 11 })).toThrow(/more than 10 loop iterations/);
  });

  it("gives a located error for 5000 nested parentheses, brackets or blocks", () => {
    for (const source of [
      `a\n{{ ${"(".repeat(5000)}1${")".repeat(5000)} }}`,
      `a\n{{ ${"[".repeat(5000)}${"]".repeat(5000)} }}`,
      `a\n{{ ${"-".repeat(5000)}1 }}`,
      `a\n${"{% if true %}".repeat(5000)}${"{% endif %}".repeat(5000)}`,
    ]) {
      const t0 = performance.now();
      let thrown: unknown;
      try {
        compileTemplate(source, origin);
      } catch (e) {
        thrown = e;
      }
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(thrown).toBeInstanceOf(TemplateError);
      expect((thrown as TemplateError).where).toMatch(/^study\.yaml: prompt \(line 11\)(, column \d+)?$/);
      expect((thrown as TemplateError).detail).toMatch(/nested too deeply \(limit: 100 levels\)/);
    }
  });

  it("turns a stack overflow on a very long flat expression into a located error", () => {
    const source = `{{ ${Array.from({ length: 200_000 }, () => "1").join(" + ")} }}`;
    let thrown: unknown;
    try {
      compileTemplate(source, origin).render({});
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(TemplateError);
    expect((thrown as TemplateError).where).toMatch(/^study\.yaml: prompt/);
    expect((thrown as TemplateError).detail).toMatch(/nested too deeply|RecursionError/);
  });

  it("bounds expressions too", () => {
    expect(() => compileExpression("([0] * 10**9)|length", origin).evaluate({})).toThrow(/limit per value/);
  });
});
