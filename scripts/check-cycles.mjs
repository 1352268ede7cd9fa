#!/usr/bin/env node
// Import-cycle check, run by `npm run lint`: walks the relative imports of every workspace
// package's src/ (tests included) and reports, per package, each group of modules that import
// each other in a circle (a strongly connected component of the import graph). Type-only imports
// count too: a cycle of types still ties the modules into one unit that cannot be split.
// Exits 1 when any package has a cycle (there is no allow-list: break it, by moving the shared part
// into a module both can import or by passing the needed function in), or when no module was
// found at all (a misplaced script would otherwise pass); else 0.
//
//   node scripts/check-cycles.mjs [--verbose]   (--verbose lists the import chain of each cycle)
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function* tsFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(p);
    else if (/\.(c|m)?tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts")) yield p;
  }
}

/** Relative module specifiers a file imports or re-exports, static or dynamic. */
function relativeImports(file) {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false);
  const found = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) found.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found.filter((s) => s.startsWith("./") || s.startsWith("../"));
}

/** The source file an import of `spec` from `from` means (NodeNext: "./x.js" is ./x.ts). */
function resolveImport(from, spec) {
  const base = resolve(dirname(from), spec);
  const candidates = [base, base.replace(/\.(c|m)?js$/, ".$1ts"), `${base}.ts`, join(base, "index.ts")];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

/** Tarjan's strongly connected components; returns the components with a cycle. */
function cycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const out = [];
  const connect = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? new Set()).has(v)) out.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) connect(v);
  return out;
}

/** One shortest import chain from `start` back to itself inside a component, for --verbose. */
function chain(graph, component, start) {
  const inside = new Set(component);
  const prev = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of graph.get(v) ?? []) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = prev.get(u)) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

const verbose = process.argv.includes("--verbose");
const packagesDir = join(ROOT, "packages");
let failing = 0;
let modules = 0;
for (const name of readdirSync(packagesDir).sort()) {
  const src = join(packagesDir, name, "src");
  if (!existsSync(src)) continue;
  const graph = new Map();
  for (const file of tsFiles(src)) {
    const targets = new Set();
    for (const spec of relativeImports(file)) {
      const target = resolveImport(file, spec);
      if (target?.startsWith(src + sep)) targets.add(target);
    }
    graph.set(file, targets);
  }
  modules += graph.size;
  const found = cycles(graph);
  const lines = [];
  for (const component of found) {
    lines.push(`  cycle: ${component.map((f) => relative(src, f)).join(" ↔ ")}`);
    if (verbose)
      lines.push(
        `    ${chain(graph, component, component[0])
          .map((f) => relative(src, f))
          .join(" → ")}`,
      );
  }
  failing += found.length;
  console.log(`packages/${name}: ${graph.size} modules, ${found.length} import cycle(s)`);
  for (const line of lines) console.log(line);
}
if (modules === 0) {
  console.error("no TypeScript modules found under packages/*/src");
  process.exit(1);
}
if (failing > 0) {
  console.error(
    `${failing} import cycle(s): break them (move the shared part into a module both can import)`,
  );
  process.exit(1);
}
