/**
 * A small, safe expression language for payoffs and stage conditions, with Python syntax (the
 * same as inside `{{ … }}` in templates): numbers, 'strings', names, attribute access, [index],
 * + - * / // % **, comparisons (chained), `in`, and/or/not, `a if cond else b`, lists, and calls of
 * a fixed list of functions. It is parsed once at study load and evaluated by walking the tree:
 * never JavaScript eval or new Function, and attribute access reaches only own properties of plain
 * data objects, so `__proto__`, `constructor` and friends are unreachable.
 */

export type Node =
  | { k: "num"; v: number; pos: number }
  | { k: "str"; v: string; pos: number }
  | { k: "const"; v: boolean | null; pos: number }
  | { k: "name"; name: string; pos: number }
  | { k: "attr"; obj: Node; name: string; pos: number }
  | { k: "index"; obj: Node; index: Node; pos: number }
  | { k: "call"; fn: string; args: Node[]; pos: number }
  | { k: "list"; items: Node[]; pos: number }
  | { k: "unary"; op: "-" | "+" | "not"; arg: Node; pos: number }
  | { k: "bin"; op: string; left: Node; right: Node; pos: number }
  | { k: "cmp"; ops: string[]; operands: Node[]; pos: number }
  | { k: "bool"; op: "and" | "or"; left: Node; right: Node; pos: number }
  | { k: "cond"; test: Node; yes: Node; no: Node; pos: number };

/** A syntax error at a 1-based column of the expression. */
export class ExpressionSyntaxError extends Error {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(`${message} at column ${column}`);
    this.name = "ExpressionSyntaxError";
  }
}

/** A failure while evaluating (division by zero, a missing name, a type mismatch). */
export class ExpressionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExpressionError";
  }
}

/**
 * Stands in for a choice that has no valid value. Reading it aborts the evaluation with
 * InvalidReference, so a payoff that depends on it becomes "invalid" rather than a wrong number.
 */
export class InvalidValue {
  constructor(readonly reason: string) {}
}

export class InvalidReference extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "InvalidReference";
  }
}

type Tok = { t: "num" | "str" | "name" | "op" | "end"; v: string; pos: number; num?: number };

const KEYWORDS = new Set([
  "and",
  "or",
  "not",
  "if",
  "else",
  "in",
  "True",
  "False",
  "None",
  "true",
  "false",
  "null",
]);
const OPS = [
  "**",
  "//",
  "==",
  "!=",
  "<=",
  ">=",
  "<",
  ">",
  "+",
  "-",
  "*",
  "/",
  "%",
  "(",
  ")",
  "[",
  "]",
  ",",
  ".",
];

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(src[i + 1] ?? ""))) {
      const m = /^(?:\d[\d_]*)?(?:\.\d*)?(?:[eE][+-]?\d+)?/.exec(src.slice(i));
      const text = m?.[0] ?? "";
      const n = Number(text.replace(/_/g, ""));
      if (text === "" || !Number.isFinite(n))
        throw new ExpressionSyntaxError(`bad number "${text}"`, start + 1);
      out.push({ t: "num", v: text, pos: start, num: n });
      i += text.length;
      if (/[A-Za-z_]/.test(src[i] ?? ""))
        throw new ExpressionSyntaxError(`unexpected "${src[i]}" after a number`, i + 1);
      continue;
    }
    if (c === "'" || c === '"') {
      let s = "";
      i++;
      for (;;) {
        if (i >= src.length) throw new ExpressionSyntaxError("unterminated string", start + 1);
        const d = src[i] as string;
        if (d === c) {
          i++;
          break;
        }
        if (d === "\\") {
          const e = src[i + 1] ?? "";
          s += e === "n" ? "\n" : e === "t" ? "\t" : e;
          i += 2;
          continue;
        }
        s += d;
        i++;
      }
      out.push({ t: "str", v: s, pos: start });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ t: "name", v: m[0], pos: start });
      i += m[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) {
      const hint =
        c === "?"
          ? " (conditionals are written `a if condition else b`)"
          : c === "&" || c === "|"
            ? " (use and / or)"
            : c === "!"
              ? " (use not)"
              : "";
      throw new ExpressionSyntaxError(`unexpected character "${c}"${hint}`, start + 1);
    }
    out.push({ t: "op", v: op, pos: start });
    i += op.length;
  }
  out.push({ t: "end", v: "", pos: src.length });
  return out;
}

