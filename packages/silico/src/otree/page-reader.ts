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
  // One walk over the tree finds everything below (a selector per thing would walk it each time
  // and compile the selector on every page; 100 bots in one process read many pages).
  const found = scan(root);
  // Socket addresses and the debug panel's facts are read before scripts and the panel go.
  const sockets = readSockets(found, html);
  const debug = readDebugPanel(found);
  for (const el of found.removed) el.remove();
  const title = clean((found.title ?? found.titleTag)?.text ?? "");
  const body = found.body ?? root;
  const live = sockets.liveSocketUrl !== undefined || html.includes('id="otree-live"');
  const timeout = /var remainingTimeoutSeconds = (-?\d+(?:\.\d+)?)/.exec(html);
  const waitBody = found.waitBody ?? null;
  const fields = readFields(found);
  const buttons = readButtons(found);
  const pageErrors = found.formErrors.map((el) => clean(el.text)).filter(Boolean);
  const fieldErrors = readFieldErrors(found, fields, buttons, pageErrors);
  const kind = pageKind(context, html, { waiting: waitBody !== null, fields, buttons, live });
  const page: OtreePage = {
    kind,
    title,
    text: clean((waitBody ?? found.content ?? body).text),
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
    else if (found.otreeForm) page.endReason = "nothing_to_submit";
    // No oTree page form, no wait page, no end notice: a traceback, a proxy's error page …
    else page.unrecognized = true;
  }
  return page;
}

/**
 * What one walk over a page finds. "Kept" elements are those outside the parts a reader never
 * sees (oTree's debug panel, scripts, styles, noscript), which are removed after the walk; the
 * lists hold the elements in document order, and those marked "in the body" only elements inside
 * the page's first `.otree-body` (all kept elements when it has none).
 */
interface Found {
  /** The outermost elements to remove: `.debug-info`, `script`, `style`, `noscript`. */
  removed: HTMLElement[];
  /** `td.debug-var-name` inside the debug panel. */
  debugNames: HTMLElement[];
  /** `#otree-live` and `#websocket-redirect`, wherever they are (the latter is a script). */
  liveEl?: HTMLElement;
  redirectEl?: HTMLElement;
  /** The first kept `#_otree-title`, and the first kept `<title>`. */
  title?: HTMLElement;
  titleTag?: HTMLElement;
  body?: HTMLElement;
  /** The first kept `.otree-wait-page__body` and `form.otree-form`. */
  waitBody?: HTMLElement;
  otreeForm?: HTMLElement;
  /** In the body: the first `.otree-content`; `input`/`select`/`textarea` elements with a name. */
  content?: HTMLElement;
  controls: HTMLElement[];
  /** In the body: the first `label` for each `for`. */
  labels: Map<string, HTMLElement>;
  /** In the body: `button` and `input[type=submit]`; `.otree-form-errors`; `.form-control-errors`. */
  buttons: HTMLElement[];
  formErrors: HTMLElement[];
  controlErrors: HTMLElement[];
}

function scan(root: HTMLElement): Found {
  const found: Found = {
    removed: [],
    debugNames: [],
    controls: [],
    labels: new Map(),
    buttons: [],
    formErrors: [],
    controlErrors: [],
  };
  // Body-scoped finds before the first `.otree-body` is met: kept in case the page has none.
  const outside: Pick<Found, "controls" | "buttons" | "formErrors" | "controlErrors"> & {
    content?: HTMLElement;
    labels: Map<string, HTMLElement>;
  } = { controls: [], labels: new Map(), buttons: [], formErrors: [], controlErrors: [] };

  const visit = (el: HTMLElement, removedAbove: boolean, inDebug: boolean, inBody: boolean) => {
    const tag = el.rawTagName?.toLowerCase() ?? "";
    const classes = el.classList;
    const id = el.id;
    if (id === "otree-live") found.liveEl ??= el;
    else if (id === "websocket-redirect") found.redirectEl ??= el;
    const debugPanel = classes.contains("debug-info");
    const removedHere =
      !removedAbove && (debugPanel || tag === "script" || tag === "style" || tag === "noscript");
    if (removedHere) found.removed.push(el);
    const removed = removedAbove || removedHere;
    const debug = inDebug || debugPanel;
    if (debug && tag === "td" && classes.contains("debug-var-name")) found.debugNames.push(el);
    let body = inBody;
    if (!removed) {
      if (id === "_otree-title") found.title ??= el;
      if (tag === "title") found.titleTag ??= el;
      if (classes.contains("otree-wait-page__body")) found.waitBody ??= el;
      if (tag === "form" && classes.contains("otree-form")) found.otreeForm ??= el;
      // Until the page's `.otree-body` is met, finds go to `outside` (the body is the whole page
      // when there is none); below it to `found`; after it nowhere. (The body element itself is
      // not below it, as for a selector run on it.)
      const into = inBody ? found : found.body ? undefined : outside;
      if (!found.body && classes.contains("otree-body")) {
        found.body = el;
        body = true;
      }
      if (into) {
        if (classes.contains("otree-content")) into.content ??= el;
        if ((tag === "input" || tag === "select" || tag === "textarea") && el.hasAttribute("name"))
          into.controls.push(el);
        if (tag === "label") {
          const forId = el.getAttribute("for");
          if (forId !== undefined && !into.labels.has(forId)) into.labels.set(forId, el);
        }
        if (
          tag === "button" ||
          (tag === "input" && (el.getAttribute("type") ?? "").toLowerCase() === "submit")
        )
          into.buttons.push(el);
        if (classes.contains("otree-form-errors")) into.formErrors.push(el);
        if (classes.contains("form-control-errors")) into.controlErrors.push(el);
      }
    }
    for (const child of el.childNodes) {
      if (child instanceof HTMLElement) visit(child, removed, debug, body);
    }
  };
  for (const child of root.childNodes) if (child instanceof HTMLElement) visit(child, false, false, false);
  if (!found.body) Object.assign(found, outside);
  return found;
}

