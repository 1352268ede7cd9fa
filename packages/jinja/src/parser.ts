/** Parses tokens into the syntax tree, following Jinja2's grammar and operator precedence. */
import type { BinOp, CompareOp, Expr, MacroParams, Stmt, Target } from "./ast.js";
import type { Token } from "./lexer.js";
import { mkFloat } from "./python-values.js";
import { TemplateSyntaxError } from "./syntax-error.js";

const COMPARE_OPS = new Set(["==", "!=", "<", "<=", ">", ">="]);
const UNSUPPORTED_TAGS = new Set([
  "extends",
  "include",
  "import",
  "from",
  "autoescape",
  "trans",
  "do",
  "break",
  "continue",
]);
const RESERVED_TARGETS = new Set(["true", "false", "none", "True", "False", "None"]);

function describe(tok: Token): string {
  switch (tok.type) {
    case "var_end":
      return "end of print statement";
    case "block_end":
      return "end of statement block";
    case "var_begin":
      return "begin of print statement";
    case "block_begin":
      return "begin of statement block";
    case "eof":
      return "end of template";
    case "string":
      return "string";
    case "int":
      return "integer";
    case "float":
      return "float";
    case "data":
      return "template data";
    default:
      return tok.value;
  }
}

const describeExpected = (type: string, value?: string): string => {
  if (value !== undefined) return value;
  return describe({ type: type as Token["type"], value: "", line: 0 });
};

/** Deepest nesting of brackets, operators and blocks a template may have (Jinja2 itself fails near 70 brackets, with a RecursionError). */
export const MAX_NESTING = 100;

export interface ParseOptions {
  /**
   * Python's expression grammar where Jinja2's differs: `a if b` needs `else`, and `**` is
   * right-associative and binds tighter than a unary minus on its left (`-2 ** 2` is -4, `2 ** 3 ** 2`
   * is 512; Jinja2 gives 4 and 64).
   */
  python?: boolean;
}

export function parse(tokens: Token[], options: ParseOptions = {}): Stmt[] {
  return new Parser(tokens, options).parseTemplate();
}

class Parser {
  private readonly tokens: Token[];
  private i = 0;
  /** Tags being looked for, innermost last, for error messages. */
  private readonly endStack: { tag: string; ends: string[] }[] = [];
  private readonly options: ParseOptions;
  private readonly blockNames = new Set<string>();
  /** Current nesting (expressions and blocks), bounded so that deep input cannot overflow the stack. */
  private depth = 0;

  constructor(tokens: Token[], options: ParseOptions) {
    this.tokens = tokens;
    this.options = options;
  }

  private enter(what: string): void {
    if (++this.depth > MAX_NESTING) {
      this.fail(`${what} nested too deeply (limit: ${MAX_NESTING} levels)`);
    }
  }

  private get cur(): Token {
    return this.tokens[this.i] ?? (this.tokens[this.tokens.length - 1] as Token);
  }

  private look(): Token {
    return this.tokens[this.i + 1] ?? (this.tokens[this.tokens.length - 1] as Token);
  }

  private next(): Token {
    const t = this.cur;
    if (this.i < this.tokens.length - 1) this.i++;
    return t;
  }

  /** Fails at the current token (its line and column), or at `line` when the error is elsewhere. */
  private fail(message: string, line?: number): never {
    if (line !== undefined && line !== this.cur.line) throw new TemplateSyntaxError(message, line);
    throw new TemplateSyntaxError(message, this.cur.line, this.cur.at);
  }

  private is(type: Token["type"], value?: string): boolean {
    const t = this.cur;
    return t.type === type && (value === undefined || t.value === value);
  }

  private isOp(value: string): boolean {
    return this.is("op", value);
  }

  private isName(value: string): boolean {
    return this.is("name", value);
  }

  private skipIf(type: Token["type"], value?: string): boolean {
    if (!this.is(type, value)) return false;
    this.next();
    return true;
  }

