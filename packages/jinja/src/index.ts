/**
 * @silico/jinja: Jinja2-compatible templates and bare Python-like expressions with Python
 * semantics. `compileTemplate` for prompts, `compileExpression` for formulas (game payoffs,
 * conditions): one language, one implementation.
 */
export { type CompileOptions, compileTemplate, renderTemplate, templateWhere } from "./template.js";
export {
  type CompiledExpression,
  compileExpression,
  type ExpressionOptions,
  type ExpressionReference,
} from "./expression.js";
export { DEFAULT_LIMITS, type TemplateLimits } from "./limits.js";
export { MAX_NESTING } from "./parser.js";
export { EXPRESSION_FUNCTIONS } from "./python-builtins.js";
export type { CompiledTemplate, TemplateOrigin } from "./types.js";
export { TemplateError } from "./template-error.js";
export { floatRepr } from "./python-float.js";
export {
  intStr,
  Markup,
  MISSING,
  mkFloat,
  mkInt,
  PyDict,
  PyFloat,
  pyFloat,
  PyObject,
  projecting,
  pyRepr,
  truthy,
  Undef,
} from "./python-values.js";
