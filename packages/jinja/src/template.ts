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

import type { Stmt } from "./ast.js";
import { referencedNames } from "./ast-walk.js";
import { compileRoot } from "./evaluator.js";
import { analyzeVariables, type VariableReport } from "./free-variables.js";
import { normalizeSource, tokenize } from "./lexer.js";
import { resolveLimits, type TemplateLimits, withLimits } from "./limits.js";
import { MAX_NESTING, parse } from "./parser.js";
import { PyException } from "./python-errors.js";
import { type BlockFn, Frame, type RenderState, type StmtFn } from "./runtime.js";
import { TemplateSyntaxError } from "./syntax-error.js";
import { TemplateError } from "./template-error.js";
import type { CompiledTemplate, TemplateOrigin } from "./types.js";

export interface CompileOptions {
  /** Resource bounds of each render (defaults: DEFAULT_LIMITS). */
  limits?: Partial<TemplateLimits>;
  /**
   * Extra global names (looked up after the context, before Jinja2's globals), e.g.
   * EXPRESSION_FUNCTIONS so that a prompt can call what a formula calls. Not Jinja2: opt in.
   */
  globals?: ReadonlyMap<string, unknown>;
}

export { Markup, PyFloat, pyFloat } from "./python-values.js";

/**
 * `where` of a TemplateError: the origin and the file line of a template line (1-based), and the
 * column within that line of the template when it is known (`prompt (line 3), column 12`).
 */
export function templateWhere(origin: TemplateOrigin, templateLine: number, column?: number): string {
  const line = origin.line !== undefined ? origin.line + templateLine - 1 : templateLine;
  return `${origin.where} (line ${line})${column !== undefined ? `, column ${column}` : ""}`;
}

/** The 1-based column (in characters) of `offset` of the newline-normalized `source`. */
export function columnAt(source: string, offset: number): number {
  const src = normalizeSource(source);
  const at = Math.min(Math.max(offset, 0), src.length);
  const lineStart = src.lastIndexOf("\n", at - 1) + 1;
  let column = 1;
  for (const _ of src.slice(lineStart, at)) column++;
  return column;
}

class JinjaTemplate implements CompiledTemplate {
  readonly source: string;
  readonly origin: TemplateOrigin;
  private readonly ast: Stmt[];
  private readonly body: StmtFn;
  private readonly unbound: string[];
  private readonly blocks: ReadonlyMap<string, BlockFn>;
  private report: VariableReport | undefined;
  private readonly limits: TemplateLimits;
  private readonly globals: ReadonlyMap<string, unknown> | undefined;

  constructor(source: string, origin: TemplateOrigin, ast: Stmt[], options: CompileOptions) {
    this.source = source;
    this.origin = origin;
    this.ast = ast;
    this.limits = resolveLimits(options.limits);
    this.globals = options.globals;
    const { body, unbound, blocks } = compileRoot(ast);
    this.body = body;
    this.unbound = unbound;
    this.blocks = blocks;
  }

  render(context: Record<string, unknown>): string {
    const st: RenderState = {
      line: 1,
      context: context ?? {},
      depth: 0,
      globals: this.globals,
      blocks: this.blocks,
    };
    try {
      return withLimits(this.limits, () => this.body(new Frame(null, st).enter(this.unbound)));
    } catch (e) {
      throw renderError(e, templateWhere(this.origin, st.line));
    }
  }

  freeVariables(): string[] {
    return this.variables().free.slice();
  }

  /** The free variables only used guarded (`x is defined`, `x is undefined`, `x|default(...)`). */
  optionalVariables(): string[] {
    return this.variables().optional.slice();
  }

  private variables(): VariableReport {
    if (this.report === undefined) {
      const report = analyzeVariables(this.ast);
      const globals = this.globals;
      // A name only ever called (`round(x)`) is the global function; read as a value it is still free.
      const values = globals === undefined ? undefined : referencedNames(this.ast, true);
      const keep = (v: string): boolean =>
        globals === undefined || !globals.has(v) || values?.has(v) === true;
      this.report = { free: report.free.filter(keep), optional: report.optional.filter(keep) };
    }
    return this.report;
  }
}

/** The TemplateError for a failure at `where` while rendering (or evaluating). */
export function renderError(e: unknown, where: string): Error {
  if (e instanceof PyException) return new TemplateError(where, e.detail, { cause: e });
  if (e instanceof TemplateError) return e;
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return new TemplateError(where, "RecursionError: maximum recursion depth exceeded", { cause: e });
  }
  // Anything else came from a value or function of the context: keep it as the cause.
  const message = e instanceof Error ? e.message : String(e);
  return new TemplateError(where, `error while rendering: ${message}`, { cause: e });
}

/** Parses and compiles a template. Throws TemplateError (naming origin and line) on syntax errors. */
export function compileTemplate(
  source: string,
  origin: TemplateOrigin,
  options: CompileOptions = {},
): CompiledTemplate & {
  optionalVariables(): string[];
} {
  try {
    const ast = parse(tokenize(source));
    return new JinjaTemplate(source, origin, ast, options);
  } catch (e) {
    throw compileError(e, origin, source);
  }
}

/**
 * A syntax error located in the template (its line and, given the source, the column); a stack
 * overflow while compiling becomes a nesting error.
 */
export function compileError(e: unknown, origin: TemplateOrigin, source?: string): unknown {
  if (e instanceof TemplateSyntaxError) {
    const column = source !== undefined && e.offset !== undefined ? columnAt(source, e.offset) : undefined;
    return new TemplateError(templateWhere(origin, e.line, column), e.message);
  }
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return new TemplateError(
      templateWhere(origin, 1),
      `template nested too deeply (limit: ${MAX_NESTING} levels of brackets, operators or blocks)`,
    );
  }
  return e;
}

/** Compiles and renders in one go (compile once and reuse when rendering many times). */
export function renderTemplate(
  source: string,
  context: Record<string, unknown>,
  origin: TemplateOrigin,
): string {
  return compileTemplate(source, origin).render(context);
}
