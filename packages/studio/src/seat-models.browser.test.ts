import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StudioHandle } from "./server.js";
import { openStudioPage, step, TEST_OUTPUT } from "./testing/browser.js";

const OTREE_STUDY = `kind: otree
name: mixed bots
otree:
  url: http://127.0.0.1:9
session:
  config: ultimatum
  participants: 5
humans: [5]
bots:
  model: mock:random # everyone else
  system: "You play seat {{ seat }}."
  seats:
    - seats: [1, 3]
      model: mock:example # the proposers
    - { seats: [2], model: mock:echo, system: "You answer in seat {{ seat }}." }
`;

describe("studio builder in a real browser: per-seat models of an otree study", () => {
  let studio: StudioHandle;
  let browser: Browser;
  let dir: string;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "silico-studio-seats-e2e-"));
    writeFileSync(join(dir, "mixed.yaml"), OTREE_STUDY);
    ({ studio, browser, page } = await openStudioPage(dir));
  });

  afterAll(async () => {
    await browser?.close();
    await studio?.close();
  });

  it("changes one seats entry's model: only that line of the file changes, the preview shows it", async () => {
    await step(page, "seat-models", async () => {
      await page.goto(`${studio.origin}/#/builder?file=mixed.yaml`);
      const model = (seat: number) => page.textContent(`[data-testid="preview-model-seat ${seat}"]`);
      await expect.poll(() => model(2), { timeout: 10_000 }).toBe("mock:echo");
      expect(await model(1)).toBe("mock:example");
      expect(await model(3)).toBe("mock:example");
      expect(await model(4)).toBe("mock:random");
      expect(await page.textContent("[data-testid=preview-humans]")).toBe("human seats: 5");
      // One picker per entry, labelled with its seats, and the block's default.
      const picker = page.locator("[data-testid=seat-models]");
      expect(await picker.textContent()).toContain("seats 1, 3");
      expect(await picker.textContent()).toContain("seats 2");
      expect(await page.locator("[data-testid=seat-model-default]").inputValue()).toBe("mock:random");
      expect(await page.locator("[data-testid=seat-model-0]").inputValue()).toBe("mock:example");

      await page.fill("[data-testid=seat-model-0]", "mock:fixed:deal");
      await page.press("[data-testid=seat-model-0]", "Enter");
      const editor = page.locator(".cm-content");
      await expect.poll(() => editor.textContent()).toContain("model: mock:fixed:deal # the proposers");
      await expect.poll(() => model(3), { timeout: 10_000 }).toBe("mock:fixed:deal");
      expect(await model(1)).toBe("mock:fixed:deal");
      expect(await model(2)).toBe("mock:echo");
      await page.screenshot({ path: join(TEST_OUTPUT, "builder-otree-seats.png"), fullPage: true });

      await page.click("[data-testid=save]");
      await expect.poll(() => page.textContent("[data-testid=message]")).toContain("saved mixed.yaml");
      const before = OTREE_STUDY.split("\n");
      const after = readFileSync(join(dir, "mixed.yaml"), "utf8").split("\n");
      expect(after.length).toBe(before.length);
      expect(after.filter((l, i) => l !== before[i])).toEqual([
        "      model: mock:fixed:deal # the proposers",
      ]);
      // The run-time choice has a picker per bot seat too: the preview follows, the file does not.
      await page.fill("[data-testid=model-role-2]", "mock:example");
      await page.press("[data-testid=model-role-2]", "Enter");
      await expect.poll(() => model(2), { timeout: 10_000 }).toBe("mock:example");
      expect(await editor.textContent()).toContain("{ seats: [2], model: mock:echo,");
      await page.fill("[data-testid=model-role-2]", "");
      await page.press("[data-testid=model-role-2]", "Enter");
      await expect.poll(() => model(2), { timeout: 10_000 }).toBe("mock:echo");
    });
  }, 90_000);

  it("gives a further seat its own model: a new bots.seats entry; a human seat is the compiler's problem", async () => {
    await step(page, "seat-add", async () => {
      // Continues on the study as the first test left it.
      const editor = page.locator(".cm-content");
      const model = (seat: number) => page.textContent(`[data-testid="preview-model-seat ${seat}"]`);
      await page.fill("[data-testid=seat-add-seat]", "4");
      await page.fill("[data-testid=seat-add-model]", "mock:echo");
      await page.click("[data-testid=seat-add]");
      await expect.poll(() => editor.textContent()).toContain("- { seats: [ 4 ], model: mock:echo }");
      await expect.poll(() => model(4), { timeout: 10_000 }).toBe("mock:echo");
      expect(await page.locator("[data-testid=problems] li").count()).toBe(0);
      expect(await page.locator("[data-testid=seat-models]").textContent()).toContain("seats 4");
      expect(await page.locator("[data-testid=seat-model-2]").inputValue()).toBe("mock:echo");
      // Seat 5 is a human's: the compiler says so, inline.
      await page.fill("[data-testid=seat-add-seat]", "5");
      await page.fill("[data-testid=seat-add-model]", "mock:echo");
      await page.click("[data-testid=seat-add]");
      await expect
        .poll(() => page.textContent("[data-testid=problems]"), { timeout: 10_000 })
        .toContain("seat 5 is a human seat (humans): bots.seats is for bot seats");
      // The default model: bots.model's value only.
      await page.fill("[data-testid=seat-model-default]", "mock:example");
      await page.press("[data-testid=seat-model-default]", "Enter");
      await expect.poll(() => editor.textContent()).toContain("model: mock:example # everyone else");
    });
  }, 90_000);
});
