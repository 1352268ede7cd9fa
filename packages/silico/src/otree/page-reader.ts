import { HTMLElement, parse } from "node-html-parser";
import type {
  OtreeButton,
  OtreeChat,
  OtreeChoice,
  OtreeField,
  OtreePage,
  OtreePageKind,
} from "./page-model.js";

export interface PageContext {
  /** The URL the page came from (after redirects). */
  url?: string;
  /** The response headers: oTree marks wait pages with `otree-wait-page: 1`. */
  headers?: Headers | Record<string, string>;
}

/** Reads an oTree 6 participant page into what a bot needs to answer it. */
export function readOtreePage(html: string, context: PageContext = {}): OtreePage {
  const root = parse(html, { comment: false });
  // Socket addresses and the debug panel's facts are read before scripts and the panel go.
  const sockets = readSockets(root, html);
  const debug = readDebugPanel(root);
  for (const el of root.querySelectorAll(".debug-info, script, style, noscript")) el.remove();
  const title = clean(root.querySelector("#_otree-title")?.text ?? root.querySelector("title")?.text ?? "");
  const body = root.querySelector(".otree-body") ?? root;
  const live = sockets.liveSocketUrl !== undefined || html.includes('id="otree-live"');
  const timeout = /var remainingTimeoutSeconds = (-?\d+(?:\.\d+)?)/.exec(html);
  // A selector walks the whole tree; one whose name is not in the text cannot match.
  const waitBody = html.includes("otree-wait-page__body")
    ? root.querySelector(".otree-wait-page__body")
    : null;
  const fields = readFields(body);
  const buttons = readButtons(body);
  const pageErrors = html.includes("otree-form-errors")
    ? body
        .querySelectorAll(".otree-form-errors")
        .map((el) => clean(el.text))
        .filter(Boolean)
    : [];
  const fieldErrors = readFieldErrors(body, fields, buttons, pageErrors);
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
  Object.assign(page, positionOf(context.url), debug, sockets);
  if (context.headers) page.rejected = header(context.headers, "otree-redisplay-with-errors") === "1";
  if (Object.keys(fieldErrors).length > 0) page.fieldErrors = fieldErrors;
  if (kind === "end") {
    if (outOfRange(context, html)) page.endReason = "out_of_range";
    else if (root.querySelector("form.otree-form")) page.endReason = "nothing_to_submit";
    // No oTree page form, no wait page, no end notice: a traceback, a proxy's error page …
    else page.unrecognized = true;
  }
  return page;
}

const PAGE_PATH = /^\/p\/([^/]+)\/([^/]+)\/([^/]+)\/(\d+)\/?$/;

/** `/p/{participantCode}/{app}/{pageName}/{pageIndex}` → its parts; nothing for other URLs. */
export function positionOf(
  url: string | undefined,
): Pick<OtreePage, "participantCode" | "app" | "pageName" | "pageIndex"> {
  if (!url) return {};
  try {
    const m = PAGE_PATH.exec(new URL(url, "http://otree.invalid").pathname);
    if (!m) return {};
    return {
      participantCode: decodeURIComponent(m[1] as string),
      app: decodeURIComponent(m[2] as string),
      pageName: decodeURIComponent(m[3] as string),
      pageIndex: Number(m[4]),
    };
  } catch {
    // Not a URL, or a malformed escape: no position rather than an error while reading a page.
    return {};
  }
}

function readSockets(
  root: HTMLElement,
  html: string,
): Pick<OtreePage, "chat" | "liveSocketUrl" | "waitSocketUrl" | "autoAdvanceSocketUrl"> {
  const sockets: Pick<OtreePage, "chat" | "liveSocketUrl" | "waitSocketUrl" | "autoAdvanceSocketUrl"> = {};
  const live = html.includes("otree-live")
    ? root.querySelector("#otree-live")?.getAttribute("data-socket-url")
    : undefined;
  if (live) sockets.liveSocketUrl = decodeEntities(live);
  const redirect = html.includes("websocket-redirect")
    ? root.querySelector("#websocket-redirect")?.getAttribute("data-socket-url")
    : undefined;
  if (redirect) sockets.autoAdvanceSocketUrl = decodeEntities(redirect);
  // A wait page opens its socket in an inline script, not from a data attribute.
  const wait = /makeReconnectingWebSocket\("(\/wait_page\?[^"]*)"\)/.exec(html);
  if (wait) sockets.waitSocketUrl = decodeEntities(wait[1] as string);
  const chat = readChat(html);
  if (chat) sockets.chat = chat;
  return sockets;
}

