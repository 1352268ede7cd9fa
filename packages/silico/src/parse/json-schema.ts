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
