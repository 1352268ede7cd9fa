#!/usr/bin/env node
/**
 * The OpenAI test server in its own process, so that the engine process's CPU time and memory
 * are measured without the server's. Started by run-bench.mjs with an IPC channel:
 *
 *   argv[2]: JSON server options (see packages/test-server/README.md)
 *   → sends {type: "ready", url}
 *   ← {id, cmd: "stats" | "reset" | "set", options?}  → {id, stats?}
 *   ← {cmd: "close"} closes the server and exits.
 */
import { pathToFileURL } from "node:url";
import { testServerDist } from "./dist-path.mjs";

const { startOpenAITestServer } = await import(pathToFileURL(`${testServerDist}/index.js`).href);

const options = JSON.parse(process.argv[2] ?? "{}");
const server = await startOpenAITestServer({ record: false, ...options });

process.on("message", async (msg) => {
  if (msg.cmd === "close") {
    await server.close();
    process.disconnect();
    return;
  }
  if (msg.cmd === "reset") server.reset();
  if (msg.cmd === "set") server.setOptions(msg.options ?? {});
  process.send({ id: msg.id, stats: server.stats() });
});
process.on("disconnect", () => {
  void server.close().then(() => process.exit(0));
});

process.send({ type: "ready", url: server.url });
