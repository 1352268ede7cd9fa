/**
 * Turns the syntax tree into JS closures once (at compile time), so rendering is a walk over
 * prebuilt functions: no parsing, no name-to-filter lookups, no AST switches per render.
 */
import { checkOutput, checkSequenceSize, countIteration } from "./limits.js";
import { attrAccessor, getItem, getSlice } from "./access.js";
import { referencedNames } from "./ast-walk.js";
import type { CompareOp, Expr, MacroParams, Stmt, Target } from "./ast.js";
import { FILTERS, FILTERS_ACCEPTING_UNDEFINED, type FilterFn } from "./filters.js";
import { pyAdd, pyFloorDiv, pyMod, pyMul, pyNeg, pyPos, pyPow, pySub, pyTrueDiv } from "./python-arith.js";
import { runtimeError, valueError } from "./python-errors.js";
import { percentFormat } from "./python-format.js";
import {
  type DictLike,
  dictItems,
  isStr,
  iterate,
  type Kwargs,
  kind,
  Namespace,
  owned,
  PyCallable,
  PyDict,
  pyCompare,
  pyContains,
  pyEq,
  pyStr,
  strOf,
  truthy,
  tuple,
  Undef,
  mustBeDefined,
} from "./python-values.js";
import {
  type BlockFn,
  blockParent,
  callValue,
  type ExprFn,
  type Frame,
  LoopContext,
  lookup,
  Macro,
  type MacroDef,
  type StmtFn,
} from "./runtime.js";
import {
  analyzeBlock,
  analyzeFilterBlock,
  analyzeForBody,
  analyzeMacro,
  analyzeRoot,
  analyzeWith,
  type Symbols,
} from "./scoping.js";
import { TemplateSyntaxError } from "./syntax-error.js";
import { TESTS, TESTS_ACCEPTING_UNDEFINED, type TestFn } from "./tests.js";

/** Frame variable holding the output of a `{% filter %}` / `{% set x | f %}` block. */
const BLOCK_VALUE = "\u0000block";

const BINOPS = {
  "+": pyAdd,
  "-": pySub,
  "*": pyMul,
  "/": pyTrueDiv,
  "//": pyFloorDiv,
  "%": (a: unknown, b: unknown): unknown => (isStr(a) ? percentFormat(strOf(a), b) : pyMod(a, b)),
  "**": pyPow,
} as const;

function compare(op: CompareOp, a: unknown, b: unknown): boolean {
  switch (op) {
    case "==":
      return pyEq(a, b);
    case "!=":
      return !pyEq(a, b);
    case "in":
      return pyContains(b, a);
    case "notin":
      return !pyContains(b, a);
    default:
      return pyCompare(op, a, b);
  }
}

interface CompiledArgs {
  args: ExprFn[];
  kwargs: [string, ExprFn][];
  star: ExprFn | null;
  starstar: ExprFn | null;
}

function evalArgs(f: Frame, c: CompiledArgs): [unknown[], Kwargs] {
  const args = c.args.map((a) => a(f));
  if (c.star !== null) {
    const extra = c.star(f);
    mustBeDefined(extra);
    args.push(...iterate(extra));
  }
  let kwargs: Kwargs = null;
  if (c.kwargs.length > 0 || c.starstar !== null) {
    kwargs = new Map();
    for (const [k, v] of c.kwargs) kwargs.set(k, v(f));
    if (c.starstar !== null) {
      const extra = c.starstar(f);
      mustBeDefined(extra);
      if (kind(extra) !== "dict") throw runtimeError("argument after ** must be a mapping");
      for (const [k, v] of dictItems(extra as DictLike)) kwargs.set(pyStr(k), v);
    }
  }
  return [args, kwargs];
}

