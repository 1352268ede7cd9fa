import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { factorialStudy, RunReader, run } from "silico";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStudio, type StudioHandle } from "./server.js";
import { WEB_DIST } from "./static-files.js";
import { launchChromium, TEST_OUTPUT } from "./testing/browser.js";

// A run of 6,000 sessions (the mock model answers at once) read in a real browser: the sessions
// and observations tables keep only the rows in view in the page whatever is scrolled, and the
// rows they show — after scrolling, after a jump into the middle, at the end — are the run's.

const N = 6_000;
/** More than a view of rows plus their margins, far fewer than the run. */
const MAX_ROWS_IN_PAGE = 80;
/** vitest's polls wait 1 s by default; the machine may be busy. */
const WAIT = { timeout: 15_000 };

describe("studio results of a large run in a real browser (virtual tables)", () => {
  let dir: string;
  let runId: string;
  let studio: StudioHandle;
  let browser: Browser;
  let sessions: { key: string; index: number; coords: Record<string, unknown> }[];

  beforeAll(async () => {
    expect(existsSync(join(WEB_DIST, "index.html")), "build the web app first: npm run build").toBe(true);
    dir = mkdtempSync(join(tmpdir(), "silico-studio-scale-e2e-"));
    const db = join(dir, "silico.db");
    const levels = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}${i}`);
    const study = factorialStudy({
      name: "scale-e2e",
      prompt: "Rate {{ a }} with {{ b }} from 0 to 10.",
      levels: { a: levels("a", 20), b: levels("b", 30) },
      model: "mock:random",
      times: 10,
      parse: { type: "number", min: 0, max: 10 },
      seed: 4,
    });
    runId = (await run(study, { db, concurrency: 512, modelCheck: false })).runId;
    const reader = RunReader.open(db);
    sessions = [...reader.iterateSessions(runId)];
    reader.close();
    expect(sessions).toHaveLength(N);
    studio = await startStudio({ db: "silico.db", projectDir: dir, port: 0 });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await studio?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Row numbers (first column) of the rows drawn with data, in page order. */
  const drawn = (table: Locator) =>
    table.locator("tbody tr:not(.vt-loading) td:first-child").allTextContents();

  /** The first row number the table's range shows ("5823–5838 of 6000" → 5823). */
  const firstShown = async (page: Page, testid: string) =>
    Number((await page.textContent(`[data-testid=${testid}-range]`))?.split("–")[0]);

  /** Waits until the rows in view are drawn (no placeholder among them). */
  async function settled(page: Page, testid: string): Promise<void> {
    // A string: the page's globals (document), as this file is typed for Node.
    const placeholdersInView = `(() => {
      const box = document.querySelector("[data-testid=${testid}-scroll]")?.getBoundingClientRect();
      if (!box) return -1;
      return [...document.querySelectorAll("[data-testid=${testid}] tbody tr.vt-loading")].filter((tr) => {
        const r = tr.getBoundingClientRect();
        return r.bottom > box.top && r.top < box.bottom;
      }).length;
    })()`;
    await expect.poll(() => page.evaluate(placeholdersInView), WAIT).toBe(0);
  }

  it("scrolls the sessions and observations of 6,000 sessions to the end with a bounded number of rows in the page", async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    try {
      await page.goto(studio.url);
      await page.goto(`${studio.origin}/#/run/${runId}`);
      const table = page.locator("[data-testid=sessions]");
      await expect.poll(() => drawn(table).then((r) => r.length), WAIT).toBeGreaterThan(5);
      expect((await drawn(table)).slice(0, 3)).toEqual(["1", "2", "3"]);
      await expect
        .poll(() => page.textContent("[data-testid=sessions-range]"), WAIT)
        .toMatch(/^1–\d+ of 6000$/);

      // Scroll down with the wheel, several views' worth: rows follow, the page never holds many.
      // (Once the summary and plots are drawn above the table, so it stays under the pointer.)
      await expect
        .poll(() => page.locator("[data-testid=summary] tbody tr").count(), WAIT)
        .toBeGreaterThan(0);
      await expect.poll(() => page.locator("[data-testid=plot-means]").count(), WAIT).toBe(1);
      await expect
        .poll(() => drawn(page.locator("[data-testid=observations]")).then((r) => r.length), WAIT)
        .toBeGreaterThan(5);
      const scroller = page.locator("[data-testid=sessions-scroll]");
      await scroller.hover();
      for (let i = 0; i < 12; i++) {
        await page.mouse.wheel(0, 700);
        await page.waitForTimeout(30);
        expect(await table.locator("tbody tr").count()).toBeLessThanOrEqual(MAX_ROWS_IN_PAGE);
      }
      // (The range follows the scroll events: wait for the last of them, then for the rows.)
      await expect.poll(() => firstShown(page, "sessions"), WAIT).toBeGreaterThan(250);
      await settled(page, "sessions");
      const mid = await drawn(table);
      expect(Number(mid[0])).toBeGreaterThan(200);
      // Consecutive numbers: no row lost or doubled at a block boundary.
      expect(mid.map(Number)).toEqual(mid.map((_, i) => Number(mid[0]) + i));

      // A jump into the middle (the scroll bar dragged): the rows there are the run's rows there.
      await scroller.evaluate((el) => {
        el.scrollTop = el.scrollHeight / 2;
      });
      await expect.poll(() => firstShown(page, "sessions"), WAIT).toBeGreaterThan(2500);
      await settled(page, "sessions");
      const jumped = await drawn(table);
      expect(Number(jumped[0])).toBeGreaterThan(2500);
      expect(Number(jumped[0])).toBeLessThan(3500);
      expect(jumped.map(Number)).toEqual(jumped.map((_, i) => Number(jumped[0]) + i));
      expect(await table.locator("tbody tr").count()).toBeLessThanOrEqual(MAX_ROWS_IN_PAGE);

      // The end: the last rows are the run's last sessions, with their coordinates.
      await page.click("[data-testid=sessions-end]");
      await settled(page, "sessions");
      await expect.poll(() => drawn(table).then((r) => r.at(-1)), WAIT).toBe(String(N));
      await expect
        .poll(() => page.textContent("[data-testid=sessions-range]"), WAIT)
        .toMatch(/–6000 of 6000$/);
      const lastRows = table.locator("tbody tr:not(.vt-loading)");
      const lastCount = await lastRows.count();
      expect(lastCount).toBeLessThanOrEqual(MAX_ROWS_IN_PAGE);
      for (let k = 1; k <= 3; k++) {
        const cells = await lastRows
          .nth(lastCount - k)
          .locator("td")
          .allTextContents();
        const s = sessions[N - k] as (typeof sessions)[number];
        expect(cells[0]).toBe(String(s.index + 1));
        expect(cells).toContain(String(s.coords.a));
        expect(cells).toContain(String(s.coords.b));
      }
      // And scrolling back up from the end reads the blocks before it (by cursor).
      await scroller.hover();
      for (let i = 0; i < 6; i++) await page.mouse.wheel(0, -700);
      await expect.poll(() => firstShown(page, "sessions"), WAIT).toBeLessThan(N - 100);
      await settled(page, "sessions");
      const up = await drawn(table);
      expect(Number(up.at(-1))).toBeLessThan(N - 50);
      expect(up.map(Number)).toEqual(up.map((_, i) => Number(up[0]) + i));
      await page.screenshot({ path: join(TEST_OUTPUT, "scale-sessions.png") });

      // Observations: filtered by a coordinate, to the end.
      const obs = page.locator("[data-testid=observations]");
      await expect.poll(() => drawn(obs).then((r) => r.length), WAIT).toBeGreaterThan(5);
      await page.selectOption("[data-testid=obs-filter-a]", "a7");
      await expect.poll(() => page.textContent("[data-testid=observations-range]"), WAIT).toMatch(/ of 300$/);
      await page.click("[data-testid=observations-end]");
      await settled(page, "observations");
      const a7 = sessions.filter((s) => s.coords.a === "a7");
      await expect
        .poll(() => drawn(obs).then((r) => r.at(-1)), WAIT)
        .toBe(String((a7.at(-1)?.index as number) + 1));
      expect(await obs.locator("tbody tr").count()).toBeLessThanOrEqual(MAX_ROWS_IN_PAGE);
      const shown = await drawn(obs);
      expect(shown.map(Number)).toEqual(a7.slice(-shown.length).map((s) => s.index + 1));
      await page.screenshot({ path: join(TEST_OUTPUT, "scale-observations.png"), fullPage: true });
    } catch (e) {
      await page.screenshot({ path: join(TEST_OUTPUT, "scale-failure.png"), fullPage: true });
      throw e;
    } finally {
      await context.close();
    }
  }, 120_000);
});
