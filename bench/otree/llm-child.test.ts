// The bench's LLM answers in the shape of the page: the schema a bot loop writes into its prompt
// (fenced, or inline in a re-ask) is found and handed on as structured output.
import { describe, expect, it } from "vitest";
import { defaultResponder } from "../../packages/test-server/src/index.js";
// @ts-expect-error: plain ESM of the bench, no declarations
import { pageResponder, schemaInText } from "./llm-child.mjs";

const schema = {
  type: "object",
  properties: { amount: { type: "integer", minimum: 0, maximum: 10 } },
  required: ["amount"],
  additionalProperties: false,
};

describe("bench:otree LLM responder", () => {
  it("finds an object schema in a fenced block after other braces", () => {
    const text = `Pot {not json}. Answer with one JSON object:\n\`\`\`json\n${JSON.stringify(schema, null, 2)}\n\`\`\``;
    expect(schemaInText(text)).toEqual(schema);
  });

  it("finds an inline schema in a re-ask, and nothing where there is none", () => {
    expect(
      schemaInText(
        `Could not be used. Answer matching this schema: ${JSON.stringify(schema)} Please answer again.`,
      ),
    ).toEqual(schema);
    expect(schemaInText('Answer like {"amount": 3}.')).toBeUndefined();
    expect(schemaInText("How many points do you send?")).toBeUndefined();
  });

  it("passes the schema on as response_format, and leaves other requests alone", () => {
    const seen: unknown[] = [];
    const respond = pageResponder((req: { params: Record<string, unknown> }) => {
      seen.push(req.params.response_format);
      return "ok";
    });
    const user = (content: unknown) => ({
      model: "m",
      choiceIndex: 0,
      endpoint: "chat",
      params: {},
      messages: [{ role: "user", content }],
    });
    respond(user(`Form:\n\`\`\`json\n${JSON.stringify(schema)}\n\`\`\``));
    respond(user([{ type: "text", text: JSON.stringify(schema) }]));
    respond(user("How many points do you send?"));
    expect(seen).toEqual([
      { type: "json_schema", json_schema: { schema } },
      { type: "json_schema", json_schema: { schema } },
      undefined,
    ]);
  });

  it("with the test server's own responder, answers an object that fits the page", () => {
    const respond = pageResponder(defaultResponder);
    for (let i = 0; i < 20; i++) {
      const answer = JSON.parse(
        respond({
          model: "silico-test",
          choiceIndex: 0,
          endpoint: "chat",
          params: { temperature: 1, seed: i },
          messages: [{ role: "user", content: `Round ${i}\n\`\`\`json\n${JSON.stringify(schema)}\n\`\`\`` }],
        }),
      );
      expect(Object.keys(answer)).toEqual(["amount"]);
      expect(Number.isInteger(answer.amount) && answer.amount >= 0 && answer.amount <= 10).toBe(true);
    }
  });
});
