#!/usr/bin/env python3
"""Renders silico's Jinja2 conformance cases with real Jinja2 and writes the expected outputs.

Usage (from the repository root):

    python3 packages/jinja/scripts/generate.py

Writes packages/jinja/src/conformance/cases.json, which
packages/jinja/src/conformance.test.ts runs through silico's template engine, asserting
identical output (or an error where Jinja2 raises).

The environment is the one silico emulates: Environment(undefined=StrictUndefined,
autoescape=False) with the defaults trim_blocks=False, lstrip_blocks=False and
keep_trailing_newline=False.

Context values are JSON. A float that must stay a Python float even when integral is written
{"__float__": 4}; the TS side turns the same marker into pyFloat(4).

Every case states whether Jinja2 must raise (error=True). The generator fails if Jinja2
disagrees, so the expectations stay deliberate. Output is deterministic: rerunning it with the
same Jinja2 version gives the same file.
"""

from __future__ import annotations

import json
import pathlib
import sys

import jinja2

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "conformance" / "cases.json"

CASES: list[dict] = []


def case(name: str, template: str, context: dict | None = None, error: bool = False, exact: bool = False) -> None:
    """exact: the engine must also raise Python's exception type and message (not only some error)."""
    CASES.append({"name": name, "template": template, "context": context or {}, "error": error, "exact": exact})


def F(x: float) -> dict:
    """A context float that stays a float even when integral."""
    return {"__float__": x}


USERS = [
    {"name": "Ann", "age": 31, "city": "Oslo", "active": True},
    {"name": "bob", "age": 25, "city": "Bergen", "active": False},
    {"name": "Cy", "age": 40, "city": "Oslo", "active": True},
]
XS = [1, 2, 3, 4, 5]
D = {"b": 2, "a": 1, "c": 3}

# --- printing of Python values ---------------------------------------------------------------
case("print none true false", "{{ none }} {{ None }} {{ true }} {{ False }} {{ x }}", {"x": None})
case(
    "print floats",
    "{{ 5.0 }} {{ 10/2 }} {{ 0.1 + 0.2 }} {{ 1e-5 }} {{ 1e16 }} {{ 1e15 }} {{ 1.5e300 }} {{ -0.0 }}"
    " {{ 123456789.125 }} {{ 0.0001 }} {{ 1/3 }} {{ 2.5e-7 }} {{ 1e22 }}",
)
case("print context floats", "{{ x }} {{ y }} {{ x + 1 }} {{ y * 2 }} {{ z }}", {"x": F(4), "y": 2.5, "z": F(1e16)})
case("print list", "{{ [1, 'a', None, True, 2.0, 1.5] }}")
case(
    "print nested context data",
    "{{ data }}",
    {"data": {"b": [1, {"c": None, "d": True}], "a": "x", "f": F(3), "g": [], "h": {}}},
)
case("print tuples", "{{ (1,) }} {{ () }} {{ (1, 'b') }} {{ 1, 2 }} {{ ((1, 2), [3]) }}")
case(
    "string repr quoting",
    "{{ [a, b, c, d] }}",
    {"a": "it's", "b": 'say "hi"', "c": "both ' and \"", "d": "back\\slash"},
)
case("string repr escapes", "{{ ['\\n\\t\\r', '\\x01\\x7f', 'é😀', '\\u00a0\\u2028', '\\\\'] }}")
case("print dict with non-string keys", "{{ {1: 'a', 2.5: none, (1, 2): [3], true: 0} }}")
case("big ints", "{{ 2 ** 100 }} {{ 12345678901234567890 * 3 }} {{ -(2 ** 70) // 3 }} {{ x }}", {"x": 10**21})
case("integer literals", "{{ 1_000 }} {{ 0x1f }} {{ 0o17 }} {{ 0b101 }} {{ 1e3 }} {{ 1_0.5 }}")
case("adjacent string literals", "{{ 'a' \"b\" 'c' }}")
case("string literal escapes", "{{ \"it's\" }} {{ 'say \"hi\"' }} {{ 'a\\tb' }} {{ \"\\u00e9\\x41\" }} {{ 'x\\'y' }}")

# --- arithmetic ------------------------------------------------------------------------------
case(
    "floor division and modulo",
    "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}"
    " {{ 1 // 0.1 }} {{ 7.0 // 2 }} {{ -0.5 // 1 }}",
)
case(
    "division and power",
    "{{ 10 / 4 }} {{ 10 / 5 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 0.5 }} {{ 2.0 ** 3 }} {{ -2 ** 2 }}"
    " {{ 2 ** 3 ** 2 }} {{ 0 ** 0 }}",
)
case(
    "int float mixing",
    "{{ 1 + 1.0 }} {{ 3 * 1.5 }} {{ 3 - 3.0 }} {{ True + True }} {{ 'ab' * 3 }} {{ [0] * 3 }} {{ 3 * 'x' }}"
    " {{ x * 2 }} {{ x / 2 }} {{ y + y }}",
    {"x": F(2), "y": 0.1},
)
case("unary operators", "{{ -x }} {{ +x }} {{ -(1.5) }} {{ - -3 }} {{ -y }}", {"x": 4, "y": F(0)})
case("tilde concatenation", "{{ 'a' ~ 1 ~ none ~ 2.0 ~ [1] ~ true }}")
case("list and tuple addition", "{{ [1] + [2] }} {{ (1,) + (2,) }} {{ 'a' + 'b' }}")
case("division by zero", "{{ 1 / 0 }}", error=True)
case("integer floor division by zero", "{{ 1 // 0 }}", error=True)
case("str plus int", "{{ 'a' + 1 }}", error=True)
case("unorderable comparison", "{{ 1 < 'a' }}", error=True)

# --- comparisons and logic -------------------------------------------------------------------
case(
    "chained comparisons",
    "{{ 1 < x < 3 }} {{ 1 < x > 5 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ (1, 2) == (1, 2) }}"
    " {{ [1] == (1,) }} {{ 1 == true }} {{ 'Z' < 'a' }} {{ x != 2 }} {{ 3 >= 3 > 2 }}",
    {"x": 2},
)
case(
    "in and not in",
    "{{ 'a' in 'abc' }} {{ 2 in [1, 2] }} {{ 'a' in d }} {{ 3 not in [1] }} {{ 1 in d.values() }} {{ 'z' in d.keys() }}"
    " {{ 1.0 in [1] }} {{ (1, 2) in [(1, 2)] }}",
    {"d": D},
)
case("and or return operands", "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ [] or none }} {{ not 0 }} {{ 1 and 0 }} {{ '' or '' }}")
case(
    "conditional expressions",
    "{{ 'yes' if x > 1 else 'no' }} [{{ 'a' if false }}] {{ ('z' if false)|default('dflt') }} {{ (1 if false) ~ 'x' }}"
    " {{ 'a' if none else 'b' if 0 else 'c' }}",
    {"x": 2},
)

