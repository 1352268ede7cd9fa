import type { OtreeField, OtreePage } from "./page-model.js";

/** A JSON Schema (draft 2020-12 subset) of the answer a page asks for: one property per field. */
export function pageSchema(page: OtreePage): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const field of page.fields) {
    properties[field.name] = fieldSchema(field);
    if (field.required) required.push(field.name);
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
  return schema;
}

function constOf(value: string, type: OtreeField["type"]): string | number | boolean {
  if (type === "integer") return Number(value);
  if (type === "boolean") return value === "True";
  return value;
}
