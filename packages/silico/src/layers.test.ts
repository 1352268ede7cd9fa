import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

// The layers: designs compile studies into plans the engine runs on models. A lower layer never
// imports a higher one (type-only imports included), so each can be used and tested alone.
// Tests and test helpers may cross layers: they exercise the whole.

const SRC = dirname(fileURLToPath(import.meta.url));

const RULES: { layer: string; mustNotImport: string[] }[] = [
  { layer: "engine", mustNotImport: ["designs", "cli", "api"] },
  { layer: "models", mustNotImport: ["engine", "designs", "cli", "api"] },
];

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (/\.ts$/.test(e.name) && !/\.test\.ts$|test-helpers\.ts$|\.d\.ts$/.test(e.name)) yield p;
  }
}

function importsOf(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) out.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      out.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      const lit = node.argument.literal;
      if (ts.isStringLiteral(lit)) out.push(lit.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out.filter((s) => s.startsWith("."));
}

/** "engine/run-study.ts imports designs/index.js" for every import that breaks a rule. */
function violations(layer: string, forbidden: string[]): string[] {
  const found: string[] = [];
  for (const file of sources(join(SRC, layer))) {
    for (const spec of importsOf(file)) {
      const target = relative(SRC, resolve(dirname(file), spec));
      const top = target.split(/[\\/]/)[0] ?? "";
      if (forbidden.includes(top)) found.push(`${relative(SRC, file)} imports ${target}`);
    }
  }
  return found;
}

describe("layers", () => {
  for (const rule of RULES) {
    it(`nothing in src/${rule.layer} imports src/${rule.mustNotImport.join(", src/")}`, () => {
      expect(violations(rule.layer, rule.mustNotImport)).toEqual([]);
    });
  }

  it("the check sees an import it must refuse", () => {
    // The rule is only worth something if it finds imports at all: designs import the engine.
    expect(violations("designs", ["engine"]).length).toBeGreaterThan(0);
  });
});