# --- attribute and item access ---------------------------------------------------------------
case(
    "negative indexes and slices",
    "{{ xs[-1] }} {{ xs[1:3] }} {{ xs[::-1] }} {{ xs[:2] }} {{ xs[-2:] }} {{ xs[::2] }} {{ s[:2] }} {{ s[::-1] }}"
    " {{ s[-1] }} {{ xs[10:] }} {{ xs[-100:2] }} {{ s[1:-1] }} {{ (1, 2, 3)[1:] }} {{ range(10)[2:5] }}",
    {"xs": XS, "s": "hello"},
)
case(
    "attribute and item lookup",
    "{{ d.a }} {{ d['a'] }} {{ n.inner.x }} {{ users[0].name }} {{ xs.0 }} {{ users.1['age'] }} {{ n['inner']['x'] }}",
    {"d": D, "n": {"inner": {"x": 7}}, "users": USERS, "xs": XS},
)
case(
    "dict methods",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {{ d.keys()|list }} {{ d.values()|list }}"
    " {{ d.get('zz', 'dflt') }} {{ d.get('a') }} {{ d.get('zz') }} {{ d.items()|list }}",
    {"d": D},
)
case("dict views print", "{{ d.items() }} {{ d.keys() }} {{ d.values() }}", {"d": {"a": 1}})
case("dict method shadows key", "{{ d['items'] }} {{ d.get('items') }}", {"d": {"items": [1, 2]}})
case(
    "string methods",
    "{{ s.upper() }}|{{ s.lower() }}|{{ s.strip() }}|{{ s.replace('l', 'L') }}|{{ s.strip().startswith('He') }}"
    "|{{ s.endswith('  ') }}|{{ s.strip().title() }}|{{ 'abc'.capitalize() }}|{{ s.lstrip() }}|{{ s.rstrip() }}"
    "|{{ s.count('l') }}|{{ s.find('o') }}|{{ 'x-y'.replace('-', '') }}|{{ s.strip().startswith(('x', 'He')) }}",
    {"s": "  Hello World  "},
)
case(
    "string split",
    "{{ 'a,b,,c'.split(',') }} {{ '  a  b '.split() }} {{ 'a b c'.split(None, 1) }} {{ 'a-b-c'.rsplit('-', 1) }}"
    " {{ 'a\\nb\\r\\nc'.splitlines() }} {{ 'k=v=w'.partition('=') }} {{ ', '.join(['x', 'y']) }}",
)
case(
    "str.format",
    "{{ '{} and {}'.format(a, b) }}|{{ '{0}{1}{0}'.format('x', 'y') }}|{{ '{name}!'.format(name='N') }}"
    "|{{ '{:.2f}'.format(3.14159) }}|{{ '{:>5}|{:<5}|{:^5}'.format('a', 'b', 'c') }}|{{ '{:,}'.format(1234567) }}"
    "|{{ '{!r}'.format('q') }}|{{ '{:05.1f}'.format(2.25) }}|{{ '{:.1%}'.format(0.256) }}|{{ '{}'.format(1.0) }}"
    "|{{ '{:.3}'.format(123.0) }}|{{ '{:.3}'.format(1.0) }}|{{ '{:>5}'.format(True) }}|{{ '{}'.format(None) }}"
    "|{{ '{:x} {:#b} {:e}'.format(255, 5, 1234.5) }}|{{ '{0[0]} {0[1]}'.format(['p', 'q']) }}|{{ '{{}}'.format() }}"
    "|{{ '{:*^9}'.format('mid') }}|{{ '{:+d}'.format(3) }}|{{ '{:g}'.format(0.00001234) }}",
    {"a": "A", "b": 2},
)
case(
    "percent formatting",
    "{{ '%d' % x }}|{{ '%s and %s' % (a, b) }}|{{ '%.2f' % y }}|{{ '%5.1f|%-5d|%05d|%+d' % (3.14159, 42, 42, 5) }}"
    "|{{ '%x %o %X %e %g' % (255, 8, 255, 12345.678, 0.00001234) }}|{{ '%(n)s=%(v)d' % {'n': 'k', 'v': 3} }}"
    "|{{ '%r' % 'q' }}|{{ '%d%%' % 50 }}|{{ '%.0f %.0f %.0f' % (0.5, 1.5, 2.5) }}|{{ '%s' % [1, 2] }}"
    "|{{ '%d' % 3.99 }}|{{ '%i' % true }}|{{ '%.3s' % 'abcdef' }}|{{ '%s' % none }}|{{ '%10.4f|' % pi }}"
    "|{{ '%-8s|' % 'ab' }}|{{ '%#x %#o' % (255, 8) }}|{{ '%c%c' % (72, 'i') }}|{{ '%.1f' % x }}|{{ '%g' % 1e20 }}",
    {"x": 7, "a": "A", "b": None, "y": 2.675, "pi": 3.14159265},
)
case("percent format too few args", "{{ '%s %s' % ('a',) }}", error=True)
case("percent format too many args", "{{ '%s' % (1, 2) }}", error=True)
case("format filter", "{{ '%s - %s'|format('a', 'b') }} {{ '%.3f'|format(x) }} {{ '%(a)s'|format(a=1) }}", {"x": 2})

# --- loops -----------------------------------------------------------------------------------
case(
    "loop variables",
    "{% for x in xs %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}"
    "/{{ loop.last }}/{{ loop.length }} {% endfor %}",
    {"xs": ["a", "b", "c"]},
)
case("for else", "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in [1] %}{{ x }}{% else %}empty{% endfor %}")
case("for tuple unpacking", "{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }},{% endfor %}{% for k, v in d|dictsort %}{{ k }}{{ v }}{% endfor %}", {"d": D})
case("for with filter", "{% for x in xs if x is odd %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% endfor %}", {"xs": XS})
case(
    "loop helpers",
    "{% for x in xs %}{{ loop.cycle('odd', 'even') }}{% if loop.previtem is defined %}<{{ loop.previtem }}{% endif %}"
    "{% if loop.nextitem is defined %}>{{ loop.nextitem }}{% endif %}{{ loop.depth }} {% endfor %}"
    "{% for x in [1, 1, 2, 2, 3] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}",
    {"xs": [1, 2, 3]},
)
case(
    "recursive loop",
    "{% for item in tree recursive %}[{{ item.name }}{{ loop.depth }}{% if item.children %}{{ loop(item.children) }}{% endif %}]{% endfor %}",
    {"tree": [{"name": "a", "children": [{"name": "b", "children": []}, {"name": "c", "children": [{"name": "d", "children": []}]}]}]},
)
case(
    "nested loops",
    "{% for a in [1, 2] %}{% for b in [3, 4] %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}|{% endfor %}",
)
case("iterate dict and string", "{% for k in d %}{{ k }}{% endfor %} {% for c in 'abc' %}{{ c }}.{% endfor %}", {"d": D})
case(
    "range",
    "{% for i in range(3) %}{{ i }}{% endfor %} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }} {{ range(3) }}"
    " {{ range(0) }} {{ range(2, 8, 2) }} {{ range(3)|length }} {{ 2 in range(3) }}",
)
case("loop outside loop", "{{ loop.index }}", error=True)

