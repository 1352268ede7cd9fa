/**
 * Edits of a study's text from the builder's tables (roles, treatments × variables, factorial
 * levels), made on the yaml Document so that comments, key order and styles of everything not
 * edited survive: the text is the study, the tables are a view of it.
 */
import { Document, isMap, isScalar, isSeq, parse, parseDocument, type Scalar } from "yaml";
import { HttpError } from "./http-errors.js";

export type Key = string | number;

/**
 * One edit. `set`: the value at `path` (a cell's typed text, read as YAML: `2` is a number, `a b`
 * text); `delete`: remove the key or item at `path`; `rename`: the key at `path` becomes `to`
 * (its value, comments and place kept).
 */
export type StudyEdit =
  | { op: "set"; path: Key[]; value: string; as?: "yaml" | "text" }
  | { op: "delete"; path: Key[] }
  | { op: "rename"; path: Key[]; to: string };

/** A cell's text as a YAML value: `2` → 2, `true` → true, `[a, b]` → a list; anything else is text. */
export function cellValue(text: string): unknown {
  const t = text.trim();
  if (t === "") return "";
  try {
    const v = parse(t) as unknown;
    return v === null || v === undefined ? t : v;
  } catch {
    return t;
  }
}

function checkPath(path: unknown, where: string): Key[] {
  if (
    !Array.isArray(path) ||
    path.length === 0 ||
    path.some((k) => typeof k !== "string" && !(typeof k === "number" && Number.isInteger(k) && k >= 0))
  )
    throw new HttpError(400, `${where}: expected a path of keys and item numbers`);
  return path as Key[];
}

/** The edits of a request body, checked. */
export function editsOf(body: unknown): StudyEdit[] {
  if (!Array.isArray(body) || body.length === 0) throw new HttpError(400, "edits: expected a list of edits");
  return body.map((e, i): StudyEdit => {
    const where = `edits[${i}]`;
    if (typeof e !== "object" || e === null) throw new HttpError(400, `${where}: expected an object`);
    const o = e as Record<string, unknown>;
    const path = checkPath(o.path, where);
    if (o.op === "set") {
      if (typeof o.value !== "string") throw new HttpError(400, `${where}: a set needs a text value`);
      if (o.as !== undefined && o.as !== "yaml" && o.as !== "text")
        throw new HttpError(400, `${where}: as must be yaml or text`);
      // `as: text`: the value is that text, even when it reads as a number, list or true/false.
      return { op: "set", path, value: o.value, ...(o.as === "text" ? { as: "text" as const } : {}) };
    }
    if (o.op === "delete") return { op: "delete", path };
    if (o.op === "rename") {
      if (typeof o.to !== "string" || o.to.trim() === "")
        throw new HttpError(400, `${where}: a rename needs a new name`);
      return { op: "rename", path, to: o.to.trim() };
    }
    throw new HttpError(400, `${where}: op must be set, delete or rename`);
  });
}

function rename(doc: Document, path: Key[], to: string): void {
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  if (!isMap(parent)) throw new HttpError(400, `${path.join(".")}: not a key of a mapping`);
  const from = String(path.at(-1));
  if (from === to) return;
  const keyOf = (p: (typeof parent.items)[number]) => String(isScalar(p.key) ? p.key.value : p.key);
  if (parent.items.some((p) => keyOf(p) === to)) throw new HttpError(400, `${to}: that name is taken`);
  const pair = parent.items.find((p) => keyOf(p) === from);
  if (!pair) throw new HttpError(400, `${path.join(".")}: no such key`);
  if (isScalar(pair.key)) pair.key.value = to;
  else pair.key = doc.createNode(to);
}