/** Functions an expression may call; nothing else is callable. */
export const FUNCTIONS = [
  "min",
  "max",
  "abs",
  "round",
  "sum",
  "len",
  "mean",
  "floor",
  "ceil",
  "int",
  "float",
  "bool",
] as const;

const MAX_DEPTH = 60;

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok {
    return this.toks[this.i] as Tok;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === "op" && t.v === v;
  }
  private isKw(v: string): boolean {
    const t = this.peek();
    return t.t === "name" && t.v === v;
  }
  private expectOp(v: string): Tok {
    const t = this.peek();
    if (t.t !== "op" || t.v !== v)
      throw new ExpressionSyntaxError(`expected "${v}" but found ${show(t)}`, t.pos + 1);
    this.i++;
    return t;
  }

  parseAll(): Node {
    const n = this.expr();
    const t = this.peek();
    if (t.t !== "end") throw new ExpressionSyntaxError(`unexpected ${show(t)}`, t.pos + 1);
    return n;
  }

  /** Operators that recurse without passing through expr() (not, unary minus, **) count too. */
  private nested(parse: () => Node): Node {
    if (++this.depth > MAX_DEPTH)
      throw new ExpressionSyntaxError("expression nested too deeply", this.peek().pos + 1);
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  private expr(): Node {
    if (++this.depth > MAX_DEPTH)
      throw new ExpressionSyntaxError("expression nested too deeply", this.peek().pos + 1);
    try {
      const body = this.or();
      if (this.isKw("if")) {
        const pos = this.peek().pos;
        this.i++;
        const test = this.or();
        if (!this.isKw("else")) {
          throw new ExpressionSyntaxError(
            `expected "else" (a conditional is \`a if condition else b\`) but found ${show(this.peek())}`,
            this.peek().pos + 1,
          );
        }
        this.i++;
        const other = this.expr();
        return { k: "cond", test, yes: body, no: other, pos };
      }
      return body;
    } finally {
      this.depth--;
    }
  }

  private or(): Node {
    let left = this.and();
    while (this.isKw("or")) {
      const pos = this.peek().pos;
      this.i++;
      left = { k: "bool", op: "or", left, right: this.and(), pos };
    }
    return left;
  }

  private and(): Node {
    let left = this.not();
    while (this.isKw("and")) {
      const pos = this.peek().pos;
      this.i++;
      left = { k: "bool", op: "and", left, right: this.not(), pos };
    }
    return left;
  }

  private not(): Node {
    if (this.isKw("not")) {
      const pos = this.peek().pos;
      this.i++;
      return { k: "unary", op: "not", arg: this.nested(() => this.not()), pos };
    }
    return this.comparison();
  }

  private comparison(): Node {
    const first = this.sum();
    const ops: string[] = [];
    const operands: Node[] = [first];
    for (;;) {
      const t = this.peek();
      let op: string | undefined;
      if (t.t === "op" && ["==", "!=", "<", "<=", ">", ">="].includes(t.v)) {
        op = t.v;
        this.i++;
      } else if (this.isKw("in")) {
        op = "in";
        this.i++;
      } else if (
        this.isKw("not") &&
        this.toks[this.i + 1]?.t === "name" &&
        this.toks[this.i + 1]?.v === "in"
      ) {
        op = "not in";
        this.i += 2;
      }
      if (!op) break;
      ops.push(op);
      operands.push(this.sum());
    }
    return ops.length === 0 ? first : { k: "cmp", ops, operands, pos: first.pos };
  }

  private sum(): Node {
    let left = this.term();
    while (this.isOp("+") || this.isOp("-")) {
      const t = this.peek();
      this.i++;
      left = { k: "bin", op: t.v, left, right: this.term(), pos: t.pos };
    }
    return left;
  }

  private term(): Node {
    let left = this.unary();
    while (this.isOp("*") || this.isOp("/") || this.isOp("//") || this.isOp("%")) {
      const t = this.peek();
      this.i++;
      left = { k: "bin", op: t.v, left, right: this.unary(), pos: t.pos };
    }
    return left;
  }

  private unary(): Node {
    if (this.isOp("-") || this.isOp("+")) {
      const t = this.peek();
      this.i++;
      return { k: "unary", op: t.v as "-" | "+", arg: this.nested(() => this.unary()), pos: t.pos };
    }
    return this.power();
  }

  private power(): Node {
    const base = this.postfix();
    if (this.isOp("**")) {
      const t = this.peek();
      this.i++;
      // Right-associative and binds tighter than a unary minus on its left, as in Python.
      return { k: "bin", op: "**", left: base, right: this.nested(() => this.unary()), pos: t.pos };
    }
    return base;
  }

  private postfix(): Node {
    let node = this.atom();
    for (;;) {
      if (this.isOp(".")) {
        const dot = this.peek();
        this.i++;
        const t = this.peek();
        if (t.t !== "name")
          throw new ExpressionSyntaxError(
            `expected an attribute name after "." but found ${show(t)}`,
            t.pos + 1,
          );
        this.i++;
        node = { k: "attr", obj: node, name: t.v, pos: dot.pos };
      } else if (this.isOp("[")) {
        const t = this.peek();
        this.i++;
        const index = this.expr();
        this.expectOp("]");
        node = { k: "index", obj: node, index, pos: t.pos };
      } else if (this.isOp("(")) {
        const t = this.peek();
        if (node.k !== "name") {
          throw new ExpressionSyntaxError(
            `only the functions ${FUNCTIONS.join(", ")} can be called`,
            t.pos + 1,
          );
        }
        if (!(FUNCTIONS as readonly string[]).includes(node.name)) {
          throw new ExpressionSyntaxError(
            `unknown function "${node.name}" (allowed: ${FUNCTIONS.join(", ")})`,
            node.pos + 1,
          );
        }
        this.i++;
        const args: Node[] = [];
        if (!this.isOp(")")) {
          for (;;) {
            args.push(this.expr());
            if (this.isOp(",")) {
              this.i++;
              if (this.isOp(")")) break;
              continue;
            }
            break;
          }
        }
        this.expectOp(")");
        node = { k: "call", fn: node.name, args, pos: node.pos };
      } else return node;
    }
  }

  private atom(): Node {
    const t = this.peek();
    if (t.t === "num") {
      this.i++;
      return { k: "num", v: t.num as number, pos: t.pos };
    }
    if (t.t === "str") {
      this.i++;
      return { k: "str", v: t.v, pos: t.pos };
    }
    if (t.t === "name") {
      if (t.v === "True" || t.v === "true") {
        this.i++;
        return { k: "const", v: true, pos: t.pos };
      }
      if (t.v === "False" || t.v === "false") {
        this.i++;
        return { k: "const", v: false, pos: t.pos };
      }
      if (t.v === "None" || t.v === "null") {
        this.i++;
        return { k: "const", v: null, pos: t.pos };
      }
      if (KEYWORDS.has(t.v)) throw new ExpressionSyntaxError(`unexpected "${t.v}"`, t.pos + 1);
      this.i++;
      return { k: "name", name: t.v, pos: t.pos };
    }
    if (this.isOp("(")) {
      this.i++;
      const inner = this.expr();
      this.expectOp(")");
      return inner;
    }
    if (this.isOp("[")) {
      this.i++;
      const items: Node[] = [];
      while (!this.isOp("]")) {
        items.push(this.expr());
        if (this.isOp(",")) this.i++;
        else break;
      }
      this.expectOp("]");
      return { k: "list", items, pos: t.pos };
    }
    throw new ExpressionSyntaxError(
      t.t === "end" ? "unexpected end of expression" : `unexpected ${show(t)}`,
      t.pos + 1,
    );
  }
}

