/**
 * Column types for analyst exports: one type per column, inferred from every value the column
 * holds, so a Parquet file (and the column dictionary) can say "integer" instead of "text".
 */
export type ColumnType = "integer" | "number" | "boolean" | "string" | "json";

/** Collects what kinds of values one column holds; `type` names the narrowest type that fits all. */
export class TypeTally {
  private ints = false;
  private floats = false;
  private bools = false;
  private strings = false;
  private objects = false;

  add(v: unknown): void {
    if (v === null || v === undefined) return;
    if (typeof v === "number") {
      // NaN and ±Infinity have no JSON spelling: such a column is read as numbers, not integers.
      if (Number.isSafeInteger(v)) this.ints = true;
      else this.floats = true;
    } else if (typeof v === "boolean") this.bools = true;
    else if (typeof v === "string") this.strings = true;
    else this.objects = true;
  }

  /** True once a non-null value was added. */
  get seen(): boolean {
    return this.ints || this.floats || this.bools || this.strings || this.objects;
  }

  get type(): ColumnType {
    const numeric = this.ints || this.floats;
    const kinds = [numeric, this.bools, this.strings, this.objects].filter(Boolean).length;
    // Mixed columns (a tidy `value` holding numbers and words) become text: nothing is lost.
    if (kinds !== 1) return kinds === 0 ? "string" : this.objects && !this.strings ? "json" : "string";
    if (numeric) return this.floats ? "number" : "integer";
    if (this.bools) return "boolean";
    if (this.objects) return "json";
    return "string";
  }
}

/**
 * A value as its column's type holds it: integers and numbers as numbers, booleans as booleans,
 * json as JSON text, and in a string column anything that is not a string as its JSON text
 * (so `7` becomes "7", `true` "true", `{"a":1}` '{"a":1}'). null stays null.
 */
export function typedValue(v: unknown, type: ColumnType): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  switch (type) {
    case "integer":
    case "number":
      return typeof v === "number" ? v : null;
    case "boolean":
      return typeof v === "boolean" ? v : null;
    case "json":
      return JSON.stringify(v);
    default:
      return typeof v === "string" ? v : JSON.stringify(v);
  }
}

/** Types of fixed columns that may hold only nulls in a run (no call made, no price known). */
export const FIXED_TYPES: Record<string, ColumnType> = {
  sample: "integer",
  attempts: "integer",
  input_tokens: "integer",
  output_tokens: "integer",
  latency_ms: "integer",
  cost_usd: "number",
  valid: "boolean",
  cached: "boolean",
};
