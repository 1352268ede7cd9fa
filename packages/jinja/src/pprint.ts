/** Python's pprint.pformat (width 80, sorted dict keys), used by the `pprint` filter. */
import { mapText } from "./limits.js";
import { pySplitlines, WS } from "./python-strings.js";
import { type DictLike, dictItems, kind, pyRepr, pySortCompare, strLen, strRepr } from "./python-values.js";

const WIDTH = 80;
const WORD_CHUNK = new RegExp(`[^${WS}]*[${WS}]*`, "g");

function sortedItems(d: DictLike): [unknown, unknown][] {
  const items = dictItems(d) as [unknown, unknown][];
  try {
    return items.slice().sort((a, b) => pySortCompare(a[0], b[0]));
  } catch {
    return items;
  }
}

/** pprint's safe repr: like repr, with dict keys sorted at every level. */
function safeRepr(v: unknown): string {
  switch (kind(v)) {
    case "dict":
      return `{${mapText(sortedItems(v as DictLike), ([k, x]) => `${safeRepr(k)}: ${safeRepr(x)}`).join(", ")}}`;
    case "list":
      return `[${mapText(v as unknown[], safeRepr).join(", ")}]`;
    case "tuple": {
      const parts = mapText(v as unknown[], safeRepr);
      return parts.length === 1 ? `(${parts[0]},)` : `(${parts.join(", ")})`;
    }
    default:
      return pyRepr(v);
  }
}

export function pformat(value: unknown): string {
  let out = "";

  const format = (obj: unknown, indent: number, allowance: number, level: number): void => {
    const rep = safeRepr(obj);
    if (strLen(rep) > WIDTH - indent - allowance) {
      const k = kind(obj);
      if (k === "dict") {
        formatDict(obj as DictLike, indent, allowance, level + 1);
        return;
      }
      if (k === "list" || k === "tuple") {
        const items = obj as unknown[];
        const close = k === "list" ? "]" : items.length === 1 ? ",)" : ")";
        formatSeq(items, k === "list" ? "[" : "(", close, indent, allowance, level + 1);
        return;
      }
      if (typeof obj === "string") {
        formatStr(obj, indent, allowance, level + 1, rep);
        return;
      }
    }
    out += rep;
  };

  const formatDict = (d: DictLike, indent: number, allowance: number, level: number): void => {
    out += "{";
    const items = sortedItems(d);
    const inner = indent + 1;
    const delim = `,\n${" ".repeat(inner)}`;
    items.forEach(([key, ent], i) => {
      const last = i === items.length - 1;
      const rep = safeRepr(key);
      out += `${rep}: `;
      format(ent, inner + strLen(rep) + 2, last ? allowance + 1 : 1, level);
      if (!last) out += delim;
    });
    out += "}";
  };

  const formatSeq = (
    items: unknown[],
    open: string,
    close: string,
    indent: number,
    allowance: number,
    level: number,
  ): void => {
    out += open;
    const inner = indent + 1;
    const delim = `,\n${" ".repeat(inner)}`;
    const total = allowance + close.length;
    items.forEach((ent, i) => {
      const last = i === items.length - 1;
      if (i > 0) out += delim;
      format(ent, inner, last ? total : 1, level);
    });
    out += close;
  };

  const formatStr = (
    s: string,
    indentIn: number,
    allowanceIn: number,
    level: number,
    fullRep: string,
  ): void => {
    if (s === "") {
      out += fullRep;
      return;
    }
    let indent = indentIn;
    let allowance = allowanceIn;
    if (level === 1) {
      indent += 1;
      allowance += 1;
    }
    const chunks: string[] = [];
    const lines = pySplitlines(s, true);
    const maxWidth = WIDTH - indent;
    let maxWidth1 = maxWidth;
    let rep = "";
    lines.forEach((line, i) => {
      rep = strRepr(line);
      if (i === lines.length - 1) maxWidth1 -= allowance;
      if (strLen(rep) <= maxWidth1) {
        chunks.push(rep);
        return;
      }
      const parts = line.match(WORD_CHUNK) ?? [];
      if (parts[parts.length - 1] === "") parts.pop();
      let maxWidth2 = maxWidth;
      let current = "";
      parts.forEach((part, j) => {
        const candidate = current + part;
        if (j === parts.length - 1 && i === lines.length - 1) maxWidth2 -= allowance;
        if (strLen(strRepr(candidate)) > maxWidth2) {
          if (current) chunks.push(strRepr(current));
          current = part;
        } else current = candidate;
      });
      if (current) chunks.push(strRepr(current));
    });
    if (chunks.length === 1) {
      out += rep;
      return;
    }
    if (level === 1) out += "(";
    out += chunks.join(`\n${" ".repeat(indent)}`);
    if (level === 1) out += ")";
  };

  format(value, 0, 0, 0);
  return out;
}
