/** The OpenAI-compatible test server: start it in-process, or run dist/cli.js. */
export * from "./openai-test-server.js";