function compileArgs(
  args: Expr[],
  kwargs: [string, Expr][],
  star: Expr | null,
  starstar: Expr | null,
  line: number,
): CompiledArgs {
  return {
    args: args.map((a) => compileExpr(a, line)),
    kwargs: kwargs.map(([k, v]) => [k, compileExpr(v, line)]),
    star: star ? compileExpr(star, line) : null,
    starstar: starstar ? compileExpr(starstar, line) : null,
  };
}

/**
 * `name(...)`: the value of `name`, except that a non-callable context value does not hide a
 * function of the render's extra globals (a game's `round` is the round number, `round(x)` rounds).
 */
function calleeLookup(name: string): ExprFn {
  return (f) => {
    const v = lookup(f, name);
    if (f.st.globals === undefined || isCallable(v)) return v;
    const g = f.st.globals.get(name);
    return g !== undefined && isCallable(g) ? g : v;
  };
}

function isCallable(v: unknown): boolean {
  return typeof v === "function" || v instanceof PyCallable;
}

/** Compiles an expression; `line` is the line already recorded by the enclosing code. */
export function compileExpr(e: Expr, line: number): ExprFn {
  const fn = compileExprInner(e);
  if (e.line === line) return fn;
  const own = e.line;
  return (f) => {
    const st = f.st;
    const saved = st.line;
    st.line = own;
    const v = fn(f);
    st.line = saved;
    return v;
  };
}

function compileExprInner(e: Expr): ExprFn {
  const line = e.line;
  switch (e.type) {
    case "const": {
      const value = e.value;
      return () => value;
    }
    case "name": {
      const name = e.name;
      return (f) => lookup(f, name);
    }
    case "list": {
      const items = e.items.map((x) => compileExpr(x, line));
      return (f) => owned(items.map((x) => x(f)));
    }
    case "tuple": {
      const items = e.items.map((x) => compileExpr(x, line));
      return (f) => tuple(items.map((x) => x(f)));
    }
    case "dict": {
      const pairs = e.pairs.map(([k, v]) => [compileExpr(k, line), compileExpr(v, line)] as const);
      return (f) => {
        const d = new PyDict();
        for (const [k, v] of pairs) d.set(k(f), v(f));
        return d;
      };
    }
    case "getattr": {
      const obj = compileExpr(e.obj, line);
      const get = attrAccessor(e.attr);
      return (f) => get(obj(f));
    }
    case "getitem": {
      const obj = compileExpr(e.obj, line);
      const key = compileExpr(e.key, line);
      return (f) => {
        const o = obj(f);
        return getItem(o, key(f));
      };
    }
    case "slice": {
      const obj = compileExpr(e.obj, line);
      const start = e.start ? compileExpr(e.start, line) : null;
      const stop = e.stop ? compileExpr(e.stop, line) : null;
      const step = e.step ? compileExpr(e.step, line) : null;
      return (f) => {
        const o = obj(f);
        return getSlice(o, start ? start(f) : null, stop ? stop(f) : null, step ? step(f) : null);
      };
    }
    case "call": {
      const fn = e.fn.type === "name" ? calleeLookup(e.fn.name) : compileExpr(e.fn, line);
      const args = compileArgs(e.args, e.kwargs, e.star, e.starstar, line);
      return (f) => {
        const callee = fn(f);
        const [a, k] = evalArgs(f, args);
        return callValue(callee, a, k);
      };
    }
    case "filter":
      return compileFilter(e);
    case "test": {
      const impl = TESTS[e.name] as TestFn | undefined;
      if (impl === undefined || !Object.hasOwn(TESTS, e.name)) {
        throw new TemplateSyntaxError(`No test named '${e.name}'.`, line);
      }
      const acceptsUndefined = TESTS_ACCEPTING_UNDEFINED.has(e.name);
      const node = compileExpr(e.node, line);
      const args = compileArgs(e.args, e.kwargs, null, null, line);
      return (f) => {
        const v = node(f);
        if (!acceptsUndefined && v instanceof Undef && !v.lenient) v.fail();
        const [a, k] = evalArgs(f, args);
        return impl(v, a, k);
      };
    }
    case "not": {
      const node = compileExpr(e.node, line);
      return (f) => !truthy(node(f));
    }
    case "neg": {
      const node = compileExpr(e.node, line);
      return (f) => pyNeg(node(f));
    }
    case "pos": {
      const node = compileExpr(e.node, line);
      return (f) => pyPos(node(f));
    }
    case "binop": {
      const left = compileExpr(e.left, line);
      const right = compileExpr(e.right, line);
      const op = BINOPS[e.op];
      return (f) => {
        const a = left(f);
        return op(a, right(f));
      };
    }
    case "and": {
      const left = compileExpr(e.left, line);
      const right = compileExpr(e.right, line);
      return (f) => {
        const a = left(f);
        return truthy(a) ? right(f) : a;
      };
    }
    case "or": {
      const left = compileExpr(e.left, line);
      const right = compileExpr(e.right, line);
      return (f) => {
        const a = left(f);
        return truthy(a) ? a : right(f);
      };
    }
    case "concat": {
      const parts = e.parts.map((p) => compileExpr(p, line));
      return (f) => {
        const values = parts.map((p) => p(f));
        let s = "";
        for (const v of values) s += pyStr(v);
        checkSequenceSize(s.length);
        return s;
      };
    }
    case "compare": {
      const first = compileExpr(e.first, line);
      const ops = e.ops.map(([op, x]) => [op, compileExpr(x, line)] as const);
      return (f) => {
        let left = first(f);
        for (const [op, rightFn] of ops) {
          const right = rightFn(f);
          if (!compare(op, left, right)) return false;
          left = right;
        }
        return true;
      };
    }
    case "cond": {
      const test = compileExpr(e.test, line);
      const ifTrue = compileExpr(e.ifTrue, line);
      const ifFalse = e.ifFalse ? compileExpr(e.ifFalse, line) : null;
      const message = `the inline if-expression on line ${line} evaluated to false and no else section was defined.`;
      return (f) => {
        if (truthy(test(f))) return ifTrue(f);
        return ifFalse ? ifFalse(f) : new Undef(message, true);
      };
    }
  }
}

