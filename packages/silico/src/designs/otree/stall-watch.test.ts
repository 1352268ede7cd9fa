import { describe, expect, it } from "vitest";
import { StallWatch } from "./stall-watch.js";

const after = (ms: number) => new Promise<"not yet">((r) => setTimeout(() => r("not yet"), ms));

describe("StallWatch", () => {
  it("releases the waiting bots once every bot still playing waits with no progress, naming the stopped partner", async () => {
    const watch = new StallWatch(150, true, 20);
    for (const seat of [1, 2, 3]) watch.start(seat);
    watch.end(1, "waiting/Contribute: oTree rejected the answer 1 time(s)");
    watch.end(3);
    const t0 = Date.now();
    const w = watch.wait(2);
    const reason = await Promise.race([w.stalled, after(2_000)]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(reason).toMatch(/every bot still playing has been on a wait page for \d+ s with no page progress/);
    expect(reason).toMatch(
      /seat 1 stopped: waiting\/Contribute: oTree rejected the answer 1 time\(s\); seat 3 finished/,
    );
    w.leave();
  });

  it("keeps waiting while another bot plays, and counts idle time from the last progress", async () => {
    const watch = new StallWatch(150, true, 20);
    watch.start(1);
    watch.start(2);
    const w1 = watch.wait(1);
    // Seat 2 is on a page (a slow model): no stall.
    expect(await Promise.race([w1.stalled, after(300)])).toBe("not yet");
    const w2 = watch.wait(2);
    // Both wait; progress (a page elsewhere) keeps resetting the clock.
    for (let i = 0; i < 4; i++) {
      await after(60);
      watch.progress();
    }
    expect(await Promise.race([w1.stalled, after(0)])).toBe("not yet");
    const [r1, r2] = await Promise.all([w1.stalled, w2.stalled]);
    expect(r1).toBe(r2);
    expect(r1).toMatch(/no other bot is left to move/);
  });

  it("never fires with human seats (they may still come)", async () => {
    const watch = new StallWatch(50, false, 10);
    watch.start(2);
    const w = watch.wait(2);
    expect(await Promise.race([w.stalled, after(300)])).toBe("not yet");
    w.leave();
  });
});
