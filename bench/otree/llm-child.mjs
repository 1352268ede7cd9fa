#!/usr/bin/env node
/**
 * The OpenAI test server for `npm run bench:otree`, in its own process, answering every bot in the
 * shape its page asks for. A bot's question carries the page's form as a JSON Schema — either as
 * structured output (`response_format: json_schema`) or written into the prompt (a fenced ```json
 * block, or inline in a re-ask). The test server's default responder already fills a
 * `response_format` schema; a schema found in the prompt is handed to it the same way, so the
 * answer is a deterministic object that fits the page (bounds, choices, required fields) whatever
 * way the bot loop asks. Otherwise the default responder answers as usual.
 *
 *   argv[2]: JSON server options (see packages/test-server/README.md)
 *   → sends {type: "ready", url};  ← {cmd: "close"} closes the server, sends
 *   {type: "closed", cpu_ms} (CPU used since "ready") and exits.
 */
import { pathToFileURL } from "node:url";
import { testServerDist } from "../dist-path.mjs";

/** The text of a chat message's content (a string or text parts). */
function textOf(content) {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((p) => (typeof p?.text === "string" ? p.text : "")).join("\n");
}

/** Index of the `}` closing the `{` at `start` (string-aware), or -1. */
function closingBrace(text, start) {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return i;
  }
  return -1;
}

const isObjectSchema = (v) =>
  v !== null && typeof v === "object" && v.type === "object" && typeof v.properties === "object";

/** The first JSON object schema written in the text (fenced or inline), or undefined. */
export function schemaInText(text) {
  for (let from = text.indexOf("{"), tries = 0; from >= 0 && tries < 50; tries++) {
    const end = closingBrace(text, from);
    if (end < 0) return undefined;
    try {
      const value = JSON.parse(text.slice(from, end + 1));
      if (isObjectSchema(value)) return value;
    } catch {
      // not JSON: look further
    }
    from = text.indexOf("{", from + 1);
  }
  return undefined;
}

/** A responder that hands the schema written in the last user message to `fallback` as structured output. */
export function pageResponder(fallback) {
  return (req) => {
    if (req.params.response_format?.type !== "json_schema") {
      const lastUser = [...req.messages].reverse().find((m) => m?.role === "user");
      const schema = lastUser ? schemaInText(textOf(lastUser.content)) : undefined;
      if (schema) {
        return fallback({
          ...req,
          params: { ...req.params, response_format: { type: "json_schema", json_schema: { schema } } },
        });
      }
    }
    return fallback(req);
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { startOpenAITestServer, defaultResponder } = await import(
    pathToFileURL(`${testServerDist}/index.js`).href
  );
  const options = JSON.parse(process.argv[2] ?? "{}");
  const server = await startOpenAITestServer({
    record: false,
    ...options,
    responder: pageResponder(defaultResponder),
  });
  let cpu0;
  process.on("message", async (msg) => {
    if (msg.cmd === "close") {
      await server.close();
      // What answering took from the machine's cores (oTree and the bots share them).
      const cpu = process.cpuUsage(cpu0);
      process.send({ type: "closed", cpu_ms: (cpu.user + cpu.system) / 1000 }, () => process.disconnect());
    }
  });
  process.on("disconnect", () => {
    void server.close().then(() => process.exit(0));
  });
  cpu0 = process.cpuUsage();
  process.send({ type: "ready", url: server.url });
}
