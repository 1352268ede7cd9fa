import { describe, expect, it } from "vitest";
import { batchLine, Progress } from "./progress.js";

describe("batch progress", () => {
  const event = {
    type: "batch" as const,
    id: "batch_abc",
    model: "gpt-4o-mini",
    provider: "openai",
    status: "in_progress",
    requests: 2000,
    done: 150,
    failed: 3,
  };

  it("names the batch, its model, state and counts", () => {
    expect(batchLine(event)).toBe(
      "batch batch_abc (gpt-4o-mini, 2000 requests): in_progress, 150/2000 done, 3 failed",
    );
    expect(batchLine({ ...event, failed: 0, done: 0, status: "validating" })).toBe(
      "batch batch_abc (gpt-4o-mini, 2000 requests): validating, 0/2000 done",
    );
  });

  it("prints a line per state change, nothing with --quiet", () => {
    let out = "";
    const stream = { write: (s: string) => (out += s), isTTY: false };
    const p = new Progress(10, false, 0, undefined, stream);
    p.onEvent(event);
    p.stop();
    expect(out).toContain("batch batch_abc (gpt-4o-mini, 2000 requests): in_progress, 150/2000 done");
    let quiet = "";
    const q = new Progress(10, true, 0, undefined, { write: (s: string) => (quiet += s), isTTY: false });
    q.onEvent(event);
    q.stop();
    expect(quiet).toBe("");
  });
});
