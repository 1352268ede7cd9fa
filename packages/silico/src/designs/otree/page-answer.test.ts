import { describe, expect, it } from "vitest";
import type { OtreePage } from "../../otree/page-model.js";
import {
  answerSchema,
  pagePrompt,
  placeOf,
  rejectionOf,
  roundFromHtml,
  toSubmitForm,
} from "./page-answer.js";

const page = (over: Partial<OtreePage>): OtreePage => ({
  kind: "form",
  title: "T",
  text: "",
  fields: [],
  buttons: [],
  pageErrors: [],
  live: false,
  ...over,
});

describe("from the model's answer to what oTree wants posted", () => {
  const p = page({
    fields: [
      { name: "age", label: "Age", widget: "number", type: "integer", required: true, min: 18 },
      {
        name: "color",
        label: "Colour",
        widget: "select",
        type: "string",
        required: true,
        choices: [
          { value: "r", label: "Red" },
          { value: "g", label: "Green" },
        ],
      },
      {
        name: "tea",
        label: "Tea?",
        widget: "radio",
        type: "boolean",
        required: true,
        choices: [
          { value: "True", label: "Yes" },
          { value: "False", label: "No" },
        ],
      },
      { name: "agree", label: "Agree", widget: "checkbox", type: "boolean", required: false },
      { name: "note", label: "Note", widget: "text", type: "string", required: false },
    ],
    buttons: [{ label: "Next", role: "next" }],
  });

  it("posts values, not labels; booleans as True/False; a ticked checkbox as y; the next button", () => {
    const { form, fields } = toSubmitForm(p, {
      age: 30,
      color: "Green",
      tea: false,
      agree: true,
      reason: "x",
    });
    expect(form.fields).toEqual({ age: "30", color: "g", tea: "False", agree: "y", note: "" });
    expect(form.button).toEqual({ role: "next" });
    expect(fields.find((f) => f.name === "color")).toEqual({ name: "color", value: "Green", posted: "g" });
  });

  it("leaves an unticked checkbox out (oTree reads that as False)", () => {
    expect(toSubmitForm(p, { age: 30, color: "r", tea: true, agree: false }).form.fields).not.toHaveProperty(
      "agree",
    );
  });

  it("presses the hand-written button the model chose", () => {
    const offer = page({
      buttons: [
        { name: "accepted", value: "True", label: "Accept", role: "choice" },
        { name: "accepted", value: "False", label: "Reject", role: "choice" },
      ],
    });
    expect(toSubmitForm(offer, { accepted: "False" }).form.button).toEqual({
      name: "accepted",
      value: "False",
      role: "choice",
    });
    expect(toSubmitForm(offer, { accepted: "Accept" }).form.button?.value).toBe("True");
    expect(answerSchema(offer).required).toEqual(["accepted"]);
  });

  it("asks for an optional reason beside the fields", () => {
    const schema = answerSchema(p) as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(schema.properties)).toEqual(["age", "color", "tea", "agree", "note", "reason"]);
    expect(schema.required).not.toContain("reason");
  });
});

describe("page prompts", () => {
  it("shows the title, the text, the time left and the server's errors", () => {
    const rejected = page({
      title: "Split",
      text: "Divide 100 points.",
      timeoutSeconds: 42.7,
      fields: [
        {
          name: "guess",
          label: "Guess",
          widget: "number",
          type: "integer",
          required: true,
          error: "Must be even",
        },
      ],
      pageErrors: ["Please fix the errors."],
    });
    const prompt = pagePrompt({
      loaded: { url: "http://h/p/c/app/Split/3", page: rejected, rejected: true, html: "" },
      schema: answerSchema(rejected),
      secondsLeft: 42.7,
      rejected: rejectionOf(rejected),
    });
    expect(prompt).toContain("did not accept your answer");
    expect(prompt).toContain("- guess (Guess): Must be even");
    // oTree's generic line says nothing the field errors do not.
    expect(prompt).not.toContain("Please fix the errors.");
    expect(prompt).toContain("Page: Split");
    expect(prompt).toContain("Time left on this page: 42 seconds.");
    expect(prompt).toContain('"guess"');
  });

  it("reads app, page and index from the URL and the round from the debug panel", () => {
    expect(placeOf("http://127.0.0.1:1/p/abc/waiting/Contribute/4")).toEqual({
      app: "waiting",
      page: "Contribute",
      index: 4,
    });
    expect(
      roundFromHtml('<td class="debug-var-name">Round number</td>\n <td class="x">\n <code>2</code>'),
    ).toBe(2);
    expect(roundFromHtml("<p>no panel</p>")).toBeUndefined();
  });
});
