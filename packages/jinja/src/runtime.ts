/**
 * Render-time machinery: scopes (frames), the per-render state, name lookup, macros, the `loop`
 * object and the global functions (range, dict, namespace, cycler, joiner, lipsum).
 */
import { countCall, maxCallDepth } from "./limits.js";
import { noKwargs } from "./call-args.js";
import { PyException, runtimeError, typeError, valueError } from "./python-errors.js";
import {
  type DictLike,
  dictItems,
  intVal,
  iterate,
  type Kwargs,
  kind,
  MISSING,
  Markup,
  Namespace,
  numKind,
  PyCallable,
  PyDict,
  PyObject,
  PyRange,
  pyEq,
  pyStr,
  strRepr,
  tuple,
  typeName,
  Undef,
  mustBeDefined,
} from "./python-values.js";

/** State of one render call. */
export interface RenderState {
  /** Template line being evaluated, for error messages. */
  line: number;
  readonly context: Record<string, unknown>;
  /** Macro call depth. */
  depth: number;
  /** Names looked up after the context and before Jinja2's globals (expression functions). */
  readonly globals?: ReadonlyMap<string, unknown>;
  /** The template's blocks, for `self.name()`. */
  blocks?: ReadonlyMap<string, BlockFn>;
}

/** Renders a block, given the frame it is rendered from. */
export type BlockFn = (f: Frame) => string;

/**
 * The frame an unscoped block renders in: Jinja2 renders a block as its own function of the
 * template context, which holds the context and the top-level variables assigned so far, not
 * the variables of enclosing loops, withs or macros.
 */
export function blockParent(f: Frame): Frame {
  let top = f;
  while (top.parent !== null && top.parent.parent !== null) top = top.parent;
  const out = new Frame(null, f.st);
  if (top.vars !== null) {
    out.vars = new Map();
    for (const [k, v] of top.vars) if (v !== UNBOUND) out.vars.set(k, v);
  }
  return out;
}

/** `self`: the template's blocks as callables. */
class TemplateReference extends PyObject {
  readonly typeName = "TemplateReference";
  private readonly frame: Frame;
  constructor(frame: Frame) {
    super();
    this.frame = frame;
  }
  override get objectTypeRepr(): string {
    return "jinja2.runtime.TemplateReference object";
  }
  override getAttr(name: string): unknown {
    const block = this.frame.st.blocks?.get(name);
    if (block === undefined) return MISSING;
    return new BuiltinFunction(name, (args, kwargs) => {
      noKwargs(name, kwargs);
      if (args.length > 0)
        throw typeError(`${name}() takes 0 positional arguments but ${args.length} were given`);
      return new Markup(block(this.frame));
    });
  }
  override repr(): string {
    return "<TemplateReference None>";
  }
}

/** Marks a variable a frame declares but has not assigned yet (it hides the context). */
const UNBOUND: unique symbol = Symbol("unbound");
const hasOwn = Object.prototype.hasOwnProperty;

/** A scope: the template top level, one loop iteration, a macro call, a with/filter/set block. */
export class Frame {
  readonly parent: Frame | null;
  readonly st: RenderState;
  vars: Map<string, unknown> | null = null;
  constructor(parent: Frame | null, st: RenderState) {
    this.parent = parent;
    this.st = st;
  }
  set(name: string, value: unknown): void {
    if (this.vars === null) this.vars = new Map();
    this.vars.set(name, value === undefined ? null : value);
  }
  child(): Frame {
    return new Frame(this, this.st);
  }
  /** A child frame whose `unbound` names start unbound (see scoping.ts). */
  enter(unbound: readonly string[]): Frame {
    const f = new Frame(this, this.st);
    if (unbound.length > 0) {
      f.vars = new Map();
      for (const name of unbound) f.vars.set(name, UNBOUND);
    }
    return f;
  }
}

