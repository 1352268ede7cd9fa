import type { OtreeField, OtreePage } from "./page-model.js";

export interface PageSchemaOptions {
  /**
   * Offer the page's back button (`{{ back_button }}`) as an optional boolean property
   * `back_button`: true means press Back instead of submitting. Off by default, because oTree treats
   * ANY posted `back_button` value (also "False") as a press: a caller that turns this on must not
   * post the property as a field.
   */
  offerBack?: boolean;
}

/** A JSON Schema (draft 2020-12 subset) of the answer a page asks for: one property per field. */
export function pageSchema(page: OtreePage, options: PageSchemaOptions = {}): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const field of page.fields) {
    properties[field.name] = fieldSchema(field);
    if (field.required || field.mustTick) required.push(field.name);
  }
  const choiceButtons = page.buttons.filter((b) => b.role === "choice" && b.name);
  for (const name of new Set(choiceButtons.map((b) => b.name as string))) {
    const values = choiceButtons.filter((b) => b.name === name);
    properties[name] = {
      description: "a button",
      oneOf: values.map((b) => ({ const: b.value, title: b.label })),
    };
    required.push(name);
  }
  if (options.offerBack && page.buttons.some((b) => b.role === "back")) {
    properties.back_button = {
      type: "boolean",
      description: "true to go back to the previous page instead of submitting this one",
    };
  }
  return { type: "object", properties, required, additionalProperties: false };
}

function fieldSchema(field: OtreeField): Record<string, unknown> {
  const schema: Record<string, unknown> = { type: field.type };
  if (field.label) schema.title = field.label;
  if (field.choices) {
    schema.oneOf = field.choices.map((c) => ({ const: constOf(c.value, field.type), title: c.label }));
    delete schema.type;
  }
  if (field.min !== undefined) schema.minimum = field.min;
  if (field.max !== undefined) schema.maximum = field.max;
  if (field.unit) schema.description = `in ${field.unit}`;
  if (field.widget === "checkbox") {
    schema.description = field.mustTick
      ? "true to tick the box; the page cannot be submitted while it is unticked"
      : "true to tick the box; false leaves it unticked";
  }
  return schema;
}

function constOf(value: string, type: OtreeField["type"]): string | number | boolean {
  if (type === "integer") return Number(value);
  if (type === "boolean") return value === "True";
  return value;
}