function set(doc: Document, path: Key[], text: string, asText = false): void {
  const value = asText ? text : cellValue(text);
  const parentPath = path.slice(0, -1);
  const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
  // A new entry in a flow mapping or list is written in the same style (`{ a: 1, b: 2 }`).
  const flow = (isMap(parent) || isSeq(parent)) && parent.flow === true;
  const current = doc.getIn(path, true);
  if (isScalar(current) && (value === null || typeof value !== "object")) {
    // The same node: its comments and quoting stay.
    current.value = value;
    return;
  }
  if (parent !== undefined && parent !== null && !isMap(parent) && !isSeq(parent))
    throw new HttpError(400, `${parentPath.join(".")}: not a mapping or a list`);
  doc.setIn(
    path,
    typeof value === "object" && value !== null ? doc.createNode(value, { flow: true }) : value,
  );
  if (flow) {
    const node = doc.getIn(path, true);
    if (isMap(node) || isSeq(node)) node.flow = true;
  }
}

/**
 * The study text after the edits; YAML only (a built.json is edited as text). The yaml library
 * re-prints a whole document in its own spacing (`[A, B]` becomes `[ A, B ]`), so the result is
 * spliced into the original text: a changed value replaces exactly its old characters, and any
 * other edit takes only the lines that differ between the re-printed document before and after.
 */
export function applyStudyEdits(text: string, edits: StudyEdit[]): string {
  const doc = parseDocument(text, { keepSourceTokens: true });
  if (doc.errors.length > 0)
    throw new HttpError(
      400,
      `the study is not valid YAML, fix it in the text first: ${doc.errors[0]?.message}`,
    );
  const spliced = spliceScalars(text, doc, edits);
  if (spliced !== undefined) return spliced;
  const before = doc.toString({ lineWidth: 0 });
  for (const e of edits) {
    if (e.op === "set") set(doc, e.path, e.value, e.as === "text");
    else if (e.op === "delete") doc.deleteIn(e.path);
    else rename(doc, e.path, e.to);
  }
  return mergeLines(text, before, doc.toString({ lineWidth: 0 }));
}

/** Edits that only change existing scalar values, made as character splices; else undefined. */
function spliceScalars(text: string, doc: Document, edits: StudyEdit[]): string | undefined {
  const cuts: { from: number; to: number; by: string }[] = [];
  for (const e of edits) {
    if (e.op !== "set") return undefined;
    const node = doc.getIn(e.path, true);
    const value = e.as === "text" ? e.value : cellValue(e.value);
    if (!isScalar(node) || !node.range || (value !== null && typeof value === "object")) return undefined;
    const copy = node.clone() as Scalar;
    copy.value = value;
    copy.comment = null;
    copy.commentBefore = null;
    const one = new Document(copy);
    const by = one.toString({ lineWidth: 0 }).replace(/\n$/, "");
    // A block scalar's lines carry the indentation of their place: re-printed as a whole instead.
    if (by.includes("\n")) return undefined;
    cuts.push({ from: node.range[0], to: node.range[1], by });
  }
  cuts.sort((a, b) => b.from - a.from);
  let out = text;
  for (const c of cuts) out = out.slice(0, c.from) + c.by + out.slice(c.to);
  return out;
}

/**
 * `original` with the line changes that turn `before` into `after` (both re-printed by the yaml
 * library); when the re-print does not keep the original's lines, the re-printed text.
 */
function mergeLines(original: string, before: string, after: string): string {
  const o = original.split("\n");
  const a = before.split("\n");
  const b = after.split("\n");
  if (o.length !== a.length) return after;
  // Longest common subsequence of the re-printed lines: kept lines come from the original.
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      (lcs[i] as number[])[j] =
        a[i] === b[j]
          ? ((lcs[i + 1] as number[])[j + 1] as number) + 1
          : Math.max((lcs[i + 1] as number[])[j] as number, (lcs[i] as number[])[j + 1] as number);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push(o[i] as string);
      i++;
      j++;
    } else if (
      j < m &&
      (i >= n || ((lcs[i] as number[])[j + 1] as number) >= ((lcs[i + 1] as number[])[j] as number))
    ) {
      out.push(b[j] as string);
      j++;
    } else i++;
  }
  return out.join("\n");
}
