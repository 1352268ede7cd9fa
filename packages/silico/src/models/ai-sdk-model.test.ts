import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { AiSdkModel } from "./ai-sdk-model.js";

let server: TestServer;
beforeAll(async () => {
  server = await startOpenAITestServer({ script: ["ACCEPT"] });
});
afterAll(async () => {
  await server.close();
});

describe("AI SDK console output", () => {
  it("a system message prints nothing on the console (it would interleave with a person's prompts)", async () => {
    const warn = vi.spyOn(console, "warn");
    const info = vi.spyOn(console, "info");
    try {
      // OpenRouter goes through generateText, the path that printed "AI SDK Warning: System messages…".
      const model = new AiSdkModel({
        flavour: "openrouter",
        id: "openrouter:silico-test",
        modelName: "silico-test",
        apiKey: "sk-or-test-0000",
        baseURL: server.url,
      });
      for (let i = 0; i < 3; i++) {
        const r = await model.generate({
          messages: [
            { role: "system", content: "You are a responder in an ultimatum game." },
            { role: "user", content: 'Answer "ACCEPT" or "REJECT".' },
          ],
          params: { temperature: 0.5 },
        });
        expect(r.choices[0]?.text).toBe("ACCEPT");
        expect(Array.isArray(r.warnings)).toBe(true);
      }
      expect(warn).not.toHaveBeenCalled();
      expect(info).not.toHaveBeenCalled();
      expect(server.requests.filter((q) => q.path === "/v1/chat/completions")).toHaveLength(3);
    } finally {
      warn.mockRestore();
      info.mockRestore();
    }
  });
});