/**
 * The page at oTree's redirect to "No more pages left" (`/OutOfRangeNotification/{code}`), known
 * from its URL alone: what reading that page would give, without loading or parsing it.
 */
export function endOfPages(): OtreePage {
  return {
    kind: "end",
    title: "",
    text: "",
    fields: [],
    buttons: [],
    pageErrors: [],
    live: false,
    endReason: "out_of_range",
  };
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
  found: Found,
  html: string,
): Pick<OtreePage, "chat" | "liveSocketUrl" | "waitSocketUrl" | "autoAdvanceSocketUrl"> {
  const sockets: Pick<OtreePage, "chat" | "liveSocketUrl" | "waitSocketUrl" | "autoAdvanceSocketUrl"> = {};
  const live = found.liveEl?.getAttribute("data-socket-url");
  if (live) sockets.liveSocketUrl = decodeEntities(live);
  const redirect = found.redirectEl?.getAttribute("data-socket-url");
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
function readDebugPanel(found: Found): Pick<OtreePage, "round" | "idInGroup" | "sessionCode"> {
  const rows = new Map<string, string>();
  for (const name of found.debugNames) {
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
  found: Found,
  fields: OtreeField[],
  buttons: OtreeButton[],
  pageErrors: string[],
): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const field of fields) if (field.error) errors[field.name] = field.error;
  const stray = found.controlErrors
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

function readFields(found: Found): OtreeField[] {
  const fields: OtreeField[] = [];
  const seen = new Set<string>();
  for (const input of found.controls) {
    const name = input.getAttribute("name") ?? "";
    const type = (input.getAttribute("type") ?? "").toLowerCase();
    if (seen.has(name) || type === "hidden" || type === "submit" || type === "button") continue;
    seen.add(name);
    const field = readField(found, input, name, type);
    if (field) fields.push(field);
  }
  return fields;
}

function readField(found: Found, input: HTMLElement, name: string, type: string): OtreeField | undefined {
  const tag = input.tagName.toLowerCase();
  const labelOf = (id: string | undefined) =>
    id === undefined ? "" : clean(found.labels.get(id)?.text ?? "");
  // A checkbox is wrapped in its own `div.form-check` (with its error), outside any `._formfield`.
  const wrapper = type === "checkbox" ? closest(input, "form-check") : closest(input, "_formfield");
  const label = labelOf(`id_${name}`);
  const error = wrapper ? clean(errorsOf(wrapper)?.text ?? "") : "";
  const base = { name, label, required: input.hasAttribute("required") };
  let field: OtreeField;
  if (tag === "select") {
    const options = below(input, (el) => el.rawTagName.toLowerCase() === "option");
    const choices = options.filter((o) => (o.getAttribute("value") ?? "") !== "").map(choiceOf);
    const selected = options.find((o) => o.hasAttribute("selected"))?.getAttribute("value");
    field = { ...base, widget: "select", type: typeOfChoices(choices), choices };
    if (selected) field.value = selected;
  } else if (type === "radio") {
    const radios = found.controls.filter(
      (c) =>
        c.rawTagName.toLowerCase() === "input" &&
        (c.getAttribute("type") ?? "").toLowerCase() === "radio" &&
        c.getAttribute("name") === name,
    );
    const choices = radios.map((r) => ({
      value: r.getAttribute("value") ?? "",
      label: labelOf(r.getAttribute("id")),
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
    const parent = input.parentNode;
    const unit = parent
      ? below(parent, (el) => el.classList.contains("input-group-text"), true)[0]?.text
      : undefined;
    if (unit) field.unit = clean(unit);
  }
  // A checkbox sits outside `._formfield`, so its label is its own.
  if (!field.label && field.widget === "checkbox") {
    field.label = labelOf(input.getAttribute("id"));
  }
  if (error) field.error = error;
  return field;
}

function readButtons(found: Found): OtreeButton[] {
  const buttons: OtreeButton[] = [];
  for (const b of found.buttons) {
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

/** The elements below `el` (not `el` itself) that match, in document order; the first only when asked. */
function below(el: HTMLElement, match: (el: HTMLElement) => boolean, firstOnly = false): HTMLElement[] {
  const out: HTMLElement[] = [];
  const walk = (node: HTMLElement): boolean => {
    for (const child of node.childNodes) {
      if (!(child instanceof HTMLElement)) continue;
      if (match(child)) {
        out.push(child);
        if (firstOnly) return true;
      }
      if (walk(child)) return true;
    }
    return false;
  };
  walk(el);
  return out;
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
