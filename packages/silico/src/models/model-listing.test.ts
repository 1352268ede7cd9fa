import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { checkListedModels, closeMatches, fetchModelIds, isListed } from "./model-listing.js";
import { ModelPool } from "./registry.js";

let server: TestServer;
beforeAll(async () => {
  server = await startOpenAITestServer({ models: ["gpt-4o-mini", "gpt-4o", "qwen2.5:latest"] });
});
afterAll(async () => {
  await server.close();
});

describe("model listing", () => {
  it("reads the ids of GET /v1/models, and nothing when there is no listing", async () => {
    expect(await fetchModelIds(server.url)).toEqual(["gpt-4o-mini", "gpt-4o", "qwen2.5:latest"]);
    server.setOptions({ listModels: false });
    try {
      expect(await fetchModelIds(server.url)).toBeUndefined();
    } finally {
      server.setOptions({ listModels: true });
    }
    expect(await fetchModelIds("http://127.0.0.1:1/v1", undefined, 2000)).toBeUndefined();
  });

  it("matches exactly or as Ollama's implicit :latest tag, and suggests close ids", () => {
    const ids = ["gpt-4o-mini", "gpt-4o", "qwen2.5:latest"];
    expect(isListed("gpt-4o", ids)).toBe(true);
    expect(isListed("qwen2.5", ids)).toBe(true);
    expect(isListed("gpt-4o-mni", ids)).toBe(false);
    expect(closeMatches("gpt-4o-mni", ids)[0]).toBe("gpt-4o-mini");
    expect(closeMatches("claude-3", ids)).toEqual([]);
  });

  it("checks OpenAI-style providers only, naming every unknown id", async () => {
    const pool = new ModelPool({
      providers: {
        ts: { type: "openai-compatible", baseURL: server.url },
        or: { type: "openrouter", baseURL: server.url },
      },
    });
    await expect(
      checkListedModels(["ts:gpt-4o", "ts:qwen2.5", "or:anything:free"], pool),
    ).resolves.toBeUndefined();
    const err = await checkListedModels(
      ["ts:gpt-4o-mni", "ts:gpt4o"],
      pool,
      (id) => `study.yaml (${id})`,
    ).catch((e: Error & { code?: string }) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toBe("unknown_model");
    expect((err as Error).message).toContain('study.yaml (ts:gpt-4o-mni): model "ts:gpt-4o-mni"');
    expect((err as Error).message).toContain('did you mean "gpt-4o-mini"');
    expect((err as Error).message).toContain('model "ts:gpt4o"');
  });
});
