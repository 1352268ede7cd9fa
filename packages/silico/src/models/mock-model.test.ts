import { describe, expect, it } from "vitest";
import { compileStudyText } from "../designs/index.js";
import { startRun } from "../engine/run-study.js";
import { createParser } from "../parse/index.js";
import { exampleAnswer } from "../parse/example-answer.js";
import type { ParserSpec } from "../parse/types.js";
import { RunReader } from "../store/run-reader.js";
import { RunStore } from "../store/run-store.js";
import { builtinResponder, isKnownMock, MockModel } from "./mock-model.js";
import type { ModelRequest } from "./types.js";

function ask(name: string, spec: ParserSpec, prompt: string, salt = ""): Promise<string> {
  const responder = builtinResponder(name);
  if (!responder) throw new Error(`no mock ${name}`);
  const parser = createParser(spec);
  const req: ModelRequest = {
    messages: [{ role: "user", content: `${prompt}${salt}` }],
    params: {},
    ...(parser.constraint ? { constraint: parser.constraint } : {}),
  };
  return new MockModel(`mock:${name}`, responder).generate(req).then((r) => r.choices[0]?.text ?? "");
}

const SHAPES: { spec: ParserSpec; prompt: string }[] = [
  { spec: { type: "choice", options: ["left", "right"] }, prompt: "left or right?" },
  { spec: { type: "number", min: 10, max: 20, integer: true }, prompt: "a number from 10 to 20" },
  { spec: { type: "number", min: 0.5, max: 0.9 }, prompt: "a share" },
  {
    spec: { type: "json", schema: { type: "object", properties: { keep: { type: "integer", minimum: 2 } } } },
    prompt: "how much do you keep?",
  },
  { spec: { type: "json" }, prompt: 'Respond with JSON like {"offer": <amount>, "note": "why"}' },
  { spec: { type: "text" }, prompt: "say something" },
];

describe("mock:example", () => {
  it("is a known mock script", () => {
    expect(isKnownMock("example")).toBe(true);
  });

  for (const { spec, prompt } of SHAPES) {
    it(`answers a ${spec.type} question with the parser's example answer`, async () => {
      const text = await ask("example", spec, prompt);
      const expected = exampleAnswer(spec, prompt);
      expect(text).toBe(expected.raw);
      const parsed = createParser(spec).parse(text);
      expect(parsed).toEqual({ valid: true, value: expected.value });
    });
  }

  it("runs a study whose every answer is the one --dry-run and silico check simulate", async () => {
    const study = compileStudyText(
      JSON.stringify({
        kind: "factorial",
        prompt: "Pick a number between {{ lo }} and 40.",
        levels: { lo: [10, 30] },
        model: "mock:example",
        parse: { type: "number", min: 0, max: 40, integer: true },
      }),
      "f.json",
    );
    const store = RunStore.open(":memory:");
    try {
      const { runId, status } = await startRun(study, { store, seed: 1 });
      expect(status).toBe("done");
      const values = [...new RunReader(store).iterateObservations(runId)].map((o) => o.value);
      expect(values).toEqual([20, 20]);
    } finally {
      store.close();
    }
  });
});

describe("mock:random", () => {
  it("answers numbers inside the parser's range and JSON that follows its schema", async () => {
    for (const { spec, prompt } of SHAPES.slice(0, 4)) {
      for (let i = 0; i < 20; i++) {
        const text = await ask("random", spec, prompt, ` #${i}`);
        expect(createParser(spec).parse(text).valid, `${spec.type}: ${text}`).toBe(true);
      }
    }
  });

  it("answers the same conversation differently under different seeds, and alike under one seed", async () => {
    const responder = builtinResponder("random");
    if (!responder) throw new Error("no mock random");
    const model = new MockModel("mock:random", responder);
    const answer = (seed: number) =>
      model
        .generate({ messages: [{ role: "user", content: "Say something." }], params: { seed } })
        .then((r) => r.choices[0]?.text ?? "");
    const bySeed = await Promise.all(Array.from({ length: 20 }, (_, i) => answer(i)));
    // Two participants asked the same question with their own call seeds are independent draws.
    expect(new Set(bySeed).size).toBeGreaterThan(10);
    expect(await answer(7)).toBe(bySeed[7]);
  });
});
