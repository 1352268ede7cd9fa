import { describe, expect, it } from "vitest";
import { toWarning, toWarnings } from "./warnings.js";

describe("warnings as data", () => {
  it("keep the printed text as the message and take the location when the text starts with one", () => {
    expect(toWarning("study.yaml:12: stages[0].prompt: may fail — not checked for certain")).toEqual({
      code: "study",
      message: "study.yaml:12: stages[0].prompt: may fail — not checked for certain",
      where: "study.yaml:12: stages[0].prompt",
    });
    expect(toWarning("built.json: treatments: only one treatment")).toMatchObject({
      where: "built.json: treatments",
    });
  });

  it("have no location when the text names none", () => {
    expect(toWarning("top_logprobs is not set: probabilities rest on the chosen first token alone")).toEqual({
      code: "study",
      message: "top_logprobs is not set: probabilities rest on the chosen first token alone",
    });
    expect(toWarnings(["n = 2: every choice is recorded"], "provider")).toEqual([
      { code: "provider", message: "n = 2: every choice is recorded" },
    ]);
  });
});