# --- assignment and scoping ------------------------------------------------------------------
case("set in loop does not leak", "{% set x = 1 %}{% for i in [1, 2] %}{% set x = i %}{{ x }}{% endfor %}{{ x }}")
case(
    "set in loop starts from outer value each iteration",
    "{% set x = 0 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}",
)
case("set in if leaks", "{% if true %}{% set y = 5 %}{% endif %}{{ y }}")
case("set in loop undefined outside", "{% for a in [1] %}{% set q = 1 %}{% endfor %}{{ q }}", error=True)
case("set block", "{% set b %}Hello {{ name }}{% endset %}[{{ b }}] {% set u | upper %}abc{% endset %}{{ u }}", {"name": "Ann"})
case("tuple set", "{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set t = 1, 2 %}{{ t }} {% set c, d = 'xy' %}{{ d }}{{ c }}")
case(
    "namespace",
    "{% set ns = namespace(total=0, seen=[]) %}{% for x in xs %}{% set ns.total = ns.total + x %}{% endfor %}"
    "{{ ns.total }} {{ ns.seen }} {{ namespace(a=1) }} {% set ns.total = 'x' %}{{ ns.total }}",
    {"xs": XS},
)
case("namespace assignment on non-namespace", "{% set ns = 5 %}{% set ns.a = 1 %}", error=True)
case("context read before set", "{{ x }}{% set x = 2 %}{{ x }}", {"x": 1})
case("with block", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{% set z = 1 %}{% with z = 5 %}{{ z }}{% endwith %}{{ z }}")
case("dict literal and dict global", "{{ {'b': 1, 'a': 2} }} {{ dict(a=1, b='x') }} {{ dict([('k', 1)]) }} {{ {} }}")

# --- macros ----------------------------------------------------------------------------------
case(
    "macro with defaults and kwargs",
    "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}"
    "{{ greet('Ann') }} {{ greet('Bob', greeting='Hi') }} {{ greet(name='Cy') }} {{ greet('D', 'Yo') }}",
)
case(
    "call block",
    "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ x }}{% endcall %}",
    {"x": 1},
)
case(
    "call block with arguments",
    "{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(item) each([1, 2]) %}[{{ item }}]{% endcall %}",
)
case("macro varargs and kwargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}")
case(
    "macro sees variables set before the call",
    "{% set x = 1 %}{% macro m() %}{{ x }}{% endmacro %}{% set x = 2 %}{{ m() }} {% macro r(n) %}{% if n > 0 %}{{ n }}{{ r(n - 1) }}{% endif %}{% endmacro %}{{ r(3) }}",
)
case("macro missing argument", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m() }}", error=True)

# --- whitespace control, comments, raw, newlines ---------------------------------------------
case("strip block whitespace", "{% for x in xs -%}\n  {{ x }}\n{%- endfor %}", {"xs": [1, 2]})
case("strip variable whitespace", "a  {{- ' b ' -}}  c")
case("comments", "a{# comment #}b {#- trimmed -#} c{# multi\nline #}d")
case("raw block", "{% raw %}{{ not rendered }} {% if %}{% endraw %}|{%- raw -%}  x  {%- endraw -%}  |")
case("trailing newline dropped", "line1\nline2\n")
case("only one trailing newline dropped", "x\n\n")
case("block newlines kept", "{% if true %}\nyes\n{% endif %}\nend")
case("whitespace control around if", "a\n  {%- if true -%}  x  {%- endif -%}  \nb")
case("windows newlines", "{{ 'a' }}\r\n{{ 'b' }}\r\n")
case("plus modifier", "a  {%+ if true %}x{% endif %}")
case("multiline expression", "{{\n  x\n  + 1\n}}", {"x": 1})

