/** Chromium for the studio's browser tests and bench: the system one silico's oTree driver uses. */
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { findChromium } from "silico";
import { type StudioHandle, startStudio } from "../server.js";
import { WEB_DIST } from "../static-files.js";

/** Screenshots and downloads of the browser tests (git-ignored). */
export const TEST_OUTPUT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "test-output");

export async function launchChromium(): Promise<Browser> {
  mkdirSync(TEST_OUTPUT, { recursive: true });
  // Playwright passes --no-sandbox by default (chromiumSandbox: false), which root needs.
  return chromium.launch({ executablePath: findChromium(), headless: true, timeout: 60_000 });
}

export interface StudioPage {
  studio: StudioHandle;
  browser: Browser;
  page: Page;
}

/** A studio on `projectDir` (no API keys) and one signed-in page of it in Chromium, 1400 × 1000. */
export async function openStudioPage(projectDir: string): Promise<StudioPage> {
  if (!existsSync(join(WEB_DIST, "index.html"))) {
    throw new Error("build the web app first: npm run build -w packages/studio");
  }
  const studio = await startStudio({ db: "silico.db", projectDir, port: 0, env: {} });
  const browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(studio.url);
  return { studio, browser, page };
}

/** Runs a page step, screenshotting the page (test-output/failure-NAME.png) when it fails. */
export async function step(page: Page, name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    await page.screenshot({ path: join(TEST_OUTPUT, `failure-${name}.png`), fullPage: true });
    throw e;
  }
}
