/**
 * Static analysis of the names a template reads from its context: every name read where no
 * `set`, `for`, `macro`, `with` or macro parameter of an enclosing scope binds it, minus the
 * engine's globals and `loop`. Approximate like Jinja2's own meta.find_undeclared_variables:
 * a name set in only one branch of an `if` counts as bound afterwards.
 *
 * It also finds the optional names: those the template only reads where it has checked them
 * (`x is defined`, `x|default(...)`, or inside `{% if x is defined %}`, `x if x is defined else
 * ...`, `x is defined and x > 0`, the else branch of `{% if x is undefined %}`).
 */
import type { Expr, MacroParams, Stmt, Target } from "./ast.js";
import { exprChildren } from "./ast-walk.js";
import { GLOBAL_NAMES } from "./runtime.js";

interface Scope {
  names: Set<string>;
  parent: Scope | null;
}

export interface VariableReport {
  /** Names read from the context, in order of first use. */
  free: string[];
  /** The subset only ever read where the template has checked that they are defined. */
  optional: string[];
}

const EXCLUDED = new Set([...GLOBAL_NAMES, "loop", "self"]);

type Guards = ReadonlySet<string>;
const NO_GUARDS: Guards = new Set();

const union = (a: Guards, b: Guards): Guards => (b.size === 0 ? a : a.size === 0 ? b : new Set([...a, ...b]));
const intersection = (a: Guards, b: Guards): Guards => new Set([...a].filter((x) => b.has(x)));

/** Names certainly defined when `e` is true / false (from `is defined` / `is undefined` tests). */
function definedWhen(e: Expr, truth: boolean): Guards {
  switch (e.type) {
    case "test":
      if (e.node.type === "name" && e.name === (truth ? "defined" : "undefined"))
        return new Set([e.node.name]);
      return NO_GUARDS;
    case "not":
      return definedWhen(e.node, !truth);
    case "and":
      return truth
        ? union(definedWhen(e.left, true), definedWhen(e.right, true))
        : intersection(definedWhen(e.left, false), definedWhen(e.right, false));
    case "or":
      return truth
        ? intersection(definedWhen(e.left, true), definedWhen(e.right, true))
        : union(definedWhen(e.left, false), definedWhen(e.right, false));
    default:
      return NO_GUARDS;
  }
}

