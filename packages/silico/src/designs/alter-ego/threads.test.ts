import { describe, expect, it } from "vitest";
import { LEGACY_GPT_MODELS, parseThreadDef } from "./threads.js";

describe("thread notation", () => {
  it("reads the 2026 list notation", () => {
    expect(parseThreadDef(["GPTThread", "gpt-4o"])).toEqual({
      ok: true,
      def: { type: "GPTThread", model: "openai:gpt-4o" },
    });
    expect(parseThreadDef(["OpenRouterThread", "anthropic/claude-3.5-sonnet"])).toEqual({
      ok: true,
      def: { type: "OpenRouterThread", model: "openrouter:anthropic/claude-3.5-sonnet" },
    });
    expect(parseThreadDef(["CLIThread"])).toEqual({ ok: true, def: { type: "CLIThread", model: "human" } });
    // alter_ego ignores extra list elements
    expect(parseThreadDef(["GPTThread", "gpt-4o-mini", { temperature: 0 }])).toMatchObject({
      ok: true,
      def: { model: "openai:gpt-4o-mini" },
    });
  });

  it("reads every legacy string alter_ego 1.6 knows", () => {
    expect(parseThreadDef("CLIThread")).toEqual({ ok: true, def: { type: "CLIThread", model: "human" } });
    for (const [legacy, id] of Object.entries(LEGACY_GPT_MODELS)) {
      expect(parseThreadDef(legacy)).toEqual({ ok: true, def: { type: "GPTThread", model: `openai:${id}` } });
    }
    expect(Object.keys(LEGACY_GPT_MODELS)).toHaveLength(7);
    expect(parseThreadDef("GPTThread (GPT-4o)")).toMatchObject({ def: { model: "openai:gpt-4o" } });
    expect(parseThreadDef("GPTThread (GPT 3.5)")).toMatchObject({ def: { model: "openai:gpt-3.5-turbo" } });
  });

  it("rejects what alter_ego would crash on, saying what to write", () => {
    expect(parseThreadDef("GPTThred")).toMatchObject({
      ok: false,
      message: expect.stringMatching(/unknown thread type "GPTThred" \(did you mean "GPTThread"\?\)/),
    });
    expect(parseThreadDef(["GPTThread"])).toMatchObject({
      ok: false,
      message: expect.stringMatching(/needs a model id/),
    });
    expect(parseThreadDef("GPTThread")).toMatchObject({
      ok: false,
      message: expect.stringMatching(/needs a model/),
    });
    expect(parseThreadDef(["OllamaThread", "llama3"])).toMatchObject({
      ok: false,
      message: expect.stringMatching(/unknown thread type "OllamaThread"/),
    });
    expect(parseThreadDef("GPTThread (GPT-5)")).toMatchObject({ ok: false });
    expect(parseThreadDef([])).toMatchObject({ ok: false });
    expect(parseThreadDef(3)).toMatchObject({ ok: false });
    expect(parseThreadDef(["GPTThread", ""])).toMatchObject({ ok: false });
  });
});
