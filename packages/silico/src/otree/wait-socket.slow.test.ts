// The wait-page waiter on a real devserver (app `waiting`: Contribute → ResultsWaitPage → Results).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LoadedPage } from "./bot-contract.js";
import {
  openStart,
  reload,
  startTestServer,
  submit,
  type TestServer,
} from "../test-support/otree-sockets.js";
import { createSocketWaiter, waitPageSocketPath } from "./wait-socket.js";

/** A waiter that can only be released by its socket within a test: polls are hours apart. */
const socketOnly = createSocketWaiter({ pollMs: 3_600_000, recheckMs: 3_600_000 });

describe("waiting on an oTree wait page", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  }, 180_000);
  afterAll(async () => {
    await t?.stop();
  }, 60_000);

  /** Both players of a new `waiting` session; the first one submitted and on the wait page. */
  async function firstOnWaitPage(): Promise<{ waiting: LoadedPage; partner: string }> {
    const [a, b] = await t.session("waiting", 2);
    if (!a || !b) throw new Error("no participants");
    const waiting = await submit(await openStart(t.server.baseUrl, a), { contribution: "4" });
    expect(waiting.page.kind).toBe("wait");
    expect(waiting.url).toContain("/ResultsWaitPage/");
    return { waiting, partner: b };
  }

  async function partnerArrives(code: string): Promise<void> {
    const after = await submit(await openStart(t.server.baseUrl, code), { contribution: "2" });
    expect(after.url).toContain("/Results/");
  }

  it("reads the socket path from the real wait page", async () => {
    const { waiting } = await firstOnWaitPage();
    const path = waitPageSocketPath(waiting.html);
    expect(path).toMatch(/^\/wait_page\?session_pk=\d+&page_index=2&participant_id=\d+&group_id=\d+$/);
  });

  it("the socket releases the waiter when the partner arrives, and at once when the wait is already over", async () => {
    const { waiting, partner } = await firstOnWaitPage();
    const seen: number[] = [];
    const released = socketOnly(waiting, {
      baseUrl: t.server.baseUrl,
      limitMs: 60_000,
      onWaiting: (s) => seen.push(s),
    });
    let settled = false;
    void released.then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(settled).toBe(false);
    const arrived = Date.now();
    await partnerArrives(partner);
    expect(await released).toBe("ready");
    expect(Date.now() - arrived).toBeLessThan(5_000);
    const next = await reload(waiting.url);
    expect(next.url).toContain("/Results/");
    expect(next.page.kind).not.toBe("wait");

    // The same wait page again, now that the wait is over: oTree says "ready" on connect.
    const before = Date.now();
    expect(await socketOnly(waiting, { baseUrl: t.server.baseUrl, limitMs: 60_000 })).toBe("ready");
    expect(Date.now() - before).toBeLessThan(5_000);
  }, 60_000);

  it("falls back to polling the page when the socket URL is wrong", async () => {
    const { waiting, partner } = await firstOnWaitPage();
    const broken = { ...waiting, html: waiting.html.replace(/session_pk=\d+/, "session_pk=nope") };
    expect(waitPageSocketPath(broken.html)).toContain("session_pk=nope");
    const waiter = createSocketWaiter({ pollMs: 200, recheckMs: 3_600_000 });
    const released = waiter(broken, { baseUrl: t.server.baseUrl, limitMs: 60_000 });
    await new Promise((r) => setTimeout(r, 800));
    // Still on the wait page: polling did not take a wait page for a released one.
    expect((await reload(waiting.url)).page.kind).toBe("wait");
    await partnerArrives(partner);
    expect(await released).toBe("ready");
  }, 60_000);

  it("polls a page without a socket (and a socket-only waiter would not have noticed)", async () => {
    const { waiting, partner } = await firstOnWaitPage();
    const bare = { ...waiting, html: "<html><body>waiting</body></html>" };
    await partnerArrives(partner);
    const before = Date.now();
    expect(
      await createSocketWaiter({ pollMs: 200 })(bare, { baseUrl: t.server.baseUrl, limitMs: 60_000 }),
    ).toBe("ready");
    expect(Date.now() - before).toBeLessThan(5_000);
  }, 60_000);

  it("gives up after the limit and says how long it waited", async () => {
    const { waiting } = await firstOnWaitPage();
    const seen: number[] = [];
    const before = Date.now();
    const result = await createSocketWaiter({ progressMs: 250 })(waiting, {
      baseUrl: t.server.baseUrl,
      limitMs: 1_500,
      onWaiting: (s) => seen.push(s),
    });
    const took = Date.now() - before;
    expect(result).toBe("timeout");
    expect(took).toBeGreaterThanOrEqual(1_500);
    expect(took).toBeLessThan(4_000);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.at(-1)).toBeGreaterThanOrEqual(1);
    // The participant is still waiting: the waiter changed nothing on the server.
    expect((await reload(waiting.url)).page.kind).toBe("wait");
  }, 30_000);

  it("an abort ends the wait with the signal's reason", async () => {
    const { waiting } = await firstOnWaitPage();
    const controller = new AbortController();
    const released = socketOnly(waiting, {
      baseUrl: t.server.baseUrl,
      limitMs: 60_000,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error("stopped by the test")), 300);
    await expect(released).rejects.toThrow("stopped by the test");
  }, 30_000);
});
