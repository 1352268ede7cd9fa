import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, SilicoError } from "../../errors.js";
import { ChatHandler } from "../../otree/chat-handler.js";
import { HttpTransport } from "../../otree/http-transport.js";
import { LiveHandler } from "../../otree/live-handler.js";
import { BotParts } from "./bot-parts.js";
import type { OtreeSpec } from "./spec.js";

const dir = mkdtempSync(join(tmpdir(), "silico-bot-parts-"));

function spec(bots: Partial<OtreeSpec["bots"]>): OtreeSpec {
  return {
    server: { url: "http://127.0.0.1:1", humansLimitS: 3600 },
    session: { config: "x", participants: 1 },
    humanSeats: [],
    botSeats: [1],
    bots: {
      model: "mock:random",
      personas: [],
      memory: "full",
      rejections: 3,
      waitLimitS: 10,
      stallS: 60,
      driver: "http",
      params: {},
      browserPages: 8,
      chatMaxMessages: 3,
      chatReplyWaitS: 5,
      live: {},
      studyDir: dir,
      overrides: [],
      ...bots,
    },
    where: {
      config: "c",
      participants: "p",
      restKeyEnv: "r",
      live: { Bargain: "study.yaml:12: bots.live.Bargain.hook" },
    },
  };
}

describe("BotParts", () => {
  it("gives HTTP bots the live and chat handlers once set up", async () => {
    const parts = new BotParts(spec({}));
    expect(() => parts.handlers()).toThrow(SilicoError);
    await parts.prepare();
    const handlers = parts.handlers();
    expect(handlers[0]).toBeInstanceOf(LiveHandler);
    expect(handlers[1]).toBeInstanceOf(ChatHandler);
    expect(parts.transport()).toBeInstanceOf(HttpTransport);
    await parts.close();
  });

  it("loads a live hook relative to the study file, and a hook that does not load is a located config error", async () => {
    writeFileSync(join(dir, "good.mjs"), "export default async () => {};\n");
    writeFileSync(join(dir, "bad.mjs"), "export const nothing = 1;\n");
    writeFileSync(join(dir, "broken.mjs"), "export default (;\n");
    const ok = new BotParts(spec({ live: { Bargain: { hook: "./good.mjs" } } }));
    await ok.prepare();
    expect(ok.handlers()[0]?.matches).toBeTypeOf("function");
    for (const file of ["bad.mjs", "broken.mjs"]) {
      const parts = new BotParts(spec({ live: { Bargain: { hook: `./${file}` } } }));
      const err = await parts.prepare().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(
        /^study\.yaml:12: bots\.live\.Bargain\.hook: live hook \.\/(bad|broken)\.mjs (must export a function|could not be loaded)/,
      );
    }
  });

  it("checks for Chromium at set-up with driver: browser: a missing one is a config error (exit 2)", async () => {
    const parts = new BotParts(spec({ driver: "browser" }), {
      findChromium: () => {
        throw new SilicoError(
          "setup_failed",
          "driver: browser needs Chromium, and neither chromium nor chromium-browser is on PATH",
        );
      },
    });
    const err = await parts.prepare().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/needs Chromium/);
    // HTTP bots never look for it.
    let looked = false;
    const look = () => {
      looked = true;
      return "/x";
    };
    await new BotParts(spec({}), { findChromium: look }).prepare();
    expect(looked).toBe(false);
  });
});