  private expect(type: Token["type"], value?: string): Token {
    if (!this.is(type, value)) {
      const t = this.cur;
      if (t.type === "eof") {
        this.failEof(`expected '${describeExpected(type, value)}'`);
      }
      this.fail(`expected token '${describeExpected(type, value)}', got '${describe(t)}'`);
    }
    return this.next();
  }

  private failEof(what: string): never {
    const inner = this.endStack[this.endStack.length - 1];
    if (inner) {
      const looking = inner.ends.map((e) => `'${e}'`).join(" or ");
      this.fail(
        `Unexpected end of template. Jinja was looking for the following tags: ${looking}. The innermost block that needs to be closed is '${inner.tag}'.`,
      );
    }
    this.fail(`unexpected end of template, ${what}`);
  }

  parseTemplate(): Stmt[] {
    const body = this.subparse(null);
    if (!this.is("eof")) this.fail(`unexpected '${describe(this.cur)}'`);
    return body;
  }

  /** Statements until one of the end tags (left as the current token, after its `{%`). */
  private subparse(ends: string[] | null): Stmt[] {
    const body: Stmt[] = [];
    for (;;) {
      const t = this.cur;
      if (t.type === "eof") {
        if (ends !== null) this.failEof("");
        return body;
      }
      if (t.type === "data") {
        body.push({ type: "data", line: t.line, text: t.value });
        this.next();
      } else if (t.type === "var_begin") {
        this.next();
        const expr = this.parseTuple();
        body.push({ type: "output", line: t.line, expr });
        this.expect("var_end");
      } else if (t.type === "block_begin") {
        this.next();
        if (ends !== null && this.cur.type === "name" && ends.includes(this.cur.value)) return body;
        body.push(this.parseStatement());
      } else {
        this.fail(`unexpected '${describe(t)}'`);
      }
    }
  }

  /** Parses `%}`, then the body up to one of `ends`; returns the body with the end tag name current. */
  private block(tag: string, ends: string[]): Stmt[] {
    this.expect("block_end");
    this.enter("blocks");
    this.endStack.push({ tag, ends });
    const body = this.subparse(ends);
    this.endStack.pop();
    this.depth--;
    return body;
  }

  /** `{% block name [scoped] [required] %}…{% endblock [name] %}` (without inheritance: rendered in place). */
  private parseBlock(): Stmt {
    const line = this.next().line;
    const name = this.expect("name").value;
    if (this.blockNames.has(name)) this.fail(`block '${name}' defined twice`, line);
    this.blockNames.add(name);
    const scoped = this.skipIf("name", "scoped");
    const required = this.skipIf("name", "required");
    const body = this.block("block", ["endblock"]);
    this.next();
    this.skipIf("name", name);
    this.expect("block_end");
    if (required && body.some((s) => s.type !== "data" || s.text.trim() !== "")) {
      this.fail("Required blocks can only contain comments or whitespace", line);
    }
    return { type: "block", line, name, scoped, required, body };
  }

  /** Consumes `{% endxxx %}` (the name is current). */
  private endTag(): void {
    this.next();
    this.expect("block_end");
  }

  private parseStatement(): Stmt {
    const t = this.cur;
    if (t.type !== "name") this.fail("tag name expected");
    switch (t.value) {
      case "if":
        return this.parseIf();
      case "for":
        return this.parseFor();
      case "set":
        return this.parseSet();
      case "macro":
        return this.parseMacro();
      case "call":
        return this.parseCallBlock();
      case "filter":
        return this.parseFilterBlock();
      case "with":
        return this.parseWith();
      case "block":
        return this.parseBlock();
      case "print": {
        this.next();
        const expr = this.parseTuple();
        this.expect("block_end");
        return { type: "output", line: t.line, expr };
      }
      default:
        break;
    }
    if (UNSUPPORTED_TAGS.has(t.value)) this.fail(`the '${t.value}' tag is not supported in silico templates`);
    const inner = this.endStack[this.endStack.length - 1];
    let message = `Encountered unknown tag '${t.value}'.`;
    if (inner) {
      message += ` Jinja was looking for the following tags: ${inner.ends.map((e) => `'${e}'`).join(" or ")}. The innermost block that needs to be closed is '${inner.tag}'.`;
    }
    this.fail(message);
  }

