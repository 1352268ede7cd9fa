/**
 * From an output constraint to a decoding grammar, so that a constrained answer parses by
 * construction. Pure functions (no model needed); `local-model.ts` turns the plan into a
 * node-llama-cpp grammar.
 *
 * - choice  → a GBNF alternation of the options, exactly as written.
 * - number  → optional minus, digits without leading zeros (at most 15), optional decimal part
 *             (at most 10 digits; none when `integer`); generation stops when the number is
 *             complete and only the number is returned.
 * - json + schema → node-llama-cpp's JSON-schema grammar, after normalising the schema to the
 *             subset it understands (see `normalizeJsonSchema`); generic JSON if it cannot.
 * - json without schema → the generic JSON grammar (an object at the root).
 */
import type { OutputConstraint } from "silico";

export type GrammarPlan =
  | { kind: "gbnf"; gbnf: string }
  | { kind: "jsonSchema"; schema: Record<string, unknown> }
  | { kind: "json" };

/**
 * Reads the answer out of the text generated so far: `done` once the answer is complete (and
 * generation can stop), `text` the answer itself.
 */
export type AnswerExtractor = (generated: string) => { text: string; done: boolean };

export interface PlannedGrammar {
  plan: GrammarPlan;
  warnings: string[];
  extract?: AnswerExtractor;
}

