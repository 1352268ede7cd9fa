import { type Document, isAlias, isCollection, isNode, type Node, visit } from "yaml";
import type { PathPart } from "./path-part.js";

/**
 * Checks on a study file's structure that its parsers let through: duplicate JSON keys, absurd
 * nesting and YAML alias bombs. All walk iteratively, so a hostile file cannot overflow the stack
 * of the code that is meant to reject it.
 */

/** Far deeper than any real study; shallow enough for every recursive walk after parsing. */
export const STUDY_MAX_DEPTH = 64;

/** Path to the first value nested deeper than STUDY_MAX_DEPTH, or undefined. */
export function nestedTooDeep(data: unknown, max = STUDY_MAX_DEPTH): PathPart[] | undefined {
  const stack: { value: unknown; path: PathPart[] }[] = [{ value: data, path: [] }];
  // Aliases make YAML data a graph with shared (even circular) parts; a part is walked again only
  // when reached deeper than before.
  const seen = new Map<object, number>();
  while (stack.length > 0) {
    const { value, path } = stack.pop() as { value: unknown; path: PathPart[] };
    if (value === null || typeof value !== "object") continue;
    if ((seen.get(value) ?? -1) >= path.length) continue;
    seen.set(value, path.length);
    if (path.length >= max) return path;
    if (Array.isArray(value))
      for (const [i, v] of value.entries()) stack.push({ value: v, path: [...path, i] });
    else for (const [k, v] of Object.entries(value)) stack.push({ value: v, path: [...path, k] });
  }
  return undefined;
}

/** Offset of the first bracket that opens the `depth`-th nested object or array of JSON text (1 = the outermost). */
export function jsonNestingOffset(text: string, depth: number): number | undefined {
  let level = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    } else if (c === "{" || c === "[") {
      if (++level >= depth) return i;
    } else if (c === "}" || c === "]") level--;
  }
  return undefined;
}

/**
 * The first key given twice in one JSON object: its offset, and the offset of its first use.
 * Expects text that JSON.parse accepted.
 */
export function duplicateJsonKey(
  text: string,
): { key: string; offset: number; firstOffset: number } | undefined {
  // One frame per open object or array; for objects, the keys seen and whether a key comes next.
  const frames: { keys?: Map<string, number>; expectKey: boolean }[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === "{") {
      frames.push({ keys: new Map(), expectKey: true });
      i++;
    } else if (c === "[") {
      frames.push({ expectKey: false });
      i++;
    } else if (c === "}" || c === "]") {
      frames.pop();
      i++;
    } else if (c === ",") {
      const top = frames[frames.length - 1];
      if (top?.keys) top.expectKey = true;
      i++;
    } else if (c === ":") {
      const top = frames[frames.length - 1];
      if (top) top.expectKey = false;
      i++;
    } else if (c === '"') {
      const start = i;
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
      i++;
      const top = frames[frames.length - 1];
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(start, i)) as string;
        const first = top.keys.get(key);
        if (first !== undefined) return { key, offset: start, firstOffset: first };
        top.keys.set(key, start);
      }
    } else i++;
  }
  return undefined;
}

/**
 * Offset of the alias most likely to blame when aliases expand too far: the first one whose anchor
 * itself holds aliases (the pattern of an alias bomb), else the first alias.
 */
export function yamlAliasLine(doc: Document): number | undefined {
  const anchored = new Map<string, Node>();
  let first: number | undefined;
  let nested: number | undefined;
  visit(doc, {
    Node: (_key, node) => {
      if (isAlias(node)) {
        const offset = node.range?.[0];
        first ??= offset;
        const source = anchored.get(node.source);
        if (source && isCollection(source) && holdsAlias(source)) {
          nested = offset;
          return visit.BREAK;
        }
      } else if (isNode(node) && node.anchor) anchored.set(node.anchor, node);
      return undefined;
    },
  });
  return nested ?? first;
}

function holdsAlias(node: Node): boolean {
  let found = false;
  visit(node, {
    Alias: () => {
      found = true;
      return visit.BREAK;
    },
  });
  return found;
}
