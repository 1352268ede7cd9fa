import type { ParserSpec } from "./types.js";

/**
 * A valid answer of a parser's shape, without a model: the first option of a choice, the middle
 * of a number range, a value following the JSON schema, "text" otherwise. The game pre-flight
 * plays with these values and dry runs and `silico check` simulate whole studies with them.
 */
export function exampleValue(spec: ParserSpec): unknown {
  switch (spec.type) {
    case "choice":
      return spec.options[0] ?? "";
    case "number": {
      const { min, max } = spec;
      let v = min !== undefined && max !== undefined ? (min + max) / 2 : (min ?? max ?? 1);
      if (spec.integer) v = min !== undefined && Math.floor(v) < min ? Math.ceil(v) : Math.floor(v);
      return v;
    }
    case "json":
      return spec.schema ? fromSchema(spec.schema, 0) : {};
    case "regex":
    case "text":
      return "text";
  }
}

/**
 * The example value and the answer text a participant would send for it. A JSON answer without a
 * schema follows the prompt's own example (`Respond with JSON like {"keep": <amount>}`), when
 * the prompt gives one, so that later prompts reading its fields can be rendered.
 */
export function exampleAnswer(spec: ParserSpec, prompt?: string): { value: unknown; raw: string } {
  const fromPrompt =
    spec.type === "json" && !spec.schema && prompt !== undefined ? jsonExampleIn(prompt) : undefined;
  const value = fromPrompt ?? exampleValue(spec);
  return { value, raw: typeof value === "string" ? value : JSON.stringify(value) };
}

const PLACEHOLDER = 1;

/**
 * The first `{"key": …}` object written in a text: JSON values as written, placeholders (a block
 * comment, `<amount>`, `...`) as 1. Undefined when the text shows no such object.
 */
export function jsonExampleIn(text: string): Record<string, unknown> | undefined {
  let from = 0;
  for (let tries = 0; tries < 20; tries++) {
    const start = text.indexOf("{", from);
    if (start < 0) return undefined;
    const end = closingBrace(text, start);
    if (end < 0) return undefined;
    const block = text.slice(start, end + 1).replace(/\/\*[\s\S]*?\*\//g, String(PLACEHOLDER));
    try {
      const v: unknown = JSON.parse(block);
      if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0)
        return v as Record<string, unknown>;
    } catch {
      // Not JSON as written: read its keys one by one.
    }
    const out: Record<string, unknown> = {};
    const key = /"([^"\\\n]{1,200})"\s*:\s*("(?:[^"\\\n]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null)?/g;
    for (const m of block.matchAll(key))
      out[m[1] as string] = m[2] === undefined ? PLACEHOLDER : JSON.parse(m[2]);
    if (Object.keys(out).length > 0) return out;
    from = start + 1;
  }
  return undefined;
}

function closingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return i;
  }
  return -1;
}

function fromSchema(schema: Record<string, unknown>, depth: number): unknown {
  if (depth > 8) return null;
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  for (const k of ["anyOf", "oneOf", "allOf"]) {
    const list = schema[k];
    if (Array.isArray(list) && list.length > 0)
      return fromSchema(list[0] as Record<string, unknown>, depth + 1);
  }
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "object":
    case undefined: {
      const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
      if (type === undefined && Object.keys(props).length === 0) return {};
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(props)) out[k] = fromSchema(v, depth + 1);
      return out;
    }
    case "integer":
    case "number": {
      const lo = typeof schema.minimum === "number" ? schema.minimum : undefined;
      const hi = typeof schema.maximum === "number" ? schema.maximum : undefined;
      let v = lo !== undefined && hi !== undefined ? (lo + hi) / 2 : (lo ?? hi ?? 1);
      if (type === "integer") v = Math.floor(v);
      return v;
    }
    case "string":
      return "text";
    case "boolean":
      return true;
    case "array":
      return [];
    case "null":
      return null;
    default:
      return null;
  }
}
