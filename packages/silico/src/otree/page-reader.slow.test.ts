// The page reader on HTML captured from a real oTree devserver during this test run (the test
// project's every widget, errors, buttons, a wait page and both kinds of end), never hand-written.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OTREE_SETUP_HINT, OTREE_TEST_PROJECT, testOtree } from "../test-support/python.js";
import { type Devserver, startDevserver } from "./devserver.js";
import type { OtreePage } from "./page-model.js";
import { endOfPages, positionOf, readOtreePage } from "./page-reader.js";
import { pageSchema } from "./page-schema.js";
import { OtreeRestClient } from "./rest-client.js";

interface Captured {
  url: string;
  status: number;
  headers: Headers;
  html: string;
  page: OtreePage;
}

async function capture(res: Response): Promise<Captured> {
  const html = await res.text();
  return {
    url: res.url,
    status: res.status,
    headers: res.headers,
    html,
    page: readOtreePage(html, { url: res.url, headers: res.headers }),
  };
}

async function open(url: string): Promise<Captured> {
  return capture(await fetch(url));
}

/** POSTs a form like a browser; a 302 is followed with a GET (never re-POSTed). */
async function submit(url: string, form: Record<string, string>): Promise<Captured> {
  const res = await fetch(url, { method: "POST", body: new URLSearchParams(form), redirect: "manual" });
  if (res.status === 302 || res.status === 303 || res.status === 307) {
    await res.body?.cancel();
    return open(new URL(res.headers.get("location") ?? "", url).toString());
  }
  return capture(res);
}

const WIDGETS = {
  age: "30",
  height: "1.75",
  temperature: "-3.5",
  bid: "12",
  name: "Ada",
  essay: "Coffee, then work.",
  color: "g",
  fruit: "Banana",
  rating: "4",
  likes_tea: "True",
  agree: "y",
};

const MORE_REQUIRED = { price: "2.50", balance: "-250", change: "-1.5", size: "2", side: "R", consent: "y" };

