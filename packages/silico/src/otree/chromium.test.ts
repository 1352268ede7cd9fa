import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findChromium } from "./chromium.js";

describe("findChromium", () => {
  const dir = mkdtempSync(join(tmpdir(), "silico-chromium-path-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function fake(folder: string, name: string, mode = 0o755): string {
    mkdirSync(join(dir, folder), { recursive: true });
    const path = join(dir, folder, name);
    writeFileSync(path, "#!/bin/sh\n");
    chmodSync(path, mode);
    return path;
  }

  it("takes chromium, then chromium-browser, from PATH", () => {
    const ubuntu = fake("a", "chromium-browser");
    expect(findChromium({ PATH: join(dir, "a") })).toBe(ubuntu);
    const debian = fake("b", "chromium");
    expect(findChromium({ PATH: [join(dir, "a"), join(dir, "b")].join(delimiter) })).toBe(debian);
  });

  it("prefers SILICO_CHROMIUM, as a path or as a name on PATH", () => {
    const chrome = fake("c", "google-chrome");
    expect(findChromium({ SILICO_CHROMIUM: chrome, PATH: join(dir, "b") })).toBe(chrome);
    expect(findChromium({ SILICO_CHROMIUM: "google-chrome", PATH: join(dir, "c") })).toBe(chrome);
  });

  it("says how to get Chromium when there is none", () => {
    fake("d", "chromium", 0o644);
    expect(() => findChromium({ PATH: join(dir, "d") })).toThrow(
      /neither chromium nor chromium-browser is on PATH: on Debian or Ubuntu install it with `apt-get install chromium`; elsewhere set SILICO_CHROMIUM/,
    );
    expect(() => findChromium({ SILICO_CHROMIUM: join(dir, "nope"), PATH: join(dir, "b") })).toThrow(
      /SILICO_CHROMIUM is ".*nope", which is not an executable file/,
    );
  });
});