/** `{{ chat }}` writes its settings as a JSON object literal into an inline script. */
function readChat(html: string): OtreeChat | undefined {
  const m = /var varsFromDjango = (\{.*?\});\s*$/m.exec(html);
  if (!m) return undefined;
  let vars: Record<string, unknown>;
  try {
    vars = JSON.parse(m[1] as string) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const { channel, socket_path, participant_id, nickname, nickname_signed } = vars;
  if (typeof socket_path !== "string" || typeof nickname_signed !== "string") return undefined;
  return {
    channel: String(channel ?? ""),
    socketPath: socket_path,
    participantId: Number(participant_id),
    nickname: String(nickname ?? ""),
    nicknameSigned: nickname_signed,
  };
}

/** The "Basic info" table of oTree's debug panel (DEBUG mode only). */
function readDebugPanel(root: HTMLElement): Pick<OtreePage, "round" | "idInGroup" | "sessionCode"> {
  const rows = new Map<string, string>();
  for (const name of root.querySelectorAll(".debug-info td.debug-var-name")) {
    const value = name.nextElementSibling;
    if (value) rows.set(clean(name.text), clean(value.text));
  }
  const facts: Pick<OtreePage, "round" | "idInGroup" | "sessionCode"> = {};
  const round = rows.get("Round number");
  if (round && /^\d+$/.test(round)) facts.round = Number(round);
  const id = rows.get("ID in group");
  if (id && /^\d+$/.test(id)) facts.idInGroup = Number(id);
  const session = rows.get("Session code");
  if (session) facts.sessionCode = session;
  return facts;
}

/**
 * Errors by field. A field's error sits in its `._formfield`; `{{ formfield_errors 'x' }}` next to
 * hand-written buttons renders the same div outside any wrapper and without the field's name.
 */
function readFieldErrors(
  body: HTMLElement,
  fields: OtreeField[],
  buttons: OtreeButton[],
  pageErrors: string[],
): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const field of fields) if (field.error) errors[field.name] = field.error;
  const stray = body
    .querySelectorAll(".form-control-errors")
    .filter((el) => !isFieldWrapper(el.parentNode))
    .map((el) => clean(el.text))
    .filter(Boolean);
  if (stray.length === 0) return errors;
  pageErrors.push(...stray);
  const groups = new Set(buttons.filter((b) => b.role === "choice" && b.name).map((b) => b.name as string));
  const [only] = groups;
  if (groups.size === 1 && only !== undefined && !(only in errors)) errors[only] = stray.join(" ");
  return errors;
}

/** oTree renders a field's error as a direct child of the field's wrapper. */
function errorsOf(wrapper: HTMLElement): HTMLElement | undefined {
  return wrapper.childNodes.find(
    (n): n is HTMLElement => n instanceof HTMLElement && n.classList.contains("form-control-errors"),
  );
}

function isFieldWrapper(el: HTMLElement | null | undefined): boolean {
  return Boolean(el?.classList?.contains("_formfield") || el?.classList?.contains("form-check"));
}

function outOfRange(context: PageContext, html: string): boolean {
  return Boolean(context.url?.includes("/OutOfRangeNotification/")) || html.includes("No more pages left");
}

function pageKind(
  context: PageContext,
  html: string,
  page: { waiting: boolean; fields: OtreeField[]; buttons: OtreeButton[]; live: boolean },
): OtreePageKind {
  if (header(context.headers, "otree-wait-page") === "1" || page.waiting) return "wait";
  if (outOfRange(context, html)) return "end";
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
  // A checkbox is wrapped in its own `div.form-check` (with its error), outside any `._formfield`.
  const wrapper = type === "checkbox" ? closest(input, "form-check") : closest(input, "_formfield");
  const label = clean(body.querySelector(`label[for="id_${name}"]`)?.text ?? "");
  const error = wrapper ? clean(errorsOf(wrapper)?.text ?? "") : "";
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
    if (base.required) field.mustTick = true;
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
    const classes = b.classList;
    // oTree's back button is type=button (a script adds `back_button` to the form and submits it);
    // other type=button elements (chat "Send", a live page's own buttons) post nothing.
    const scriptOnly = (b.getAttribute("type") ?? "").toLowerCase() === "button";
    if (scriptOnly && !classes.contains("otree-btn-back")) continue;
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