# --- filters ---------------------------------------------------------------------------------
case(
    "round",
    "{{ 2.5|round }} {{ 3.5|round }} {{ 42|round }} {{ 2.675|round(2) }} {{ 1234.5|round(-2) }} {{ 42|round(method='floor') }}"
    " {{ 2.1|round(0, 'ceil') }} {{ 25|round(-1) }} {{ 3.14159|round(3) }} {{ -2.5|round }} {{ 0.5|round }}"
    " {{ 1.005|round(2) }} {{ 2.7|round(0, 'floor') }} {{ 2.123|round(1, 'ceil') }} {{ x|round }} {{ 35|round(-1) }}"
    " {{ (2/3)|round(4) }} {{ 1e20|round(2) }} {{ -0.4|round }}",
    {"x": F(7)},
)
case(
    "tojson",
    "{{ x|tojson }} {{ 'a'|tojson }} {{ 1.0|tojson }} {{ [1, none, true]|tojson }} {{ {'z': 1, 'a': (1, 2)}|tojson }}",
    {"x": {"b": "<a'&>", "a": [1, F(2), None, True, "é\"\\\n"], "c": {"y": 1, "x": 0.5}}},
)
case("tojson indent", "{{ x|tojson(2) }}", {"x": {"b": [1, 2], "a": {}, "c": []}})
case(
    "default",
    "{{ missing|default('d') }} {{ missing|d('d2') }} {{ ''|default('e', true) }} {{ 0|default('z') }} {{ none|default('n') }}"
    " {{ none|default('n', boolean=true) }} {{ d.missing|default('m') }} {{ missing|default }}|",
    {"d": D},
)
case(
    "defined and undefined tests",
    "{{ missing is defined }} {{ missing is undefined }} {{ x is defined }} {{ d.nope is defined }} {{ xs[10] is defined }}"
    " {{ x is not defined }} {{ missing is not defined }}",
    {"x": 1, "d": D, "xs": XS},
)
case(
    "number conversions",
    "{{ -3|abs }} {{ (-3.5)|abs }} {{ '42'|int }} {{ '42.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }}"
    " {{ '0x1A'|int(0, 16) }} {{ '3.5'|float }} {{ 'abc'|float }} {{ 3|float }} {{ 5|string }} {{ '  12 '|int }}"
    " {{ '1e3'|float }} {{ none|int }} {{ true|int }} {{ '-7'|int }} {{ '1_000'|int }} {{ x|int }} {{ 'ff'|int(base=16) }}",
    {"x": F(9)},
)
case(
    "string case filters",
    "{{ 'hello WORLD'|capitalize }}|{{ \"they're bill's friends\"|title }}|{{ 'a-b c(d'|title }}|{{ 'x'|center(5) }}"
    "|{{ 'ab'|center(7) }}|{{ '  t  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'MiXeD'|lower }}|{{ 'MiXeD'|upper }}|{{ 5|upper }}",
)
case(
    "join and map",
    "{{ xs|join(', ') }} {{ users|join(', ', attribute='name') }} {{ users|map(attribute='name')|join('/') }}"
    " {{ ['a', 'b']|map('upper')|list }} {{ users|map(attribute='missing', default='?')|list }} {{ xs|join }}"
    " {{ [1.0, 2]|map('string')|list }} {{ ['1', '2']|map('int')|sum }}",
    {"xs": XS, "users": USERS},
)
case(
    "sequence filters",
    "{{ xs|first }} {{ xs|last }} {{ xs|length }} {{ 'abc'|count }} {{ 'ab'|list }} {{ xs|reverse|list }} {{ 'abc'|reverse }}"
    " {{ xs|sum }} {{ users|sum(attribute='age') }} {{ xs|min }} {{ xs|max }} {{ ['b', 'A', 'c']|max }}"
    " {{ ['b', 'A', 'c']|min(case_sensitive=true) }} {{ users|max(attribute='age') }} {{ [0.5, 1]|sum }} {{ xs|sum(start=10) }}",
    {"xs": XS, "users": USERS},
)
case(
    "sort",
    "{{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }}"
    " {{ users|sort(attribute='age')|map(attribute='name')|join(',') }}"
    " {{ users|sort(attribute='city,name', reverse=true)|map(attribute='name')|join(',') }} {{ [2, 1.5, true]|sort }}",
    {"users": USERS},
)
case("dictsort", "{{ d|dictsort }} {{ d|dictsort(by='value') }} {{ d|dictsort(reverse=true) }} {{ {'b': 1, 'A': 2}|dictsort }}", {"d": D})
case(
    "select and reject",
    "{{ xs|select('odd')|list }} {{ xs|reject('odd')|list }} {{ xs|select('>', 2)|list }} {{ xs|select('divisibleby', 3)|list }}"
    " {{ users|selectattr('active')|map(attribute='name')|list }} {{ users|rejectattr('age', 'lt', 30)|map(attribute='name')|list }}"
    " {{ [0, 1, '', 'a']|select|list }} {{ users|selectattr('city', 'equalto', 'Oslo')|list|length }} {{ xs|select('in', [2, 9])|list }}",
    {"xs": XS, "users": USERS},
)
case(
    "unique batch slice",
    "{{ [1, 2, 1, 'A', 'a']|unique|list }} {{ xs|batch(2)|list }} {{ xs|batch(2, 0)|list }} {{ xs|slice(2)|list }}"
    " {{ xs|slice(3, 'x')|list }} {{ ['A', 'a']|unique(case_sensitive=true)|list }}",
    {"xs": XS},
)
case(
    "text filters",
    "{{ 'aaa'|replace('a', 'b', 2) }}|{{ 'hello world foo bar'|truncate(9) }}|{{ 'hello world foo bar'|truncate(9, true) }}"
    "|{{ 'hello world'|truncate(20) }}|{{ 'hello world foo bar baz'|truncate(15, end='~') }}|{{ 'one two  three'|wordcount }}"
    "|{{ '<b>bold</b>  &amp; <i>it</i>'|striptags }}|{{ '<a href=\"x\">&</a>'|e }}|{{ '<b>'|safe }}|{{ '<b>'|e|e }}"
    "|{{ '<b>'|safe|e }}|{{ \"'\"|escape }}|{{ '<x>'|forceescape }}",
)
case("indent", "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent('> ', blank=true) }}")
case("list conversions", "{{ d|list }} {{ (1, 2)|list }} {{ range(3)|list }} {{ 'abc'|list }} {{ d|items|list }}", {"d": D})
case(
    "groupby",
    "{% for g in users|groupby('city') %}{{ g.grouper }}:{{ g.list|map(attribute='name')|join(',') }};{% endfor %}"
    "{% for city, people in users|groupby('city') %}{{ city }}={{ people|length }};{% endfor %}",
    {"users": USERS},
)
case(
    "filesizeformat",
    "{{ 1|filesizeformat }} {{ 1000|filesizeformat }} {{ 1500000|filesizeformat }} {{ 1024|filesizeformat(true) }}"
    " {{ 300|filesizeformat }} {{ 123456789012|filesizeformat }}",
)
case("urlencode", "{{ 'a b/c&d'|urlencode }} {{ {'a': 'x y', 'b': 1}|urlencode }} {{ [('k', 'v w')]|urlencode }}")
case("pprint short values", "{{ {'b': 1, 'a': [1, 2]}|pprint }} {{ 'x'|pprint }} {{ [1, 'a']|pprint }}")
case("filter block", "{% filter upper %}hello {{ name }}{% endfilter %} {% filter replace('a', 'o')|title %}banana split{% endfilter %}", {"name": "ann"})
case("attr filter", "{% set ns = namespace(x=5) %}{{ ns|attr('x') }} {{ 'abc'|attr('upper') is defined }} {{ d|attr('a') is defined }}", {"d": D})
case("unicode lengths", "{{ 'h😀'|length }} {{ 'h😀'[1] }} {{ 'h😀'[::-1] }} {{ 'é😀x'|list }}")
case("unknown filter", "{{ x|nope }}", {"x": 1}, error=True)

# --- tests -----------------------------------------------------------------------------------
case(
    "type tests",
    "{{ 1 is number }} {{ 1.0 is float }} {{ 1 is integer }} {{ true is integer }} {{ true is number }} {{ true is boolean }}"
    " {{ 'a' is string }} {{ d is mapping }} {{ xs is sequence }} {{ 'a' is iterable }} {{ 5 is iterable }} {{ none is none }}"
    " {{ xs is iterable }} {{ d is sequence }} {{ x is float }} {{ x is integer }} {{ d is iterable }} {{ xs is mapping }}",
    {"d": D, "xs": XS, "x": F(2)},
)
case("numeric tests", "{{ 4 is even }} {{ 3 is odd }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 4.0 is even }} {{ -3 is odd }}")
case(
    "comparison tests",
    "{{ 1 is eq 1 }} {{ 1 is equalto 2 }} {{ 1 is ne 2 }} {{ 1 is lt 2 }} {{ 2 is gt 1 }} {{ 2 is le 2 }} {{ 2 is ge 3 }}"
    " {{ 2 is in [1, 2] }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ 'Ab' is lower }} {{ 2 is greaterthan 1 }} {{ 1 is lessthan 1 }}",
)
case(
    "identity tests",
    "{{ true is true }} {{ 1 is true }} {{ false is false }} {{ none is sameas none }} {{ xs is sameas xs }} {{ x is sameas 1 }}"
    " {{ x is not none }} {{ 'upper' is filter }} {{ 'nope' is filter }} {{ 'odd' is test }} {{ range is callable }}",
    {"xs": XS, "x": 1},
)
case("tests on undefined", "{{ missing is none }} {{ missing is string }} {{ missing is number }} {{ missing is mapping }}")
case("undefined in numeric test", "{{ missing is even }}", error=True)