function show(t: Tok): string {
  if (t.t === "end") return "the end of the expression";
  if (t.t === "str") return "a string";
  return `"${t.v}"`;
}

/** A parsed expression: evaluate it against a scope of names as often as needed. */
export interface Expression {
  readonly source: string;
  readonly ast: Node;
  evaluate(scope: Record<string, unknown>): unknown;
  /** Every name read from the scope, with the chain of attribute names that follows it (e.g. me.choices → ["me", "choices"]). */
  references(): { name: string; attrs: string[]; column: number }[];
}

export function parseExpression(source: string | number | boolean): Expression {
  const text = typeof source === "string" ? source : String(source);
  if (text.trim() === "") throw new ExpressionSyntaxError("empty expression", 1);
  const ast = new Parser(tokenize(text)).parseAll();
  return {
    source: text,
    ast,
    evaluate: (scope) => evaluate(ast, scope),
    references: () => collectReferences(ast),
  };
}

function collectReferences(root: Node): { name: string; attrs: string[]; column: number }[] {
  const out: { name: string; attrs: string[]; column: number }[] = [];
  const walk = (n: Node): void => {
    switch (n.k) {
      case "name":
        out.push({ name: n.name, attrs: [], column: n.pos + 1 });
        return;
      case "attr": {
        const chain: string[] = [];
        let base: Node = n;
        while (base.k === "attr") {
          chain.unshift(base.name);
          base = base.obj;
        }
        if (base.k === "name") out.push({ name: base.name, attrs: chain, column: base.pos + 1 });
        else walk(base);
        return;
      }
      case "index":
        walk(n.obj);
        walk(n.index);
        return;
      case "call":
        n.args.forEach(walk);
        return;
      case "list":
        n.items.forEach(walk);
        return;
      case "unary":
        walk(n.arg);
        return;
      case "bin":
      case "bool":
        walk(n.left);
        walk(n.right);
        return;
      case "cmp":
        n.operands.forEach(walk);
        return;
      case "cond":
        walk(n.test);
        walk(n.yes);
        walk(n.no);
        return;
      default:
        return;
    }
  };
  walk(root);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

const FORBIDDEN = new Set([
  "constructor",
  "prototype",
  "__proto__",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
]);

function isPlainData(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (typeof v === "string") return "str";
  if (Array.isArray(v)) return "list";
  return "dict";
}

function checkValid(v: unknown): unknown {
  if (v instanceof InvalidValue) throw new InvalidReference(v.reason);
  return v;
}

function getMember(obj: unknown, key: string, how: string): unknown {
  if (FORBIDDEN.has(key) || key.startsWith("__"))
    throw new ExpressionError(`access to "${key}" is not allowed`);
  if (isPlainData(obj)) {
    if (!Object.hasOwn(obj, key)) throw new ExpressionError(`${how} has no "${key}"`);
    return checkValid(obj[key]);
  }
  if (Array.isArray(obj)) {
    // Projection: others.contribution is the list of every other member's contribution.
    return obj.map((item) => getMember(checkValid(item), key, how));
  }
  throw new ExpressionError(`${how} is ${typeName(obj)}, which has no attribute "${key}"`);
}

function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainData(v)) return Object.keys(v).length > 0;
  return true;
}

