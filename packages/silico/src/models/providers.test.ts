import { afterEach, describe, expect, it } from "vitest";
import { compileStudyText } from "../designs/index.js";
import { priceOf } from "../engine/cost.js";
import { startRun } from "../engine/run-study.js";
import { StudyError } from "../errors.js";
import { registerProvider as exported, capabilitiesOf as exportedLookup } from "../index.js";
import { RunReader } from "../store/run-reader.js";
import { RunStore } from "../store/run-store.js";
import { capabilitiesOf, registerProvider, unregisterProvider } from "./providers.js";
import type { Model, ModelRequest } from "./types.js";

afterEach(() => unregisterProvider("shout"));

/** A provider of one's own: answers with the last user message in capitals and the seed it got. */
function shoutModel(name: string, id: string): Model {
  return {
    info: { id, provider: "shout", manifest: { flavour: name } },
    async generate(req: ModelRequest) {
      const last = req.messages.at(-1)?.content;
      const text = `${typeof last === "string" ? last.toUpperCase() : ""} seed=${req.params.seed ?? "none"}`;
      return {
        choices: [{ text, finishReason: "stop" }],
        usage: { inputTokens: 3, outputTokens: 2 },
        warnings: [],
      };
    },
  };
}

const STUDY = JSON.stringify({
  kind: "factorial",
  prompt: "say {{ word }}",
  levels: { word: ["hi", "yo"], tone: ["a", "b"] },
  model: "shout:loud",
  times: 2,
  parse: "text",
});

describe("capabilities as data", () => {
  it("answers for built-in providers and a study's named endpoints without loading a model", () => {
    expect(capabilitiesOf("local:smollm2-135m")).toMatchObject({
      seeding: "derived",
      free: true,
      images: false,
    });
    expect(capabilitiesOf("mock:echo")).toMatchObject({ seeding: "derived", free: true });
    expect(capabilitiesOf("human")).toMatchObject({ interactive: true, cacheable: false, free: true });
    expect(capabilitiesOf("anthropic:claude-haiku-4-5")).toMatchObject({
      completionMode: false,
      seeding: "none",
    });
    expect(capabilitiesOf("openai:gpt-4o-mini")).toMatchObject({ free: false, seeding: "native" });
    expect(capabilitiesOf("vllm:llama", { vllm: { type: "anthropic" } })?.completionMode).toBe(false);
    expect(capabilitiesOf("nosuch:x")).toBeUndefined();
    expect(exportedLookup).toBe(capabilitiesOf);
  });

  it("refuses to replace a built-in provider or a malformed name", () => {
    expect(() => registerProvider("openai", shoutModel)).toThrow(/built-in/);
    expect(() => registerProvider("Bad Name", shoutModel)).toThrow(/lower-case/);
  });
});

describe("registerProvider", () => {
  it("an unregistered provider is refused at compile time", () => {
    expect(() => compileStudyText(STUDY, "f.json")).toThrow(StudyError);
  });

  it("runs a factorial study on a user's own provider, with its capabilities applied", async () => {
    exported("shout", shoutModel, { free: true, seeding: "derived" });
    expect(capabilitiesOf("shout:loud")).toMatchObject({ free: true, seeding: "derived", cacheable: true });
    expect(priceOf("shout:loud")).toEqual({ input: 0, output: 0 });
    const store = RunStore.open(":memory:");
    try {
      const result = await startRun(compileStudyText(STUDY, "f.json"), {
        store,
        seed: 9,
        maxCostUsd: 0.0001,
      });
      expect(result.status).toBe("done");
      expect(result.totals.done).toBe(8);
      const reader = new RunReader(store);
      const values = [...reader.iterateObservations(result.runId)].map((o) => o.value as string);
      expect(values).toHaveLength(8);
      for (const v of values) expect(v).toMatch(/^SAY (HI|YO) seed=\d+$/);
      // Derived seeding: every draw has its own seed.
      expect(new Set(values).size).toBe(8);
      const calls = reader.calls(result.runId).items;
      for (const c of calls) expect(c.costUsd).toBe(0);
      const info = (reader.run(result.runId).manifest.models as Record<string, Record<string, unknown>>)[
        "shout:loud"
      ];
      expect(info).toMatchObject({ provider: "shout", capabilities: { free: true, seeding: "derived" } });
    } finally {
      store.close();
    }
  });
});