# --- alter_ego style prompts -----------------------------------------------------------------
OTHER = {"choices": [{"keep": 3}, {"keep": 7}]}
case("alter_ego keep arithmetic", "The other player kept {{ other.choices[-1].keep }} and gave {{ 10 - other.choices[-1].keep }}.", {"other": OTHER})
case(
    "alter_ego last choices",
    "{% if choices[-1] == 1 and other.choices[-1] == 1 %}both{% elif choices[-1] == 1 %}me{% else %}none{% endif %}",
    {"choices": [0, 1], "other": {"choices": [1, 0]}},
)
case("alter_ego round variable", "Round {{ round }} of {{ rounds }}. Previous round: {{ round - 1 }}.", {"round": 3, "rounds": 10})
case(
    "alter_ego history",
    "History:\n{% for c in choices %}Round {{ loop.index }}: you chose {{ 'cooperate' if c == 1 else 'defect' }}"
    "{% if not loop.last %}\n{% endif %}{% endfor %}\n",
    {"choices": [1, 0, 1]},
)
case(
    "alter_ego shares",
    "You have {{ endowment }} points. You keep {{ endowment * share }} and send {{ endowment - endowment * share }}."
    " That is {{ '%.1f' % (payoff / 3) }} each, or {{ (payoff / 3)|round(2) }}.",
    {"endowment": 10, "share": 0.5, "payoff": 10},
)
case(
    "alter_ego payoffs table",
    "{% for row in payoffs %}{{ row|join(' | ') }}\n{% endfor %}Total: {{ payoffs|map('sum')|sum }}",
    {"payoffs": [[3, 0], [5, 1]]},
)
case(
    "alter_ego conditional role",
    "You are {{ role }}.{% if role == 'proposer' %} Propose a split of {{ pie }}.{% else %} Accept or reject {{ offer }}.{% endif %}",
    {"role": "responder", "pie": 100, "offer": F(40)},
)

# --- strict undefined ------------------------------------------------------------------------
case("undefined name", "{{ xyz }}", error=True)
case("undefined in if", "{% if xyz %}a{% endif %}", error=True)
case("undefined in elif", "{% if false %}a{% elif xyz %}b{% endif %}", error=True)
case("undefined in for", "{% for x in xyz %}{% endfor %}", error=True)
case("undefined filter argument", "{{ 'a'|replace(xyz, 'b') }}", error=True)
case("undefined in concatenation", "{{ 'a' ~ xyz }}", error=True)
case("undefined attribute", "{{ d.foo }}", {"d": D}, error=True)
case("undefined item", "{{ d['foo'] }}", {"d": D}, error=True)
case("index out of range", "{{ xs[10] }}", {"xs": XS}, error=True)
case("undefined through filter", "{{ xyz|upper }}", error=True)
case("undefined in arithmetic", "{{ xyz + 1 }}", error=True)
case("undefined in comparison", "{{ xyz == 1 }}", error=True)
case("attribute of undefined", "{{ xyz.attr is defined }}", error=True)
case("attribute of none", "{{ x.y }}", {"x": None}, error=True)
case("missing string attribute", "{{ 'abc'.missing }}", error=True)
case("undefined in set", "{% set a = xyz %}{{ a }}", error=True)
case("undefined in loop body", "{% for x in [1] %}{{ x }}{{ xyz }}{% endfor %}", error=True)
case("undefined macro argument use", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(xyz) }}", error=True)

# --- syntax errors ---------------------------------------------------------------------------
case("unclosed variable", "{{ x }", {"x": 1}, error=True)
case("unclosed block", "{% if x %}a", {"x": 1}, error=True)
case("unexpected end tag", "{% endfor %}", error=True)
case("unknown tag", "{% frobnicate %}", error=True)