  private parseIf(): Stmt {
    const line = this.next().line;
    const branches: { test: Expr; body: Stmt[] }[] = [];
    let test = this.parseTuple(false, false);
    const ends = ["elif", "else", "endif"];
    let body = this.block("if", ends);
    branches.push({ test, body });
    let elseBody: Stmt[] = [];
    for (;;) {
      const tok = this.next();
      if (tok.value === "elif") {
        test = this.parseTuple(false, false);
        body = this.block("if", ends);
        branches.push({ test, body });
      } else if (tok.value === "else") {
        elseBody = this.block("if", ["endif"]);
        this.endTag();
        break;
      } else {
        this.expect("block_end");
        break;
      }
    }
    return { type: "if", line, branches, else: elseBody };
  }

  private parseFor(): Stmt {
    const line = this.next().line;
    const target = this.parseAssignTarget(true, false, ["in"]);
    this.expect("name", "in");
    const iter = this.parseTuple(false, false, ["recursive"]);
    let filter: Expr | null = null;
    if (this.skipIf("name", "if")) filter = this.parseExpression();
    const recursive = this.skipIf("name", "recursive");
    const body = this.block("for", ["endfor", "else"]);
    let elseBody: Stmt[] = [];
    if (this.next().value === "else") {
      elseBody = this.block("for", ["endfor"]);
      this.endTag();
    } else this.expect("block_end");
    return { type: "for", line, target, iter, filter, recursive, body, else: elseBody };
  }

  private parseSet(): Stmt {
    const line = this.next().line;
    const target = this.parseAssignTarget(true, false, null, true);
    if (this.skipIf("op", "=")) {
      const value = this.parseTuple();
      this.expect("block_end");
      return { type: "set", line, target, value };
    }
    const filters = this.isOp("|") ? [this.parseFilter(null)] : [];
    const body = this.block("set", ["endset"]);
    this.endTag();
    return { type: "setblock", line, target, filters, body };
  }

  private parseSignature(): MacroParams {
    const names: string[] = [];
    const defaults: (Expr | null)[] = [];
    this.expect("op", "(");
    while (!this.isOp(")")) {
      if (names.length > 0) this.expect("op", ",");
      const arg = this.expect("name");
      if (RESERVED_TARGETS.has(arg.value)) this.fail(`can't assign to '${arg.value}'`, arg.line);
      if (this.skipIf("op", "=")) defaults.push(this.parseExpression());
      else {
        if (defaults.some((d) => d !== null)) this.fail("non-default argument follows default argument");
        defaults.push(null);
      }
      names.push(arg.value);
    }
    this.expect("op", ")");
    return { names, defaults };
  }

  private parseMacro(): Stmt {
    const line = this.next().line;
    const name = this.expect("name").value;
    const params = this.parseSignature();
    const body = this.block("macro", ["endmacro"]);
    this.endTag();
    return { type: "macro", line, name, params, body };
  }

  private parseCallBlock(): Stmt {
    const line = this.next().line;
    const params = this.isOp("(") ? this.parseSignature() : { names: [], defaults: [] };
    const call = this.parseExpression();
    if (call.type !== "call") this.fail("expected call", line);
    const body = this.block("call", ["endcall"]);
    this.endTag();
    return { type: "callblock", line, call, params, body };
  }

  private parseFilterBlock(): Stmt {
    const line = this.next().line;
    const filter = this.parseFilter(null, true);
    const body = this.block("filter", ["endfilter"]);
    this.endTag();
    return { type: "filterblock", line, filters: [filter], body };
  }