function num(v: unknown, op: string): number {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  throw new ExpressionError(`"${op}" needs numbers, got ${typeName(v)}`);
}

function finite(n: number): number {
  if (!Number.isFinite(n)) throw new ExpressionError("the result is not a finite number");
  return n;
}

function equal(a: unknown, b: unknown): boolean {
  if (
    (typeof a === "number" || typeof a === "boolean") &&
    (typeof b === "number" || typeof b === "boolean")
  ) {
    return Number(a) === Number(b);
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (isPlainData(a) && isPlainData(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]));
  }
  return (a ?? null) === (b ?? null);
}

function order(a: unknown, b: unknown, op: string): number {
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  if (
    (typeof a === "number" || typeof a === "boolean") &&
    (typeof b === "number" || typeof b === "boolean")
  ) {
    return Number(a) - Number(b);
  }
  throw new ExpressionError(`cannot compare ${typeName(a)} and ${typeName(b)} with "${op}"`);
}

function contains(container: unknown, item: unknown): boolean {
  if (Array.isArray(container)) return container.some((x) => equal(x, item));
  if (typeof container === "string") {
    if (typeof item !== "string")
      throw new ExpressionError(`"in" on a text needs a text on the left, got ${typeName(item)}`);
    return container.includes(item);
  }
  if (isPlainData(container)) return typeof item === "string" && Object.hasOwn(container, item);
  throw new ExpressionError(`"in" needs a list, text or dict on the right, got ${typeName(container)}`);
}

