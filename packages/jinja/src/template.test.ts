import { describe, expect, it } from "vitest";
import { TemplateError } from "./template-error.js";
import { compileTemplate, pyFloat, renderTemplate } from "./template.js";

const origin = { where: "study.yaml: prompt" };

function render(source: string, context: Record<string, unknown> = {}): string {
  return renderTemplate(source, context, origin);
}

function errorOf(fn: () => unknown): TemplateError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateError);
    return e as TemplateError;
  }
  throw new Error("expected a TemplateError");
}

describe("error locations", () => {
  it("names origin and template line for syntax errors", () => {
    const e = errorOf(() => compileTemplate("a\nb\n{{ x }", origin));
    expect(e.code).toBe("template_error");
    expect(e.where).toBe("study.yaml: prompt (line 3), column 6");
    expect(e.message).toBe("study.yaml: prompt (line 3), column 6: unexpected '}'");
  });

  it("gives the column of a syntax error within its template line, in characters", () => {
    const where = (source: string) => errorOf(() => compileTemplate(source, origin)).where;
    expect(where("{{ a ]}}")).toBe("study.yaml: prompt (line 1), column 6");
    expect(where("é😀 {{ a b }}")).toBe("study.yaml: prompt (line 1), column 9");
    expect(where("x\r\n  {% if %}")).toBe("study.yaml: prompt (line 2), column 9");
    expect(where("x\n{{ 'abc }}")).toBe("study.yaml: prompt (line 2), column 4");
    expect(where("x\n{% for a in b %}\n{{ a }}")).toBe("study.yaml: prompt (line 3), column 8");
    // A problem found at another token's line than the current one keeps the line alone.
    expect(where("{% block a %}{% endblock %}\n{% block a %}{% endblock %}")).toMatch(/\(line 2\)/);
  });

  it("offsets lines by origin.line", () => {
    const e = errorOf(() =>
      compileTemplate("a\nb\n{{ x }", { where: "study.yaml: threads[0].prompt", line: 10 }),
    );
    expect(e.where).toBe("study.yaml: threads[0].prompt (line 12), column 6");
  });

  it("reports unknown filters and tests at compile time", () => {
    expect(errorOf(() => compileTemplate("ok\n{{ x|nope }}", origin)).message).toBe(
      "study.yaml: prompt (line 2): No filter named 'nope'.",
    );
    expect(errorOf(() => compileTemplate("{% if x is nope %}{% endif %}", origin)).detail).toBe(
      "No test named 'nope'.",
    );
  });

  it("reports unclosed blocks", () => {
    const e = errorOf(() => compileTemplate("{% for x in xs %}\n{{ x }}", origin));
    expect(e.detail).toContain("'endfor'");
  });

  it("names the undefined variable and the line where it is used", () => {
    const e = errorOf(() => render("Hello\n{{ name }}!"));
    expect(e.where).toBe("study.yaml: prompt (line 2)");
    expect(e.detail).toBe("'name' is undefined");
  });

  it("locates errors in conditions, loops and macros", () => {
    expect(errorOf(() => render("{% if a %}\n{% elif zz %}\n{% endif %}", { a: 0 })).where).toBe(
      "study.yaml: prompt (line 2)",
    );
    expect(
      errorOf(() => render("x\n{% for v in vs %}\n{{ v.nope }}\n{% endfor %}", { vs: [{}] })).message,
    ).toBe("study.yaml: prompt (line 3): 'dict object' has no attribute 'nope'");
    expect(errorOf(() => render("{% macro m() %}\n\n{{ q }}{% endmacro %}\n{{ m() }}", {})).where).toBe(
      "study.yaml: prompt (line 3)",
    );
    expect(
      errorOf(() =>
        compileTemplate("{% macro m() %}\n\n{{ q }}{% endmacro %}\n{{ m() }}", {
          where: "f",
          line: 5,
        }).render({}),
      ).where,
    ).toBe("f (line 7)");
  });

  it("is strict in conditions, loops, filter arguments and concatenation", () => {
    for (const source of [
      "{% if missing %}x{% endif %}",
      "{% for x in missing %}{% endfor %}",
      "{{ 'a'|replace(missing, 'b') }}",
      "{{ 'a' ~ missing }}",
      "{{ missing + 1 }}",
      "{{ missing.attr }}",
    ]) {
      expect(errorOf(() => render(source)).detail).toBe("'missing' is undefined");
    }
  });

  it("allows defined tests and the default filter", () => {
    expect(
      render("{{ x is defined }} {{ x is undefined }} {{ x|default('d') }} {{ d.k|default(0) }}", { d: {} }),
    ).toBe("False True d 0");
  });

  it("turns Python exceptions and failing context functions into TemplateErrors", () => {
    expect(errorOf(() => render("{{ 1 / 0 }}")).detail).toBe("ZeroDivisionError: division by zero");
    const e = errorOf(() =>
      render("{{ f() }}", {
        f: () => {
          throw new Error("boom");
        },
      }),
    );
    expect(e.detail).toContain("boom");
  });

  it("stops runaway macro recursion", () => {
    expect(errorOf(() => render("{% macro r() %}{{ r() }}{% endmacro %}{{ r() }}")).detail).toContain(
      "recursion",
    );
  });
});