  private parseWith(): Stmt {
    const line = this.next().line;
    const targets: Target[] = [];
    const values: Expr[] = [];
    while (!this.is("block_end")) {
      if (targets.length > 0) this.expect("op", ",");
      targets.push(this.parseAssignTarget());
      this.expect("op", "=");
      values.push(this.parseExpression());
    }
    const body = this.block("with", ["endwith"]);
    this.endTag();
    return { type: "with", line, targets, values, body };
  }

  private parseAssignTarget(
    withTuple = true,
    nameOnly = false,
    extraEnd: string[] | null = null,
    withNamespace = false,
  ): Target {
    const line = this.cur.line;
    if (nameOnly) {
      const t = this.expect("name");
      return { type: "name", line: t.line, name: t.value };
    }
    if (withNamespace && this.cur.type === "name" && this.look().type === "op" && this.look().value === ".") {
      const name = this.next().value;
      this.next();
      const attr = this.expect("name").value;
      if (!this.isOp(",")) return { type: "nsref", line, name, attr };
      this.fail("namespace attributes cannot be assigned in a tuple");
    }
    const expr = withTuple ? this.parseTuple(true, true, extraEnd) : this.parsePrimary();
    return this.toTarget(expr);
  }

  private toTarget(e: Expr): Target {
    if (e.type === "name") {
      if (RESERVED_TARGETS.has(e.name)) this.fail(`can't assign to '${e.name}'`, e.line);
      return { type: "name", line: e.line, name: e.name };
    }
    if (e.type === "tuple")
      return { type: "tuple", line: e.line, items: e.items.map((x) => this.toTarget(x)) };
    if (e.type === "const" && (e.value === true || e.value === false || e.value === null)) {
      this.fail(`can't assign to '${String(e.value ?? "none")}'`, e.line);
    }
    this.fail(`can't assign to '${e.type}'`, e.line);
  }

  // --- expressions -------------------------------------------------------------------------------

  private parseExpression(withCondexpr = true): Expr {
    return withCondexpr ? this.parseCondexpr() : this.parseOr();
  }

  private parseCondexpr(): Expr {
    const line = this.cur.line;
    this.enter("expression");
    let expr1 = this.parseOr();
    while (this.skipIf("name", "if")) {
      const expr2 = this.parseOr();
      let expr3: Expr | null = null;
      if (this.skipIf("name", "else")) expr3 = this.parseCondexpr();
      else if (this.options.python) this.expect("name", "else");
      expr1 = { type: "cond", line, test: expr2, ifTrue: expr1, ifFalse: expr3 };
    }
    this.depth--;
    return expr1;
  }

  private parseOr(): Expr {
    const line = this.cur.line;
    let left = this.parseAnd();
    while (this.skipIf("name", "or")) left = { type: "or", line, left, right: this.parseAnd() };
    return left;
  }

  private parseAnd(): Expr {
    const line = this.cur.line;
    let left = this.parseNot();
    while (this.skipIf("name", "and")) left = { type: "and", line, left, right: this.parseNot() };
    return left;
  }

  private parseNot(): Expr {
    if (this.isName("not")) {
      const line = this.next().line;
      this.enter("expression");
      const node: Expr = { type: "not", line, node: this.parseNot() };
      this.depth--;
      return node;
    }
    return this.parseCompare();
  }

  private parseCompare(): Expr {
    const line = this.cur.line;
    const first = this.parseMath1();
    const ops: [CompareOp, Expr][] = [];
    for (;;) {
      const t = this.cur;
      if (t.type === "op" && COMPARE_OPS.has(t.value)) {
        this.next();
        ops.push([t.value as CompareOp, this.parseMath1()]);
      } else if (this.skipIf("name", "in")) {
        ops.push(["in", this.parseMath1()]);
      } else if (this.isName("not") && this.look().type === "name" && this.look().value === "in") {
        this.next();
        this.next();
        ops.push(["notin", this.parseMath1()]);
      } else break;
    }
    return ops.length === 0 ? first : { type: "compare", line, first, ops };
  }

