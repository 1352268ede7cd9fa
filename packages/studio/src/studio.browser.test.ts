import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import type { Browser, Page } from "playwright-core";
import { data, run } from "silico";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStudio, type StudioHandle } from "./server.js";
import { WEB_DIST } from "./static-files.js";
import { launchChromium, TEST_OUTPUT } from "./testing/browser.js";
import { gameStudy } from "./testing/fixtures.js";

const FAKE_KEY = "sk-test-studio-browser-42";
const FIXTURES = join(import.meta.dirname, "..", "..", "silico", "src", "designs", "alter-ego", "testdata");

/** Replaces the editor's whole text, as a user selecting all and pasting would. */
async function setEditorText(page: Page, text: string): Promise<void> {
  await page.locator(".cm-content").click();
  await page.keyboard.press("Control+A");
  // The page's own globals (DataTransfer, ClipboardEvent): a string, as this file is typed for Node.
  await page.evaluate(`(() => {
    const clipboardData = new DataTransfer();
    clipboardData.setData("text/plain", ${JSON.stringify(text)});
    const paste = new ClipboardEvent("paste", { clipboardData, bubbles: true, cancelable: true });
    document.querySelector(".cm-content").dispatchEvent(paste);
  })()`);
}

describe("silico studio in a real browser (system Chromium, playwright-core)", () => {
  let server: TestServer;
  let studio: StudioHandle;
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    expect(
      existsSync(join(WEB_DIST, "index.html")),
      "build the web app first: npm run build -w packages/studio",
    ).toBe(true);
    server = await startOpenAITestServer({
      models: ["test-model", "test-model-b"],
      latencyMs: 120,
      responder: ({ messages }) => (/Round 2/.test(String(messages.at(-1)?.content)) ? "B" : "A"),
    });
    dir = mkdtempSync(join(tmpdir(), "silico-studio-e2e-"));
    studio = await startStudio({
      db: "silico.db",
      projectDir: dir,
      port: 0,
      env: { TESTSERVER_KEY: FAKE_KEY },
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await studio?.close();
    await server?.close();
  });

  it("builds a two-player game, previews it, fixes a problem, saves, runs it to 100 % and reads the results", async () => {
    const context = await browser.newContext({
      acceptDownloads: true,
      viewport: { width: 1400, height: 900 },
    });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    try {
      await buildRunRead(page);
    } catch (e) {
      await page.screenshot({ path: join(TEST_OUTPUT, "failure.png"), fullPage: true });
      throw e;
    } finally {
      await context.close();
    }
  }, 120_000);

  async function buildRunRead(page: Page): Promise<void> {
    await page.goto(studio.url);
    expect(page.url()).toBe(`${studio.origin}/`); // the token left the address for a cookie
    await page.click("text=Builder");
    await page.fill("[data-testid=path]", "coordination.yaml");

    // From scratch, with a typo in a variable: the compiler's problem shows inline, located.
    await setEditorText(page, gameStudy(server.url, { typo: true }));
    const problems = page.locator("[data-testid=problems] li");
    await expect.poll(() => problems.first().textContent(), { timeout: 10_000 }).toContain("bonsu");
    expect(await problems.first().textContent()).toContain("coordination.yaml: stages[0].prompt");
    await expect.poll(() => page.locator(".cm-lintRange-error").count()).toBeGreaterThan(0);
    expect(await page.isDisabled("[data-testid=run]")).toBe(true);
    await page.screenshot({ path: join(TEST_OUTPUT, "builder-problem.png") });

    // Fixed: the problem goes away and the preview shows what each player receives.
    await setEditorText(page, gameStudy(server.url));
    await expect.poll(() => problems.count(), { timeout: 10_000 }).toBe(0);
    const left = page.locator("[data-testid=preview-left]");
    await expect
      .poll(() => left.textContent(), { timeout: 10_000 })
      .toContain("You are player left in a coordination game.");
    expect(await left.textContent()).toContain("Round 1. You earn");
    expect(await page.locator("[data-testid=preview-right]").textContent()).toContain("You are player right");
    // The names in scope (the treatments' variables among them) are offered beside the editor and
    // completed inside {{ … }} as you type.
    await expect.poll(() => page.textContent("[data-testid=scope]")).toContain("bonus");
    // The treatments table edits the text: a cell changes that value only, and the preview follows.
    const highBonus = page.locator("[data-testid=cell-treatments-high-bonus]");
    await expect.poll(() => highBonus.inputValue()).toBe("5");
    await highBonus.fill("7");
    await highBonus.press("Enter");
    await expect.poll(() => page.locator(".cm-content").textContent()).toContain("high: { bonus: 7 }");
    const sessions = await page.locator("[data-testid=preview-session] option").allTextContents();
    await page.selectOption("[data-testid=preview-session]", {
      index: sessions.findIndex((o) => o.includes("treatment=high")),
    });
    await expect.poll(() => left.textContent(), { timeout: 10_000 }).toContain("You earn 7 if");
    await page.screenshot({ path: join(TEST_OUTPUT, "builder-tables.png") });
    // Renaming a role the payoffs still name: the compiler's problem appears inline; renaming it
    // back clears it.
    await page.locator("[data-testid=key-roles-left]").fill("west");
    await page.locator("[data-testid=key-roles-left]").press("Enter");
    await expect.poll(() => page.locator(".cm-content").textContent()).toContain("west: { count: 1 }");
    await expect.poll(() => problems.count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await problems.first().textContent()).toContain("coordination.yaml");
    expect(await page.isDisabled("[data-testid=run]")).toBe(true);
    await page.locator("[data-testid=key-roles-west]").fill("left");
    await page.locator("[data-testid=key-roles-west]").press("Enter");
    await expect.poll(() => problems.count(), { timeout: 10_000 }).toBe(0);
    await page.locator("[data-testid=cell-treatments-high-bonus]").fill("5");
    await page.locator("[data-testid=cell-treatments-high-bonus]").press("Enter");
    await expect.poll(() => left.textContent(), { timeout: 10_000 }).toContain("You earn 5 if");
    await page.locator(".cm-content").click();
    await page.keyboard.press("Control+End");
    await page.keyboard.type("# {{ bo");
    await expect.poll(() => page.locator(".cm-tooltip-autocomplete").textContent()).toContain("bonus");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator(".cm-content").textContent()).toContain("# {{ bonus");
    await setEditorText(page, gameStudy(server.url));
    await expect.poll(() => page.locator(".cm-content").textContent()).not.toContain("# {{ bonus");

    // Another session (the other treatment) is rendered by the server on demand.
    const options = await page.locator("[data-testid=preview-session] option").allTextContents();
    const high = options.findIndex((o) => o.includes("treatment=high"));
    const low = options.findIndex((o) => o.includes("treatment=low"));
    expect(high).toBeGreaterThanOrEqual(0);
    expect(low).toBeGreaterThanOrEqual(0);
    await page.selectOption("[data-testid=preview-session]", { index: high });
    await expect.poll(() => left.textContent(), { timeout: 10_000 }).toContain("You earn 5 if");
    await page.selectOption("[data-testid=preview-session]", { index: low });
    await expect.poll(() => left.textContent(), { timeout: 10_000 }).toContain("You earn 1 if");
    await page.screenshot({ path: join(TEST_OUTPUT, "builder-preview.png") });
    await page.click("[data-testid=save]");
    await expect.poll(() => page.textContent("[data-testid=message]")).toContain("saved coordination.yaml");
    expect(readFileSync(join(dir, "coordination.yaml"), "utf8")).toBe(gameStudy(server.url));
    await page.click("[data-testid=estimate]");
    await expect.poll(() => page.textContent("[data-testid=estimate-text]")).toContain("16");
    expect(await page.textContent("[data-testid=estimate-text]")).toContain("ts:test-model");

    // Models chosen for this run: the estimate follows them (a priced model has a cost); then the
    // left role plays on another model of the test server.
    await page.fill("[data-testid=model-all]", "openai:gpt-4o-mini");
    await page.press("[data-testid=model-all]", "Enter");
    await expect
      .poll(() => page.textContent("[data-testid=estimate-text]"))
      .toContain("openai:gpt-4o-mini: 16 calls");
    expect(await page.textContent("[data-testid=estimate-text]")).not.toContain("ts:test-model");
    await page.fill("[data-testid=model-all]", "");
    await page.press("[data-testid=model-all]", "Enter");
    await page.fill("[data-testid=model-role-left]", "ts:test-model-b");
    await page.press("[data-testid=model-role-left]", "Enter");
    await expect
      .poll(() => page.textContent("[data-testid=estimate-text]"))
      .toContain("ts:test-model-b: 8 calls");
    // The preview names the chosen model for that participant.
    await expect.poll(() => page.textContent("[data-testid=preview-left] h3")).toContain("ts:test-model-b");
    expect(await page.textContent("[data-testid=preview-right] h3")).not.toContain("test-model-b");
    await page.screenshot({ path: join(TEST_OUTPUT, "builder-models.png") });

    // Run: the page follows the executor's progress to 100 %.
    await page.click("[data-testid=run]");
    await page.waitForURL(/#\/run\//);
    const runId = decodeURIComponent(page.url().split("#/run/")[1] as string);
    await expect
      .poll(() => page.textContent("[data-testid=progress-status]"), { timeout: 30_000 })
      .toBe("done");
    expect(await page.textContent("[data-testid=progress-pct]")).toBe("100 %");
    await page.screenshot({ path: join(TEST_OUTPUT, "run-progress.png") });

    // Results: one mark per treatment for the payoff by treatment.
    await expect
      .poll(() => page.locator("[data-testid=summary] tbody tr").count(), { timeout: 10_000 })
      .toBeGreaterThan(0);
    await page.selectOption("[data-testid=plot-name]", "payoff");
    await page.uncheck("[data-testid=plot-by-round]");
    const marks = page.locator("[data-testid=plot-means] g[aria-description=mean] circle");
    await expect.poll(() => marks.count(), { timeout: 10_000 }).toBe(2);
    await page.screenshot({ path: join(TEST_OUTPUT, "run-results.png"), fullPage: true });

    // Sessions filtered by treatment, then a transcript and one raw call.
    await page.selectOption("[data-testid=filter-treatment]", "high");
    await expect.poll(() => page.textContent("[data-testid=sessions-range]")).toBe("1–2 of 2");
    await page.locator("[data-testid=open-transcript]").first().click();
    const transcript = page.locator("[data-testid=transcript]");
    await expect.poll(() => transcript.textContent(), { timeout: 10_000 }).toContain("You earn 5 if");
    expect(await transcript.locator(".bubble.assistant").count()).toBe(4);
    await transcript.locator("text=raw call").first().click();
    await expect.poll(() => page.textContent("[data-testid=raw-call]")).toContain('"messages"');
    await page.screenshot({ path: join(TEST_OUTPUT, "transcript.png"), fullPage: true });

    // The CSV download is silico data's CSV.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.click("[data-testid=export-csv]"),
    ]);
    const saved = join(TEST_OUTPUT, "download.csv");
    await download.saveAs(saved);
    const expected = await data(runId, { db: join(dir, "silico.db"), format: "csv" });
    expect(readFileSync(saved, "utf8")).toBe(expected.text);
    // The chosen model played the left role.
    const rows = (await data(runId, { db: join(dir, "silico.db") })).rows as {
      role?: unknown;
      model?: unknown;
    }[];
    expect(new Set(rows.filter((r) => r.role === "left").map((r) => r.model))).toEqual(
      new Set(["ts:test-model-b"]),
    );
    expect(new Set(rows.filter((r) => r.role === "right").map((r) => r.model))).toEqual(
      new Set(["ts:test-model"]),
    );
    // The wide layout too, as silico data --wide writes it.
    const [wide] = await Promise.all([
      page.waitForEvent("download"),
      page.click("[data-testid=export-csv-wide]"),
    ]);
    expect(wide.suggestedFilename()).toBe(`${runId}-wide.csv`);
    const wideSaved = join(TEST_OUTPUT, "download-wide.csv");
    await wide.saveAs(wideSaved);
    const wideLib = await data(runId, { db: join(dir, "silico.db"), format: "csv", layout: "wide" });
    expect(readFileSync(wideSaved, "utf8")).toBe(wideLib.text);

    // The runs list shows it; the page never received the key.
    await page.click("text=Runs");
    await expect.poll(() => page.textContent("[data-testid=runs]")).toContain(runId);
    await page.screenshot({ path: join(TEST_OUTPUT, "runs.png") });
    expect(await page.content()).not.toContain(FAKE_KEY);

    // A second run of the study (another seed, made by the library as the CLI makes it) appears
    // in the list by itself, and the two compare on one axis: 2 runs × 2 treatments = 4 marks.
    const other = await run(join(dir, "coordination.yaml"), {
      db: join(dir, "silico.db"),
      apiKeys: { TESTSERVER_KEY: FAKE_KEY },
      seed: 77,
    });
    await expect
      .poll(() => page.textContent("[data-testid=runs]"), { timeout: 10_000 })
      .toContain(other.runId);
    await page.check(`[aria-label="select ${runId}"]`);
    await page.check(`[aria-label="select ${other.runId}"]`);
    await page.click("text=Compare the two selected runs");
    await page.selectOption("[data-testid=plot-name]", "payoff");
    await page.uncheck("[data-testid=plot-by-round]");
    const compared = page.locator("[data-testid=compare-means] g[aria-description=mean] circle");
    await expect.poll(() => compared.count(), { timeout: 10_000 }).toBe(4);
    await page.screenshot({ path: join(TEST_OUTPUT, "compare.png"), fullPage: true });
  }

  it("imports the two alter_ego built.json fixtures and exports them byte for byte", async () => {
    const context = await browser.newContext({
      acceptDownloads: true,
      viewport: { width: 1400, height: 900 },
    });
    const page = await context.newPage();
    await page.goto(`${studio.url}`);
    await page.click("text=Builder");
    for (const name of ["ego_builder_default_state_framed_ultimatum.json", "silico_stag_hunt_built.json"]) {
      const original = readFileSync(join(FIXTURES, name));
      await page.setInputFiles("[data-testid=import]", join(FIXTURES, name));
      await expect.poll(() => page.textContent("[data-testid=message]")).toBe(`imported ${name}`);
      // The real compiler recognises it and previews its conversations.
      await expect
        .poll(() => page.locator("[data-testid=preview] .bubble").count(), { timeout: 10_000 })
        .toBeGreaterThan(0);
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.click("[data-testid=export]"),
      ]);
      expect(download.suggestedFilename()).toBe(name);
      const out = join(TEST_OUTPUT, `exported-${name}`);
      await download.saveAs(out);
      expect(readFileSync(out).equals(original), name).toBe(true);
    }
    await page.screenshot({ path: join(TEST_OUTPUT, "builder-alter-ego.png") });
    await context.close();
  });
});
