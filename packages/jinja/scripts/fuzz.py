#!/usr/bin/env python3
"""Differential fuzzing of silico's template engine against real Jinja2 (optional tool).

Generates random numbers, strings, data structures and whole templates, renders them with Jinja2
(StrictUndefined, autoescape=False) and writes a cases file in the format of
packages/jinja/src/conformance/cases.json. Run it through the engine with:

    python3 packages/jinja/scripts/fuzz.py --seed 1 --count 5000 --out /tmp/jinja-fuzz.json
    JINJA_CONFORMANCE_CASES=/tmp/jinja-fuzz.json npx vitest run packages/jinja/src/conformance.test.ts

Known, deliberate differences that may show up:
- Jinja2 folds constant expressions at compile time, so `''|first ~ 'x'` in code that never runs
  still fails in Jinja2; silico only fails when the code runs.
- `x in loop` consumes Jinja2's loop iterator; silico's loop object is not iterable.
- negative numbers raised to fractional powers give complex numbers in Python; silico raises.
- integers beyond 2**53 cannot pass through JSON into JS exactly (the generator avoids them).
"""

from __future__ import annotations

import argparse
import json
import random
import struct

import jinja2

ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)


def F(x: float):
    return {"__float__": x}


def convert(v):
    if isinstance(v, dict):
        if set(v) == {"__float__"}:
            return float(v["__float__"])
        return {k: convert(x) for k, x in v.items()}
    if isinstance(v, list):
        return [convert(x) for x in v]
    return v


def rfloat(rng: random.Random) -> float:
    r = rng.random()
    if r < 0.3:
        return round(rng.uniform(-1000, 1000), rng.randint(0, 6))
    if r < 0.5:
        return rng.uniform(-1e6, 1e6)
    if r < 0.7:
        x = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        return x if x == x and abs(x) != float("inf") else 0.5
    if r < 0.85:
        return rng.randint(-50, 50) / rng.choice([2, 4, 8, 10, 100, 1000, 3])
    return rng.choice([0.5, 1.5, 2.5, -0.5, 0.125, 0.375, 2.675, 1.005, 1e16, 1e-5, 123456.5])


def number_case(rng: random.Random):
    templates = [
        "{{ a }}", "{{ a + b }}", "{{ a - b }}", "{{ a * b }}", "{{ a / b }}", "{{ a // b }}", "{{ a % b }}",
        "{{ a|round }}", "{{ a|round(2) }}", "{{ a|round(-1) }}", "{{ a|round(1, 'floor') }}", "{{ a|round(3, 'ceil') }}",
        "{{ '%.3f' % a }}", "{{ '%e' % a }}", "{{ '%g' % a }}", "{{ '%.10g' % a }}", "{{ '%d' % a }}", "{{ '%10.2f' % a }}",
        "{{ '{:.4g}'.format(a) }}", "{{ '{:,.2f}'.format(a) }}", "{{ '{:.3}'.format(a) }}", "{{ '{:.2%}'.format(a) }}",
        "{{ a|int }}", "{{ a|float }}", "{{ a|abs }}", "{{ a|tojson }}", "{{ [a, b] }}", "{{ a < b }}", "{{ a == b }}",
        "{{ a ** 2 }}", "{{ -a }}", "{{ a|string|float }}",
    ]
    def value():
        return F(rfloat(rng)) if rng.random() < 0.7 else rng.choice([rng.randint(-100, 100), rng.randint(-(2**52), 2**52)])
    return rng.choice(templates), {"a": value(), "b": value()}


ALPHABET = list("abcXYZ  \t\n'\"\\<>&-_.,;:()[]{}0123456789éßÄ😀\u00a0\u2028\x01\x7f#%/") + ["ǅ", "İ", "ﬁ"]


def string_case(rng: random.Random):
    templates = [
        "{{ [s] }}", "{{ s|tojson }}", "{{ s.split() }}", "{{ s.strip() }}|", "{{ s.strip(t) }}|", "{{ s.title() }}",
        "{{ s|title }}", "{{ s|capitalize }}", "{{ s|wordcount }}", "{{ s|truncate(10) }}", "{{ s|center(20) }}|",
        "{{ s|striptags }}", "{{ s|indent(2) }}", "{{ s|urlencode }}", "{{ s|e }}", "{{ '%r' % s }}", "{{ s[i:j] }}",
        "{{ s[::k] }}", "{{ s|length }}", "{{ s < t }}", "{{ [s, t]|sort }}", "{{ s.splitlines() }}", "{{ s.find(t) }}",
        "{{ s.count(t) }}", "{{ s|reverse }}", "{{ s.rsplit(None, 1) }}", "{{ s.swapcase() }}", "{{ s|pprint }}",
        "{{ s.isspace() }} {{ s.isalpha() }} {{ s.isdigit() }} {{ s.islower() }} {{ s.isupper() }} {{ s.istitle() }}",
    ]
    def rstr():
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 14)))
    ctx = {"s": rstr(), "t": rstr()[:3], "i": rng.randint(-8, 8), "j": rng.randint(-8, 12), "k": rng.choice([-3, -2, -1, 1, 2, 3])}
    return rng.choice(templates), ctx


