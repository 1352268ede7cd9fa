/**
 * Jinja2's static scoping, computed at compile time. Jinja2 compiles every scope (the template,
 * a loop body, a macro, a with/filter/set block) to a frame whose variables are decided from the
 * source: a name the frame assigns before reading it, and which no enclosing frame knows, starts
 * out unbound in that frame, hiding the render context. So
 *
 *     {% for i in xs %}{{ a }}{% endfor %}{% set a = 1 %}
 *
 * raises "'a' is undefined" even when the context has `a`: the top level assigns `a`, so the
 * loop body reads the top-level variable, which is not set yet. Everything else behaves like a
 * lookup through the enclosing scopes and then the context, which the runtime does dynamically;
 * this module only finds the names each frame must start unbound.
 */
import { exprChildren } from "./ast-walk.js";
import type { Expr, MacroParams, Stmt, Target } from "./ast.js";

type Init = "param" | "resolve" | "alias" | "undefined";

/** The variables of one frame, as Jinja2's idtracking.Symbols tracks them. */
export class Symbols {
  readonly parent: Symbols | null;
  refs = new Map<string, Init>();
  stores = new Set<string>();

  constructor(parent: Symbols | null) {
    this.parent = parent;
  }

  find(name: string): boolean {
    for (let s: Symbols | null = this; s !== null; s = s.parent) if (s.refs.has(name)) return true;
    return false;
  }

  load(name: string): void {
    if (!this.find(name)) this.refs.set(name, "resolve");
  }

  store(name: string): void {
    this.stores.add(name);
    if (this.refs.has(name)) return;
    this.refs.set(name, this.parent?.find(name) ? "alias" : "undefined");
  }

  param(name: string): void {
    this.stores.add(name);
    this.refs.set(name, "param");
  }

  copy(): Symbols {
    const c = new Symbols(this.parent);
    c.refs = new Map(this.refs);
    c.stores = new Set(this.stores);
    return c;
  }

  /** Merges the branches of an if: names assigned only in branches start from the outer value. */
  branchUpdate(branches: Symbols[]): void {
    const stores = new Set<string>();
    for (const b of branches) for (const s of b.stores) stores.add(s);
    for (const s of this.stores) stores.delete(s);
    for (const b of branches) {
      for (const [k, v] of b.refs) this.refs.set(k, v);
      for (const s of b.stores) this.stores.add(s);
    }
    for (const name of stores) this.refs.set(name, this.parent?.find(name) ? "alias" : "resolve");
  }

  /** Names that start unbound each time the frame is entered. */
  unbound(): string[] {
    const out: string[] = [];
    for (const [name, init] of this.refs) if (init === "undefined") out.push(name);
    return out;
  }
}

function visitExpr(sym: Symbols, e: Expr): void {
  if (e.type === "name") {
    sym.load(e.name);
    return;
  }
  for (const c of exprChildren(e)) visitExpr(sym, c);
}

function visitStore(sym: Symbols, t: Target): void {
  if (t.type === "name") sym.store(t.name);
  else if (t.type === "tuple") for (const x of t.items) visitStore(sym, x);
  else sym.load(t.name);
}

function visitParams(sym: Symbols, t: Target): void {
  if (t.type === "name") sym.param(t.name);
  else if (t.type === "tuple") for (const x of t.items) visitParams(sym, x);
}

function visitBranch(sym: Symbols, body: Stmt[]): Symbols {
  const copy = sym.copy();
  for (const s of body) visitStmt(copy, s);
  return copy;
}

/** What evaluating a statement does to the variables of the frame it runs in. */
function visitStmt(sym: Symbols, s: Stmt): void {
  switch (s.type) {
    case "data":
      return;
    case "output":
      visitExpr(sym, s.expr);
      return;
    case "if": {
      const [first, ...elifs] = s.branches;
      if (!first) return;
      visitExpr(sym, first.test);
      const body = visitBranch(sym, first.body);
      const elif = sym.copy();
      for (const b of elifs) {
        visitExpr(elif, b.test);
        elif.branchUpdate([visitBranch(elif, b.body)]);
      }
      const otherwise = visitBranch(sym, s.else);
      sym.branchUpdate([body, elif, otherwise]);
      return;
    }
    case "for":
      visitExpr(sym, s.iter);
      return;
    case "set":
      visitExpr(sym, s.value);
      visitStore(sym, s.target);
      return;
    case "setblock":
      visitStore(sym, s.target);
      return;
    case "macro":
      sym.store(s.name);
      return;
    case "callblock":
      visitExpr(sym, s.call);
      return;
    case "filterblock":
      for (const f of s.filters) visitExpr(sym, f);
      return;
    case "with":
      for (const v of s.values) visitExpr(sym, v);
      return;
    case "block":
      return;
  }
}

function frame(parent: Symbols | null, setup: (sym: Symbols) => void, body: Stmt[]): Symbols {
  const sym = new Symbols(parent);
  setup(sym);
  for (const s of body) visitStmt(sym, s);
  return sym;
}

export const analyzeRoot = (body: Stmt[]): Symbols => frame(null, () => {}, body);

export const analyzeForBody = (parent: Symbols, target: Target, body: Stmt[]): Symbols =>
  frame(
    parent,
    (sym) => {
      sym.param("loop");
      visitParams(sym, target);
    },
    body,
  );

export const analyzeBlock = (
  parent: Symbols,
  body: Stmt[],
  setup: (sym: Symbols) => void = () => {},
): Symbols => frame(parent, setup, body);

export const analyzeMacro = (
  parent: Symbols,
  params: MacroParams,
  specials: string[],
  body: Stmt[],
): Symbols =>
  frame(
    parent,
    (sym) => {
      for (const p of params.names) sym.param(p);
      for (const d of params.defaults) if (d) visitExpr(sym, d);
      for (const p of specials) sym.param(p);
    },
    body,
  );

export const analyzeFilterBlock = (parent: Symbols, filters: Expr[], body: Stmt[]): Symbols =>
  frame(
    parent,
    (sym) => {
      for (const f of filters) visitExpr(sym, f);
    },
    body,
  );

export const analyzeWith = (parent: Symbols, targets: Target[], body: Stmt[]): Symbols =>
  frame(
    parent,
    (sym) => {
      for (const t of targets) visitStore(sym, t);
    },
    body,
  );
