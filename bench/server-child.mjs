#!/usr/bin/env node
/**
 * The OpenAI test server in its own process, so that the engine process's CPU time and memory
 * are measured without the server's. Started by run-bench.mjs with an IPC channel:
 *
 *   argv[2]: JSON server options (see packages/test-server/README.md)
 *   → sends {type: "ready", url}
 *   argv[3]: "timings" to time each completion request (see below)
 *   ← {id, cmd: "stats" | "reset" | "set", options?}  → {id, stats?}
 *   ← {id, cmd: "timings"}  → {id, timings: [[last message text, ms], …]}
 *   ← {cmd: "close"} closes the server and exits.
 */
import http from "node:http";
import { pathToFileURL } from "node:url";
import { testServerDist } from "./dist-path.mjs";

/**
 * argv[3] "timings": time every completion request from its arrival to the end of its answer, as
 * this process saw them (the model's latency as the server applied it, its own delays under load
 * included), by the text of its last message; `{cmd: "timings"}` returns them.
 */
const timings = process.argv[3] === "timings" ? new Map() : undefined;
if (timings) {
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function (event, ...args) {
    const [req, res] = args;
    if (event === "request") {
      const t0 = performance.now();
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      res.once("finish", () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          const last = body.messages?.at(-1)?.content;
          if (typeof last === "string") timings.set(last, performance.now() - t0);
        } catch {
          // not a completion request
        }
      });
    }
    return emit.call(this, event, ...args);
  };
}

const { startOpenAITestServer } = await import(pathToFileURL(`${testServerDist}/index.js`).href);

const options = JSON.parse(process.argv[2] ?? "{}");
const server = await startOpenAITestServer({ record: false, ...options });

process.on("message", async (msg) => {
  if (msg.cmd === "close") {
    await server.close();
    process.disconnect();
    return;
  }
  if (msg.cmd === "timings") {
    process.send({ id: msg.id, timings: [...(timings ?? new Map())] });
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
