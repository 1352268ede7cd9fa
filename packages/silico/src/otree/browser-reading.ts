import type { Page } from "playwright-core";
import type { LoadedPage } from "./bot-contract.js";
import type { OtreeField } from "./page-model.js";
import { readOtreePage } from "./page-reader.js";

/**
 * A range input as the page shows it. Sliders are the common control whose value a page's script
 * copies into a hidden oTree field, so the browser reading offers every visible one as a number
 * field: a named one under its name, an unnamed one under its id (or `range_K`, the K-th unnamed
 * range of the page, when it has no id or its id is also a form field's name).
 */
interface RangeControl {
  name: string;
  named: boolean;
  label: string;
  min: string;
  max: string;
  step: string;
  value: string;
}

/**
 * Reads the page a browser shows now: the DOM after its scripts ran, through the same
 * `readOtreePage` as HTTP bots, plus the page's visible sliders. `headers` are those of the main
 * navigation response (oTree marks wait pages and re-displayed forms there).
 */
export async function readBrowserPage(page: Page, headers: Record<string, string>): Promise<LoadedPage> {
  const html = await page.content();
  const url = page.url();
  const read = readOtreePage(html, { url, headers });
  const ranges = await inPage<RangeControl[]>(page, FIND_RANGES);
  for (const range of ranges) {
    const field = rangeField(range);
    const i = read.fields.findIndex((f) => f.name === range.name);
    if (i >= 0) {
      // The reader sees a named range as a text input: keep its label and error, fix the rest.
      const known = read.fields[i] as OtreeField;
      read.fields[i] = {
        ...field,
        label: known.label || field.label,
        ...(known.error ? { error: known.error } : {}),
      };
    } else {
      read.fields.push(field);
    }
  }
  if (ranges.length > 0 && read.kind === "end" && (await page.locator("#form").count()) > 0)
    read.kind = "form";
  return { url, page: read, rejected: headers["otree-redisplay-with-errors"] === "1", html };
}

function rangeField(range: RangeControl): OtreeField {
  const min = range.min === "" ? 0 : Number(range.min);
  const max = range.max === "" ? 100 : Number(range.max);
  const step = range.step === "" ? 1 : range.step === "any" ? Number.NaN : Number(range.step);
  const integral = Number.isInteger(step) && Number.isInteger(min);
  const field: OtreeField = {
    name: range.name,
    label: range.label,
    widget: integral ? "number" : "decimal",
    type: integral ? "integer" : "number",
    required: true,
    min,
    max,
  };
  if (range.value !== "") field.value = range.value;
  return field;
}

/** Evaluates a page-side function (JavaScript source) with JSON arguments and returns its result. */
export function inPage<T>(page: Page, source: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(`(${source})(${args.map((a) => JSON.stringify(a)).join(", ")})`) as Promise<T>;
}

/**
 * Runs in the page; returns RangeControl[]. JavaScript source, because the package compiles
 * without the DOM's types.
 */
const FIND_RANGES = `function () {
  const named = new Set();
  const form = document.getElementById("form");
  for (const el of document.querySelectorAll("[name]")) named.add(el.getAttribute("name"));
  const found = [];
  let unnamed = 0;
  for (const el of document.querySelectorAll('input[type="range"]')) {
    const isNamed = el.name !== "";
    if (!isNamed) unnamed++;
    if (el.disabled || !el.checkVisibility()) continue;
    if (form && isNamed && el.form !== form) continue;
    const name = isNamed ? el.name : el.id && !named.has(el.id) ? el.id : "range_" + unnamed;
    const forLabel = el.id ? document.querySelector('label[for="' + CSS.escape(el.id) + '"]')?.textContent : "";
    const label = forLabel || el.getAttribute("aria-label") || el.closest("label")?.textContent || el.title || "";
    found.push({
      name,
      named: isNamed,
      label: label.replace(/\\s+/g, " ").trim(),
      min: el.getAttribute("min") ?? "",
      max: el.getAttribute("max") ?? "",
      step: el.getAttribute("step") ?? "",
      value: el.value,
    });
  }
  return found;
}`;
