// The HTTP transport against a small stand-in server on 127.0.0.1 that answers like oTree does
// at the HTTP level (307/302 with relative Locations, 5xx, a /join redirect). The page HTML is
// minimal: what pages look like is the page reader's business (tested on real oTree pages).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpTransport } from "./http-transport.js";
import { pollWaitForPage } from "./poll-wait.js";

const form = (title: string) =>
  `<html><body><h2 id="_otree-title">${title}</h2><form id="form" class="otree-form"><div class="otree-content"><input type="number" name="x" min="0" max="9" required><button class="otree-btn-next">Next</button></div></form></body></html>`;
const waitPage = `<html><body><h2 id="_otree-title">Please wait</h2><p class="otree-wait-page__body">Waiting for the others.</p></body></html>`;

let server: Server;
let base: string;
const seen: string[] = [];
let failures = 0;
let drops = 0;
let waitPolls = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      seen.push(`${req.method} ${req.url}${body ? ` ${body}` : ""}`);
      const url = req.url ?? "";
      if (url === "/InitializeParticipant/abc") {
        res.writeHead(307, { location: "/p/abc/app/First/1" }).end();
      } else if (url === "/p/abc/app/First/1" && req.method === "POST") {
        res.writeHead(302, { location: "../Second/2" }).end();
      } else if (url === "/p/abc/app/First/1") {
        res.writeHead(200, { "content-type": "text/html" }).end(form("First"));
      } else if (url === "/p/abc/app/Second/2" && req.method === "POST") {
        res.writeHead(302, { location: "/OutOfRangeNotification/abc" }).end();
      } else if (url === "/p/abc/app/Second/2") {
        res.writeHead(200, { "content-type": "text/html" }).end(form("Second"));
      } else if (url === "/InitializeParticipant/flaky") {
        if (failures++ < 2) res.writeHead(503).end("busy");
        else res.writeHead(200, { "content-type": "text/html" }).end(form("Back again"));
      } else if (url === "/InitializeParticipant/dropper") {
        // The connection breaks before any answer (a server restarting, a proxy's hiccup).
        if (drops++ < 1) req.socket.destroy();
        else res.writeHead(200, { "content-type": "text/html" }).end(form("After the drop"));
      } else if (url === "/InitializeParticipant/joiner") {
        res.writeHead(302, { location: "/join/tosisafe" }).end();
      } else if (url === "/InitializeParticipant/waiter" || url === "/p/w/app/Wait/2") {
        if (waitPolls++ < 3)
          res.writeHead(200, { "content-type": "text/html", "otree-wait-page": "1" }).end(waitPage);
        else res.writeHead(302, { location: "/p/w/app/Next/3" }).end();
      } else if (url === "/p/w/app/Next/3") {
        res.writeHead(200, { "content-type": "text/html" }).end(form("Next"));
      } else {
        res.writeHead(404).end("no such page");
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("HttpTransport", () => {
  it("follows the start link's 307, submits with POST and follows the 302 (relative Location) with GET", async () => {
    const t = new HttpTransport();
    const first = await t.open(`${base}/InitializeParticipant/abc`);
    expect(first.url).toBe(`${base}/p/abc/app/First/1`);
    expect(first.page.title).toBe("First");
    seen.length = 0;
    const second = await t.submit({ fields: { x: "4" }, button: { role: "next" }, timeoutHappened: true });
    expect(second.url).toBe(`${base}/p/abc/app/Second/2`);
    expect(seen).toEqual(["POST /p/abc/app/First/1 x=4&timeout_happened=1", "GET /p/abc/app/Second/2"]);
  });

  it("ends at oTree's redirect to 'No more pages left' without loading that page", async () => {
    const t = new HttpTransport();
    await t.open(`${base}/InitializeParticipant/abc`);
    await t.submit({ fields: { x: "1" } });
    seen.length = 0;
    const end = await t.submit({ fields: { x: "2" } });
    expect(end.url).toBe(`${base}/OutOfRangeNotification/abc`);
    expect(end.page).toMatchObject({ kind: "end", endReason: "out_of_range" });
    expect(end.page.unrecognized).toBeUndefined();
    // One request: the submit. The end page itself is not fetched.
    expect(seen).toEqual(["POST /p/abc/app/Second/2 x=2"]);
  });

  it("re-opens the start link after a 5xx, with back-off", async () => {
    const t = new HttpTransport({ backoffMs: 10 });
    const page = await t.open(`${base}/InitializeParticipant/flaky`);
    expect(page.page.title).toBe("Back again");
    expect(failures).toBe(3);
  });

  it("re-opens the start link after a dropped connection", async () => {
    const t = new HttpTransport({ backoffMs: 10 });
    const page = await t.open(`${base}/InitializeParticipant/dropper`);
    expect(page.page.title).toBe("After the drop");
    expect(drops).toBe(2);
  });

  it("stops at once when its signal is aborted (no retries)", async () => {
    const stop = new AbortController();
    stop.abort(new Error("bot stopped"));
    const t = new HttpTransport({ backoffMs: 10, signal: stop.signal });
    const before = seen.length;
    await expect(t.open(`${base}/InitializeParticipant/abc`)).rejects.toThrow();
    expect(seen.length).toBe(before);
  });

  it("never follows a /join link", async () => {
    const t = new HttpTransport();
    await expect(t.open(`${base}/InitializeParticipant/joiner`)).rejects.toThrow(
      /\/join link .* never follows/,
    );
    expect(seen.some((s) => s.includes("/join/"))).toBe(false);
  });

  it("says what oTree answered to a 4xx", async () => {
    const t = new HttpTransport();
    await expect(t.open(`${base}/InitializeParticipant/nobody`)).rejects.toThrow(/404 .*no such page/);
  });
});

describe("pollWaitForPage", () => {
  it("polls a wait page until oTree moves the participant on, reporting the wait", async () => {
    const t = new HttpTransport();
    const waiting = await t.open(`${base}/InitializeParticipant/waiter`);
    expect(waiting.page.kind).toBe("wait");
    const reports: number[] = [];
    const wait = pollWaitForPage({ intervalMs: 20, maxIntervalMs: 40, reportEveryMs: 1 });
    expect(await wait(waiting, { baseUrl: base, limitMs: 10_000, onWaiting: (s) => reports.push(s) })).toBe(
      "ready",
    );
    expect(reports.length).toBeGreaterThan(0);
    expect((await t.reload()).page.title).toBe("Next");
  });

  it("gives up at the limit", async () => {
    waitPolls = -1_000;
    const t = new HttpTransport();
    const waiting = await t.open(`${base}/InitializeParticipant/waiter`);
    const wait = pollWaitForPage({ intervalMs: 20, maxIntervalMs: 20 });
    expect(await wait(waiting, { baseUrl: base, limitMs: 150 })).toBe("timeout");
  });
});
