/** Generic traversal of the syntax tree. */
import type { Expr, Stmt, Target } from "./ast.js";

/** The direct sub-expressions of an expression. */
export function exprChildren(e: Expr): Expr[] {
  switch (e.type) {
    case "const":
    case "name":
      return [];
    case "list":
    case "tuple":
      return e.items;
    case "dict":
      return e.pairs.flat();
    case "getattr":
      return [e.obj];
    case "getitem":
      return [e.obj, e.key];
    case "slice":
      return [e.obj, e.start, e.stop, e.step].filter((x): x is Expr => x !== null);
    case "call":
      return [e.fn, ...e.args, ...e.kwargs.map((k) => k[1]), e.star, e.starstar].filter(
        (x): x is Expr => x !== null,
      );
    case "filter":
      return [e.node, ...e.args, ...e.kwargs.map((k) => k[1])].filter((x): x is Expr => x !== null);
    case "test":
      return [e.node, ...e.args, ...e.kwargs.map((k) => k[1])];
    case "not":
    case "neg":
    case "pos":
      return [e.node];
    case "binop":
    case "and":
    case "or":
      return [e.left, e.right];
    case "concat":
      return e.parts;
    case "compare":
      return [e.first, ...e.ops.map((o) => o[1])];
    case "cond":
      return [e.test, e.ifTrue, e.ifFalse].filter((x): x is Expr => x !== null);
  }
}

/** Names read anywhere in the statements (including nested macro and loop bodies); with `skipCallees`, not counting `name(...)`. */
export function referencedNames(stmts: Stmt[], skipCallees = false): Set<string> {
  const out = new Set<string>();
  const visitExpr = (e: Expr): void => {
    if (e.type === "name") out.add(e.name);
    for (const c of exprChildren(e))
      if (!(skipCallees && e.type === "call" && c === e.fn && c.type === "name")) visitExpr(c);
  };
  const visitTarget = (t: Target): void => {
    if (t.type === "nsref") out.add(t.name);
    else if (t.type === "tuple") for (const x of t.items) visitTarget(x);
  };
  const visit = (s: Stmt): void => {
    switch (s.type) {
      case "data":
        return;
      case "output":
        visitExpr(s.expr);
        return;
      case "if":
        for (const b of s.branches) {
          visitExpr(b.test);
          for (const x of b.body) visit(x);
        }
        for (const x of s.else) visit(x);
        return;
      case "for":
        visitExpr(s.iter);
        if (s.filter) visitExpr(s.filter);
        for (const x of s.body) visit(x);
        for (const x of s.else) visit(x);
        return;
      case "set":
        visitTarget(s.target);
        visitExpr(s.value);
        return;
      case "setblock":
        visitTarget(s.target);
        for (const x of s.filters) visitExpr(x);
        for (const x of s.body) visit(x);
        return;
      case "macro":
        for (const d of s.params.defaults) if (d) visitExpr(d);
        for (const x of s.body) visit(x);
        return;
      case "callblock":
        visitExpr(s.call);
        for (const d of s.params.defaults) if (d) visitExpr(d);
        for (const x of s.body) visit(x);
        return;
      case "filterblock":
        for (const x of s.filters) visitExpr(x);
        for (const x of s.body) visit(x);
        return;
      case "with":
        for (const x of s.values) visitExpr(x);
        for (const x of s.targets) visitTarget(x);
        for (const x of s.body) visit(x);
        return;
      case "block":
        for (const x of s.body) visit(x);
        return;
    }
  };
  for (const x of stmts) visit(x);
  return out;
}