  private parseMath1(): Expr {
    const line = this.cur.line;
    let left = this.parseConcat();
    while (this.isOp("+") || this.isOp("-")) {
      const op = this.next().value as BinOp;
      left = { type: "binop", line, op, left, right: this.parseConcat() };
    }
    return left;
  }

  private parseConcat(): Expr {
    const line = this.cur.line;
    const parts = [this.parseMath2()];
    while (this.skipIf("op", "~")) parts.push(this.parseMath2());
    return parts.length === 1 ? (parts[0] as Expr) : { type: "concat", line, parts };
  }

  private parseMath2(): Expr {
    const line = this.cur.line;
    let left = this.parsePow();
    while (this.isOp("*") || this.isOp("/") || this.isOp("//") || this.isOp("%")) {
      const op = this.next().value as BinOp;
      left = { type: "binop", line, op, left, right: this.parsePow() };
    }
    return left;
  }

  private parsePow(): Expr {
    if (this.options.python) return this.parseUnary();
    const line = this.cur.line;
    let left = this.parseUnary();
    while (this.skipIf("op", "**")) left = { type: "binop", line, op: "**", left, right: this.parseUnary() };
    return left;
  }

  private parseUnary(withFilter = true): Expr {
    const t = this.cur;
    let node: Expr;
    if (t.type === "op" && (t.value === "-" || t.value === "+")) {
      this.next();
      this.enter("expression");
      node = { type: t.value === "-" ? "neg" : "pos", line: t.line, node: this.parseUnary(false) };
      this.depth--;
      node = this.parsePostfix(node);
      if (withFilter) node = this.parseFilterExpr(node);
      return node;
    }
    node = this.parsePostfix(this.parsePrimary());
    if (withFilter) node = this.parseFilterExpr(node);
    if (this.options.python && this.isOp("**")) {
      const line = this.next().line;
      this.enter("expression");
      node = { type: "binop", line, op: "**", left: node, right: this.parseUnary() };
      this.depth--;
    }
    return node;
  }

  private parsePrimary(): Expr {
    const t = this.cur;
    switch (t.type) {
      case "name":
        this.next();
        if (t.value === "true" || t.value === "True") return { type: "const", line: t.line, value: true };
        if (t.value === "false" || t.value === "False") return { type: "const", line: t.line, value: false };
        if (t.value === "none" || t.value === "None") return { type: "const", line: t.line, value: null };
        return t.pos === undefined
          ? { type: "name", line: t.line, name: t.value }
          : { type: "name", line: t.line, name: t.value, pos: t.pos };
      case "string": {
        this.next();
        let s = t.value;
        while (this.is("string")) s += this.next().value;
        return { type: "const", line: t.line, value: s };
      }
      case "int":
        this.next();
        return { type: "const", line: t.line, value: t.num };
      case "float":
        this.next();
        return { type: "const", line: t.line, value: mkFloat(t.num as number) };
      case "op":
        if (t.value === "(") {
          this.next();
          const node = this.parseTuple(false, true, null, true);
          this.expect("op", ")");
          return node;
        }
        if (t.value === "[") return this.parseList();
        if (t.value === "{") return this.parseDict();
        break;
      case "eof":
        this.failEof("expected an expression");
        break;
      default:
        break;
    }
    this.fail(`unexpected '${describe(t)}'`);
  }