describe("reading oTree pages captured from a real devserver", () => {
  const otree = testOtree();
  if (!otree) throw new Error(`the oTree integration tests need oTree 6.0. To get it: ${OTREE_SETUP_HINT}.`);
  const dir = mkdtempSync(join(tmpdir(), "silico-otree-pages-"));
  let server: Devserver;
  let rest: OtreeRestClient;
  const pages: Record<string, Captured> = {};

  beforeAll(async () => {
    const project = join(dir, "project");
    cpSync(OTREE_TEST_PROJECT, project, { recursive: true });
    server = await startDevserver({ projectDir: project, otree });
    rest = new OtreeRestClient(server.baseUrl);

    const widgets = await rest.createSession({ configName: "widgets", participants: 1 });
    const [solo] = (await rest.session(widgets.code)).participants;
    const start = rest.startLink(solo?.code ?? "");
    pages.widgets = await open(start);
    pages.widgetsInvalid = await submit(pages.widgets.url, { ...WIDGETS, age: "12" });
    pages.offer = await submit(pages.widgets.url, WIDGETS);
    pages.split = await submit(pages.offer.url, { accepted: "True" });
    pages.splitGuess = await submit(pages.split.url, { guess: "3", share_a: "50", share_b: "50" });
    pages.splitSum = await submit(pages.split.url, { guess: "4", share_a: "50", share_b: "40" });
    pages.results = await submit(pages.split.url, { guess: "4", share_a: "60", share_b: "40" });

    const waiting = await rest.createSession({ configName: "waiting", participants: 2 });
    const [p1, p2] = (await rest.session(waiting.code)).participants;
    const first = await open(rest.startLink(p1?.code ?? ""));
    pages.contribute = first;
    pages.wait = await submit(first.url, { contribution: "2" });
    pages.waitAgain = await open(pages.wait.url);
    const second = await open(rest.startLink(p2?.code ?? ""));
    await submit(second.url, { contribution: "4" });
    pages.afterWait = await open(rest.startLink(p1?.code ?? ""));
    // Play both participants in turn through rounds 2 and 3, then participant 1 past the last page.
    let a = pages.afterWait;
    let b = await open(rest.startLink(p2?.code ?? ""));
    for (let round = 2; round <= 3; round++) {
      a = await submit(a.url, {});
      b = await submit(b.url, {});
      a = await submit(a.url, { contribution: "1" });
      b = await submit(b.url, { contribution: "1" });
      a = await open(rest.startLink(p1?.code ?? ""));
      b = await open(rest.startLink(p2?.code ?? ""));
      pages[`results${round}`] = a;
    }
    pages.outOfRange = await submit(a.url, {});

    // The widgets `widgets` leaves out: a decimal with a unit, numbers without a lower bound,
    // optional fields of every kind; a refused submit with only the optional fields missing.
    const more = await rest.createSession({ configName: "more_widgets", participants: 1 });
    const moreStart = rest.startLink((await rest.session(more.code)).participants[0]?.code ?? "");
    pages.more = await open(moreStart);
    // An unticked checkbox is simply left out of the post.
    const { consent: _, ...unticked } = MORE_REQUIRED;
    pages.moreInvalid = await submit(pages.more.url, { ...unticked, price: "25", side: "" });
    // A checkbox posted as "False" is ticked: wtforms takes only a missing value, "false" and "" as False.
    pages.summary = await submit(pages.more.url, { ...MORE_REQUIRED, sugar: "False" });

    // Page flow with a 1 s timer, so that the timeout may be posted at once (oTree accepts
    // timeout_happened within 2 s of expiry).
    const flow = await rest.createSession({
      configName: "flow",
      participants: 1,
      modifiedConfig: { timed_seconds: 1 },
    });
    const flowStart = rest.startLink((await rest.session(flow.code)).participants[0]?.code ?? "");
    pages.door = await open(flowStart);
    // Back on the first page of a session: oTree answers 500 with a plain-text traceback.
    pages.backTooFar = await submit(pages.door.url, { back_button: "{}" });
    pages.doorLocked = await submit(pages.door.url, { door: "3" });
    pages.guess = await submit(pages.door.url, { door: "2" });
    pages.confirm = await submit(pages.guess.url, { guess: "40" });
    pages.back = await submit(pages.confirm.url, { back_button: "{}" });
    const confirmAgain = await submit(pages.back.url, { guess: "41" });
    pages.timed = await submit(confirmAgain.url, { sure: "True" });
    pages.thanks = await submit(pages.timed.url, { timeout_happened: "1" });

    // A {{ chat }} page and a live page.
    const markup = await rest.createSession({ configName: "page_markup", participants: 1 });
    const markupStart = rest.startLink((await rest.session(markup.code)).participants[0]?.code ?? "");
    pages.talk = await open(markupStart);
    pages.ping = await submit(pages.talk.url, {});
    pages.pingTooSoon = await submit(pages.ping.url, {});
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("reads every widget of the form page: labels, types, bounds, choices, required", () => {
    const { page, status } = pages.widgets as Captured;
    expect(status).toBe(200);
    expect(page.kind).toBe("form");
    expect(page.title).toBe("All the widgets");
    expect(page.text).toContain("Please answer every question below.");
    expect(page.text).not.toMatch(/Debug info|Restart as new participant/);
    const byName = Object.fromEntries(page.fields.map((f) => [f.name, f]));
    expect(page.fields.map((f) => f.name)).toEqual(Object.keys(WIDGETS));
    expect(byName.age).toMatchObject({
      widget: "number",
      type: "integer",
      min: 18,
      max: 120,
      required: true,
    });
    expect(byName.age?.label).toBe("How old are you?");
    // oTree 6 gives numeric fields a default minimum of 0 (validated on the server too).
    expect(byName.height).toMatchObject({ widget: "decimal", type: "number", min: 0 });
    expect(byName.height?.label).toBe("Your height in metres");
    expect(byName.height?.max).toBeUndefined();
    expect(byName.temperature).toMatchObject({ widget: "decimal", type: "number", min: -50, max: 50 });
    expect(byName.bid).toMatchObject({ widget: "number", type: "integer", min: 0, max: 100, unit: "points" });
    expect(byName.name).toMatchObject({ widget: "text", type: "string", label: "Your first name" });
    expect(byName.essay).toMatchObject({
      widget: "textarea",
      type: "string",
      label: "Describe your morning",
    });
    expect(byName.essay?.value).toBeUndefined();
    expect(byName.color).toMatchObject({ widget: "select", type: "string", label: "Favourite colour" });
    expect(byName.color?.choices).toEqual([
      { value: "r", label: "Red" },
      { value: "g", label: "Green" },
      { value: "b", label: "Blue" },
    ]);
    expect(byName.fruit).toMatchObject({ widget: "radio", type: "string", label: "Pick a fruit" });
    expect(byName.fruit?.choices?.map((c) => c.label)).toEqual(["Apple", "Banana", "Cherry"]);
    expect(byName.rating).toMatchObject({ widget: "radio", type: "integer", label: "Rate this survey" });
    expect(byName.rating?.choices?.map((c) => c.value)).toEqual(["1", "2", "3", "4", "5"]);
    expect(byName.likes_tea).toMatchObject({ widget: "radio", type: "boolean", label: "Do you like tea?" });
    expect(byName.likes_tea?.choices).toEqual([
      { value: "True", label: "Yes" },
      { value: "False", label: "No" },
    ]);
    expect(byName.agree).toMatchObject({ widget: "checkbox", type: "boolean", required: false });
    expect(byName.agree?.label).toBe("I agree to the terms");
    expect(page.buttons).toEqual([{ label: "Next", role: "next" }]);
    expect(page.pageErrors).toEqual([]);
    expect(page.fields.every((f) => f.error === undefined)).toBe(true);
    expect(page.fieldErrors).toBeUndefined();
    expect(page.rejected).toBe(false);
    expect(page).toMatchObject({ app: "widgets", pageName: "Widgets", pageIndex: 1, round: 1, idInGroup: 1 });
    expect(page.participantCode).toMatch(/^[a-z0-9]+$/);
    expect(page.sessionCode).toMatch(/^[a-z0-9]+$/);
    expect(page.autoAdvanceSocketUrl).toMatch(/^\/auto_advance\?participant_code=[a-z0-9]+&page_index=1$/);
    expect(page.timeoutSeconds).toBeUndefined();
    expect(page.live).toBe(false);
    expect(page.chat).toBeUndefined();
    expect(page.liveSocketUrl).toBeUndefined();
    expect(page.waitSocketUrl).toBeUndefined();
  });

  it("turns the fields into a JSON Schema", () => {
    const schema = pageSchema((pages.widgets as Captured).page) as {
      properties: Record<string, Record<string, unknown>>;
      required: string[];
    };
    expect(schema.properties.age).toMatchObject({ type: "integer", minimum: 18, maximum: 120 });
    expect(schema.properties.rating?.oneOf).toContainEqual({ const: 4, title: "4" });
    expect(schema.properties.likes_tea?.oneOf).toEqual([
      { const: true, title: "Yes" },
      { const: false, title: "No" },
    ]);
    expect(schema.required).toContain("essay");
    expect(schema.required).not.toContain("agree");
  });

  it("reads a field error and echoes the posted values", () => {
    const { page, headers } = pages.widgetsInvalid as Captured;
    expect(headers.get("otree-redisplay-with-errors")).toBe("1");
    const age = page.fields.find((f) => f.name === "age");
    expect(age?.error).toMatch(/18 and 120/);
    expect(age?.value).toBe("12");
    expect(page.fields.find((f) => f.name === "essay")?.value).toBe("Coffee, then work.");
    expect(page.fields.find((f) => f.name === "fruit")?.value).toBe("Banana");
    expect(page.fields.find((f) => f.name === "color")?.value).toBe("g");
    expect(page.fields.filter((f) => f.error).map((f) => f.name)).toEqual(["age"]);
    expect(page.rejected).toBe(true);
    expect(page.fieldErrors).toEqual({ age: age?.error });
    expect(page.pageErrors).toEqual(["Please fix the errors."]);
    expect(page.pageName).toBe("Widgets");
  });

  it("reads hand-written buttons as choices", () => {
    const { page } = pages.offer as Captured;
    expect(page.title).toBe("An offer");
    expect(page.fields).toEqual([]);
    expect(page.buttons).toEqual([
      { name: "accepted", value: "True", label: "Accept", role: "choice" },
      { name: "accepted", value: "False", label: "Reject", role: "choice" },
    ]);
    expect(pageSchema(page)).toMatchObject({ required: ["accepted"] });
  });

  it("reads a field's _error_message and the page's error_message", () => {
    const guess = (pages.splitGuess as Captured).page;
    expect(guess.fields.find((f) => f.name === "guess")?.error).toBe("The guess must be even");
    expect(guess.fieldErrors).toEqual({ guess: "The guess must be even" });
    expect(guess.rejected).toBe(true);
    const sum = (pages.splitSum as Captured).page;
    expect(sum.pageErrors).toEqual(["The shares must add up to 100"]);
    expect(sum.fields.every((f) => f.error === undefined)).toBe(true);
    expect(sum.fieldErrors).toBeUndefined();
    expect(sum.rejected).toBe(true);
  });

  it("detects a last page without anything to submit as the end", () => {
    const { page } = pages.results as Captured;
    expect(page.kind).toBe("end");
    expect(page.endReason).toBe("nothing_to_submit");
    expect(page.text).toContain("You gave 60 points to A and 40 points to B.");
  });

  it("detects the wait page and the page after it", () => {
    const wait = pages.wait as Captured;
    expect(wait.headers.get("otree-wait-page")).toBe("1");
    expect(wait.page.kind).toBe("wait");
    expect(wait.page.text).toContain("Waiting for the other participant to decide.");
    expect(readOtreePage(wait.html).kind).toBe("wait");
    expect(wait.page).toMatchObject({ app: "waiting", pageName: "ResultsWaitPage", pageIndex: 2, round: 1 });
    expect(wait.page.title).toBe("Please wait");
    expect(wait.page.fields).toEqual([]);
    expect(wait.page.buttons).toEqual([]);
    expect(wait.page.waitSocketUrl).toMatch(
      /^\/wait_page\?session_pk=\d+&page_index=2&participant_id=\d+&group_id=\d+$/,
    );
    // Re-opening a wait page before the others arrive serves the same wait page.
    expect((pages.waitAgain as Captured).page).toMatchObject({ kind: "wait", pageIndex: 2 });
    const after = (pages.afterWait as Captured).page;
    expect(after.kind).toBe("form");
    expect(after.title).toBe("Round 1: results");
    expect(after.text).toContain("Together you contributed 6 points.");
    expect(after).toMatchObject({ pageName: "Results", pageIndex: 3, round: 1 });
    // 10 - 2 + 6 × 0.75 = 12.5 points, shown rounded (points have no decimal places).
    expect(after.text).toContain("You earn 13 points.");
    expect(after.buttons).toEqual([{ label: "Next", role: "next" }]);
    // The page index runs on over rounds; the round comes from the debug panel.
    expect((pages.results2 as Captured).page).toMatchObject({ pageName: "Results", pageIndex: 6, round: 2 });
    expect((pages.results3 as Captured).page).toMatchObject({ pageName: "Results", pageIndex: 9, round: 3 });
  });

  it("detects oTree's 'No more pages left'", () => {
    const end = pages.outOfRange as Captured;
    expect(end.url).toContain("/OutOfRangeNotification/");
    expect(end.page.kind).toBe("end");
    expect(end.page.endReason).toBe("out_of_range");
    expect(end.page.pageIndex).toBeUndefined();
    // The HTTP transport does not load this page: it takes the redirect's URL for it.
    const { kind, fields, buttons, pageErrors, live, endReason } = end.page;
    expect(endOfPages()).toMatchObject({ kind, fields, buttons, pageErrors, live, endReason });
  });

  it("reads a decimal with its unit, numbers without a lower bound and optional fields", () => {
    const { page } = pages.more as Captured;
    expect(page).toMatchObject({
      kind: "form",
      title: "More widgets",
      app: "more_widgets",
      pageName: "MoreWidgets",
    });
    const byName = Object.fromEntries(page.fields.map((f) => [f.name, f]));
    expect(page.fields.map((f) => f.name)).toEqual([
      "price",
      "balance",
      "change",
      "size",
      "side",
      "nickname",
      "comment",
      "lucky",
      "tip",
      "milk",
      "topping",
      "sugar",
      "consent",
    ]);
    expect(byName.price).toMatchObject({
      widget: "decimal",
      type: "number",
      min: 0,
      max: 20,
      unit: "EUR",
      required: true,
    });
    // min=None: no bound at all (oTree's default minimum of 0 is gone).
    expect(byName.balance).toMatchObject({ widget: "number", type: "integer", required: true });
    expect(byName.balance?.min).toBeUndefined();
    expect(byName.balance?.max).toBeUndefined();
    expect(byName.change).toMatchObject({ widget: "decimal", type: "number", max: 10 });
    expect(byName.change?.min).toBeUndefined();
    expect(byName.size).toMatchObject({ widget: "select", type: "integer", required: true });
    expect(byName.size?.choices).toEqual([
      { value: "1", label: "Small" },
      { value: "2", label: "Medium" },
      { value: "3", label: "Large" },
    ]);
    expect(byName.side).toMatchObject({ widget: "radio", type: "string", label: "Which side of the room?" });
    expect(byName.side?.choices).toEqual([
      { value: "L", label: "Left" },
      { value: "R", label: "Right" },
    ]);
    const optional = ["nickname", "comment", "lucky", "tip", "milk", "topping", "sugar"];
    for (const name of optional) expect(byName[name]?.required, name).toBe(false);
    expect(byName.nickname).toMatchObject({ widget: "text", type: "string", label: "A nickname (optional)" });
    expect(byName.comment).toMatchObject({ widget: "textarea", type: "string" });
    expect(byName.lucky).toMatchObject({ widget: "number", type: "integer", min: 1, max: 99 });
    expect(byName.tip).toMatchObject({ widget: "number", type: "integer", min: 0, unit: "points" });
    expect(byName.milk).toMatchObject({ widget: "radio", type: "boolean" });
    expect(byName.topping?.choices?.map((c) => c.value)).toEqual(["c", "k"]);
    expect(byName.sugar).toMatchObject({ widget: "checkbox", type: "boolean", label: "Sugar" });
    expect(byName.sugar?.mustTick).toBeUndefined();
    expect(byName.consent).toMatchObject({ widget: "checkbox", required: false, mustTick: true });
    expect(byName.consent?.label).toBe("I have read the menu");
  });

  it("gives every widget its JSON Schema: bounds, units, choices as const and title, what is required", () => {
    const schema = pageSchema((pages.more as Captured).page) as {
      properties: Record<string, Record<string, unknown>>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(schema.required).toEqual(["price", "balance", "change", "size", "side", "consent"]);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.price).toEqual({
      type: "number",
      title: "A fair price for a coffee",
      minimum: 0,
      maximum: 20,
      description: "in EUR",
    });
    expect(schema.properties.balance).toEqual({
      type: "integer",
      title: "Your bank balance in euros (may be negative)",
    });
    expect(schema.properties.change).toEqual({
      type: "number",
      title: "Change in temperature since yesterday",
      maximum: 10,
    });
    expect(schema.properties.size).toEqual({
      title: "Cup size",
      oneOf: [
        { const: 1, title: "Small" },
        { const: 2, title: "Medium" },
        { const: 3, title: "Large" },
      ],
    });
    expect(schema.properties.side?.oneOf).toEqual([
      { const: "L", title: "Left" },
      { const: "R", title: "Right" },
    ]);
    expect(schema.properties.tip).toMatchObject({ type: "integer", minimum: 0, description: "in points" });
    expect(schema.properties.milk?.oneOf).toEqual([
      { const: true, title: "Yes" },
      { const: false, title: "No" },
    ]);
    expect(schema.properties.sugar).toMatchObject({ type: "boolean", title: "Sugar" });
    expect(schema.properties.consent?.description).toMatch(/cannot be submitted while it is unticked/);
    expect(schema.properties.nickname).toEqual({ type: "string", title: "A nickname (optional)" });
  });

  it("reads several field errors of one refused submit and the values posted", () => {
    const { page } = pages.moreInvalid as Captured;
    expect(page.rejected).toBe(true);
    expect(Object.keys(page.fieldErrors ?? {}).sort()).toEqual(["consent", "price", "side"]);
    // A checkbox's error sits in its own div.form-check, outside any ._formfield.
    expect(page.fieldErrors?.consent).toBe("This field is required.");
    expect(page.fields.find((f) => f.name === "consent")?.error).toBe("This field is required.");
    expect(page.fieldErrors?.price).toMatch(/20/);
    expect(page.fieldErrors?.side).toBeTruthy();
    // oTree echoes a decimal reformatted to its places.
    expect(page.fields.find((f) => f.name === "price")?.value).toBe("25.00");
    expect(page.fields.find((f) => f.name === "balance")?.value).toBe("-250");
    expect(page.fields.find((f) => f.name === "size")?.value).toBe("2");
    const summary = (pages.summary as Captured).page;
    expect(summary).toMatchObject({ kind: "form", title: "Your order", pageName: "Summary", pageIndex: 2 });
    expect(summary.text).toContain("A Medium coffee");
    expect(summary.text).toContain("With sugar.");
  });

  it("reads hand-written buttons whose labels differ from their values, and their field error", () => {
    const door = (pages.door as Captured).page;
    expect(door).toMatchObject({
      kind: "form",
      title: "Pick a door",
      app: "flow",
      pageName: "Door",
      pageIndex: 1,
    });
    expect(door.fields).toEqual([]);
    expect(door.buttons).toEqual([
      { name: "door", value: "1", label: "Door A", role: "choice" },
      { name: "door", value: "2", label: "Door B", role: "choice" },
      { name: "door", value: "3", label: "Door C", role: "choice" },
    ]);
    expect(pageSchema(door)).toEqual({
      type: "object",
      properties: {
        door: {
          description: "a button",
          oneOf: [
            { const: "1", title: "Door A" },
            { const: "2", title: "Door B" },
            { const: "3", title: "Door C" },
          ],
        },
      },
      required: ["door"],
      additionalProperties: false,
    });
    // `{{ formfield_errors 'door' }}` renders the error outside any field wrapper.
    const locked = pages.doorLocked as Captured;
    expect(locked.headers.get("otree-redisplay-with-errors")).toBe("1");
    expect(locked.page.rejected).toBe(true);
    expect(locked.page.fieldErrors).toEqual({ door: "Door C is locked" });
    expect(locked.page.pageErrors).toEqual(["Please fix the errors.", "Door C is locked"]);
    expect(locked.page.pageIndex).toBe(1);
  });

  it("reads the back button and the page it goes back to", () => {
    const confirm = (pages.confirm as Captured).page;
    expect(confirm).toMatchObject({ kind: "form", pageName: "Confirm", pageIndex: 3 });
    expect(confirm.text).toContain("You guessed 40.");
    expect(confirm.buttons).toEqual([
      { label: "Back", role: "back" },
      { label: "Next", role: "next" },
    ]);
    expect(confirm.fields.map((f) => f.name)).toEqual(["sure"]);
    expect(pageSchema(confirm)).not.toHaveProperty("properties.back_button");
    expect(pageSchema(confirm, { offerBack: true })).toMatchObject({
      properties: { back_button: { type: "boolean" } },
      required: ["sure"],
    });
    // Pressing Back (posting back_button) lands on the page before, with the earlier answer shown.
    const back = (pages.back as Captured).page;
    expect(back).toMatchObject({ kind: "form", pageName: "Guess", pageIndex: 2 });
    expect(back.fields.find((f) => f.name === "guess")?.value).toBe("40");
    expect(back.buttons).toEqual([{ label: "Next", role: "next" }]);
    expect(pageSchema(back, { offerBack: true })).not.toHaveProperty("properties.back_button");
  });

  it("does not take a server error for the end", () => {
    const { status, page, html } = pages.backTooFar as Captured;
    expect(status).toBe(500);
    expect(html).toContain("BackButtonError");
    expect(page).toMatchObject({ kind: "end", unrecognized: true });
    expect(page.endReason).toBeUndefined();
    expect((pages.results as Captured).page.unrecognized).toBeUndefined();
    expect((pages.outOfRange as Captured).page.unrecognized).toBeUndefined();
  });

  it("reads a timed page's seconds left, and the end page after the timeout", () => {
    const timed = (pages.timed as Captured).page;
    expect(timed).toMatchObject({ kind: "form", title: "Be quick", pageName: "Timed", pageIndex: 4 });
    expect(timed.timeoutSeconds).toBeGreaterThan(0);
    expect(timed.timeoutSeconds).toBeLessThanOrEqual(1);
    expect(timed.text).not.toContain("Time left");
    expect(timed.fields.map((f) => f.name)).toEqual(["quick"]);
    const thanks = pages.thanks as Captured;
    expect(thanks.page).toMatchObject({ kind: "end", endReason: "nothing_to_submit", pageName: "Thanks" });
    expect(thanks.page.text).toContain("You opened door 2 and guessed 41.");
    expect(thanks.page.text).toContain("The time ran out on the quick question.");
    expect(thanks.page.fields).toEqual([]);
    expect(thanks.page.buttons).toEqual([]);
  });

  it("reads the chat of a {{ chat }} page and the socket of a live page", () => {
    const talk = (pages.talk as Captured).page;
    expect(talk).toMatchObject({ kind: "form", title: "Talk", pageName: "Talk" });
    // The chat's own textarea and Send button post nothing: only the Next button counts.
    expect(talk.fields).toEqual([]);
    expect(talk.buttons).toEqual([{ label: "Next", role: "next" }]);
    expect(talk.live).toBe(false);
    expect(talk.chat).toMatchObject({ channel: expect.stringMatching(/-page_markup-1$/), nickname: "Guest" });
    expect(talk.chat?.socketPath).toMatch(/^\/chat\?channel=[^&]+&participant_id=[^&]+$/);
    expect(talk.chat?.participantId).toBeGreaterThan(0);
    expect(talk.chat?.nicknameSigned).toMatch(/^Guest\./);
    expect(talk.text).toContain("Say hello to the others.");
    const ping = (pages.ping as Captured).page;
    expect(ping).toMatchObject({ kind: "form", live: true, pageName: "Ping", pageIndex: 2 });
    expect(ping.chat).toBeUndefined();
    expect(ping.buttons).toEqual([{ label: "Next", role: "next" }]);
    const code = ping.participantCode ?? "";
    // A page without fields runs its error_message too: a page-level error, no field errors.
    const tooSoon = (pages.pingTooSoon as Captured).page;
    expect(tooSoon).toMatchObject({ kind: "form", rejected: true, pageName: "Ping", live: true });
    expect(tooSoon.pageErrors).toEqual(["Send a ping first"]);
    expect(tooSoon.fieldErrors).toBeUndefined();
    expect(ping.liveSocketUrl).toBe(
      `/live?participant_code=${code}&page_name=Ping&page_index=2&session_code=${ping.sessionCode}`,
    );
  });

  it("reads the page position from any page URL, and nothing from others", () => {
    expect(positionOf("http://127.0.0.1:8000/p/abc123/my_app/Offer/12")).toEqual({
      participantCode: "abc123",
      app: "my_app",
      pageName: "Offer",
      pageIndex: 12,
    });
    expect(positionOf((pages.outOfRange as Captured).url)).toEqual({});
    expect(positionOf(undefined)).toEqual({});
    expect(positionOf("/p/abc/app/%E0%A4%A/3")).toEqual({});
    expect(positionOf("/p/abc/app/Page/not-a-number")).toEqual({});
  });
});
