import { describe, expect, it } from "vitest";
import { exampleAnswer, jsonExampleIn } from "./example-answer.js";

describe("example answers", () => {
  it("gives a valid answer of each parser's shape", () => {
    expect(exampleAnswer({ type: "choice", options: ["OPTION 1", "OPTION 2"] })).toEqual({
      value: "OPTION 1",
      raw: "OPTION 1",
    });
    expect(exampleAnswer({ type: "number", min: 0, max: 20, integer: true })).toEqual({
      value: 10,
      raw: "10",
    });
    expect(
      exampleAnswer({
        type: "json",
        schema: { type: "object", properties: { keep: { type: "integer", minimum: 0, maximum: 10 } } },
      }),
    ).toEqual({ value: { keep: 5 }, raw: '{"keep":5}' });
    expect(exampleAnswer({ type: "text" }).raw).toBe("text");
  });

  it("follows the prompt's JSON example when the parser has no schema", () => {
    expect(
      exampleAnswer({ type: "json" }, 'Respond with JSON like this: {"keep": /*amount*/}').value,
    ).toEqual({
      keep: 1,
    });
    expect(exampleAnswer({ type: "json" }, "Answer in JSON.").value).toEqual({});
    // A schema wins over the prompt.
    expect(
      exampleAnswer(
        { type: "json", schema: { type: "object", properties: { x: { const: 2 } } } },
        '{"keep": 3}',
      ).value,
    ).toEqual({ x: 2 });
  });

  it("reads JSON examples as written, or key by key with placeholders as 1", () => {
    expect(jsonExampleIn('Say {"move": "COOPERATE", "why": "short"} and nothing else')).toEqual({
      move: "COOPERATE",
      why: "short",
    });
    expect(jsonExampleIn('In {{ braces }} first, then {"amount": <number>, "ok": true}')).toEqual({
      amount: 1,
      ok: true,
    });
    expect(jsonExampleIn("no object here")).toBeUndefined();
    expect(jsonExampleIn("{ unclosed")).toBeUndefined();
  });
});
