import { readFileSync } from "node:fs";
import { basename, dirname, extname, resolve } from "node:path";
import { type Document, isMap, isNode, isScalar, LineCounter, parseDocument } from "yaml";
import { sha256 } from "../engine/hash.js";
import { ProblemList, StudyError } from "../errors.js";
import type { TemplateOrigin } from "@silico/jinja";
import {
  duplicateJsonKey,
  jsonNestingOffset,
  nestedTooDeep,
  STUDY_MAX_DEPTH,
  yamlAliasLine,
} from "./source-limits.js";
import type { PathPart } from "./path-part.js";
import { decodeUtf8Text, TextEncodingError } from "./text-encoding.js";

export type { PathPart } from "./path-part.js";

/** A study file read into plain data, with a way to name the file and line of any path in it. */
export interface StudySource {
  path: string;
  dir: string;
  file: string;
  text: string;
  hash: string;
  data: unknown;
  /** `study.yaml:12: levels.time` — file, line (when known) and the path. */
  where(path: PathPart[]): string;
  /** 1-based line of a path's value, when known. */
  lineOf(path: PathPart[]): number | undefined;
  /** Origin for a template held at a path: names file and field, and the file line of its first line. */
  templateOrigin(path: PathPart[]): TemplateOrigin;
}

export function formatPath(path: PathPart[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? p : `.${p}`;
  }
  return out;
}

