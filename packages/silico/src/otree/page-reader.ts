import { type HTMLElement, parse } from "node-html-parser";
import type { OtreeButton, OtreeChoice, OtreeField, OtreePage, OtreePageKind } from "./page-model.js";

export interface PageContext {
  /** The URL the page came from (after redirects). */
  url?: string;
  /** The response headers: oTree marks wait pages with `otree-wait-page: 1`. */
  headers?: Headers | Record<string, string>;
}

/** Reads an oTree 6 participant page into what a bot needs to answer it. */
export function readOtreePage(html: string, context: PageContext = {}): OtreePage {
  const root = parse(html, { comment: false });
  for (const el of root.querySelectorAll(".debug-info, script, style, noscript")) el.remove();
  const title = clean(root.querySelector("#_otree-title")?.text ?? root.querySelector("title")?.text ?? "");
  const body = root.querySelector(".otree-body") ?? root;
  const live = html.includes('id="otree-live"');
  const timeout = /var remainingTimeoutSeconds = (-?\d+(?:\.\d+)?)/.exec(html);
  const waitBody = root.querySelector(".otree-wait-page__body");
  const fields = readFields(body);
  const buttons = readButtons(body);
  const pageErrors = body
    .querySelectorAll(".otree-form-errors")
    .map((el) => clean(el.text))
    .filter(Boolean);
  const kind = pageKind(context, html, { waiting: waitBody !== null, fields, buttons, live });
  const page: OtreePage = {
    kind,
    title,
    text: clean((waitBody ?? body.querySelector(".otree-content") ?? body).text),
    fields,
    buttons,
    pageErrors,
    live,
  };
  if (timeout) page.timeoutSeconds = Number(timeout[1]);
  return page;
}

function pageKind(
  context: PageContext,
  html: string,
  page: { waiting: boolean; fields: OtreeField[]; buttons: OtreeButton[]; live: boolean },
): OtreePageKind {
  if (header(context.headers, "otree-wait-page") === "1" || page.waiting) return "wait";
  if (context.url?.includes("/OutOfRangeNotification/") || html.includes("No more pages left")) return "end";
  if (page.fields.length === 0 && page.buttons.length === 0 && !page.live) return "end";
  return "form";
}

function readFields(body: HTMLElement): OtreeField[] {
  const fields: OtreeField[] = [];
  const seen = new Set<string>();
  for (const input of body.querySelectorAll("input[name], select[name], textarea[name]")) {
    const name = input.getAttribute("name") ?? "";
    const type = (input.getAttribute("type") ?? "").toLowerCase();
    if (seen.has(name) || type === "hidden" || type === "submit" || type === "button") continue;
    seen.add(name);
    const field = readField(body, input, name, type);
    if (field) fields.push(field);
  }
  return fields;
}

function readField(
  body: HTMLElement,
  input: HTMLElement,
  name: string,
  type: string,
): OtreeField | undefined {
  const tag = input.tagName.toLowerCase();
  const wrapper = closest(input, "_formfield");
  const label = clean(body.querySelector(`label[for="id_${name}"]`)?.text ?? "");
  const error = wrapper ? clean(wrapper.querySelector(".form-control-errors")?.text ?? "") : "";
  const base = { name, label, required: input.hasAttribute("required") };
  let field: OtreeField;
  if (tag === "select") {
    const options = input.querySelectorAll("option");
    const choices = options.filter((o) => (o.getAttribute("value") ?? "") !== "").map(choiceOf);
    const selected = options.find((o) => o.hasAttribute("selected"))?.getAttribute("value");
    field = { ...base, widget: "select", type: typeOfChoices(choices), choices };
    if (selected) field.value = selected;
  } else if (type === "radio") {
    const radios = body.querySelectorAll(`input[type="radio"][name="${name}"]`);
    const choices = radios.map((r) => ({
      value: r.getAttribute("value") ?? "",
      label: clean(body.querySelector(`label[for="${r.getAttribute("id")}"]`)?.text ?? ""),
    }));
    const checked = radios.find((r) => r.hasAttribute("checked"))?.getAttribute("value");
    field = { ...base, widget: "radio", type: typeOfChoices(choices), choices };
    if (checked) field.value = checked;
  } else if (type === "checkbox") {
    field = { ...base, required: false, widget: "checkbox", type: "boolean" };
    if (input.hasAttribute("checked")) field.value = input.getAttribute("value") ?? "on";
  } else if (tag === "textarea") {
    // oTree's textarea content starts with a CRLF that is not part of the value.
    field = { ...base, widget: "textarea", type: "string" };
    const value = input.text.replace(/^\r?\n/, "");
    if (value) field.value = value;
  } else {
    // oTree's float, decimal and non-integer currency inputs are type=text and always carry an
    // inputmode attribute ("decimal", or "" when the minimum is negative); a StringField has none.
    const decimal = type === "text" && input.hasAttribute("inputmode");
    const widget = type === "number" ? "number" : decimal ? "decimal" : "text";
    const jsonType = widget === "number" ? "integer" : widget === "decimal" ? "number" : "string";
    field = { ...base, widget, type: jsonType };
    const value = input.getAttribute("value");
    if (value) field.value = value;
  }
  if (field.widget === "number" || field.widget === "decimal") {
    const min = input.getAttribute("min");
    const max = input.getAttribute("max");
    if (min !== undefined && min !== "") field.min = Number(min);
    if (max !== undefined && max !== "") field.max = Number(max);
    const unit = input.parentNode?.querySelector(".input-group-text")?.text;
    if (unit) field.unit = clean(unit);
  }
  // A checkbox sits outside `._formfield`, so its label is its own.
  if (!field.label && field.widget === "checkbox") {
    field.label = clean(body.querySelector(`label[for="${input.getAttribute("id")}"]`)?.text ?? "");
  }
  if (error) field.error = error;
  return field;
}

function readButtons(body: HTMLElement): OtreeButton[] {
  const buttons: OtreeButton[] = [];
  for (const b of body.querySelectorAll("button, input[type=submit]")) {
    if ((b.getAttribute("type") ?? "").toLowerCase() === "button") continue;
    const classes = b.classList;
    const label = clean(b.tagName === "INPUT" ? (b.getAttribute("value") ?? "") : b.text);
    const name = b.getAttribute("name");
    if (classes.contains("otree-btn-next")) buttons.push({ label, role: "next" });
    else if (classes.contains("otree-btn-back")) buttons.push({ label, role: "back" });
    else if (name) buttons.push({ name, value: b.getAttribute("value") ?? "", label, role: "choice" });
  }
  return buttons;
}

function choiceOf(option: HTMLElement): OtreeChoice {
  return { value: option.getAttribute("value") ?? "", label: clean(option.text) };
}

/** Integer when every choice value is an integer, boolean for oTree's True/False, else string. */
function typeOfChoices(choices: OtreeChoice[]): OtreeField["type"] {
  const values = choices.map((c) => c.value);
  if (values.length > 0 && values.every((v) => v === "True" || v === "False")) return "boolean";
  if (values.length > 0 && values.every((v) => /^-?\d+$/.test(v))) return "integer";
  return "string";
}

function closest(el: HTMLElement, className: string): HTMLElement | undefined {
  for (let node = el.parentNode; node; node = node.parentNode) {
    if (node.classList?.contains(className)) return node;
  }
  return undefined;
}

function header(headers: PageContext["headers"], name: string): string | undefined {
  if (!headers) return undefined;
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

function clean(text: string): string {
  return decodeEntities(text).replace(/\s+/g, " ").trim();
}

function decodeEntities(text: string): string {
  return text
    .replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&amp;/g, "&");
}
