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

/** The example value and the answer text a participant would send for it. */
export function exampleAnswer(spec: ParserSpec): { value: unknown; raw: string } {
  const value = exampleValue(spec);
  return { value, raw: typeof value === "string" ? value : JSON.stringify(value) };
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
