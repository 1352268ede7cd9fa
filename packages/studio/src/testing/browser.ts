/** Chromium for the studio's browser tests and bench: the system one silico's oTree driver uses. */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { findChromium } from "silico";

/** Screenshots and downloads of the browser tests (git-ignored). */
export const TEST_OUTPUT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "test-output");

export async function launchChromium(): Promise<Browser> {
  mkdirSync(TEST_OUTPUT, { recursive: true });
  // Playwright passes --no-sandbox by default (chromiumSandbox: false), which root needs.
  return chromium.launch({ executablePath: findChromium(), headless: true, timeout: 60_000 });
}