export function analyzeVariables(stmts: Stmt[]): VariableReport {
  const order: string[] = [];
  const required = new Set<string>();
  const seen = new Set<string>();

  const bound = (scope: Scope | null, name: string): boolean => {
    for (let s = scope; s !== null; s = s.parent) if (s.names.has(name)) return true;
    return false;
  };
  const child = (parent: Scope, names: Iterable<string> = []): Scope => ({ names: new Set(names), parent });

  const use = (name: string, scope: Scope, guarded: boolean): void => {
    if (EXCLUDED.has(name) || bound(scope, name)) return;
    if (!seen.has(name)) {
      seen.add(name);
      order.push(name);
    }
    if (!guarded) required.add(name);
  };

  const visitExpr = (e: Expr, scope: Scope, guards: Guards): void => {
    switch (e.type) {
      case "name":
        use(e.name, scope, guards.has(e.name));
        return;
      case "test":
        if ((e.name === "defined" || e.name === "undefined") && e.node.type === "name") {
          use(e.node.name, scope, true);
          for (const a of e.args) visitExpr(a, scope, guards);
          return;
        }
        break;
      case "filter":
        if ((e.name === "default" || e.name === "d") && e.node?.type === "name") {
          use(e.node.name, scope, true);
          for (const a of e.args) visitExpr(a, scope, guards);
          for (const [, a] of e.kwargs) visitExpr(a, scope, guards);
          return;
        }
        break;
      case "and":
        visitExpr(e.left, scope, guards);
        visitExpr(e.right, scope, union(guards, definedWhen(e.left, true)));
        return;
      case "or":
        visitExpr(e.left, scope, guards);
        visitExpr(e.right, scope, union(guards, definedWhen(e.left, false)));
        return;
      case "cond":
        visitExpr(e.test, scope, guards);
        visitExpr(e.ifTrue, scope, union(guards, definedWhen(e.test, true)));
        if (e.ifFalse) visitExpr(e.ifFalse, scope, union(guards, definedWhen(e.test, false)));
        return;
      default:
        break;
    }
    for (const c of exprChildren(e)) visitExpr(c, scope, guards);
  };

  const targetNames = (t: Target, scope: Scope, out: string[]): void => {
    if (t.type === "name") out.push(t.name);
    else if (t.type === "tuple") for (const x of t.items) targetNames(x, scope, out);
    else use(t.name, scope, false);
  };

  const bind = (t: Target, scope: Scope): void => {
    const names: string[] = [];
    targetNames(t, scope, names);
    for (const n of names) scope.names.add(n);
  };

  const macroScope = (params: MacroParams, scope: Scope, isCaller: boolean): Scope => {
    const inner = child(scope, params.names);
    inner.names.add("varargs");
    inner.names.add("kwargs");
    if (!isCaller) inner.names.add("caller");
    for (const d of params.defaults) if (d) visitExpr(d, inner, NO_GUARDS);
    return inner;
  };

  const visitBody = (body: Stmt[], scope: Scope, guards: Guards): void => {
    const deferred: (() => void)[] = [];
    for (const s of body) visitStmt(s, scope, guards, deferred);
    for (const d of deferred) d();
  };

  const visitStmt = (s: Stmt, scope: Scope, guards: Guards, deferred: (() => void)[]): void => {
    switch (s.type) {
      case "data":
        return;
      case "output":
        visitExpr(s.expr, scope, guards);
        return;
      case "if": {
        let falseSoFar = guards;
        for (const b of s.branches) {
          visitExpr(b.test, scope, falseSoFar);
          const inBranch = union(falseSoFar, definedWhen(b.test, true));
          for (const x of b.body) visitStmt(x, scope, inBranch, deferred);
          falseSoFar = union(falseSoFar, definedWhen(b.test, false));
        }
        for (const x of s.else) visitStmt(x, scope, falseSoFar, deferred);
        return;
      }
      case "for": {
        visitExpr(s.iter, scope, guards);
        const inner = child(scope, ["loop"]);
        bind(s.target, inner);
        if (s.filter) visitExpr(s.filter, inner, guards);
        visitBody(s.body, inner, guards);
        visitBody(s.else, child(scope), guards);
        return;
      }
      case "set":
        visitExpr(s.value, scope, guards);
        bind(s.target, scope);
        return;
      case "setblock":
        visitBody(s.body, child(scope), guards);
        for (const f of s.filters) visitExpr(f, scope, guards);
        bind(s.target, scope);
        return;
      case "macro":
        scope.names.add(s.name);
        deferred.push(() => visitBody(s.body, macroScope(s.params, scope, false), NO_GUARDS));
        return;
      case "callblock":
        visitExpr(s.call, scope, guards);
        visitBody(s.body, macroScope(s.params, scope, true), guards);
        return;
      case "filterblock":
        for (const f of s.filters) visitExpr(f, scope, guards);
        visitBody(s.body, child(scope), guards);
        return;
      case "with": {
        for (const v of s.values) visitExpr(v, scope, guards);
        const inner = child(scope);
        for (const t of s.targets) bind(t, inner);
        visitBody(s.body, inner, guards);
        return;
      }
      case "block":
        // An unscoped block sees the context and the top level only, not loop or with variables.
        visitBody(s.body, child(s.scoped ? scope : root, ["super"]), guards);
        return;
    }
  };

  const root: Scope = { names: new Set(), parent: null };
  visitBody(stmts, root, NO_GUARDS);
  return { free: order, optional: order.filter((n) => !required.has(n)) };
}