describe("sandbox", () => {
  it("never reaches JS internals through attributes or items", () => {
    const context = { x: { a: 1 }, s: "str", xs: [1], f: () => 1 };
    for (const expr of [
      "x.constructor",
      "x['constructor']",
      "x.__proto__",
      "x['__proto__']",
      "x.prototype",
      "x.__class__",
      "s.constructor",
      "xs.constructor",
      "f.constructor",
      "x.toString",
      "x.hasOwnProperty",
      "x.valueOf",
      "(1).constructor",
      "range.constructor",
    ]) {
      expect(errorOf(() => render(`{{ ${expr} }}`, context)).detail, expr).toMatch(
        /has no attribute|is undefined/,
      );
    }
  });

  it("treats context values as data, never as template source", () => {
    expect(render("{{ v }}|{{ [v] }}|{{ d.k }}", { v: "{{ secret }} {% if %}", d: { k: "{# x #}" } })).toBe(
      "{{ secret }} {% if %}|['{{ secret }} {% if %}']|{# x #}",
    );
  });

  it("does not let one render affect the next", () => {
    const t = compileTemplate(
      "{% set ns = namespace(n=0) %}{% for x in xs %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}{% set c = cycler(1, 2) %}{{ c.next() }}",
      origin,
    );
    const context = { xs: [1, 2, 3] };
    expect(t.render(context)).toBe("61");
    expect(t.render(context)).toBe("61");
    expect(context).toEqual({ xs: [1, 2, 3] });
  });
});

describe("context values as Python values", () => {
  it("maps JS values to Python types", () => {
    const context = {
      i: 4,
      f: 4.5,
      pf: pyFloat(4),
      big: 2n ** 80n,
      t: true,
      n: null,
      u: undefined,
      list: [1, "a", null, pyFloat(2)],
      obj: { b: 1, a: [true] },
      map: new Map<unknown, unknown>([
        ["z", 1],
        [2, "two"],
      ]),
    };
    expect(
      render(
        "{{ i }} {{ f }} {{ pf }} {{ big }} {{ t }} {{ n }} {{ u }} {{ list }} {{ obj }} {{ map }}",
        context,
      ),
    ).toBe(
      "4 4.5 4.0 1208925819614629174706176 True None None [1, 'a', None, 2.0] {'b': 1, 'a': [True]} {'z': 1, 2: 'two'}",
    );
    expect(
      render("{{ pf is float }} {{ i is integer }} {{ i / 2 }} {{ pf * 2 }} {{ big // 2 ** 79 }}", context),
    ).toBe("True True 2.0 8.0 2");
  });

  it("reads own properties of class instances and calls context functions", () => {
    class Player {
      name = "Ann";
      greet(): string {
        return "hi";
      }
    }
    expect(
      render("{{ p.name }} {{ add(2, 3) }}", { p: new Player(), add: (a: number, b: number) => a + b }),
    ).toBe("Ann 5");
    expect(errorOf(() => render("{{ p.greet }}", { p: new Player() })).detail).toBe(
      "'dict object' has no attribute 'greet'",
    );
  });

  it("drops one trailing newline and normalizes CRLF", () => {
    expect(render("a\r\nb\r\n")).toBe("a\nb");
    expect(render("a\n\n")).toBe("a\n");
  });
});