function compileFilter(e: Extract<Expr, { type: "filter" }>): ExprFn {
  const line = e.line;
  const impl = FILTERS[e.name] as FilterFn | undefined;
  if (impl === undefined || !Object.hasOwn(FILTERS, e.name)) {
    throw new TemplateSyntaxError(`No filter named '${e.name}'.`, line);
  }
  const acceptsUndefined = FILTERS_ACCEPTING_UNDEFINED.has(e.name);
  const node: ExprFn = e.node ? compileExpr(e.node, line) : (f) => lookup(f, BLOCK_VALUE);
  const args = compileArgs(e.args, e.kwargs, null, null, line);
  return (f) => {
    const v = node(f);
    if (!acceptsUndefined && v instanceof Undef && !v.lenient) v.fail();
    const [a, k] = evalArgs(f, args);
    return impl(v, a, k);
  };
}

/** Applies a block filter chain to a block's output. */
function applyBlockFilters(filters: ExprFn[], f: Frame, value: string): unknown {
  let v: unknown = value;
  for (const filter of filters) {
    const inner = f.child();
    inner.set(BLOCK_VALUE, v);
    v = filter(inner);
  }
  return v;
}

type Assign = (f: Frame, value: unknown) => void;

function compileTarget(t: Target): Assign {
  switch (t.type) {
    case "name": {
      const name = t.name;
      return (f, v) => f.set(name, v);
    }
    case "nsref": {
      const { name, attr } = t;
      return (f, v) => {
        const ns = lookup(f, name);
        if (!(ns instanceof Namespace)) {
          mustBeDefined(ns);
          throw runtimeError("cannot assign attribute on non-namespace object");
        }
        ns.attrs.set(attr, v);
      };
    }
    case "tuple": {
      const items = t.items.map(compileTarget);
      const n = items.length;
      return (f, v) => {
        mustBeDefined(v);
        const values = iterate(v);
        if (values.length < n)
          throw valueError(`not enough values to unpack (expected ${n}, got ${values.length})`);
        if (values.length > n) throw valueError(`too many values to unpack (expected ${n})`);
        for (let i = 0; i < n; i++) (items[i] as Assign)(f, values[i]);
      };
    }
  }
}