export function readStudyFile(path: string): StudySource {
  const full = resolve(path);
  let bytes: Buffer;
  try {
    bytes = readFileSync(full);
  } catch (e) {
    throw new StudyError([
      {
        where: path,
        message: `cannot read the study file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      },
    ]);
  }
  let text: string;
  try {
    text = decodeUtf8Text(bytes);
  } catch (e) {
    if (!(e instanceof TextEncodingError)) throw e;
    const file = basename(full);
    throw new StudyError([{ where: e.line ? `${file}:${e.line}` : file, message: e.message }]);
  }
  return parseStudyText(text, full);
}

export function parseStudyText(text: string, path: string): StudySource {
  const file = basename(path);
  const problems = new ProblemList();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const isJson = extname(path).toLowerCase() === ".json";
  let data: unknown;
  if (isJson) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      const m = /position (\d+)/.exec((e as Error).message);
      const line = m ? lineCounter.linePos(Number(m[1])).line || lineOf(text, Number(m[1])) : undefined;
      problems.add(line ? `${file}:${line}` : file, `not valid JSON: ${(e as Error).message}`);
    }
    // JSON.parse keeps the last of two equal keys without a word; YAML refuses them, and so do we.
    const dup = problems.ok ? duplicateJsonKey(text) : undefined;
    if (dup) {
      problems.add(
        `${file}:${lineOf(text, dup.offset)}`,
        `not valid JSON: duplicate key ${JSON.stringify(dup.key)} (first given on line ${lineOf(text, dup.firstOffset)})`,
      );
    }
  } else {
    for (const err of doc.errors) {
      const line = err.linePos?.[0]?.line;
      const first = err.message.split("\n")[0] as string;
      // The YAML parser turns its own stack overflow on absurd nesting into an error like this one.
      const msg = /Maximum call stack/.test(first) ? "nested too deeply to read" : first;
      problems.add(line ? `${file}:${line}` : file, `not valid YAML: ${msg}`);
    }
    if (problems.ok) data = yamlToData(doc, file, lineCounter, problems);
  }
  problems.throwIfAny();
  const deep = nestedTooDeep(data);
  if (deep) {
    let line: number | undefined;
    if (isJson) {
      const offset = jsonNestingOffset(text, deep.length + 1);
      line = offset === undefined ? undefined : lineOf(text, offset);
    } else line = lineAt(doc, lineCounter, deep);
    throw new StudyError([
      {
        where: `${line ? `${file}:${line}` : file}: ${formatPath(deep.slice(0, 3))}…`,
        message: `nested more than ${STUDY_MAX_DEPTH} levels deep; a study needs far fewer`,
      },
    ]);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new StudyError([
      { where: file, message: "a study file must be a mapping of keys to values (YAML or JSON object)" },
    ]);
  }
  const lineOfPath = (p: PathPart[]): number | undefined => {
    if (doc.errors.length > 0) return undefined;
    for (let n = p.length; n >= 0; n--) {
      const node = doc.getIn(p.slice(0, n), true);
      if (isNode(node) && node.range) {
        // For a key whose value is a block, point at the key's line rather than the block's first line.
        const offset = node.range[0];
        return lineCounter.linePos(offset).line || undefined;
      }
      if (n > 0 && isMap(doc.getIn(p.slice(0, n - 1), true))) {
        const parent = doc.getIn(p.slice(0, n - 1), true);
        if (isMap(parent)) {
          const pair = parent.items.find((it) => isScalar(it.key) && it.key.value === p[n - 1]);
          if (pair && isNode(pair.key) && pair.key.range)
            return lineCounter.linePos(pair.key.range[0]).line || undefined;
        }
      }
    }
    return undefined;
  };
  return {
    path,
    dir: dirname(path),
    file,
    text,
    hash: sha256(text),
    data,
    lineOf: lineOfPath,
    templateOrigin: (p) => {
      const node = doc.errors.length === 0 ? doc.getIn(p, true) : undefined;
      if (isScalar(node) && node.range && !isJson) {
        const line = lineCounter.linePos(node.range[0]).line;
        const block = node.type === "BLOCK_LITERAL" || node.type === "BLOCK_FOLDED";
        if (line) return { where: `${file}: ${formatPath(p)}`, line: block ? line + 1 : line };
      }
      return { where: `${file}: ${formatPath(p)}` };
    },
    where: (p) => {
      const line = lineOfPath(p);
      const at = line ? `${file}:${line}` : file;
      return p.length > 0 ? `${at}: ${formatPath(p)}` : at;
    },
  };
}

/** Plain data from a YAML document; aliases that expand beyond reason are a located problem. */
function yamlToData(doc: Document, file: string, lineCounter: LineCounter, problems: ProblemList): unknown {
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    const offset = yamlAliasLine(doc);
    const line = offset === undefined ? undefined : lineCounter.linePos(offset).line;
    const why = /resource exhaustion/.test((e as Error).message)
      ? "aliases (*name) expand to too much data; write the values out instead"
      : (e as Error).message;
    problems.add(line ? `${file}:${line}` : file, `not valid YAML: ${why}`);
    return undefined;
  }
}

/** Line of the deepest node on `path` that the document has. */
function lineAt(doc: Document, lineCounter: LineCounter, path: PathPart[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line || undefined;
  }
  return undefined;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * A study given as plain data (the library's builders) rather than a file. Problems are located
 * by key path (`game: treatments[0].payoff`). The stored text is the data as JSON, so a resumed
 * run compiles exactly what was run; values JSON cannot hold (functions, undefined) are refused.
 */
export function objectSource(
  data: Record<string, unknown>,
  options: { label: string; dir?: string },
): StudySource {
  const label = options.label;
  const problems = new ProblemList();
  const deep = nestedTooDeep(data);
  if (deep) {
    throw new StudyError([
      {
        where: `${label}: ${formatPath(deep.slice(0, 3))}…`,
        message: `nested more than ${STUDY_MAX_DEPTH} levels deep; a study needs far fewer`,
      },
    ]);
  }
  const bad = nonJsonValue(data, []);
  if (bad) problems.add(bad.path.length > 0 ? `${label}: ${formatPath(bad.path)}` : label, bad.message);
  problems.throwIfAny();
  const text = `${JSON.stringify(data, null, 2)}\n`;
  const where = (p: PathPart[]) => (p.length > 0 ? `${label}: ${formatPath(p)}` : label);
  return {
    path: "",
    dir: resolve(options.dir ?? "."),
    file: label,
    text,
    hash: sha256(text),
    data: JSON.parse(text) as unknown,
    lineOf: () => undefined,
    templateOrigin: (p) => ({ where: where(p) }),
    where,
  };
}

function nonJsonValue(v: unknown, path: PathPart[]): { path: PathPart[]; message: string } | undefined {
  if (v === null || typeof v === "string" || typeof v === "boolean") return undefined;
  if (typeof v === "number")
    return Number.isFinite(v) ? undefined : { path, message: `must be a finite number, got ${v}` };
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) {
      const bad = nonJsonValue(x, [...path, i]);
      if (bad) return bad;
    }
    return undefined;
  }
  if (typeof v === "object") {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null)
      return { path, message: "must be plain data (a record, list, text, number or true/false)" };
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) continue;
      const bad = nonJsonValue(x, [...path, k]);
      if (bad) return bad;
    }
    return undefined;
  }
  return { path, message: `must be plain data, got a ${typeof v}` };
}
