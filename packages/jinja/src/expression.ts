/**
 * Bare Python-like expressions (`offer.keep if respond == 'ACCEPT' else 0`): the language inside
 * `{{ … }}`, compiled by the template engine's own parser and evaluated with the same Python
 * semantics, so a formula and a prompt never disagree. Differences from a template's `{{ … }}`,
 * all towards Python: `a if b` needs its `else`; the result is the value itself (not its text);
 * an undefined result is an error; and Python's abs, bool, float, int, len, max, min, round and
 * sum (plus floor, ceil and mean) can be called.
 */
import type { Expr } from "./ast.js";
import { exprChildren } from "./ast-walk.js";
import { compileExpr } from "./evaluator.js";
import { tokenize } from "./lexer.js";
import { resolveLimits, type TemplateLimits, withLimits } from "./limits.js";
import { parse } from "./parser.js";
import { EXPRESSION_FUNCTIONS } from "./python-builtins.js";
import { Undef } from "./python-values.js";
import { Frame, GLOBAL_NAMES, type RenderState } from "./runtime.js";
import { TemplateSyntaxError } from "./syntax-error.js";
import { compileError, renderError, templateWhere } from "./template.js";
import { TemplateError } from "./template-error.js";
import type { TemplateOrigin } from "./types.js";

/** A name an expression reads, with the attribute names that follow it (`me.choices.offer` → me, [choices, offer]). */
export interface ExpressionReference {
  name: string;
  attrs: string[];
  /** 1-based column of the name in the expression's source. */
  column: number;
}

export interface CompiledExpression {
  readonly source: string;
  readonly origin: TemplateOrigin;
  /** The value of the expression in `context` (Python values: see compileTemplate). Throws TemplateError. */
  evaluate(context: Record<string, unknown>): unknown;
  /** Every name read from the context, in source order (the callable functions are not counted). */
  references(): ExpressionReference[];
  /** The distinct names read from the context. */
  freeVariables(): string[];
}

export interface ExpressionOptions {
  /** Resource bounds of each evaluation (defaults: DEFAULT_LIMITS). */
  limits?: Partial<TemplateLimits>;
}

/** The expression is lexed as the inside of `{{ … }}`; the spaces keep `-x` and `x -` from reading as whitespace control. */
const OPEN = "{{ ";
const CLOSE = " }}";

/** Python-minded hints for the JavaScript habits authors bring to formulas. */
const HINTS: [RegExp, string][] = [
  [/\?/, "conditionals are written `a if condition else b`"],
  [/&&|\|\|/, "use and / or instead of && / ||"],
  [/[=!]==/, "use == / != instead of === / !=="],
  [/!(?!=)/, "use not instead of !"],
];

function whereOf(origin: TemplateOrigin, source: string, line: number): string {
  return origin.line !== undefined || source.includes("\n") ? templateWhere(origin, line) : origin.where;
}

function syntaxError(e: unknown, source: string, origin: TemplateOrigin): unknown {
  if (!(e instanceof TemplateSyntaxError)) return compileError(e, origin);
  let message = e.message
    .replace(/end of print statement/g, "end of expression")
    .replace(/^unexpected char (.*) at (\d+)$/, (_, c: string, n: string) => {
      return `unexpected char ${c} at column ${Number(n) + 1}`;
    });
  const hint = HINTS.find(([re]) => re.test(source));
  if (hint) message += ` (${hint[1]})`;
  return new TemplateError(whereOf(origin, source, e.line), message);
}

function collectReferences(root: Expr, source: string): ExpressionReference[] {
  const out: { name: string; attrs: string[]; pos: number }[] = [];
  // Column within the name's own line.
  const column = (pos = 0): number => pos - source.lastIndexOf("\n", pos - 1);
  const visit = (e: Expr): void => {
    if (e.type === "name") {
      if (!EXPRESSION_FUNCTIONS.has(e.name) && !GLOBAL_NAMES.has(e.name)) {
        out.push({ name: e.name, attrs: [], pos: e.pos ?? 0 });
      }
      return;
    }
    if (e.type === "getattr") {
      const attrs: string[] = [];
      let base: Expr = e;
      while (base.type === "getattr") {
        attrs.unshift(base.attr);
        base = base.obj;
      }
      if (base.type === "name") out.push({ name: base.name, attrs, pos: base.pos ?? 0 });
      else visit(base);
      return;
    }
    for (const c of exprChildren(e)) visit(c);
  };
  visit(root);
  // Source order (a conditional's test is visited before its branches).
  return out
    .map((r, i) => ({ r, i }))
    .sort((a, b) => a.r.pos - b.r.pos || a.i - b.i)
    .map(({ r }) => ({ name: r.name, attrs: r.attrs, column: column(r.pos) }));
}

/** Parses and compiles a bare expression. Throws TemplateError (naming origin, and line when it has several) on syntax errors. */
export function compileExpression(
  source: string | number | boolean,
  origin: TemplateOrigin,
  options: ExpressionOptions = {},
): CompiledExpression {
  const text = typeof source === "string" ? source : String(source);
  if (text.trim() === "") throw new TemplateError(whereOf(origin, text, 1), "empty expression");
  let expr: Expr;
  try {
    const stmts = parse(tokenize(`${OPEN}${text}${CLOSE}`, OPEN.length, true), { python: true });
    const only = stmts[0];
    if (stmts.length !== 1 || only?.type !== "output") {
      throw new TemplateSyntaxError("unexpected '}}'", stmts[1]?.line ?? 1);
    }
    expr = only.expr;
  } catch (e) {
    throw syntaxError(e, text, origin);
  }
  let fn: (f: Frame) => unknown;
  try {
    fn = compileExpr(expr, expr.line);
  } catch (e) {
    throw compileError(e, origin);
  }
  const limits = resolveLimits(options.limits);
  let refs: ExpressionReference[] | undefined;
  const references = (): ExpressionReference[] => {
    refs ??= collectReferences(expr, text);
    return refs;
  };
  return {
    source: text,
    origin,
    evaluate(context: Record<string, unknown>): unknown {
      const st: RenderState = {
        line: expr.line,
        context: context ?? {},
        depth: 0,
        globals: EXPRESSION_FUNCTIONS,
      };
      try {
        return withLimits(limits, () => {
          const v = fn(new Frame(null, st));
          if (v instanceof Undef) v.fail();
          return v;
        });
      } catch (e) {
        throw renderError(e, whereOf(origin, text, st.line));
      }
    },
    references: () => references().map((r) => ({ ...r, attrs: r.attrs.slice() })),
    freeVariables: () => [...new Set(references().map((r) => r.name))],
  };
}