/** Compiles a whole template: render with the top-level frame. */
/** Blocks met while compiling the template (compiling is synchronous: one template at a time). */
let blockRegistry: Map<string, BlockFn> | null = null;

export function compileRoot(stmts: Stmt[]): {
  body: StmtFn;
  unbound: string[];
  blocks: ReadonlyMap<string, BlockFn>;
} {
  const sym = analyzeRoot(stmts);
  const saved = blockRegistry;
  const blocks = new Map<string, BlockFn>();
  blockRegistry = blocks;
  try {
    return { body: compileBody(stmts, sym), unbound: sym.unbound(), blocks };
  } finally {
    blockRegistry = saved;
  }
}

function compileBody(stmts: Stmt[], sym: Symbols): StmtFn {
  const fns = stmts.map((s) => compileStmt(s, sym));
  if (fns.length === 0) return () => "";
  if (fns.length === 1) return fns[0] as StmtFn;
  return (f) => {
    let out = "";
    for (const fn of fns) out += fn(f);
    checkOutput(out.length);
    return out;
  };
}

function macroDef(
  name: string,
  params: MacroParams,
  body: Stmt[],
  line: number,
  isCaller: boolean,
  parent: Symbols,
): MacroDef {
  const used = referencedNames(body);
  const catchKwargs = used.has("kwargs") && !params.names.includes("kwargs");
  const catchVarargs = used.has("varargs") && !params.names.includes("varargs");
  const caller = !isCaller && used.has("caller") && !params.names.includes("caller");
  const specials = [
    caller ? "caller" : "",
    catchKwargs ? "kwargs" : "",
    catchVarargs ? "varargs" : "",
  ].filter(Boolean);
  const sym = analyzeMacro(parent, params, specials, body);
  return {
    name,
    unbound: sym.unbound(),
    names: params.names,
    defaults: params.defaults.map((d) => (d ? compileExpr(d, line) : null)),
    body: compileBody(body, sym),
    catchKwargs,
    catchVarargs,
    caller,
  };
}