/**
 * Python's round(): the exact binary value decides (round(2.675, 2) is 2.67 because 2.675 is
 * stored as 2.67499…), and exact halves go to the even neighbour (round(0.125, 2) is 0.12).
 */
export function pyRound(x: number, digits = 0): number {
  if (!Number.isFinite(x)) return x;
  if (digits < 0) {
    const f = 10 ** -digits;
    const y = x / f;
    const r = Math.abs(y % 1) === 0.5 ? 2 * Math.round(y / 2) : Math.round(y);
    return r * f;
  }
  const places = Math.min(digits, 60);
  // toFixed works on the exact value; 30 extra digits show whether the rest is exactly one half.
  const exact = Math.abs(x).toFixed(Math.min(100, places + 30));
  const cut = exact.indexOf(".") + 1 + places;
  const rest = exact.slice(cut);
  let text: string;
  if (/^50*$/.test(rest)) {
    const kept = exact.slice(0, cut).replace(/\.$/, "");
    const lastDigit = Number(kept[kept.length - 1]);
    const down = Number(kept);
    text = lastDigit % 2 === 0 ? String(down) : (down + 10 ** -places).toFixed(places);
  } else text = Math.abs(x).toFixed(places);
  const v = Number(text);
  return x < 0 && v !== 0 ? -v : v;
}

function numbersOf(args: unknown[], fn: string): number[] {
  const list = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  return list.map((v) => num(checkValid(v), fn));
}

function callFunction(fn: string, args: unknown[]): unknown {
  const arity = (min: number, max: number) => {
    if (args.length < min || args.length > max) {
      throw new ExpressionError(
        `${fn}() takes ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? "" : "s"}, got ${args.length}`,
      );
    }
  };
  switch (fn) {
    case "min":
    case "max": {
      const xs = numbersOf(args, fn);
      if (xs.length === 0) throw new ExpressionError(`${fn}() of an empty list`);
      return fn === "min" ? Math.min(...xs) : Math.max(...xs);
    }
    case "abs":
      arity(1, 1);
      return Math.abs(num(args[0], fn));
    case "round": {
      arity(1, 2);
      const digits = args.length === 2 ? num(args[1], fn) : 0;
      if (!Number.isInteger(digits)) throw new ExpressionError("round() digits must be a whole number");
      return pyRound(num(args[0], fn), digits);
    }
    case "floor":
      arity(1, 1);
      return Math.floor(num(args[0], fn));
    case "ceil":
      arity(1, 1);
      return Math.ceil(num(args[0], fn));
    case "int":
      arity(1, 1);
      if (typeof args[0] === "string") {
        const n = Number(args[0].trim());
        if (args[0].trim() === "" || !Number.isInteger(n))
          throw new ExpressionError(`int() cannot read "${args[0]}"`);
        return n;
      }
      return Math.trunc(num(args[0], fn));
    case "float":
      arity(1, 1);
      if (typeof args[0] === "string") {
        const n = Number(args[0].trim());
        if (args[0].trim() === "" || Number.isNaN(n))
          throw new ExpressionError(`float() cannot read "${args[0]}"`);
        return n;
      }
      return num(args[0], fn);
    case "bool":
      arity(1, 1);
      return truthy(args[0]);
    case "sum":
      return numbersOf(args, fn).reduce((a, b) => a + b, 0);
    case "mean": {
      const xs = numbersOf(args, fn);
      if (xs.length === 0) throw new ExpressionError("mean() of an empty list");
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    }
    case "len": {
      arity(1, 1);
      const v = args[0];
      if (Array.isArray(v) || typeof v === "string") return v.length;
      if (isPlainData(v)) return Object.keys(v).length;
      throw new ExpressionError(`len() of ${typeName(v)}`);
    }
    default:
      throw new ExpressionError(`unknown function "${fn}"`);
  }
}