# --- edge cases ------------------------------------------------------------------------------
case("braces inside strings", "{{ '}}' }} {{ \"{{ x }}\" }} {{ {'a': {'b': 1}} }} {{ '{%' ~ '%}' }}")
case("context values are never rendered", "{{ v }} {{ [v] }}", {"v": "{{ secret }} {% if %}"})
case(
    "float printing extremes",
    "{{ 5e-324 }} {{ 1.7976931348623157e308 }} {{ 0.1 * 3 }} {{ 100.0 }} {{ 1e15 + 0.3 }} {{ -1e16 }} {{ 1e-4 }}"
    " {{ 123456789012345.6 }} {{ 9999999999999998.0 }} {{ 0.000123 }}",
)
case(
    "big int exactness",
    "{{ 2 ** 53 + 1 }} {{ 9007199254740993 }} {{ 9007199254740993 - 1 }} {{ 10 ** 20 }} {{ 10.0 ** 20 }} {{ 2 ** 64 // 3 }}"
    " {{ 2 ** 64 % 7 }} {{ 2 ** 64 == 2.0 ** 64 }} {{ 2 ** 64 > 1e19 }} {{ (2 ** 64) / 2 }} {{ -(2 ** 64) }}",
)
case(
    "equality semantics",
    "{{ (0.1 + 0.2) == 0.3 }} {{ 1.0 == 1 }} {{ {1: 'a'}[1.0] }} {{ [1, 2] == [1, 2.0] }} {{ 'abc' > 'abd' }}"
    " {{ none == none }} {{ {'a': 1} == {'a': 1.0} }} {{ 'a' == 'a'|safe }} {{ [] is sameas [] }} {{ 1 != '1' }}",
)
case(
    "truthiness",
    "{% if xs|select('odd') %}gen{% endif %}{% if [] %}list{% endif %}{% if {} %}dict{% endif %}{% if 0.0 %}float{% endif %}"
    "{% if '0' %}str{% endif %}{% if range(0) %}range{% endif %}{% if none %}none{% endif %}{% if x %}ctxfloat{% endif %}",
    {"xs": [2], "x": F(0)},
)
case("loop variable shadowing", "{% set x = 5 %}{% for x in [1] %}{{ x }}{% endfor %}{{ x }}")
case(
    "list and tuple methods",
    "{% set x = [1, 2, 1] %}{{ x.count(1) }} {{ x.index(2) }} {{ (3, 4).index(4) }} {{ x.copy() }} {{ 'a b'.split(' ') }}",
)
case(
    "more string methods",
    "{{ '42'.zfill(5) }}|{{ '-42'.zfill(5) }}|{{ 'ab'.ljust(4, '.') }}|{{ 'ab'.rjust(4) }}|{{ 'ab'.center(6, '*') }}"
    "|{{ '123'.isdigit() }}|{{ 'abc'.isalpha() }}|{{ 'a1'.isalnum() }}|{{ '  '.isspace() }}|{{ 'hello'.find('l', 3) }}"
    "|{{ 'hello'.rfind('l') }}|{{ 'a.b.c'.rpartition('.') }}|{{ 'prefix_x'.removeprefix('prefix_') }}|{{ 'AbC'.swapcase() }}"
    "|{{ 'Hello World'.istitle() }}|{{ 'ß'.upper() }}|{{ 'x'.join('abc') }}|{{ 'a\\tb'.split() }}|{{ 'abcabc'.count('bc', 2) }}"
    "|{{ ' x '.strip(' x') }}|{{ 'hello'.index('l') }}|{{ 'hello'.startswith('ell', 1) }}|{{ 'hello'.endswith(('lo', 'x')) }}",
)
case("str index not found", "{{ 'hello'.index('z') }}", error=True)
case(
    "percent formatting edge cases",
    "{{ '%-5s|%5s|' % ('ab', 'ab') }}{{ '%.2e' % 0 }}|{{ '%g' % 100000 }}|{{ '%g' % 1000000 }}|{{ '%.3g' % 1234.5 }}"
    "|{{ '%#g' % 1.0 }}|{{ '%e' % 0.0 }}|{{ '%s' % (1,) }}|{{ '%s' % ((1, 2),) }}|{{ '%5.2f%%' % 12.345 }}|{{ '%+.1f' % -0.04 }}"
    "|{{ '% d' % 5 }}|{{ '%*d' % (4, 7) }}|{{ '%.*f' % (1, 2.25) }}|{{ '%s' % {'a': 1} }}|{{ '%(a)s %(a)r' % {'a': 'x'} }}"
    "|{{ '%f' % 1e20 }}|{{ '%.15g' % 0.1 }}|{{ '%.17g' % 0.1 }}|{{ '%d' % -0.5 }}|{{ 'plain' % {} }}",
)
case("percent format list needs two", "{{ '%s %s' % [1, 2] }}", error=True)
case(
    "format spec edge cases",
    "{{ '{:.0f}'.format(0.5) }}|{{ '{:.2f}'.format(-0.001) }}|{{ '{:,.2f}'.format(1234567.891) }}|{{ '{:_}'.format(1000000) }}"
    "|{{ '{:08.3f}'.format(-3.14159) }}|{{ '{:=+8d}'.format(42) }}|{{ '{}'.format(0.1 + 0.2) }}|{{ '{}'.format([1, 'a']) }}"
    "|{{ '{:10}'.format('ab') }}|{{ '{:>10}'.format(1.5) }}|{{ '{0:>{1}}'.format('r', 4) }}|{{ '{:.3s}'.format('abcdef') }}"
    "|{{ '{:e}'.format(0) }}|{{ '{:g}'.format(1234567.0) }}|{{ '{:.2}'.format(0.000123) }}|{{ '{:%}'.format(1) }}"
    "|{{ '{:o} {:X} {:#x}'.format(8, 255, 255) }}|{{ '{:c}'.format(97) }}|{{ '{a[k]}'.format(a={'k': 'v'}) }}|{{ '{:n}'.format(1234) }}",
)
case(
    "empty aggregates are undefined",
    "{{ ([]|first) is defined }} {{ ([]|last) is defined }} {{ ([]|max) is defined }} {{ ([]|min) is defined }}"
    " {{ []|first|default('none') }} {{ missing|items|list }}",
)
case("first of empty list", "{{ []|first }}", error=True)
case("max of empty list", "{{ []|max }}", error=True)
case("attribute of int", "{{ d.a.b }}", {"d": D}, error=True)
case("string attribute on list", "{{ xs['a'] }}", {"xs": XS}, error=True)
case("string index out of range", "{{ 'abc'[5] }}", error=True)
case("length of none", "{{ none|length }}", error=True)
case("round a string", "{{ 'a'|round }}", error=True)
case("divisibleby zero", "{{ 4 is divisibleby 0 }}", error=True)
case("in test with wrong types", "{{ 5 is in 'abc' }}", error=True)
case("undefined caller", "{{ caller() }}", error=True)
case(
    "printing callables",
    "{{ range }} {{ dict }} {{ namespace }} {{ joiner }} {{ cycler }}",
)
case(
    "cycler and joiner",
    "{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}{{ c.current }}"
    " {% set j = joiner(', ') %}{% for x in xs %}{{ j() }}{{ x }}{% endfor %} {% set k = joiner() %}{{ k() }}{{ k() }}{{ k() }}",
    {"xs": [1, 2, 3]},
)
case("set with default none", "{% set x = y|default(none) %}{{ x }} {{ x is none }}")
case(
    "markup concatenation",
    "{{ ('<b>'|safe) + '<i>' }} {{ '<i>' + ('<b>'|safe) }} {{ 1|e }} {{ 3|center(5) }}| {{ ('<b>'|safe) ~ '<i>' }} {{ '<b>'|safe|length }}",
)
case(
    "generators are consumed once",
    "{% set odd = xs|select('odd') %}{{ odd|list }} {{ odd|list }} {% set m = xs|map('string') %}{{ m|join }}{{ m|join }}",
    {"xs": [1, 2, 3]},
)
case("generator has no length", "{{ xs|select('odd')|length }}", {"xs": [1, 2, 3]}, error=True)
case(
    "indexing with variables",
    "{{ xs[i] }} {{ xs[i - 1] }} {{ d[key] }} {{ xs[i:] }} {{ matrix[1][0] }} {{ matrix[-1][-1] }} {{ s[i] }}",
    {"xs": XS, "i": 2, "d": D, "key": "c", "matrix": [[1, 2], [3, 4]], "s": "hey"},
)
case(
    "whitespace control in loops",
    "<ul>\n{%- for x in xs %}\n  <li>{{ x }}</li>\n{%- endfor %}\n</ul>\n",
    {"xs": ["a", "b"]},
)
case(
    "whitespace control mixed",
    "  {%- set a = 1 -%}  \n\n  {{- a -}}  \n  {#- c -#}  x  {%- if true %}  y  {% endif -%}  \n z",
)
case("comment strip only one side", "a  {#- c #}  b  {# c -#}  c")
case(
    "alter_ego scenario prompt",
    "You are playing round {{ round }} of a public goods game with {{ players|length }} other players.\n"
    "{% if round > 1 %}Last round, contributions were: {% for p in players %}{{ p.name }} gave {{ p.history[-1] }}"
    "{{ ', ' if not loop.last else '.' }}{% endfor %}\n"
    "The average was {{ (players|map(attribute='history')|map('last')|sum / players|length)|round(1) }}.\n{% endif %}"
    "How much of your {{ endowment }} tokens do you contribute?\n",
    {"round": 2, "endowment": 20, "players": [{"name": "A", "history": [5, 10]}, {"name": "B", "history": [0, 4]}]},
)
case(
    "alter_ego dictator game",
    "{% set kept = 100 - offer %}You offered {{ offer }}% and kept {{ kept }}%.{% if kept > 50 %} That is more than half.{% endif %}"
    " Share: {{ (offer / 100)|round(2) }} ({{ '%.0f%%' % (offer / 100 * 100) }})",
    {"offer": 35},
)