/** A GBNF string literal for `s` (quotes, backslashes and control characters escaped). */
export function gbnfLiteral(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

export function choiceGrammar(options: string[]): string {
  const unique = [...new Set(options)];
  return `root ::= ${unique.map(gbnfLiteral).join(" | ")}\n`;
}

/**
 * A number, then optionally anything that cannot continue it ("42 out of 100", "42.", "42\n").
 * Allowing the model to go on after the number keeps it from being pushed into appending digits
 * when it would rather write a word; generation stops as soon as the number is complete (see
 * `numberAnswer`) and only the number is returned. The number itself is bounded (15 integer
 * digits, 10 decimals) so a digit run always ends.
 */
export function numberGrammar(integer: boolean, range: { min?: number; max?: number } = {}): string {
  const { min, max } = range;
  // A small whole-number range is enforced exactly by listing its values.
  if (integer && min !== undefined && max !== undefined && Number.isFinite(min) && Number.isFinite(max)) {
    const lo = Math.ceil(min);
    const hi = Math.floor(max);
    if (hi >= lo && hi - lo <= 1000) {
      const values = Array.from({ length: hi - lo + 1 }, (_, i) => gbnfLiteral(String(lo + i)));
      return `root ::= int tail?\nint ::= ${values.join(" | ")}\ntail ::= [^0-9.] rest | "." [^0-9] rest\nrest ::= [^\\x00]*\n`;
    }
  }
  // No minus sign when the range starts at zero or above.
  const sign = min !== undefined && min >= 0 ? "" : '"-"? ';
  // "-0" only as the start of a negative decimal ("-0.5"), never on its own.
  const lines = [
    integer ? "root ::= int tail?" : `root ::= (int frac?${sign ? ' | "-0" frac' : ""}) tail?`,
    `int ::= "0" | ${sign}[1-9] [0-9]{0,14}`,
    ...(integer ? [] : ['frac ::= "." [0-9]{1,10}']),
    'tail ::= [^0-9.] rest | "." [^0-9] rest',
    "rest ::= [^\\x00]*",
  ];
  return `${lines.join("\n")}\n`;
}

const INTEGER_RE = /^-?(?:0|[1-9]\d*)/;
const DECIMAL_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?/;

/** The number at the start of `generated`; done once something follows that cannot extend it. */
export function numberAnswer(generated: string, integer: boolean): { text: string; done: boolean } {
  const m = (integer ? INTEGER_RE : DECIMAL_RE).exec(generated);
  if (!m) return { text: generated, done: false };
  const rest = generated.slice(m[0].length);
  return { text: m[0], done: rest !== "" && rest !== "." };
}

const ANNOTATIONS = new Set([
  "title",
  "$schema",
  "$id",
  "$anchor",
  "$comment",
  "default",
  "examples",
  "readOnly",
  "writeOnly",
  "deprecated",
  "contentEncoding",
  "contentMediaType",
  "nullable",
]);
/** Value-level keywords the grammar cannot enforce; dropping them keeps the shape. */
const NOT_ENFORCED = new Set([
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "pattern",
  "uniqueItems",
]);
/** Keywords whose meaning the grammar generator cannot express at all. */
const STRUCTURAL = new Set([
  "allOf",
  "not",
  "if",
  "then",
  "else",
  "patternProperties",
  "dependentRequired",
  "dependentSchemas",
  "dependencies",
  "propertyNames",
  "contains",
  "minContains",
  "maxContains",
  "unevaluatedProperties",
  "unevaluatedItems",
  "$dynamicRef",
  "$recursiveRef",
]);
const BASIC_TYPES = new Set(["string", "number", "integer", "boolean", "null"]);
const FORMATS = new Set(["date-time", "time", "date"]);

export interface NormalizedSchema {
  schema: Record<string, unknown>;
  /** Keywords that were dropped and are not enforced during decoding. */
  notEnforced: string[];
  /** Keywords that cannot be expressed; when non-empty, use generic JSON instead. */
  unsupported: string[];
  /** Unknown keywords, ignored (as JSON Schema validators ignore them). */
  ignored: string[];
}

const ANY_JSON: Record<string, unknown> = {
  oneOf: [
    { type: ["string", "number", "boolean", "null"] },
    { type: "object", additionalProperties: true },
    { type: "array" },
  ],
};

const STRING_KEYS = ["minLength", "maxLength", "format"];
const ARRAY_KEYS = ["items", "prefixItems", "minItems", "maxItems"];
const OBJECT_KEYS = ["properties", "additionalProperties", "required", "minProperties", "maxProperties"];
const LENGTH_KEYS = ["minLength", "maxLength", "minItems", "maxItems"];

/**
 * The keywords of a (normalized) schema that apply to values of type `t`, completed so the
 * grammar generator bounds what the schema bounds: an array without `items` gets any-JSON items
 * (else minItems/maxItems are dropped), an object without properties allows any properties.
 */
function typedVariant(t: string, keywords: Record<string, unknown>): Record<string, unknown> {
  const own = t === "string" ? STRING_KEYS : t === "array" ? ARRAY_KEYS : t === "object" ? OBJECT_KEYS : [];
  const v: Record<string, unknown> = { type: t };
  for (const [k, value] of Object.entries(keywords)) {
    if (k === "type") continue;
    if (own.includes(k) || ![...STRING_KEYS, ...ARRAY_KEYS, ...OBJECT_KEYS].includes(k)) v[k] = value;
  }
  if (t === "array" && !("items" in v) && !("prefixItems" in v)) v.items = ANY_JSON;
  if (t === "object" && !("properties" in v) && !("additionalProperties" in v)) v.additionalProperties = true;
  return v;
}

/** The values of `{type: integer, minimum, maximum}` when the range is small enough to list. */
function integerRange(node: Record<string, unknown>): number[] | undefined {
  if (node.type !== "integer" || "enum" in node || "const" in node) return undefined;
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
  const lo = Math.max(
    num(node.minimum) !== undefined ? Math.ceil(num(node.minimum) as number) : Number.NEGATIVE_INFINITY,
    num(node.exclusiveMinimum) !== undefined
      ? Math.floor(num(node.exclusiveMinimum) as number) + 1
      : Number.NEGATIVE_INFINITY,
  );
  const hi = Math.min(
    num(node.maximum) !== undefined ? Math.floor(num(node.maximum) as number) : Number.POSITIVE_INFINITY,
    num(node.exclusiveMaximum) !== undefined
      ? Math.ceil(num(node.exclusiveMaximum) as number) - 1
      : Number.POSITIVE_INFINITY,
  );
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi < lo || hi - lo > 200) return undefined;
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

function isPrimitive(v: unknown): boolean {
  return v === null || ["string", "number", "boolean"].includes(typeof v);
}

/**
 * Rewrite a JSON Schema into the subset node-llama-cpp's grammar generator handles, preserving
 * which documents are valid as far as possible:
 * - annotations (title, default, examples, $schema…) are dropped;
 * - `anyOf` becomes `oneOf` (a union either way for generation), `definitions` becomes `$defs`;
 * - `{}` / `true` (any value) becomes an explicit union of all JSON types (the generator would
 *   otherwise emit only `null`); an object schema without properties allows any properties;
 * - `type: [...]` becomes a `oneOf` per type, each branch with its own keywords (so that
 *   minLength/maxLength and minItems/maxItems still bound it); length keywords without a type
 *   bound the strings and arrays of an any-type union; an array without `items` gets any-JSON items
 *   (the generator drops minItems/maxItems otherwise);
 * - value checks it cannot enforce (minimum, pattern, …) are dropped and reported;
 * - anything else it cannot express (allOf, not, if/then, patternProperties, …) is reported as
 *   unsupported.
 * Note the generator always emits every listed property (also non-required ones), which is valid.
 */
export function normalizeJsonSchema(schema: unknown): NormalizedSchema {
  const notEnforced = new Set<string>();
  const unsupported = new Set<string>();
  const ignored = new Set<string>();

  const norm = (node: unknown): Record<string, unknown> => {
    if (node === true) return ANY_JSON;
    if (node === false || node === null || typeof node !== "object" || Array.isArray(node)) {
      unsupported.add(node === false ? "false schema" : "non-object schema");
      return ANY_JSON;
    }
    const src = node as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(src)) {
      if (ANNOTATIONS.has(key)) continue;
      if (NOT_ENFORCED.has(key)) {
        if (!(integerRange(src) && /^(exclusiveM|m)(in|ax)imum$/.test(key))) notEnforced.add(key);
        continue;
      }
      if (STRUCTURAL.has(key)) {
        unsupported.add(key);
        continue;
      }
      switch (key) {
        case "description":
          if (typeof value === "string") out.description = value;
          break;
        case "type":
          if (
            typeof value === "string" ||
            (Array.isArray(value) && value.every((t) => typeof t === "string"))
          ) {
            out.type = value;
          } else unsupported.add("type");
          break;
        case "const":
          if (isPrimitive(value)) out.const = value;
          else unsupported.add("const (non-primitive)");
          break;
        case "enum":
          if (Array.isArray(value) && value.length > 0 && value.every(isPrimitive)) out.enum = value;
          else unsupported.add("enum (non-primitive or empty)");
          break;
        case "anyOf":
        case "oneOf":
          if (Array.isArray(value) && value.length > 0) {
            const branches = value.map(norm);
            out.oneOf = Array.isArray(out.oneOf) ? [...(out.oneOf as unknown[]), ...branches] : branches;
            if (key === "oneOf" && Array.isArray(src.anyOf)) unsupported.add("anyOf together with oneOf");
          } else unsupported.add(key);
          break;
        case "properties":
          if (value && typeof value === "object" && !Array.isArray(value)) {
            out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, norm(v)]));
          } else unsupported.add("properties");
          break;
        case "additionalProperties":
          if (typeof value === "boolean") out.additionalProperties = value;
          else out.additionalProperties = norm(value);
          break;
        case "items":
          if (Array.isArray(value)) {
            out.prefixItems = value.map(norm);
            if (src.additionalItems === false) out.maxItems = value.length;
          } else out.items = norm(value);
          break;
        case "additionalItems":
          // Only meaningful with tuple-form `items` (handled there); a schema here is not expressible.
          if (Array.isArray(src.items) && typeof value === "object" && value !== null) {
            unsupported.add("additionalItems (schema)");
          }
          break;
        case "prefixItems":
          if (Array.isArray(value)) out.prefixItems = value.map(norm);
          else unsupported.add("prefixItems");
          break;
        case "required":
          if (Array.isArray(value)) out.required = value;
          break;
        case "minProperties":
        case "maxProperties":
        case "minItems":
        case "maxItems":
        case "minLength":
        case "maxLength":
          if (typeof value === "number" && Number.isInteger(value) && value >= 0) out[key] = value;
          else unsupported.add(key);
          break;
        case "format":
          if (typeof value === "string" && FORMATS.has(value)) out.format = value;
          else notEnforced.add(`format ${String(value)}`);
          break;
        case "$defs":
        case "definitions":
          if (value && typeof value === "object" && !Array.isArray(value)) {
            const defs = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, norm(v)]));
            out.$defs = { ...((out.$defs as Record<string, unknown>) ?? {}), ...defs };
          } else unsupported.add(key);
          break;
        case "$ref": {
          const ref = typeof value === "string" ? value.replace(/^#\/definitions\//, "#/$defs/") : "";
          if (/^#\/\$defs\/[^/]+$/.test(ref)) out.$ref = ref;
          else unsupported.add(`$ref ${String(value)}`);
          break;
        }
        default:
          ignored.add(key);
      }
    }
    // A small bounded integer range is enforced by listing its values.
    const range = integerRange(src);
    if (range) {
      const { type: _type, ...rest } = out;
      return { ...rest, enum: range };
    }
    // Infer a missing type from the keywords present.
    const hasShape = ["type", "const", "enum", "oneOf", "$ref"].some((k) => k in out);
    if (!hasShape) {
      if ("properties" in out || "additionalProperties" in out) out.type = "object";
      else if ("items" in out || "prefixItems" in out) out.type = "array";
      else if (LENGTH_KEYS.some((k) => k in out)) {
        // Length keywords without a type bound strings and arrays; other values are free.
        out.type = ["string", "number", "boolean", "null", "object", "array"];
      } else {
        const defs = out.$defs;
        return defs ? { ...ANY_JSON, $defs: defs } : ANY_JSON;
      }
    }
    if (Array.isArray(out.type) && out.type.length > 1) {
      // One branch per type, each with only its own keywords: the grammar generator ignores
      // string and array bounds on a type list.
      const { type, $defs, ...rest } = out;
      const variants = [...new Set(type as string[])].map((t) => typedVariant(t, rest));
      return $defs ? { oneOf: variants, $defs } : { oneOf: variants };
    }
    if (Array.isArray(out.type) && out.type.length === 1) out.type = out.type[0];
    if (typeof out.type === "string") Object.assign(out, typedVariant(out.type, out));
    if (
      typeof out.type === "string" &&
      !BASIC_TYPES.has(out.type) &&
      out.type !== "object" &&
      out.type !== "array"
    ) {
      unsupported.add(`type ${out.type}`);
    }
    return out;
  };

  const normalized = norm(schema);
  return {
    schema: normalized,
    notEnforced: [...notEnforced],
    unsupported: [...unsupported],
    ignored: [...ignored],
  };
}