function binary(op: string, a: unknown, b: unknown): unknown {
  if (op === "+") {
    if (typeof a === "string" && typeof b === "string") return a + b;
    if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
    return finite(num(a, op) + num(b, op));
  }
  const x = num(a, op);
  const y = num(b, op);
  switch (op) {
    case "-":
      return finite(x - y);
    case "*":
      return finite(x * y);
    case "/":
      if (y === 0) throw new ExpressionError("division by zero");
      return finite(x / y);
    case "//":
      if (y === 0) throw new ExpressionError("division by zero");
      return Math.floor(x / y);
    case "%": {
      if (y === 0) throw new ExpressionError("modulo by zero");
      const r = x % y;
      return r !== 0 && r < 0 !== y < 0 ? r + y : r;
    }
    case "**":
      return finite(x ** y);
    default:
      throw new ExpressionError(`unknown operator "${op}"`);
  }
}

function evaluate(n: Node, scope: Record<string, unknown>): unknown {
  switch (n.k) {
    case "num":
    case "str":
    case "const":
      return n.v;
    case "name": {
      if (!Object.hasOwn(scope, n.name)) throw new ExpressionError(`"${n.name}" is not defined`);
      return checkValid(scope[n.name]);
    }
    case "attr":
      return getMember(evaluate(n.obj, scope), n.name, describeNode(n.obj));
    case "index": {
      const obj = evaluate(n.obj, scope);
      const idx = evaluate(n.index, scope);
      if (Array.isArray(obj) || typeof obj === "string") {
        if (typeof idx !== "number" || !Number.isInteger(idx))
          throw new ExpressionError(`a list index must be a whole number, got ${typeName(idx)}`);
        const i = idx < 0 ? obj.length + idx : idx;
        if (i < 0 || i >= obj.length)
          throw new ExpressionError(`index ${idx} is out of range (length ${obj.length})`);
        return checkValid(obj[i]);
      }
      if (isPlainData(obj)) {
        if (typeof idx !== "string")
          throw new ExpressionError(`a dict key must be a text, got ${typeName(idx)}`);
        return getMember(obj, idx, describeNode(n.obj));
      }
      throw new ExpressionError(`${describeNode(n.obj)} is ${typeName(obj)} and cannot be indexed`);
    }
    case "call":
      return callFunction(
        n.fn,
        n.args.map((a) => evaluate(a, scope)),
      );
    case "list":
      return n.items.map((i) => evaluate(i, scope));
    case "unary": {
      const v = evaluate(n.arg, scope);
      if (n.op === "not") return !truthy(v);
      return n.op === "-" ? -num(v, "-") : num(v, "+");
    }
    case "bin":
      return binary(n.op, evaluate(n.left, scope), evaluate(n.right, scope));
    case "bool": {
      const left = evaluate(n.left, scope);
      if (n.op === "and") return truthy(left) ? evaluate(n.right, scope) : left;
      return truthy(left) ? left : evaluate(n.right, scope);
    }
    case "cmp": {
      let left = evaluate(n.operands[0] as Node, scope);
      for (let i = 0; i < n.ops.length; i++) {
        const op = n.ops[i] as string;
        const right = evaluate(n.operands[i + 1] as Node, scope);
        let ok: boolean;
        switch (op) {
          case "==":
            ok = equal(left, right);
            break;
          case "!=":
            ok = !equal(left, right);
            break;
          case "in":
            ok = contains(right, left);
            break;
          case "not in":
            ok = !contains(right, left);
            break;
          default: {
            const c = order(left, right, op);
            ok = op === "<" ? c < 0 : op === "<=" ? c <= 0 : op === ">" ? c > 0 : c >= 0;
          }
        }
        if (!ok) return false;
        left = right;
      }
      return true;
    }
    case "cond":
      return truthy(evaluate(n.test, scope)) ? evaluate(n.yes, scope) : evaluate(n.no, scope);
  }
}

function describeNode(n: Node): string {
  switch (n.k) {
    case "name":
      return n.name;
    case "attr":
      return `${describeNode(n.obj)}.${n.name}`;
    case "index":
      return `${describeNode(n.obj)}[…]`;
    default:
      return "the value";
  }
}

export { truthy as isTruthy };