/** Resolves a name: enclosing scopes, then the render context, then globals; else undefined. */
export function lookup(f: Frame, name: string): unknown {
  for (let fr: Frame | null = f; fr !== null; fr = fr.parent) {
    const vars = fr.vars;
    if (vars !== null) {
      const v = vars.get(name);
      if (v !== undefined) return v === UNBOUND ? new Undef(`'${name}' is undefined`) : v;
    }
  }
  const ctx = f.st.context;
  if (hasOwn.call(ctx, name)) return ctx[name] ?? null;
  const g = f.st.globals?.get(name) ?? GLOBALS.get(name);
  if (g !== undefined) return g;
  if (name === "self" && f.st.blocks !== undefined) return new TemplateReference(f);
  return new Undef(`'${name}' is undefined`);
}

/** Calls any callable value. */
export function callValue(fn: unknown, args: unknown[], kwargs: Kwargs): unknown {
  if (fn instanceof PyCallable) return fn.call(args, kwargs);
  if (typeof fn === "function") {
    const all = kwargs !== null && kwargs.size > 0 ? [...args, Object.fromEntries(kwargs)] : args;
    return (fn as (...a: unknown[]) => unknown)(...all) ?? null;
  }
  mustBeDefined(fn);
  throw typeError(`'${typeName(fn)}' object is not callable`);
}

export type ExprFn = (f: Frame) => unknown;
export type StmtFn = (f: Frame) => string;

export interface MacroDef {
  name: string;
  /** Names the macro frame starts with unbound. */
  unbound: string[];
  names: string[];
  defaults: (ExprFn | null)[];
  body: StmtFn;
  catchKwargs: boolean;
  catchVarargs: boolean;
  caller: boolean;
}

/** A `{% macro %}` (or the `caller` of a call block), closed over the scope that defined it. */
export class Macro extends PyCallable {
  readonly typeName = "Macro";
  readonly def: MacroDef;
  readonly frame: Frame;
  constructor(def: MacroDef, frame: Frame) {
    super();
    this.def = def;
    this.frame = frame;
  }
  override get objectTypeRepr(): string {
    return "jinja2.runtime.Macro object";
  }
  call(args: unknown[], kwargs: Kwargs): unknown {
    const d = this.def;
    const st = this.frame.st;
    if (st.depth >= maxCallDepth()) {
      throw new PyException(
        "RecursionError",
        `maximum recursion depth exceeded (limit: ${maxCallDepth()} nested macro calls)`,
      );
    }
    countCall();
    st.depth++;
    const savedLine = st.line;
    try {
      const f = this.frame.enter(d.unbound);
      const n = d.names.length;
      const kw = kwargs === null ? new Map<string, unknown>() : new Map(kwargs);
      for (let i = 0; i < n; i++) {
        const name = d.names[i] as string;
        if (i < args.length) {
          if (kw.has(name)) throw typeError(`macro '${d.name}' got multiple values for argument '${name}'`);
          f.set(name, args[i]);
        } else if (kw.has(name)) {
          f.set(name, kw.get(name));
          kw.delete(name);
        } else {
          const dflt = d.defaults[i];
          f.set(name, dflt ? dflt(f) : new Undef(`parameter ${strRepr(name)} was not provided`));
        }
      }
      if (d.caller) {
        const c = kw.get("caller");
        kw.delete("caller");
        f.set("caller", c === undefined ? new Undef("No caller defined") : c);
      }
      if (d.catchKwargs) f.set("kwargs", PyDict.of(kw));
      else if (kw.size > 0) {
        throw typeError(`macro '${d.name}' takes no keyword argument '${kw.keys().next().value as string}'`);
      }
      if (d.catchVarargs) f.set("varargs", tuple(args.slice(n)));
      else if (args.length > n) {
        throw typeError(`macro '${d.name}' takes not more than ${n} argument(s)`);
      }
      const out = d.body(f);
      st.line = savedLine;
      return out;
    } finally {
      st.depth--;
    }
  }
  override getAttr(name: string): unknown {
    switch (name) {
      case "name":
        return this.def.name;
      case "arguments":
        return tuple(this.def.names.slice());
      case "catch_kwargs":
        return this.def.catchKwargs;
      case "catch_varargs":
        return this.def.catchVarargs;
      case "caller":
        return this.def.caller;
      default:
        return MISSING;
    }
  }
  override repr(): string {
    return `<Macro ${strRepr(this.def.name)}>`;
  }
}