  /** Comma-separated expressions; a tuple when there is a comma. */
  private parseTuple(
    simplified = false,
    withCondexpr = true,
    extraEnd: string[] | null = null,
    explicitParens = false,
  ): Expr {
    const line = this.cur.line;
    const items: Expr[] = [];
    let isTuple = false;
    for (;;) {
      if (items.length > 0) this.expect("op", ",");
      if (this.isTupleEnd(extraEnd)) break;
      items.push(simplified ? this.parsePrimary() : this.parseExpression(withCondexpr));
      if (this.isOp(",")) isTuple = true;
      else break;
    }
    if (!isTuple) {
      if (items.length > 0) return items[0] as Expr;
      if (!explicitParens) this.fail(`Expected an expression, got '${describe(this.cur)}'`);
    }
    return { type: "tuple", line, items };
  }

  private isTupleEnd(extraEnd: string[] | null): boolean {
    const t = this.cur;
    if (t.type === "var_end" || t.type === "block_end" || t.type === "eof") return true;
    if (t.type === "op" && t.value === ")") return true;
    return extraEnd !== null && t.type === "name" && extraEnd.includes(t.value);
  }

  private parseList(): Expr {
    const line = this.expect("op", "[").line;
    const items: Expr[] = [];
    while (!this.isOp("]")) {
      if (items.length > 0) this.expect("op", ",");
      if (this.isOp("]")) break;
      items.push(this.parseExpression());
    }
    this.expect("op", "]");
    return { type: "list", line, items };
  }

  private parseDict(): Expr {
    const line = this.expect("op", "{").line;
    const pairs: [Expr, Expr][] = [];
    while (!this.isOp("}")) {
      if (pairs.length > 0) this.expect("op", ",");
      if (this.isOp("}")) break;
      const key = this.parseExpression();
      this.expect("op", ":");
      pairs.push([key, this.parseExpression()]);
    }
    this.expect("op", "}");
    return { type: "dict", line, pairs };
  }

  private parsePostfix(node: Expr): Expr {
    let n = node;
    for (;;) {
      if (this.isOp(".") || this.isOp("[")) n = this.parseSubscript(n);
      else if (this.isOp("(")) n = this.parseCall(n);
      else return n;
    }
  }

  private parseFilterExpr(node: Expr): Expr {
    let n = node;
    for (;;) {
      if (this.isOp("|")) n = this.parseFilter(n);
      else if (this.isName("is")) n = this.parseTest(n);
      else if (this.isOp("(")) n = this.parseCall(n);
      else return n;
    }
  }

  private parseSubscript(node: Expr): Expr {
    const t = this.next();
    if (t.value === ".") {
      const attr = this.next();
      if (attr.type === "name") return { type: "getattr", line: t.line, obj: node, attr: attr.value };
      if (attr.type !== "int") this.fail("expected name or number", attr.line);
      return {
        type: "getitem",
        line: t.line,
        obj: node,
        key: { type: "const", line: attr.line, value: attr.num },
      };
    }
    const args: (Expr | { slice: [Expr | null, Expr | null, Expr | null] })[] = [];
    while (!this.isOp("]")) {
      if (args.length > 0) {
        this.expect("op", ",");
        if (this.isOp("]")) break;
      }
      args.push(this.parseSubscribed());
    }
    this.expect("op", "]");
    if (args.length === 1) {
      const a = args[0] as Expr | { slice: [Expr | null, Expr | null, Expr | null] };
      if ("slice" in a) {
        const [start, stop, step] = a.slice;
        return { type: "slice", line: t.line, obj: node, start, stop, step };
      }
      return { type: "getitem", line: t.line, obj: node, key: a };
    }
    const items = args.map((a) => {
      if ("slice" in a) this.fail("slices inside tuple subscripts are not supported", t.line);
      return a;
    });
    return { type: "getitem", line: t.line, obj: node, key: { type: "tuple", line: t.line, items } };
  }

