/**
 * Jinja2-compatible prompt templates with Python semantics (Jinja2 3.x, StrictUndefined, no
 * autoescape, keep_trailing_newline=False). Compile once with `compileTemplate`, then render as
 * often as needed: a compiled template holds no per-render state.
 *
 * Context values are used as Python values: strings are str, integral numbers int, other numbers
 * float (wrap integral floats with `pyFloat(4)` to get `4.0`), booleans bool, null/undefined None,
 * arrays lists and plain objects dicts. Values are data: a context string containing `{{ x }}`
 * is printed as is, never rendered.
 */
import { TemplateError } from "./template-error.js";
import type { Stmt } from "./ast.js";
import { compileRoot } from "./evaluator.js";
import { analyzeVariables, type VariableReport } from "./free-variables.js";
import { tokenize } from "./lexer.js";
import { parse } from "./parser.js";
import { PyException } from "./python-errors.js";
import { Frame, type RenderState, type StmtFn } from "./runtime.js";
import { TemplateSyntaxError } from "./syntax-error.js";
import type { CompiledTemplate, TemplateOrigin } from "./types.js";

export { Markup, PyFloat, pyFloat } from "./python-values.js";

/** `where` of a TemplateError: the origin and the file line of a template line (1-based). */
export function templateWhere(origin: TemplateOrigin, templateLine: number): string {
  const line = origin.line !== undefined ? origin.line + templateLine - 1 : templateLine;
  return `${origin.where} (line ${line})`;
}

class JinjaTemplate implements CompiledTemplate {
  readonly source: string;
  readonly origin: TemplateOrigin;
  private readonly ast: Stmt[];
  private readonly body: StmtFn;
  private readonly unbound: string[];
  private report: VariableReport | undefined;

  constructor(source: string, origin: TemplateOrigin, ast: Stmt[]) {
    this.source = source;
    this.origin = origin;
    this.ast = ast;
    const { body, unbound } = compileRoot(ast);
    this.body = body;
    this.unbound = unbound;
  }

  render(context: Record<string, unknown>): string {
    const st: RenderState = { line: 1, context: context ?? {}, depth: 0 };
    try {
      return this.body(new Frame(null, st).enter(this.unbound));
    } catch (e) {
      throw this.renderError(e, st.line);
    }
  }

  private renderError(e: unknown, line: number): Error {
    const where = templateWhere(this.origin, line);
    if (e instanceof PyException) return new TemplateError(where, e.detail);
    if (e instanceof TemplateError) return e;
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      return new TemplateError(where, "RecursionError: maximum recursion depth exceeded");
    }
    const message = e instanceof Error ? e.message : String(e);
    return new TemplateError(where, `error while rendering: ${message}`);
  }

  freeVariables(): string[] {
    return this.variables().free.slice();
  }

  /** The free variables only used guarded (`x is defined`, `x is undefined`, `x|default(...)`). */
  optionalVariables(): string[] {
    return this.variables().optional.slice();
  }

  private variables(): VariableReport {
    if (this.report === undefined) this.report = analyzeVariables(this.ast);
    return this.report;
  }
}

/** Parses and compiles a template. Throws TemplateError (naming origin and line) on syntax errors. */
export function compileTemplate(
  source: string,
  origin: TemplateOrigin,
): CompiledTemplate & {
  optionalVariables(): string[];
} {
  try {
    const ast = parse(tokenize(source));
    return new JinjaTemplate(source, origin, ast);
  } catch (e) {
    if (e instanceof TemplateSyntaxError) throw new TemplateError(templateWhere(origin, e.line), e.message);
    throw e;
  }
}

/** Compiles and renders in one go (compile once and reuse when rendering many times). */
export function renderTemplate(
  source: string,
  context: Record<string, unknown>,
  origin: TemplateOrigin,
): string {
  return compileTemplate(source, origin).render(context);
}
