// The page reader on HTML captured from a real oTree devserver during this test run (the test
// project's every widget, errors, buttons, a wait page and both kinds of end), never hand-written.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OTREE_SETUP_HINT, OTREE_TEST_PROJECT, testOtree } from "../test-support/python.js";
import { type Devserver, startDevserver } from "./devserver.js";
import type { OtreePage } from "./page-model.js";
import { readOtreePage } from "./page-reader.js";
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
    }
    pages.outOfRange = await submit(a.url, {});
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
    const sum = (pages.splitSum as Captured).page;
    expect(sum.pageErrors).toEqual(["The shares must add up to 100"]);
    expect(sum.fields.every((f) => f.error === undefined)).toBe(true);
  });

  it("detects a last page without anything to submit as the end", () => {
    const { page } = pages.results as Captured;
    expect(page.kind).toBe("end");
    expect(page.text).toContain("You gave 60 points to A and 40 points to B.");
  });

  it("detects the wait page and the page after it", () => {
    const wait = pages.wait as Captured;
    expect(wait.headers.get("otree-wait-page")).toBe("1");
    expect(wait.page.kind).toBe("wait");
    expect(wait.page.text).toContain("Waiting for the other participant to decide.");
    expect(readOtreePage(wait.html).kind).toBe("wait");
    const after = (pages.afterWait as Captured).page;
    expect(after.kind).toBe("form");
    expect(after.title).toBe("Round 1: results");
    expect(after.text).toContain("Together you contributed 6 points.");
  });

  it("detects oTree's 'No more pages left'", () => {
    const end = pages.outOfRange as Captured;
    expect(end.url).toContain("/OutOfRangeNotification/");
    expect(end.page.kind).toBe("end");
  });
});