function compileStmt(s: Stmt, sym: Symbols): StmtFn {
  const line = s.line;
  switch (s.type) {
    case "data": {
      const text = s.text;
      return () => text;
    }
    case "output": {
      const expr = compileExpr(s.expr, line);
      return (f) => {
        f.st.line = line;
        const text = pyStr(expr(f));
        checkOutput(text.length);
        return text;
      };
    }
    case "if": {
      const branches = s.branches.map((b) => ({
        line: b.test.line,
        test: compileExpr(b.test, b.test.line),
        body: compileBody(b.body, sym),
      }));
      const otherwise = compileBody(s.else, sym);
      return (f) => {
        for (const b of branches) {
          f.st.line = b.line;
          if (truthy(b.test(f))) return b.body(f);
        }
        return otherwise(f);
      };
    }
    case "for": {
      const iter = compileExpr(s.iter, line);
      const filter = s.filter ? compileExpr(s.filter, line) : null;
      const assign = compileTarget(s.target);
      const bodySym = analyzeForBody(sym, s.target, s.body);
      const bodyUnbound = bodySym.unbound();
      const body = compileBody(s.body, bodySym);
      const elseSym = analyzeBlock(sym, s.else);
      const elseUnbound = elseSym.unbound();
      const otherwise = compileBody(s.else, elseSym);
      const recursive = s.recursive;
      const run = (f: Frame, iterable: unknown, depth0: number): string => {
        f.st.line = line;
        let items = iterate(iterable);
        if (filter !== null) {
          items = items.filter((item) => {
            countIteration();
            const tf = f.child();
            assign(tf, item);
            f.st.line = line;
            return truthy(filter(tf));
          });
        }
        if (items.length === 0) return otherwise(f.enter(elseUnbound));
        const loop = new LoopContext(items, depth0, recursive ? (it) => run(f, it, depth0 + 1) : null);
        let out = "";
        for (let i = 0; i < items.length; i++) {
          countIteration();
          const inner = f.enter(bodyUnbound);
          loop.index0 = i;
          assign(inner, items[i]);
          inner.set("loop", loop);
          out += body(inner);
          checkOutput(out.length);
        }
        return out;
      };
      return (f) => {
        f.st.line = line;
        return run(f, iter(f), 0);
      };
    }
    case "set": {
      const value = compileExpr(s.value, line);
      const assign = compileTarget(s.target);
      return (f) => {
        f.st.line = line;
        assign(f, value(f));
        return "";
      };
    }
    case "setblock": {
      const blockSym = analyzeBlock(sym, s.body);
      const unbound = blockSym.unbound();
      const body = compileBody(s.body, blockSym);
      const filters = s.filters.map((x) => compileExpr(x, line));
      const assign = compileTarget(s.target);
      return (f) => {
        const text = body(f.enter(unbound));
        f.st.line = line;
        assign(f, filters.length > 0 ? applyBlockFilters(filters, f, text) : text);
        return "";
      };
    }
    case "macro": {
      const def = macroDef(s.name, s.params, s.body, line, false, sym);
      const name = s.name;
      return (f) => {
        f.set(name, new Macro(def, f));
        return "";
      };
    }
    case "callblock": {
      const call = s.call as Extract<Expr, { type: "call" }>;
      const def = macroDef("caller", s.params, s.body, line, true, sym);
      const fn = compileExpr(call.fn, line);
      const args = compileArgs(call.args, call.kwargs, call.star, call.starstar, line);
      return (f) => {
        f.st.line = line;
        const callee = fn(f);
        const [a, k] = evalArgs(f, args);
        const kwargs = k ?? new Map<string, unknown>();
        kwargs.set("caller", new Macro(def, f));
        const result = callValue(callee, a, kwargs);
        f.st.line = line;
        return pyStr(result);
      };
    }
    case "filterblock": {
      const blockSym = analyzeFilterBlock(sym, s.filters, s.body);
      const unbound = blockSym.unbound();
      const body = compileBody(s.body, blockSym);
      const filters = s.filters.map((x) => compileExpr(x, line));
      return (f) => {
        const text = body(f.enter(unbound));
        f.st.line = line;
        return pyStr(applyBlockFilters(filters, f, text));
      };
    }
    case "block": {
      const blockSym = s.scoped ? analyzeBlock(sym, s.body) : analyzeRoot(s.body);
      const unbound = blockSym.unbound();
      const body = compileBody(s.body, blockSym);
      const { name, required, scoped } = s;
      const render = (parent: Frame): string => {
        parent.st.line = line;
        if (required) throw runtimeError(`Required block '${name}' not found`);
        const inner = parent.enter(unbound);
        inner.set("super", new Undef(`there is no parent block called '${name}'.`));
        return body(inner);
      };
      blockRegistry?.set(name, (f) => render(blockParent(f)));
      return (f) => render(scoped ? f : blockParent(f));
    }
    case "with": {
      const values = s.values.map((v) => compileExpr(v, line));
      const targets = s.targets.map(compileTarget);
      const withSym = analyzeWith(sym, s.targets, s.body);
      const unbound = withSym.unbound();
      const body = compileBody(s.body, withSym);
      return (f) => {
        f.st.line = line;
        const vals = values.map((v) => v(f));
        const inner = f.enter(unbound);
        for (let i = 0; i < targets.length; i++) (targets[i] as Assign)(inner, vals[i]);
        return body(inner);
      };
    }
  }
}
