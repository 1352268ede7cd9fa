import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SILICO_VERSION } from "../data-files.js";
import { type AgentService, TurnFailedError } from "./agent-service.js";
import { authorized } from "./auth.js";
import { parseTurnRequest, TurnRequestError } from "./turn-request.js";

const MAX_BODY = 1024 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new TurnRequestError(`the body is larger than ${MAX_BODY} bytes`, 413));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/**
 * The HTTP face of the service: POST /v1/turn answers a turn, GET /v1/health says which run and
 * agents it serves. Every request is checked against the token when there is one.
 */
export function createServeServer(
  serviceOf: () => AgentService,
  token: string | undefined,
  /** Requests wait for it: the port is bound before the run exists. */
  ready: Promise<void> = Promise.resolve(),
): Server {
  const server = createServer(async (req, res) => {
    try {
      await ready;
      const service = serviceOf();
      if (token !== undefined && !authorized(req.headers.authorization, token)) {
        res.setHeader("www-authenticate", "Bearer");
        send(res, 401, {
          error: "missing or wrong bearer token (Authorization: Bearer $SILICO_SERVE_TOKEN)",
        });
        return;
      }
      const path = (req.url ?? "/").split("?")[0];
      if (req.method === "GET" && path === "/v1/health") {
        send(res, 200, { ok: true, version: SILICO_VERSION, run: service.run, agents: service.agentNames });
        return;
      }
      if (path !== "/v1/turn") {
        send(res, 404, { error: `no route ${req.method} ${path} (POST /v1/turn, GET /v1/health)` });
        return;
      }
      if (req.method !== "POST") {
        send(res, 405, { error: "use POST /v1/turn" });
        return;
      }
      const text = await readBody(req);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (e) {
        throw new TurnRequestError(`the body is not JSON: ${(e as Error).message}`);
      }
      const turn = parseTurnRequest(body);
      // A request the service refuses throws here, before anything is called or stored.
      const answer = service.start(turn);
      // A helper written by another silico version still works, but says so (the app's log).
      const helper = req.headers["x-silico-helper"];
      const stale =
        typeof helper === "string" && helper !== "dev" && helper !== SILICO_VERSION
          ? {
              helper_warning: `silico_agents.py is from silico ${helper}, the service is ${SILICO_VERSION}: write it again with \`silico otree helper\``,
            }
          : {};
      if (!turn.stream) {
        send(res, 200, { ...(await answer), ...stale });
        return;
      }
      // Streaming (NDJSON): "typing" at once, then the reply.
      res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
      res.write(`${JSON.stringify({ type: "typing" })}\n`);
      try {
        res.end(`${JSON.stringify({ type: "reply", ...(await answer), ...stale })}\n`);
      } catch (e) {
        const status = e instanceof TurnRequestError || e instanceof TurnFailedError ? e.status : 500;
        res.end(`${JSON.stringify({ type: "error", status, error: (e as Error).message })}\n`);
      }
    } catch (e) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof TurnRequestError || e instanceof TurnFailedError)
        send(res, e.status, { error: e.message });
      else send(res, 500, { error: `internal error: ${(e as Error).message}` });
    }
  });
  // Keep-alive connections from the oTree helper are reused; no request waits for a slow client.
  server.keepAliveTimeout = 30_000;
  server.requestTimeout = 0;
  return server;
}

export function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
