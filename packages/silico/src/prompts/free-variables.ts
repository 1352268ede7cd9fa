/**
 * Static analysis of the names a template reads from its context: every name read where no
 * `set`, `for`, `macro`, `with` or macro parameter of an enclosing scope binds it, minus the
 * engine's globals and `loop`. Approximate like Jinja2's own meta.find_undeclared_variables:
 * a name set in only one branch of an `if` counts as bound afterwards.
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
  /** The subset only ever used as `x is defined`, `x is undefined` or `x|default(...)`. */
  optional: string[];
}

const EXCLUDED = new Set([...GLOBAL_NAMES, "loop"]);

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

  const visitExpr = (e: Expr, scope: Scope, guarded = false): void => {
    if (e.type === "name") {
      use(e.name, scope, guarded);
      return;
    }
    if (e.type === "test" && (e.name === "defined" || e.name === "undefined") && e.node.type === "name") {
      use(e.node.name, scope, true);
      for (const a of e.args) visitExpr(a, scope);
      return;
    }
    if (e.type === "filter" && (e.name === "default" || e.name === "d") && e.node?.type === "name") {
      use(e.node.name, scope, true);
      for (const a of e.args) visitExpr(a, scope);
      for (const [, a] of e.kwargs) visitExpr(a, scope);
      return;
    }
    for (const c of exprChildren(e)) visitExpr(c, scope);
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
    for (const d of params.defaults) if (d) visitExpr(d, inner);
    return inner;
  };

  const visitBody = (stmts: Stmt[], scope: Scope): void => {
    const deferred: (() => void)[] = [];
    for (const s of stmts) visitStmt(s, scope, deferred);
    for (const d of deferred) d();
  };

  const visitStmt = (s: Stmt, scope: Scope, deferred: (() => void)[]): void => {
    switch (s.type) {
      case "data":
        return;
      case "output":
        visitExpr(s.expr, scope);
        return;
      case "if":
        for (const b of s.branches) {
          visitExpr(b.test, scope);
          for (const x of b.body) visitStmt(x, scope, deferred);
        }
        for (const x of s.else) visitStmt(x, scope, deferred);
        return;
      case "for": {
        visitExpr(s.iter, scope);
        const inner = child(scope, ["loop"]);
        bind(s.target, inner);
        if (s.filter) visitExpr(s.filter, inner);
        visitBody(s.body, inner);
        visitBody(s.else, child(scope));
        return;
      }
      case "set":
        visitExpr(s.value, scope);
        bind(s.target, scope);
        return;
      case "setblock":
        visitBody(s.body, child(scope));
        for (const f of s.filters) visitExpr(f, scope);
        bind(s.target, scope);
        return;
      case "macro":
        scope.names.add(s.name);
        deferred.push(() => visitBody(s.body, macroScope(s.params, scope, false)));
        return;
      case "callblock":
        visitExpr(s.call, scope);
        visitBody(s.body, macroScope(s.params, scope, true));
        return;
      case "filterblock":
        for (const f of s.filters) visitExpr(f, scope);
        visitBody(s.body, child(scope));
        return;
      case "with": {
        for (const v of s.values) visitExpr(v, scope);
        const inner = child(scope);
        for (const t of s.targets) bind(t, inner);
        visitBody(s.body, inner);
        return;
      }
    }
  };

  visitBody(stmts, { names: new Set(), parent: null });
  return { free: order, optional: order.filter((n) => !required.has(n)) };
}