TEMPLATE_CONTEXT = {"a": 3, "b": F(2.0), "xs": [1, 2, 3], "s": "Hey you", "d": {"k": 1, "j": "v"}, "n": None, "f": 0.5}
VARS = ["a", "b", "xs", "s", "d", "n", "f", "missing", "x", "i", "loop.index", "m"]
FILTERS = ["length", "string", "upper", "first", "last", "list", "sum", "sort", "default(7)", "int", "float", "round(1)",
           "abs", 'join("-")', "tojson", "reverse|list", "unique|list", "title", "trim", "e"]
TESTS = ["defined", "undefined", "none", "number", "string", "odd", "even", "iterable", "mapping", "not defined",
         "divisibleby 2", "sameas none", "in xs", "eq 1"]
OPS = ["+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", ">=", "in", "not in", "and", "or"]


def template_case(rng: random.Random):
    def atom(depth):
        r = rng.random()
        if r < 0.35:
            return rng.choice(VARS)
        if r < 0.5:
            return rng.choice(["1", "2", "0", "-3", "2.5", "1.0", "'q'", "''", "'a b'", "none", "true", "false", "[1, 2]",
                               "(1,)", "{'k': 1}", "[]"])
        if r < 0.6:
            return rng.choice(["xs[0]", "xs[-1]", "xs[1:]", "s[::-1]", "d.k", "d['k']", "d.get('z', 5)", "s.upper()",
                               "s.split()", "xs|length", "range(3)"])
        return rng.choice(VARS) if depth > 2 else "(" + expr(depth + 1) + ")"

    def expr(depth=0):
        r = rng.random()
        e = atom(depth)
        if depth > 3:
            return e
        if r < 0.25:
            return f"{e} {rng.choice(OPS)} {expr(depth + 1)}"
        if r < 0.35:
            return e + "|" + rng.choice(FILTERS)
        if r < 0.45:
            return f"{e} is {rng.choice(TESTS)}"
        if r < 0.5:
            return f"{e} if {expr(depth + 1)} else {expr(depth + 1)}"
        if r < 0.55:
            return f"not {e}"
        return e

    def ws():
        return rng.choice(["", "", "", "-", "+"])

    def dash():
        return rng.choice(["", "-"])

    def block(depth=0):
        parts = []
        for _ in range(rng.randint(1, 4)):
            r = rng.random()
            if r < 0.3:
                parts.append(rng.choice(["", "x", " ", "\n", "  \n  ", "A B", "\t", "\n\n", "."]))
            elif r < 0.55:
                parts.append("{{" + dash() + " " + expr() + " " + dash() + "}}")
            elif r < 0.65 and depth < 3:
                part = "{%" + ws() + " if " + expr() + " " + dash() + "%}" + block(depth + 1)
                if rng.random() < 0.3:
                    part += "{%" + ws() + " elif " + expr() + " %}" + block(depth + 1)
                if rng.random() < 0.4:
                    part += "{% else " + dash() + "%}" + block(depth + 1)
                parts.append(part + "{%" + ws() + " endif " + dash() + "%}")
            elif r < 0.75 and depth < 3:
                it = rng.choice(["xs", "s", "d", "range(2)", "[]", "xs|reverse", "d.items()|list", "n", "missing"])
                part = "{%" + ws() + " for " + rng.choice(["x", "i"]) + " in " + it + (" if x" if rng.random() < 0.2 else "") + " %}"
                part += block(depth + 1)
                if rng.random() < 0.3:
                    part += "{% else %}" + block(depth + 1)
                parts.append(part + "{%" + ws() + " endfor " + dash() + "%}")
            elif r < 0.85:
                value = expr() if rng.random() < 0.8 else expr() + ", " + expr()
                parts.append("{%" + ws() + " set " + rng.choice(["a", "x", "n", "a, b"]) + " = " + value + " " + dash() + "%}")
            elif r < 0.9:
                parts.append("{#" + dash() + " c " + dash() + "#}")
            elif r < 0.93:
                parts.append("{% raw %}{{ a }}{% endraw %}")
            elif r < 0.96 and depth < 2:
                parts.append("{% macro m(p, q=2) %}" + block(depth + 1) + "{{ p }}{% endmacro %}{{ m(" + expr() + ") }}")
            else:
                parts.append("{% with x = " + expr() + " %}" + block(depth + 1) + "{% endwith %}")
        return "".join(parts)

    return block() + rng.choice(["", "\n", "\n\n"]), TEMPLATE_CONTEXT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--kind", choices=["numbers", "strings", "templates", "all"], default="all")
    parser.add_argument("--out", default="/tmp/jinja-fuzz.json")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    makers = {"numbers": number_case, "strings": string_case, "templates": template_case}
    kinds = list(makers) if args.kind == "all" else [args.kind]
    cases = []
    for i in range(args.count):
        kind = kinds[i % len(kinds)]
        template, ctx = makers[kind](rng)
        entry = {"name": f"{i} {kind} {template!r}"[:200], "template": template, "context": ctx}
        try:
            entry["expected"] = ENV.from_string(template).render(convert(ctx))
        except Exception as e:  # noqa: BLE001 - Jinja2 failures are expected-error cases
            entry.update(error=True, error_type=type(e).__name__, error_message=str(e))
        cases.append(entry)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"generator": "packages/jinja/scripts/fuzz.py", "jinja2": jinja2.__version__, "cases": cases}, f, ensure_ascii=False)
    print(f"wrote {len(cases)} cases to {args.out}")


if __name__ == "__main__":
    main()
