/** The syntax tree of a template. Every node carries the 1-based template line it starts on. */

export type Expr =
  | { type: "const"; line: number; value: unknown }
  | { type: "name"; line: number; name: string; pos?: number }
  | { type: "list"; line: number; items: Expr[] }
  | { type: "tuple"; line: number; items: Expr[] }
  | { type: "dict"; line: number; pairs: [Expr, Expr][] }
  | { type: "getattr"; line: number; obj: Expr; attr: string }
  | { type: "getitem"; line: number; obj: Expr; key: Expr }
  | { type: "slice"; line: number; obj: Expr; start: Expr | null; stop: Expr | null; step: Expr | null }
  | {
      type: "call";
      line: number;
      fn: Expr;
      args: Expr[];
      kwargs: [string, Expr][];
      star: Expr | null;
      starstar: Expr | null;
    }
  | { type: "filter"; line: number; node: Expr | null; name: string; args: Expr[]; kwargs: [string, Expr][] }
  | { type: "test"; line: number; node: Expr; name: string; args: Expr[]; kwargs: [string, Expr][] }
  | { type: "not"; line: number; node: Expr }
  | { type: "neg"; line: number; node: Expr }
  | { type: "pos"; line: number; node: Expr }
  | { type: "binop"; line: number; op: BinOp; left: Expr; right: Expr }
  | { type: "and"; line: number; left: Expr; right: Expr }
  | { type: "or"; line: number; left: Expr; right: Expr }
  | { type: "concat"; line: number; parts: Expr[] }
  | { type: "compare"; line: number; first: Expr; ops: [CompareOp, Expr][] }
  | { type: "cond"; line: number; test: Expr; ifTrue: Expr; ifFalse: Expr | null };

export type BinOp = "+" | "-" | "*" | "/" | "//" | "%" | "**";
export type CompareOp = "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "notin";

/** Where `set` / `for` / `with` store values. */
export type Target =
  | { type: "name"; line: number; name: string }
  | { type: "tuple"; line: number; items: Target[] }
  | { type: "nsref"; line: number; name: string; attr: string };

export interface MacroParams {
  names: string[];
  defaults: (Expr | null)[];
}

export type Stmt =
  | { type: "data"; line: number; text: string }
  | { type: "output"; line: number; expr: Expr }
  | { type: "if"; line: number; branches: { test: Expr; body: Stmt[] }[]; else: Stmt[] }
  | {
      type: "for";
      line: number;
      target: Target;
      iter: Expr;
      filter: Expr | null;
      recursive: boolean;
      body: Stmt[];
      else: Stmt[];
    }
  | { type: "set"; line: number; target: Target; value: Expr }
  | { type: "setblock"; line: number; target: Target; filters: Expr[]; body: Stmt[] }
  | { type: "macro"; line: number; name: string; params: MacroParams; body: Stmt[] }
  | { type: "callblock"; line: number; call: Expr; params: MacroParams; body: Stmt[] }
  | { type: "filterblock"; line: number; filters: Expr[]; body: Stmt[] }
  | { type: "with"; line: number; targets: Target[]; values: Expr[]; body: Stmt[] }
  | { type: "block"; line: number; name: string; scoped: boolean; required: boolean; body: Stmt[] };