/** A function implemented in the engine. */
export class BuiltinFunction extends PyCallable {
  readonly typeName = "builtin_function_or_method";
  readonly name: string;
  readonly impl: (args: unknown[], kwargs: Kwargs) => unknown;
  readonly reprText: string;
  constructor(name: string, impl: (args: unknown[], kwargs: Kwargs) => unknown, reprText?: string) {
    super();
    this.name = name;
    this.impl = impl;
    this.reprText = reprText ?? `<built-in function ${name}>`;
  }
  call(args: unknown[], kwargs: Kwargs): unknown {
    return this.impl(args, kwargs);
  }
  override repr(): string {
    return this.reprText;
  }
}

/** The `loop` variable of a for loop (one object per loop, updated each iteration, as in Jinja2). */
export class LoopContext extends PyCallable {
  readonly typeName = "LoopContext";
  readonly items: readonly unknown[];
  readonly depth0: number;
  index0 = 0;
  private readonly recurse: ((iterable: unknown) => string) | null;
  private lastChanged: unknown = MISSING;
  constructor(items: readonly unknown[], depth0: number, recurse: ((iterable: unknown) => string) | null) {
    super();
    this.items = items;
    this.depth0 = depth0;
    this.recurse = recurse;
  }
  override get objectTypeRepr(): string {
    return "jinja2.runtime.LoopContext object";
  }
  call(args: unknown[], kwargs: Kwargs): unknown {
    if (this.recurse === null) {
      throw typeError("Tried to call non recursive loop. Maybe you forgot the 'recursive' modifier.");
    }
    noKwargs("loop", kwargs);
    if (args.length !== 1) throw typeError(`loop() takes exactly one argument (${args.length} given)`);
    return this.recurse(args[0]);
  }
  override getAttr(name: string): unknown {
    const length = this.items.length;
    const i = this.index0;
    switch (name) {
      case "index":
        return i + 1;
      case "index0":
        return i;
      case "revindex":
        return length - i;
      case "revindex0":
        return length - i - 1;
      case "first":
        return i === 0;
      case "last":
        return i === length - 1;
      case "length":
        return length;
      case "depth":
        return this.depth0 + 1;
      case "depth0":
        return this.depth0;
      case "previtem":
        return i > 0 ? this.items[i - 1] : new Undef("there is no previous item");
      case "nextitem":
        return i < length - 1 ? this.items[i + 1] : new Undef("there is no next item");
      case "cycle":
        return new BuiltinFunction("cycle", (args) => {
          if (args.length === 0) throw typeError("no items for cycling given");
          return args[this.index0 % args.length];
        });
      case "changed":
        return new BuiltinFunction("changed", (args) => {
          const value = tuple(args.slice());
          if (this.lastChanged === MISSING || !pyEq(value, this.lastChanged)) {
            this.lastChanged = value;
            return true;
          }
          return false;
        });
      default:
        return MISSING;
    }
  }
  override repr(): string {
    return `<LoopContext ${this.index0 + 1}/${this.items.length}>`;
  }
}

class Cycler extends PyObject {
  readonly typeName = "Cycler";
  readonly items: unknown[];
  pos = 0;
  constructor(items: unknown[]) {
    super();
    this.items = items;
  }
  override get objectTypeRepr(): string {
    return "jinja2.utils.Cycler object";
  }
  override getAttr(name: string): unknown {
    switch (name) {
      case "current":
        return this.items[this.pos];
      case "items":
        return this.items;
      case "next":
        return new BuiltinFunction("next", () => {
          const v = this.items[this.pos];
          this.pos = (this.pos + 1) % this.items.length;
          return v;
        });
      case "reset":
        return new BuiltinFunction("reset", () => {
          this.pos = 0;
          return null;
        });
      default:
        return MISSING;
    }
  }
}