# --- Jinja2's static scoping (see packages/jinja/src/scoping.ts) ---------------------
case("scoping loop reads name assigned later at top level", "{% for i in [1] %}{{ a }}{% endfor %}{% set a = 5 %}", {"a": 3}, error=True)
case("scoping macro reads name assigned later at top level", "{% macro m() %}{{ a }}{% endmacro %}{{ m() }}{% set a = 5 %}", {"a": 3}, error=True)
case("scoping with block reads name assigned later", "{% with x = 1 %}{{ a }}{% endwith %}{% set a = 5 %}", {"a": 3}, error=True)
case(
    "scoping names read before assignment keep the context value",
    "{{ a }}{% for i in [1] %}{{ a }}{% endfor %}{% set a = 5 %}{{ a }} {% if true %}{{ b }}{% endif %}{% set b = 6 %}{{ b }}"
    " {% for i in [1] %}{{ c }}{% endfor %}{% if false %}{% set c = 7 %}{% endif %}{{ c }}",
    {"a": 3, "b": 4, "c": 8},
)
case(
    "scoping loop body assignment before read",
    "{% for i in [1, 2] %}{% if i == 2 %}{{ x }}{% endif %}{% set x = i %}{% endfor %}",
    error=True,
)
case("scoping loop target assigned later at top level", "{% for i in [1] %}{{ i }}{% endfor %}{% set i = 5 %}{{ i }}")
case("scoping inner loop sees outer loop assignment", "{% for i in [1, 2] %}{% set t = i * 10 %}{% for j in [1] %}{{ t }}{% endfor %}{% endfor %}")

# --- odd corners found by differential fuzzing ------------------------------------------------
case("undefined inside a list prints as Undefined", "{{ [missing] }}")
case("concatenation evaluates every part first", "{{ loop ~ missing|upper }}", error=True)
case("percent with an undefined right side", "{{ 'q' % missing }}|{{ '3' % missing }}")
case("percent with an undefined value to format", "{{ '%s' % missing }}", error=True)
case("empty subscript is an empty tuple key", "{{ d[] is defined }}", {"d": {}})


# --- gaps found by a differential against Jinja2 3.1.6 ------------------------------------------
TEXT = "The quick brown fox jumps over the lazy dog."
case(
    "wordwrap",
    "{{ 'a b c d e f'|wordwrap(3) }}|{{ t|wordwrap(10) }}|{{ t|wordwrap(7, wrapstring='<br>') }}|{{ t|wordwrap }}",
    {"t": TEXT},
)
case(
    "wordwrap long words and hyphens",
    "{{ long|wordwrap(6) }}|{{ long|wordwrap(6, break_long_words=false) }}|{{ hy|wordwrap(8) }}"
    "|{{ hy|wordwrap(8, break_on_hyphens=false) }}|{{ hy|wordwrap(3) }}|{{ '--a-- b---c'|wordwrap(4) }}",
    {"long": "Supercalifragilistic is long", "hy": "a well-known self-evident fact--really, x-ray"},
)
case(
    "wordwrap keeps paragraphs and drops edge spaces",
    "{{ p|wordwrap(12) }}|{{ s|wordwrap(10) }}",
    {"p": "One two three four five\n\nsix seven eight nine ten\r\nend", "s": "   lead  and   trail   " + "word " * 6},
)
case("wordwrap unicode", "{{ u|wordwrap(5) }}", {"u": "ünï çødé \U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600 ok\u00a0ok"})
case("wordwrap width must be positive", "{{ 'a b'|wordwrap(0) }}", error=True, exact=True)
case("wordwrap needs a string", "{{ 5|wordwrap }}", error=True)

case(
    "list append idiom",
    "{% set xs = [] %}{% for u in users %}{% if u.active %}{% set _ = xs.append(u.name) %}{% endif %}{% endfor %}"
    "{{ xs }}|{{ xs|join(', ') }}",
    {"users": USERS},
)
case(
    "list methods that change the list",
    "{% set xs = [3, 1, 2] %}{{ xs.append(4) }}{% set _ = xs.extend([5, 0]) %}{% set _ = xs.extend(range(2)) %}"
    "{% set _ = xs.insert(1, 9) %}{% set _ = xs.insert(-100, 7) %}{% set _ = xs.insert(100, 8) %}{{ xs }}"
    "|{{ xs.pop() }}|{{ xs.pop(0) }}|{{ xs.pop(-2) }}|{{ xs }}{% set _ = xs.sort() %}|{{ xs }}"
    "{% set _ = xs.sort(reverse=true) %}|{{ xs }}{% set _ = xs.remove(9) %}{% set _ = xs.reverse() %}|{{ xs }}"
    "{% set _ = xs.clear() %}|{{ xs }}",
)
case(
    "lists made by filters and operators can change",
    "{% set a = 'b a c'.split() %}{% set _ = a.sort() %}{% set b = (a + ['z']) %}{% set _ = b.append('y') %}"
    "{% set c = d|list %}{% set _ = c.append('q') %}{% set e = [0] * 2 %}{% set _ = e.append(1) %}"
    "{% set f = a[1:] %}{% set _ = f.insert(0, '-') %}{% set g = d|sort %}{% set _ = g.pop() %}"
    "{{ a }}{{ b }}{{ c }}{{ e }}{{ f }}{{ g }}",
    {"d": ["x", "w"]},
)
case("list sort of strings by code point", "{% set xs = ['b', 'B', 'a', 'é', 'Z'] %}{% set _ = xs.sort() %}{{ xs }}")
case("list pop from empty list", "{% set xs = [] %}{{ xs.pop() }}", error=True, exact=True)
case("list pop index out of range", "{% set xs = [1] %}{{ xs.pop(5) }}", error=True, exact=True)
case("list remove missing item", "{% set xs = [1] %}{{ xs.remove(2) }}", error=True, exact=True)
case("list sort of mixed types", "{% set xs = [1, 'a'] %}{{ xs.sort() }}", error=True, exact=True)
case(
    "dict methods that change the dict",
    "{% set d = {'a': 1} %}{% set _ = d.update({'b': 2}, c=3) %}{{ d }}|{{ d.setdefault('a', 9) }}"
    "|{{ d.setdefault('z') }}|{{ d.pop('b') }}|{{ d.pop('q', 'dflt') }}|{{ d }}|{{ d.popitem() }}|{{ d }}"
    "{% set _ = d.update([('k', 'v')]) %}{% set _ = d.update(n=1) %}|{{ d }}{% set _ = d.clear() %}|{{ d }}",
)
case(
    "dict counting idiom",
    "{% set seen = {} %}{% for w in words %}{% set _ = seen.update({w: seen.get(w, 0) + 1}) %}{% endfor %}{{ seen }}"
    "{% set e = dict(a=1) %}{% set _ = e.setdefault('b', []).append(2) %}{{ e }}",
    {"words": ["a", "b", "a", "c", "a"]},
)
case("dict pop missing key", "{% set d = {} %}{{ d.pop('x') }}", error=True, exact=True)
case("dict popitem of empty dict", "{% set d = {} %}{{ d.popitem() }}", error=True, exact=True)

