import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StudioHandle } from "./server.js";
import { openStudioPage, step, TEST_OUTPUT } from "./testing/browser.js";

const STIMULI_STUDY = `kind: stimuli
name: pronouns
stimuli: items.csv
model: mock:random
design: one-trial-per-run
settings:
  concurrency: 2 # two conversations at a time
  max_cost: 1
`;
const ITEMS_CSV =
  "Run,Item,Condition,Prompt\n1,1,male,After Corlak woke up\n1,2,female,After Lissa woke up\n";

const INLINE_STUDY = `kind: stimuli
model: mock:random
design: one-trial-per-run
stimuli:
  - { Run: 1, Item: 1, Condition: a, Prompt: "First" } # the first
  - { Run: 1, Item: 2, Condition: b, Prompt: "" }
`;

const OTREE_STUDY = `kind: otree
name: ultimatum bots
otree:
  url: http://127.0.0.1:9
session:
  config: ultimatum
  participants: 3
humans: [1]
bots:
  model: mock:random
  memory: full
  system: "You are {{ persona.name }} in seat {{ seat }} of {{ session_config.name }}."
  personas:
    - { name: Ada }
    - { name: Ben }
`;

const AGENTS_STUDY = `kind: agents
model: mock:random
agents:
  advisor:
    system: "You advise in round {{ round }} with a budget of {{ budget }}."
    prompt: "They say: {{ message }}"
`;