/** What grammar to build for `constraint`, with warnings about anything not enforced. */
export function planGrammar(constraint: OutputConstraint): PlannedGrammar {
  switch (constraint.type) {
    case "choice":
      return { plan: { kind: "gbnf", gbnf: choiceGrammar(constraint.options) }, warnings: [] };
    case "number": {
      const integer = constraint.integer === true;
      return {
        plan: {
          kind: "gbnf",
          gbnf: numberGrammar(integer, {
            ...(constraint.min !== undefined ? { min: constraint.min } : {}),
            ...(constraint.max !== undefined ? { max: constraint.max } : {}),
          }),
        },
        warnings: [],
        extract: (generated) => numberAnswer(generated, integer),
      };
    }
    case "json": {
      if (!constraint.schema || Object.keys(constraint.schema).length === 0) {
        return { plan: { kind: "json" }, warnings: [] };
      }
      const n = normalizeJsonSchema(constraint.schema);
      const warnings: string[] = [];
      if (n.unsupported.length > 0) {
        warnings.push(
          `JSON schema uses keywords the local grammar cannot express (${n.unsupported.join(", ")}); ` +
            "decoding was constrained to generic JSON instead, so the answer may not match the schema",
        );
        return { plan: { kind: "json" }, warnings };
      }
      if (n.notEnforced.length > 0) {
        warnings.push(
          `JSON schema keywords not enforced during decoding: ${n.notEnforced.join(", ")} ` +
            "(the answer has the schema's shape but may violate them)",
        );
      }
      if (n.ignored.length > 0)
        warnings.push(`unknown JSON schema keywords ignored: ${n.ignored.join(", ")}`);
      return { plan: { kind: "jsonSchema", schema: n.schema }, warnings };
    }
  }
}