class Joiner extends PyCallable {
  readonly typeName = "Joiner";
  readonly sep: string;
  used = false;
  constructor(sep: string) {
    super();
    this.sep = sep;
  }
  call(): unknown {
    if (!this.used) {
      this.used = true;
      return "";
    }
    return this.sep;
  }
}

function rangeArg(v: unknown): number {
  mustBeDefined(v);
  if (numKind(v) !== 1) throw typeError(`'${typeName(v)}' object cannot be interpreted as an integer`);
  return Number(intVal(v));
}

/** dict(*args, **kwargs) entries. */
function dictEntries(fname: string, args: unknown[], kwargs: Kwargs): PyDict {
  if (args.length > 1) throw typeError(`${fname} expected at most 1 argument, got ${args.length}`);
  const d = new PyDict();
  if (args.length === 1) {
    const src = args[0];
    mustBeDefined(src);
    if (kind(src) === "dict") for (const [k, v] of dictItems(src as DictLike)) d.set(k, v);
    else {
      iterate(src).forEach((pair, i) => {
        const kv = iterate(pair);
        if (kv.length !== 2) {
          throw valueError(`dictionary update sequence element #${i} has length ${kv.length}; 2 is required`);
        }
        d.set(kv[0], kv[1]);
      });
    }
  }
  if (kwargs !== null) for (const [k, v] of kwargs) d.set(k, v);
  return d;
}

const GLOBALS = new Map<string, unknown>([
  [
    "range",
    new BuiltinFunction(
      "range",
      (args, kwargs) => {
        noKwargs("range", kwargs);
        if (args.length < 1 || args.length > 3) {
          throw typeError(`range expected at most 3 arguments, got ${args.length}`);
        }
        const n = args.map(rangeArg);
        if (n.length === 1) return new PyRange(0, n[0] as number, 1);
        const step = n[2] ?? 1;
        if (step === 0) throw valueError("range() arg 3 must not be zero");
        return new PyRange(n[0] as number, n[1] as number, step);
      },
      "<class 'range'>",
    ),
  ],
  [
    "dict",
    new BuiltinFunction("dict", (args, kwargs) => dictEntries("dict", args, kwargs), "<class 'dict'>"),
  ],
  [
    "namespace",
    new BuiltinFunction(
      "namespace",
      (args, kwargs) => {
        const ns = new Namespace();
        for (const [k, v] of dictEntries("Namespace", args, kwargs).items() as unknown[][]) {
          ns.attrs.set(pyStr(k), v);
        }
        return ns;
      },
      "<class 'jinja2.utils.Namespace'>",
    ),
  ],
  [
    "cycler",
    new BuiltinFunction(
      "cycler",
      (args, kwargs) => {
        noKwargs("cycler", kwargs);
        if (args.length === 0) throw runtimeError("at least one item has to be provided");
        return new Cycler(args.slice());
      },
      "<class 'jinja2.utils.Cycler'>",
    ),
  ],
  [
    "joiner",
    new BuiltinFunction(
      "joiner",
      (args, kwargs) => {
        const sep = args.length > 0 ? args[0] : (kwargs?.get("sep") ?? ", ");
        return new Joiner(pyStr(sep));
      },
      "<class 'jinja2.utils.Joiner'>",
    ),
  ],
  [
    "lipsum",
    new BuiltinFunction(
      "lipsum",
      () => {
        throw runtimeError("lipsum() is not supported in silico templates");
      },
      "<function generate_lorem_ipsum>",
    ),
  ],
]);

/** Names the engine defines globally (not read from the context). */
export const GLOBAL_NAMES: ReadonlySet<string> = new Set(GLOBALS.keys());