describe("freeVariables", () => {
  const free = (source: string): string[] => compileTemplate(source, origin).freeVariables();

  it("lists names read from the context in order of first use", () => {
    expect(free("{{ b }} {{ a.x }} {{ b }} {{ c[0] }}")).toEqual(["b", "a", "c"]);
  });

  it("excludes names the template sets, loop variables and globals", () => {
    expect(
      free(
        "{% set s = 1 %}{{ s }}{% for x in xs %}{{ x }}{{ loop.index }}{{ y }}{% endfor %}{{ range(3)|list }}" +
          "{{ dict(a=1) }}{% set ns = namespace(v=1) %}{% set ns.v = 2 %}{{ cycler(1) }}{{ joiner() }}",
      ),
    ).toEqual(["xs", "y"]);
  });

  it("counts a name read before it is set", () => {
    expect(free("{% set x = x + 1 %}{{ x }}")).toEqual(["x"]);
    expect(free("{{ x }}{% set x = 1 %}")).toEqual(["x"]);
  });

  it("handles macros, call blocks, with and set blocks", () => {
    expect(
      free(
        "{% macro m(a, b=dflt) %}{{ a }}{{ b }}{{ outer }}{{ later }}{{ caller() }}{% endmacro %}" +
          "{% call(v) m(1) %}{{ v }}{{ inner }}{% endcall %}{% set later = 1 %}" +
          "{% with w = src %}{{ w }}{% endwith %}{% set blk %}{{ z }}{% endset %}{{ blk }}",
      ),
    ).toEqual(["inner", "src", "z", "dflt", "outer"]);
  });

  it("loop variables do not leak out of the loop", () => {
    expect(free("{% for x in xs %}{% set inner = 1 %}{% endfor %}{{ x }}{{ inner }}")).toEqual([
      "xs",
      "x",
      "inner",
    ]);
  });

  it("reports names only read where they were checked as optional", () => {
    const optional = (source: string): string[] => compileTemplate(source, origin).optionalVariables();
    expect(
      optional("{% if hint is defined %}{{ hint }}{% endif %}{{ extra|default('') }}{{ must }}"),
    ).toEqual(["hint", "extra"]);
    expect(
      optional(
        "{% if a is undefined %}none{% elif b is defined and c is defined %}{{ b ~ c }}{% else %}{{ a }}{% endif %}",
      ),
    ).toEqual(["a", "b", "c"]);
    expect(
      optional("{{ x if x is defined else '' }} {{ y is defined and y > 1 }} {{ z is undefined or z }}"),
    ).toEqual(["x", "y", "z"]);
    expect(optional("{% if h is defined %}{% for i in h %}{{ i }}{% endfor %}{% endif %}")).toEqual(["h"]);
    expect(
      optional(
        "{% if h is defined or other %}{{ h }}{% endif %}{% if not (g is defined) %}{{ g }}{% endif %}",
      ),
    ).toEqual([]);
    expect(optional("{% if q is defined %}x{% endif %}{{ q }}")).toEqual([]);
  });
});

describe("compile once, render many", () => {
  it("renders the same compiled template with different contexts", () => {
    const t = compileTemplate("{{ name }} scored {{ (score * 100)|round(1) }}%", origin);
    expect(t.render({ name: "A", score: 0.5 })).toBe("A scored 50.0%");
    expect(t.render({ name: "B", score: 0.123 })).toBe("B scored 12.3%");
    expect(t.source).toBe("{{ name }} scored {{ (score * 100)|round(1) }}%");
    expect(t.origin).toBe(origin);
  });
});

describe("values the template may change", () => {
  it("changes lists and dicts the template made, never the context's data", () => {
    const xs = [1, 2];
    const d = { a: 1 };
    const t = compileTemplate(
      "{% set ys = xs|list %}{% set _ = ys.append(3) %}{% set e = dict(d) %}{% set _ = e.update(b=2) %}{{ ys }} {{ e }}",
      origin,
    );
    expect(t.render({ xs, d })).toBe("[1, 2, 3] {'a': 1, 'b': 2}");
    expect(xs).toEqual([1, 2]);
    expect(errorOf(() => render("{% set _ = xs.append(3) %}", { xs })).detail).toBe(
      "TypeError: list.append(): this list comes from the template's context and cannot be changed; change a copy (xs|list)",
    );
    expect(errorOf(() => render("{% set _ = d.update(b=2) %}", { d })).detail).toMatch(
      /^TypeError: dict\.update\(\): this dict comes from the template's context/,
    );
    expect(
      errorOf(() => render("{% set _ = users[0].tags.pop() %}", { users: [{ tags: ["x"] }] })).detail,
    ).toMatch(/list\.pop\(\): this list comes from the template's context/);
    expect(xs).toEqual([1, 2]);
    expect(d).toEqual({ a: 1 });
  });

  it("keeps a changed list to one render", () => {
    const t = compileTemplate("{% set xs = [] %}{% set _ = xs.append(n) %}{{ xs }}", origin);
    expect(t.render({ n: 1 })).toBe("[1]");
    expect(t.render({ n: 2 })).toBe("[2]");
  });
});

describe("mutual recursion between builtins", () => {
  // filters ↔ tests and methods ↔ attribute lookup call each other through a table or a passed-in
  // function rather than through imports in a circle; these paths cross those seams.
  it("lets select/reject use the filter and test tests", () => {
    expect(render("{{ ['upper', 'nope', 'odd']|select('filter')|list }}")).toBe("['upper']");
    expect(render("{{ ['odd', 'upper', 'nope']|reject('test')|list }}")).toBe("['nope']");
  });

  it("resolves str.format fields with Jinja2's getattr and getitem", () => {
    const context = { d: { a: 1, b: 2 }, u: { name: "Ann" } };
    expect(render("{{ '{0.a}-{0[b]}'.format(d) }}|{{ '{x.a}'.format_map({'x': d}) }}", context)).toBe(
      "1-2|1",
    );
    expect(render("{% set f = '{0.name}!'.format %}{{ f(u) }}", context)).toBe("Ann!");
    expect(errorOf(() => render("{{ '{0.nope}'.format(d) }}", context)).message).toBe(
      "study.yaml: prompt (line 1): 'dict object' has no attribute 'nope'",
    );
  });
});