  private parseSubscribed(): Expr | { slice: [Expr | null, Expr | null, Expr | null] } {
    const parts: (Expr | null)[] = [];
    if (this.isOp(":")) {
      this.next();
      parts.push(null);
    } else {
      const node = this.parseExpression();
      if (!this.isOp(":")) return node;
      this.next();
      parts.push(node);
    }
    if (this.isOp(":")) parts.push(null);
    else if (!this.isOp("]") && !this.isOp(",")) parts.push(this.parseExpression());
    else parts.push(null);
    if (this.isOp(":")) {
      this.next();
      if (!this.isOp("]") && !this.isOp(",")) parts.push(this.parseExpression());
      else parts.push(null);
    } else parts.push(null);
    return { slice: [parts[0] ?? null, parts[1] ?? null, parts[2] ?? null] };
  }

  private parseCallArgs(): {
    args: Expr[];
    kwargs: [string, Expr][];
    star: Expr | null;
    starstar: Expr | null;
  } {
    this.expect("op", "(");
    const args: Expr[] = [];
    const kwargs: [string, Expr][] = [];
    let star: Expr | null = null;
    let starstar: Expr | null = null;
    let requireComma = false;
    while (!this.isOp(")")) {
      if (requireComma) {
        this.expect("op", ",");
        if (this.isOp(")")) break;
      }
      if (this.isOp("*")) {
        this.next();
        star = this.parseExpression();
      } else if (this.isOp("**")) {
        this.next();
        starstar = this.parseExpression();
      } else if (this.cur.type === "name" && this.look().type === "op" && this.look().value === "=") {
        const key = this.next().value;
        this.next();
        kwargs.push([key, this.parseExpression()]);
      } else {
        if (kwargs.length > 0 || star !== null || starstar !== null) {
          this.fail("invalid syntax for function call expression");
        }
        args.push(this.parseExpression());
      }
      requireComma = true;
    }
    this.expect("op", ")");
    return { args, kwargs, star, starstar };
  }

  private parseCall(node: Expr): Expr {
    const line = this.cur.line;
    const { args, kwargs, star, starstar } = this.parseCallArgs();
    return { type: "call", line, fn: node, args, kwargs, star, starstar };
  }

  private dottedName(): string {
    let name = this.expect("name").value;
    while (this.isOp(".")) {
      this.next();
      name += `.${this.expect("name").value}`;
    }
    return name;
  }

  private parseFilter(node: Expr | null, startInline = false): Expr {
    let n = node;
    let inline = startInline;
    while (this.isOp("|") || inline) {
      if (!inline) this.next();
      inline = false;
      const line = this.cur.line;
      const name = this.dottedName();
      let args: Expr[] = [];
      let kwargs: [string, Expr][] = [];
      if (this.isOp("(")) {
        const call = this.parseCallArgs();
        if (call.star !== null || call.starstar !== null)
          this.fail("*args and **kwargs are not supported in filters");
        args = call.args;
        kwargs = call.kwargs;
      }
      n = { type: "filter", line, node: n, name, args, kwargs };
    }
    return n as Expr;
  }

  private parseTest(node: Expr): Expr {
    const line = this.next().line;
    const negated = this.skipIf("name", "not");
    const name = this.dottedName();
    let args: Expr[] = [];
    let kwargs: [string, Expr][] = [];
    const t = this.cur;
    if (this.isOp("(")) {
      const call = this.parseCallArgs();
      if (call.star !== null || call.starstar !== null)
        this.fail("*args and **kwargs are not supported in tests");
      args = call.args;
      kwargs = call.kwargs;
    } else if (
      (t.type === "name" ||
        t.type === "string" ||
        t.type === "int" ||
        t.type === "float" ||
        (t.type === "op" && (t.value === "[" || t.value === "{"))) &&
      !(t.type === "name" && (t.value === "else" || t.value === "or" || t.value === "and"))
    ) {
      if (t.type === "name" && t.value === "is") this.fail("You cannot chain multiple tests with is");
      args = [this.parsePostfix(this.parsePrimary())];
    }
    const test: Expr = { type: "test", line, node, name, args, kwargs };
    return negated ? { type: "not", line, node: test } : test;
  }
}