case("block renders in place", "a{% block b %}[{{ x }}]{% endblock %}z", {"x": 7})
case("block assignments stay inside", "{% set x = 1 %}{% block b %}{% set x = 2 %}{{ x }}{% endblock %}{{ x }}")
case("block sees the context before a later top-level set", "{% block b %}{{ x }}{% endblock %}{% set x = 1 %}{{ x }}", {"x": 7})
case("block sees top-level variables set before it", "{% set x = 1 %}{% if true %}{% set y = 5 %}{% block b %}{{ x }}{{ y }}{% endblock %}{% endif %}")
case("block does not see loop variables", "{% for i in [1, 2] %}{% block c %}{{ i }}{% endblock %}{% endfor %}", error=True)
case("block does not see with variables", "{% with z = 3 %}{% block b %}{{ z }}{% endblock %}{% endwith %}", error=True)
case("scoped block sees loop variables", "{% for i in [1, 2] %}{% block c scoped %}{{ i }}{{ loop.index }}{% endblock %}{% endfor %}")
case("self calls blocks", "{% block outer %}O{% block inner %}I{% endblock %}{% endblock %}{{ self.inner() }}{{ self.outer() }}|{{ self }}")
case("block calls a top-level macro", "{% macro m() %}M{% endmacro %}{% block b %}{{ m() }}{% endblock %}")
case("macro defined in a block stays in it", "{% block b %}{% macro m() %}M{% endmacro %}{{ m() }}{% endblock %}{{ m() }}", error=True)
case("block changes a namespace", "{% set ns = namespace(a=1) %}{% block b %}{% set ns.a = 2 %}{% endblock %}{{ ns.a }}")
case("block end name and whitespace control", "{% block b -%}  A  {%- endblock b %}")
case("block end name must match", "{% block b %}A{% endblock c %}", error=True)
case("block defined twice", "{% block a %}A{% endblock %}{% block a %}B{% endblock %}", error=True)
case("required block is not rendered", "{% block b required %}{% endblock %}", error=True)
case("super without a parent block", "{% block b %}{{ super() }}{% endblock %}", error=True)

case(
    "casefold is full unicode case folding",
    "{{ s.casefold() }}|{{ s.lower() }}|{{ 'STRASSE'.casefold() == 'straße'.casefold() }}",
    {"s": "Straße ΣΑΣ \ufb01 \u0130 \u01c5 \u13a0 \u00b5 \u1e9e \u0149 \u1f88 Ꭰꭰ"},
)
case(
    "int and float read unicode digits",
    "{{ '٣٤'|int }} {{ '１２'|int + 1 }} {{ '٣.٥'|float }} {{ ' ৭ '|int }} {{ '\U0001D7D7\U0001D7D8'|int }}"
    " {{ '١٢'|int(base=16) }} {{ '½'|int }} {{ '²'|int }} {{ '٣_٤'|int }}",
)

case("int beyond float range divided", "{{ 10**400 / 1 }}", error=True, exact=True)
case("int beyond float range times a float", "{{ 10**400 * 1.0 }}", error=True, exact=True)
case("int beyond float range plus a float", "{{ 0.5 + 10**400 }}", error=True, exact=True)
case("int beyond float range to float", "{{ (10**400)|float }}", error=True, exact=True)
case("int beyond float range formatted as float", "{{ '%.1f' % 10**400 }}", error=True, exact=True)
case(
    "big ints that stay ints or fit a float",
    "{{ 10**400 > 1.0 }} {{ (10**400 // 3) > 10**399 }} {{ 2**1000 / 2**999 }} {{ 10**400 == 1e300 }}",
)
case("int true division by zero", "{{ 1 / 0 }}", error=True, exact=True)
case("float true division by zero", "{{ 1.0 / 0 }}", error=True, exact=True)
case("true division by float zero", "{{ 1 / 0.0 }}", error=True, exact=True)
case("float floor division by zero", "{{ 1.0 // 0 }}", error=True, exact=True)
case("int floor division by zero", "{{ 1 // 0 }}", error=True, exact=True)
case("float modulo by zero", "{{ 1.5 % 0 }}", error=True, exact=True)
case("int modulo by zero", "{{ 1 % 0 }}", error=True, exact=True)


def convert(value):
    if isinstance(value, dict):
        if set(value) == {"__float__"}:
            return float(value["__float__"])
        return {k: convert(v) for k, v in value.items()}
    if isinstance(value, list):
        return [convert(v) for v in value]
    return value


def main() -> int:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    names = set()
    out = []
    problems = []
    for c in CASES:
        if c["name"] in names:
            problems.append(f"duplicate case name: {c['name']}")
        names.add(c["name"])
        entry = {"name": c["name"], "template": c["template"], "context": c["context"]}
        if c["exact"]:
            entry["exact"] = True
        try:
            rendered = env.from_string(c["template"]).render(convert(c["context"]))
        except Exception as e:  # noqa: BLE001 - every Jinja2 failure is an expected-error case
            if not c["error"]:
                problems.append(f"{c['name']}: Jinja2 raised {type(e).__name__}: {e}")
            entry["error"] = True
            entry["error_type"] = type(e).__name__
            entry["error_message"] = str(e)
        else:
            if c["error"]:
                problems.append(f"{c['name']}: expected an error, Jinja2 rendered {rendered!r}")
            entry["expected"] = rendered
        out.append(entry)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    doc = {"generator": "packages/jinja/scripts/generate.py", "jinja2": jinja2.__version__, "cases": out}
    OUT.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(out)} cases to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
