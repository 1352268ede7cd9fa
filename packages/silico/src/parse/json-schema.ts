import { Ajv, type ErrorObject, type Options, type ValidateFunction } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";

export type CompiledSchema = { ok: true; validate: ValidateFunction } | { ok: false; error: string };

/*
 * Unknown keywords are errors (a misspelt "requried" would otherwise check nothing), but the
 * type/tuple/required strictness checks are off: they reject schemas that are valid and usual.
 * Formats ("email", "date-time") are not checked, since no format package is installed; they
 * are accepted and ignored.
 */
const OPTIONS: Options = {
  allErrors: true,
  strictSchema: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  validateFormats: false,
  logger: false,
};

/** Keywords some providers add to response schemas; accepted and ignored. */
const PROVIDER_KEYWORDS = ["propertyOrdering"];

/**
 * Picks the validator for the schema's dialect: draft 2020-12 when `$schema` says so or is absent,
 * 2019-09 or draft-07 when `$schema` names them.
 */
function makeAjv(schema: Record<string, unknown>): Ajv {
  const dialect = typeof schema.$schema === "string" ? schema.$schema : "";
  const ajv = dialect.includes("draft-07")
    ? new Ajv(OPTIONS)
    : dialect.includes("2019-09")
      ? new Ajv2019(OPTIONS)
      : new Ajv2020(OPTIONS);
  for (const keyword of PROVIDER_KEYWORDS) ajv.addKeyword(keyword);
  return ajv;
}

/** Compiles a JSON Schema with a fresh validator instance (so `$id`s of different parsers never clash). */
export function compileSchema(schema: Record<string, unknown>): CompiledSchema {
  try {
    return { ok: true, validate: makeAjv(schema).compile(schema) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** One schema error as a short phrase, e.g. "/keep must be number". */
function formatError(error: ErrorObject): string {
  const message = error.message ?? `fails ${error.keyword}`;
  const extra =
    error.keyword === "additionalProperties" && typeof error.params.additionalProperty === "string"
      ? ` (${error.params.additionalProperty})`
      : error.keyword === "enum" && Array.isArray(error.params.allowedValues)
        ? ` (${error.params.allowedValues.map((v: unknown) => JSON.stringify(v)).join(", ")})`
        : "";
  return `${error.instancePath === "" ? "" : `${error.instancePath} `}${message}${extra}`;
}

/** The first `limit` schema errors joined with "; ", plus a count of the rest. */
export function formatSchemaErrors(errors: readonly ErrorObject[] | null | undefined, limit = 3): string {
  if (errors === null || errors === undefined || errors.length === 0) return "does not match the schema";
  const shown = errors.slice(0, limit).map(formatError);
  const rest = errors.length - shown.length;
  return shown.join("; ") + (rest > 0 ? `; and ${rest} more` : "");
}

/** A problem at a place inside a schema (`["properties", "keep", "type"]`). */
export interface SchemaProblem {
  path: (string | number)[];
  message: string;
}

/** Keyword pairs whose lower bound may not pass the upper one; `strict`: equal is empty too. */
const BOUNDS: [string, string, boolean][] = [
  ["minimum", "maximum", false],
  ["exclusiveMinimum", "exclusiveMaximum", true],
  ["minimum", "exclusiveMaximum", true],
  ["exclusiveMinimum", "maximum", true],
  ["minLength", "maxLength", false],
  ["minItems", "maxItems", false],
  ["minProperties", "maxProperties", false],
  ["minContains", "maxContains", false],
];

/** Values that are data, not schemas: nothing under them is checked for bounds. */
const DATA_KEYWORDS = new Set(["enum", "const", "default", "examples"]);

/**
 * Problems of a JSON Schema a parser would be given, each at its place: what the dialect's
 * meta-schema refuses (one problem per place), else bounds no answer can meet (`minimum` above
 * `maximum`, an empty `enum`). Other errors are left to `compileSchema`.
 */
export function schemaProblems(schema: Record<string, unknown>): SchemaProblem[] {
  const ajv = metaValidator(schema);
  let valid: boolean;
  try {
    valid = ajv.validateSchema(schema) === true;
  } catch {
    return []; // e.g. an unknown $schema: compileSchema says so
  }
  const out: SchemaProblem[] = [];
  if (!valid) {
    const seen = new Set<string>();
    for (const e of ajv.errors ?? []) {
      if (seen.has(e.instancePath)) continue;
      seen.add(e.instancePath);
      out.push({ path: pointerPath(e.instancePath), message: formatError({ ...e, instancePath: "" }) });
    }
    return out;
  }
  walkBounds(schema, [], out);
  return out;
}

/**
 * One validator per dialect for checking schemas against their meta-schema: validateSchema
 * registers nothing, so it can be shared (making one costs tens of milliseconds).
 */
const metaValidators = new Map<string, Ajv>();

function metaValidator(schema: Record<string, unknown>): Ajv {
  const dialect = typeof schema.$schema === "string" ? schema.$schema : "";
  const key = dialect.includes("draft-07") ? "draft-07" : dialect.includes("2019-09") ? "2019-09" : "2020-12";
  let ajv = metaValidators.get(key);
  if (!ajv) {
    ajv = makeAjv(schema);
    metaValidators.set(key, ajv);
  }
  return ajv;
}

function pointerPath(pointer: string): (string | number)[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

/** Keywords whose value maps names (of properties, definitions) to schemas. */
const NAME_MAPS = new Set(["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]);

function walkBounds(node: unknown, path: (string | number)[], out: SchemaProblem[], depth = 0): void {
  if (depth > 64 || node === null || typeof node !== "object") return;
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) walkBounds(item, [...path, i], out, depth + 1);
    return;
  }
  const n = node as Record<string, unknown>;
  if (NAME_MAPS.has(String(path[path.length - 1])) && path.length > 0) {
    for (const [name, value] of Object.entries(n)) walkBounds(value, [...path, name], out, depth + 1);
    return;
  }
  for (const [low, high, strict] of BOUNDS) {
    const a = n[low];
    const b = n[high];
    if (typeof a === "number" && typeof b === "number" && (strict ? a >= b : a > b))
      out.push({
        path: [...path, low],
        message: `${low} (${a}) is ${strict ? "not below" : "greater than"} ${high} (${b}): no answer can match`,
      });
  }
  if (Array.isArray(n.enum) && n.enum.length === 0)
    out.push({ path: [...path, "enum"], message: "lists no value: no answer can match" });
  for (const [key, value] of Object.entries(n)) {
    if (DATA_KEYWORDS.has(key)) continue;
    walkBounds(value, [...path, key], out, depth + 1);
  }
}
