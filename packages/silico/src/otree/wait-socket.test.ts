// Faults a real oTree server will not produce on demand — a socket that drops, a socket that
// reports an error — on a stand-in server on 127.0.0.1 (plain node:http + ws) that answers like a
// wait page: `otree-wait-page: 1` until the test releases the participant, then a 302.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import type { LoadedPage } from "./bot-contract.js";
import { createSocketWaiter, waitPageSocketPath } from "./wait-socket.js";

interface StandIn {
  baseUrl: string;
  page: LoadedPage;
  release(): void;
  gets: () => number;
  close(): Promise<void>;
}

async function standIn(onSocket: (socket: import("ws").WebSocket) => void): Promise<StandIn> {
  let released = false;
  let gets = 0;
  const http: Server = createServer((_req, res) => {
    gets += 1;
    if (released) res.writeHead(302, { location: "/p/code/app/Results/3" }).end();
    else res.writeHead(200, { "content-type": "text/html", "otree-wait-page": "1" }).end("waiting");
  });
  const wss = new WebSocketServer({ server: http, path: "/wait_page" });
  wss.on("connection", onSocket);
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const html = `<script>socket = makeReconnectingWebSocket("/wait_page?session_pk=1&page_index=2&participant_id=1&group_id=1");</script>`;
  return {
    baseUrl,
    page: {
      url: `${baseUrl}/p/code/app/WaitPage/2`,
      html,
      rejected: false,
      page: { kind: "wait", title: "", text: "", fields: [], buttons: [], pageErrors: [], live: false },
    },
    release: () => {
      released = true;
    },
    gets: () => gets,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise((r) => wss.close(r));
      await new Promise((r) => http.close(r));
    },
  };
}

describe("the wait-page waiter's fallbacks", () => {
  let server: StandIn | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("reads the three kinds of wait socket, and nothing else", () => {
    for (const path of ["/wait_page?a=1", "/subsession_wait_page?a=1", "/group_by_arrival_time?a=1"]) {
      expect(waitPageSocketPath(`x makeReconnectingWebSocket("${path}"); y`)).toBe(path);
    }
    expect(waitPageSocketPath('makeReconnectingWebSocket("/chat?channel=1")')).toBeUndefined();
    expect(
      waitPageSocketPath('<script id="websocket-redirect" data-socket-url="/auto_advance?x=1">'),
    ).toBeUndefined();
  });

  it("polls once the socket drops, and is ready when the page has moved on", async () => {
    server = await standIn((socket) => setTimeout(() => socket.close(1011), 100));
    const s = server;
    const waiting = createSocketWaiter({ pollMs: 100, recheckMs: 3_600_000 })(s.page, {
      baseUrl: s.baseUrl,
      limitMs: 10_000,
    });
    await new Promise((r) => setTimeout(r, 600));
    // The socket dropped after 100 ms: the waiter has been polling since.
    expect(s.gets()).toBeGreaterThanOrEqual(2);
    s.release();
    expect(await waiting).toBe("ready");
  });

  it("a message with an error is not a release: the waiter polls instead", async () => {
    server = await standIn((socket) => socket.send(JSON.stringify({ error: "Participant not found" })));
    const s = server;
    const waiting = createSocketWaiter({ pollMs: 100, recheckMs: 3_600_000 })(s.page, {
      baseUrl: s.baseUrl,
      limitMs: 1_000,
    });
    expect(await waiting).toBe("timeout");
    expect(s.gets()).toBeGreaterThanOrEqual(3);
  });

  it("with the socket open, a message without error releases at once and nothing is polled", async () => {
    server = await standIn((socket) =>
      setTimeout(() => socket.send(JSON.stringify({ status: "ready" })), 300),
    );
    const s = server;
    const before = Date.now();
    expect(await createSocketWaiter({ pollMs: 50 })(s.page, { baseUrl: s.baseUrl, limitMs: 10_000 })).toBe(
      "ready",
    );
    expect(Date.now() - before).toBeLessThan(2_000);
    expect(s.gets()).toBe(0);
  });

  it("looks at the page now and then even while the socket stays silent", async () => {
    server = await standIn(() => {});
    const s = server;
    const waiting = createSocketWaiter({ pollMs: 3_600_000, recheckMs: 200 })(s.page, {
      baseUrl: s.baseUrl,
      limitMs: 10_000,
    });
    setTimeout(() => s.release(), 300);
    expect(await waiting).toBe("ready");
    expect(s.gets()).toBeGreaterThanOrEqual(2);
  });

  it("an unreachable server is a timeout, not a crash", async () => {
    server = await standIn(() => {});
    const { page, baseUrl } = server;
    await server.close();
    server = undefined;
    const result = await createSocketWaiter({ pollMs: 100, connectTimeoutMs: 500 })(page, {
      baseUrl,
      limitMs: 800,
    });
    expect(result).toBe("timeout");
  });
});