describe("studio builder in a real browser: stimulus table, schema form, otree and agents", () => {
  let studio: StudioHandle;
  let browser: Browser;
  let dir: string;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "silico-studio-builder-e2e-"));
    writeFileSync(join(dir, "pronouns.yaml"), STIMULI_STUDY);
    writeFileSync(join(dir, "items.csv"), ITEMS_CSV);
    mkdirSync(join(dir, "otree"));
    writeFileSync(join(dir, "otree", "ultimatum.yaml"), OTREE_STUDY);
    writeFileSync(join(dir, "agents.yaml"), AGENTS_STUDY);
    writeFileSync(join(dir, "inline.yaml"), INLINE_STUDY);
    ({ studio, browser, page } = await openStudioPage(dir));
  });

  afterAll(async () => {
    await browser?.close();
    await studio?.close();
  });

  it("edits a stimulus table: a bad cell shows the CLI's problem at its cell, the preview follows, Save writes the CSV", async () => {
    await step(page, "stimuli", async () => {
      await page.goto(`${studio.origin}/#/builder?file=pronouns.yaml`);
      const table = page.locator("[data-testid=stimuli-table]");
      await expect.poll(() => table.textContent(), { timeout: 10_000 }).toContain("items.csv (csv)");
      const preview = page.locator("[data-testid=preview]");
      await expect.poll(() => preview.textContent(), { timeout: 10_000 }).toContain("After Corlak woke up");

      // A bad Item: silico's own message, located as the CLI locates it, at that cell.
      await page.fill("[data-testid=stimuli-cell-1-1]", "two");
      await page.press("[data-testid=stimuli-cell-1-1]", "Enter");
      await expect
        .poll(() => page.locator("[data-testid=stimuli-problem-1-1]").textContent(), { timeout: 10_000 })
        .toBe('items.csv:3: Item must be a whole number ≥ 0, got "two"');
      expect(await page.textContent("[data-testid=problems]")).toContain("items.csv:3");
      expect(await page.isDisabled("[data-testid=run]")).toBe(true);
      await page.screenshot({ path: join(TEST_OUTPUT, "builder-stimuli-problem.png"), fullPage: true });
      // Nothing is written until saved.
      expect(readFileSync(join(dir, "items.csv"), "utf8")).toBe(ITEMS_CSV);
      await page.fill("[data-testid=stimuli-cell-1-1]", "2");
      await page.press("[data-testid=stimuli-cell-1-1]", "Enter");
      await expect.poll(() => page.locator("[data-testid=problems] li").count(), { timeout: 10_000 }).toBe(0);

      // A new row and a new column; the preview (the first session's messages) follows the table.
      await page.fill("[data-testid=stimuli-cell-0-3]", "After Tovert, who was tired, woke up");
      await page.press("[data-testid=stimuli-cell-0-3]", "Enter");
      await page.click("[data-testid=stimuli-add-row]");
      for (const [j, v] of ["2", "1", "male", "After Daskon woke up"].entries()) {
        await page.fill(`[data-testid=stimuli-cell-2-${j}]`, v);
        await page.press(`[data-testid=stimuli-cell-2-${j}]`, "Enter");
      }
      await page.fill("[data-testid=stimuli-add-col]", "Length");
      await page.press("[data-testid=stimuli-add-col]", "Enter");
      await page.fill("[data-testid=stimuli-cell-0-4]", "long");
      await page.press("[data-testid=stimuli-cell-0-4]", "Enter");
      await expect
        .poll(() => preview.textContent(), { timeout: 10_000 })
        .toContain("After Tovert, who was tired, woke up");
      await expect.poll(() => page.textContent("[data-testid=preview] .controls")).toContain("3 sessions");
      await page.screenshot({ path: join(TEST_OUTPUT, "builder-stimuli.png"), fullPage: true });

      // Removing the added column again, then saving: the CSV has exactly the table.
      await page.click("[data-testid=stimuli-remove-col-4]");
      await page.click("[data-testid=stimuli-save]");
      await expect.poll(() => page.textContent("[data-testid=message]")).toBe("saved items.csv");
      expect(readFileSync(join(dir, "items.csv"), "utf8")).toBe(
        'Run,Item,Condition,Prompt\n1,1,male,"After Tovert, who was tired, woke up"\n1,2,female,After Lissa woke up\n2,1,male,After Daskon woke up\n',
      );
      // The study file itself was not touched.
      expect(readFileSync(join(dir, "pronouns.yaml"), "utf8")).toBe(STIMULI_STUDY);
    });
  }, 90_000);

  it("edits stimulus rows written in the study: each change is an edit of that row's text", async () => {
    await step(page, "inline", async () => {
      await page.goto(`${studio.origin}/#/builder?file=inline.yaml`);
      const table = page.locator("[data-testid=stimuli-table]");
      await expect
        .poll(() => table.textContent(), { timeout: 10_000 })
        .toContain("rows written in the study");
      // The empty Prompt of row 2: the CLI's message at that cell.
      await expect
        .poll(() => page.textContent("[data-testid=stimuli-problem-1-3]"), { timeout: 10_000 })
        .toBe("inline.yaml:6: stimuli[1]: Prompt is empty");
      await page.fill("[data-testid=stimuli-cell-1-3]", "Second: a prompt with a colon");
      await page.press("[data-testid=stimuli-cell-1-3]", "Enter");
      const editor = page.locator(".cm-content");
      await expect
        .poll(() => editor.textContent())
        .toContain('- { Run: 1, Item: 2, Condition: b, Prompt: "Second: a prompt with a colon" }');
      await expect.poll(() => page.locator("[data-testid=problems] li").count(), { timeout: 10_000 }).toBe(0);
      await expect
        .poll(() => page.textContent("[data-testid=preview]"), { timeout: 10_000 })
        .toContain("2 sessions");
      await page.click("[data-testid=save]");
      await expect.poll(() => page.textContent("[data-testid=message]")).toContain("saved inline.yaml");
      const before = INLINE_STUDY.split("\n");
      const after = readFileSync(join(dir, "inline.yaml"), "utf8").split("\n");
      expect(after.filter((l, i) => l !== before[i])).toEqual([
        '  - { Run: 1, Item: 2, Condition: b, Prompt: "Second: a prompt with a colon" }',
      ]);
    });
  }, 90_000);

  it("changes a setting through the schema form: only that line of the YAML changes", async () => {
    await step(page, "form", async () => {
      await page.goto(`${studio.origin}/#/builder?file=pronouns.yaml`);
      const form = page.locator("[data-testid=schema-form]");
      await expect.poll(() => form.textContent(), { timeout: 10_000 }).toContain("settings");
      await page.click("[data-testid=group-settings] summary");
      const concurrency = page.locator("[data-testid=field-settings\\.concurrency]");
      await expect.poll(() => concurrency.inputValue()).toBe("2");
      // Bounds and help come from the schema.
      expect(await concurrency.getAttribute("min")).toBe("1");
      expect(await page.textContent("[data-testid=group-settings]")).toContain("max_cost");
      // An enum is a select: the design.
      expect(await page.locator("[data-testid=field-design] option").allTextContents()).toEqual([
        "one-trial-per-run",
        "many-trials-per-run",
      ]);
      await concurrency.fill("6");
      await concurrency.press("Enter");
      const editor = page.locator(".cm-content");
      await expect.poll(() => editor.textContent()).toContain("concurrency: 6 # two conversations at a time");
      // An out-of-range value: the compiler's problem appears at the field.
      await concurrency.fill("0");
      await concurrency.press("Enter");
      await expect
        .poll(() => page.textContent("[data-testid=field-problem-settings\\.concurrency]"), {
          timeout: 10_000,
        })
        .toContain("must be at least 1");
      await concurrency.fill("6");
      await concurrency.press("Enter");
      await expect.poll(() => page.locator("[data-testid=problems] li").count(), { timeout: 10_000 }).toBe(0);
      // An optional field added from the schema's list, then removed again.
      await page.selectOption("[data-testid=add-field-root]", "sessions");
      await expect.poll(() => editor.textContent()).toContain("sessions: 1");
      await page.screenshot({ path: join(TEST_OUTPUT, "builder-form.png"), fullPage: true });
      await page.click("[data-testid=remove-field-sessions]");
      await expect.poll(() => editor.textContent()).not.toContain("sessions: 1");
      await page.click("[data-testid=save]");
      await expect.poll(() => page.textContent("[data-testid=message]")).toContain("saved pronouns.yaml");
      const saved = readFileSync(join(dir, "pronouns.yaml"), "utf8");
      const before = STIMULI_STUDY.split("\n");
      const after = saved.split("\n");
      expect(after.length).toBe(before.length);
      expect(after.filter((l, i) => l !== before[i])).toEqual([
        "  concurrency: 6 # two conversations at a time",
      ]);
    });
  }, 90_000);

  it("opens an otree study and previews each bot seat's system prompt; completes persona fields", async () => {
    await step(page, "otree", async () => {
      await page.goto(`${studio.origin}/#/builder?file=otree/ultimatum.yaml`);
      const seat2 = page.locator('[data-testid="preview-seat 2"]');
      await expect
        .poll(() => seat2.textContent(), { timeout: 10_000 })
        .toMatch(/You are (Ada|Ben) in seat 2 of ultimatum\./);
      expect(await page.textContent('[data-testid="preview-seat 3"]')).toMatch(
        /You are (Ada|Ben) in seat 3 of ultimatum\./,
      );
      expect(await page.textContent("[data-testid=preview-humans]")).toBe("human seats: 1");
      // The otree, session and bots blocks are forms.
      await page.click("[data-testid=group-bots] summary");
      expect(await page.locator("[data-testid=field-bots\\.memory] option").allTextContents()).toEqual([
        "full",
        "summary",
      ]);
      await page.click("[data-testid=group-session] summary");
      await expect
        .poll(() => page.locator("[data-testid=field-session\\.participants]").inputValue())
        .toBe("3");
      // The bots' model is picked like any study's.
      await page.fill("[data-testid=model-all]", "openai:gpt-4o-mini");
      await page.press("[data-testid=model-all]", "Enter");
      await expect.poll(() => seat2.locator("h3").textContent()).toContain("openai:gpt-4o-mini");
      // Completion offers the persona's fields inside {{ … }}.
      await page.locator(".cm-content").click();
      await page.keyboard.press("Control+End");
      await page.keyboard.type("# {{ persona.na");
      await expect
        .poll(() => page.locator(".cm-tooltip-autocomplete").textContent())
        .toContain("persona.name");
      await page.screenshot({ path: join(TEST_OUTPUT, "builder-otree.png"), fullPage: true });
      await page.keyboard.press("Escape");
    });
  }, 90_000);

  it("draws the form of every kind's template without a page error, and previews each", async () => {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await step(page, "templates", async () => {
      await page.goto(`${studio.origin}/#/builder`);
      for (const kind of ["game", "factorial", "stimuli", "otree", "agents"]) {
        await page.click(`[data-testid=new-${kind}]`);
        await expect
          .poll(() => page.textContent("[data-testid=form-section]"), { timeout: 10_000 })
          .toContain(`from the ${kind} schema`);
        // Every optional root field of the kind's schema is offered.
        expect(await page.locator("[data-testid=add-field-root] option").count()).toBeGreaterThan(1);
        if (kind !== "stimuli")
          await expect
            .poll(() => page.locator("[data-testid=preview] .chat").count(), { timeout: 10_000 })
            .toBeGreaterThan(0);
      }
      // A template of a game: its stage list is left to the text; its payoffs are a mapping of texts.
      await page.click("[data-testid=new-game]");
      await expect.poll(() => page.locator("[data-testid=in-text-stages]").count()).toBe(1);
      await page.click("[data-testid=group-payoffs] summary");
      expect(await page.locator("[data-testid=field-payoffs\\.first]").inputValue()).toBe(
        "bonus if me.pick == other.pick else 0",
      );
    });
    expect(errors).toEqual([]);
  }, 90_000);

  it("previews an agents file with example variables the page can change", async () => {
    await step(page, "agents", async () => {
      await page.goto(`${studio.origin}/#/builder?file=agents.yaml`);
      const advisor = page.locator("[data-testid=preview-advisor]");
      await expect
        .poll(() => advisor.textContent(), { timeout: 10_000 })
        .toContain("You advise in round 1 with a budget of ‹budget›.");
      await page.fill("[data-testid=var-budget]", "40");
      await page.press("[data-testid=var-budget]", "Enter");
      await expect.poll(() => advisor.textContent(), { timeout: 10_000 }).toContain("with a budget of 40.");
      expect(await advisor.textContent()).toContain("They say: Hello! What do you propose?");
      // One model input per agent.
      expect(await page.locator("[data-testid=model-role-advisor]").count()).toBe(1);
      await page.screenshot({ path: join(TEST_OUTPUT, "builder-agents.png") });
    });
  }, 90_000);
});
