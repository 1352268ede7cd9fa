import type { LoadedPage, SubmitForm } from "../../otree/bot-contract.js";
import type { OtreeField, OtreePage } from "../../otree/page-model.js";
import { pageSchema } from "../../otree/page-schema.js";

/** Where a page sits in the participant's path, read from its URL `/p/{code}/{app}/{Page}/{index}`. */
export interface PagePlace {
  app: string;
  page: string;
  index: number;
}

export function placeOf(url: string): PagePlace {
  // A full URL or just its path (what a bot's state keeps).
  const path = new URL(url, "http://otree.invalid").pathname;
  const m = /\/p\/[^/]+\/([^/]+)\/([^/]+)\/(\d+)\/?$/.exec(path);
  if (!m) return { app: "", page: path, index: 0 };
  return { app: m[1] as string, page: m[2] as string, index: Number(m[3]) };
}

/** oTree's debug panel (devserver) shows the round number; production pages do not. */
export function roundFromHtml(html: string): number | undefined {
  const m = /Round number<\/td>\s*<td[^>]*>\s*<code>(\d+)<\/code>/.exec(html);
  return m ? Number(m[1]) : undefined;
}

/** The key under which the model may say why it answered as it did (not a field of the page). */
export const REASON_KEY = "reason";

/** The JSON Schema of the model's answer to a page: one property per field or button group. */
export function answerSchema(page: OtreePage): Record<string, unknown> {
  const schema = pageSchema(page) as { properties: Record<string, unknown> } & Record<string, unknown>;
  if (!(REASON_KEY in schema.properties)) {
    schema.properties = {
      ...schema.properties,
      [REASON_KEY]: { type: "string", description: "why you answer this way, in one sentence" },
    };
  }
  return schema;
}

/** Fields and button groups the model answers (a page with only a next button has none). */
export function hasQuestions(page: OtreePage): boolean {
  return page.fields.length > 0 || page.buttons.some((b) => b.role === "choice" && b.name);
}

export interface PromptInput {
  loaded: LoadedPage;
  schema: Record<string, unknown>;
  /** Seconds left on a timed page when the question is put. */
  secondsLeft?: number;
  /** The server rejected the last answer: its messages. */
  rejected?: { fieldErrors: { name: string; label: string; error: string }[]; pageErrors: string[] };
}

/** The question a page becomes: its title, visible text, the time left, and the answer's schema. */
export function pagePrompt(input: PromptInput): string {
  const { page } = input.loaded;
  const lines: string[] = [];
  if (input.rejected) {
    lines.push("The experiment did not accept your answer on this page:");
    for (const e of input.rejected.fieldErrors) lines.push(`- ${e.name} (${e.label || e.name}): ${e.error}`);
    for (const e of input.rejected.pageErrors) lines.push(`- ${e}`);
    lines.push("Answer the page again.", "");
  }
  lines.push(`Page: ${page.title || "(untitled)"}`);
  if (page.text) lines.push("", page.text);
  if (input.secondsLeft !== undefined) {
    lines.push("", `Time left on this page: ${Math.max(0, Math.floor(input.secondsLeft))} seconds.`);
  }
  lines.push(
    "",
    "Answer with one JSON object that fits this JSON Schema. Each property is a question of the page (its title is what the page shows); for choices give the const value of the option you pick.",
    "```json",
    JSON.stringify(input.schema, null, 2),
    "```",
  );
  return lines.join("\n");
}

/** The errors oTree showed after a rejected submit, per field and for the page. */
export function rejectionOf(page: OtreePage): NonNullable<PromptInput["rejected"]> {
  const fieldErrors = page.fields
    .filter((f): f is OtreeField & { error: string } => f.error !== undefined && f.error !== "")
    .map((f) => ({ name: f.name, label: f.label, error: f.error }));
  // oTree adds a generic "Please fix the errors." when fields have errors: it says nothing more.
  const pageErrors = page.pageErrors.filter((e) => !(fieldErrors.length > 0 && /fix the errors/i.test(e)));
  if (fieldErrors.length === 0 && pageErrors.length === 0)
    pageErrors.push("the page was shown again without a message");
  return { fieldErrors, pageErrors };
}

/** One answered field: what the model said and what was posted. */
export interface FieldAnswer {
  name: string;
  value: unknown;
  posted: string | null;
}

/**
 * Maps the model's answer (values as in the schema) to what oTree wants posted: choice values
 * (a label is accepted too), booleans as True/False, a checkbox as `y` or absent, a named button.
 */
export function toSubmitForm(
  page: OtreePage,
  answer: Record<string, unknown>,
): { form: SubmitForm; fields: FieldAnswer[] } {
  const fields: Record<string, string> = {};
  const answered: FieldAnswer[] = [];
  for (const field of page.fields) {
    const v = answer[field.name];
    const posted = postedValue(field, v);
    if (posted !== null) fields[field.name] = posted;
    answered.push({ name: field.name, value: v === undefined ? null : v, posted });
  }
  const form: SubmitForm = { fields };
  const choiceButtons = page.buttons.filter((b) => b.role === "choice" && b.name);
  const groups = [...new Set(choiceButtons.map((b) => b.name as string))];
  if (groups.length > 0) {
    // One button is pressed: the first group the model answered.
    const name = groups.find((g) => answer[g] !== undefined) ?? (groups[0] as string);
    const options = choiceButtons.filter((b) => b.name === name);
    const v = answer[name];
    const chosen =
      options.find((b) => b.value === stringOf(v)) ??
      options.find((b) => b.label.toLowerCase() === stringOf(v).toLowerCase()) ??
      (options[0] as (typeof options)[number]);
    form.button = { name, value: chosen.value ?? "", role: "choice" };
    answered.push({ name, value: v === undefined ? null : v, posted: chosen.value ?? "" });
  } else if (page.buttons.some((b) => b.role === "next")) {
    form.button = { role: "next" };
  }
  return { form, fields: answered };
}

function postedValue(field: OtreeField, v: unknown): string | null {
  if (field.widget === "checkbox")
    return v === true || v === "y" || v === "True" || v === "true" ? "y" : null;
  if (v === undefined || v === null) return field.required ? "" : "";
  if (field.choices) {
    const s = stringOf(v);
    const byValue = field.choices.find((c) => c.value === s);
    if (byValue) return byValue.value;
    const byLabel = field.choices.find((c) => c.label.toLowerCase() === s.toLowerCase());
    return byLabel ? byLabel.value : s;
  }
  return stringOf(v);
}

function stringOf(v: unknown): string {
  if (v === true) return "True";
  if (v === false) return "False";
  if (v === null || v === undefined) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}
