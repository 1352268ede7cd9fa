// The browser transport on a real oTree devserver and a real Chromium (Debian's `chromium`, or
// SILICO_CHROMIUM): every widget, client- and server-side rejections, a slider set by JavaScript
// that HTTP bots cannot answer, several bots in one browser, and no Chromium process left behind.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OTREE_SETUP_HINT, OTREE_TEST_PROJECT, REPO_ROOT, testOtree } from "../test-support/python.js";
import type { LoadedPage } from "./bot-contract.js";
import { SharedBrowser } from "./browser-pool.js";
import { BrowserTransport } from "./browser-transport.js";
import { type Devserver, startDevserver } from "./devserver.js";
import { readOtreePage } from "./page-reader.js";
import { OtreeRestClient } from "./rest-client.js";

const WIDGETS = {
  age: "30",
  height: "1.75",
  temperature: "-3.5",
  bid: "12",
  name: "Ada",
  essay: "Coffee, then work.",
  color: "g",
  fruit: "Banana",
  rating: "4",
  likes_tea: "True",
  agree: "y",
};

/** Processes whose command line names the browser's profile folder (every Chromium process of it). */
function chromiumProcesses(profileDir: string): { pid: number; main: boolean }[] {
  const found: { pid: number; main: boolean }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      // A zombie has an empty command line and no memory: it is gone but for its exit status.
    } catch {
      continue;
    }
    if (cmdline.includes(profileDir)) found.push({ pid: Number(entry), main: !cmdline.includes("--type=") });
  }
  return found;
}

/** Proportional set size (shared pages split between sharers) of some processes, in MB. */
function pssMb(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      kb += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    } catch {
      // ended meanwhile
    }
  }
  return kb / 1024;
}

/** The cells of one CSV line (oTree quotes cells with commas; no line breaks in this test's values). */
function csvCells(line: string): string[] {
  const cells: string[] = [];
  for (const m of line.matchAll(/(?:^|,)("(?:[^"]|"")*"|[^,]*)/g)) {
    const cell = m[1] ?? "";
    cells.push(cell.startsWith('"') ? cell.slice(1, -1).replace(/""/g, '"') : cell);
  }
  return cells;
}

async function waitUntil(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

describe("the browser transport on a real devserver and Chromium", () => {
  const otree = testOtree();
  if (!otree) throw new Error(`the oTree integration tests need oTree 6.0. To get it: ${OTREE_SETUP_HINT}.`);
  const dir = mkdtempSync(join(tmpdir(), "silico-otree-browser-"));
  const project = join(dir, "project");
  let server: Devserver;
  let rest: OtreeRestClient;
  let browser: SharedBrowser;

  async function startLinks(config: string, participants: number): Promise<string[]> {
    const session = await rest.createSession({ configName: config, participants });
    return (await rest.session(session.code)).participants.map((p) => rest.startLink(p.code));
  }

  beforeAll(async () => {
    cpSync(OTREE_TEST_PROJECT, project, { recursive: true });
    server = await startDevserver({ projectDir: project, otree });
    rest = new OtreeRestClient(server.baseUrl);
    browser = new SharedBrowser({ maxPages: 2 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("walks the widgets app with correct values to its end page", async () => {
    const session = await rest.createSession({ configName: "widgets", participants: 1 });
    const start = rest.startLink((await rest.session(session.code)).participants[0]?.code ?? "");
    const bot = new BrowserTransport(browser);
    try {
      const widgets = await bot.open(start);
      expect(widgets.url).toMatch(/\/widgets\/Widgets\/1$/);
      expect(widgets.page.kind).toBe("form");
      // The browser reads the same fields as an HTTP bot.
      const overHttp = readOtreePage(await (await fetch(widgets.url)).text(), { url: widgets.url });
      expect(widgets.page.fields.map((f) => f.name)).toEqual(overHttp.fields.map((f) => f.name));
      expect(widgets.page.fields.find((f) => f.name === "age")).toMatchObject({ min: 18, max: 120 });

      const offer = await bot.submit({ fields: WIDGETS, button: { role: "next" } });
      expect(offer.rejected).toBe(false);
      expect(offer.url).toMatch(/\/Offer\/2$/);
      expect(offer.page.buttons.map((b) => b.value)).toEqual(["True", "False"]);

      const split = await bot.submit({
        fields: {},
        button: { name: "accepted", value: "True", role: "choice" },
      });
      expect(split.url).toMatch(/\/Split\/3$/);

      const results = await bot.submit({
        fields: { guess: "4", share_a: "60", share_b: "40" },
        button: { role: "next" },
      });
      expect(results.page.kind).toBe("end");
      expect(results.page.text).toContain("You gave 60 points to A and 40 points to B");
    } finally {
      await bot.close();
    }
    // What the browser posted is what oTree stored.
    const csv = await (
      await fetch(`${server.baseUrl}/api/export_app?app=widgets&session_code=${session.code}`)
    ).text();
    const [header, row] = csv.trim().split(/\r?\n/).map(csvCells);
    const stored = (column: string) => row?.[header?.indexOf(`player.${column}`) ?? -1];
    expect([stored("age"), stored("fruit"), stored("color"), stored("agree"), stored("accepted")]).toEqual([
      "30",
      "Banana",
      "g",
      "1",
      "1",
    ]);
  }, 120_000);

  it("reports bad values as a rejected page: HTML5 validation in the browser, and the server's own messages", async () => {
    const [start] = await startLinks("widgets", 1);
    const bot = new BrowserTransport(browser);
    try {
      const widgets = await bot.open(start as string);
      // Below the field's min: Chromium's validation blocks the submit; nothing reaches oTree.
      const young = await bot.submit({ fields: { ...WIDGETS, age: "12" }, button: { role: "next" } });
      expect(young.rejected).toBe(true);
      expect(young.url).toBe(widgets.url);
      expect(young.page.pageErrors.join(" ")).toMatch(/^age: .*18/);
      expect(young.page.fields.find((f) => f.name === "age")).toMatchObject({
        value: "12",
        error: expect.stringMatching(/18/),
      });
      // Not a number at all: the browser refuses to type it.
      const text = await bot.submit({ fields: { ...WIDGETS, age: "thirty" }, button: { role: "next" } });
      expect(text.rejected).toBe(true);
      expect(text.page.pageErrors.join(" ")).toMatch(/age: .*number/);
      // A choice the page does not offer.
      const color = await bot.submit({ fields: { ...WIDGETS, color: "purple" }, button: { role: "next" } });
      expect(color.rejected).toBe(true);
      expect(color.page.pageErrors.join(" ")).toMatch(/color: "purple" is not one of the choices/);
      // The page was not left: the good answer goes through.
      const offer = await bot.submit({ fields: WIDGETS, button: { role: "next" } });
      expect(offer.url).toMatch(/\/Offer\/2$/);
      const split = await bot.submit({
        fields: {},
        button: { name: "accepted", value: "False", role: "choice" },
      });
      // Server-side: an odd guess (guess_error_message) and shares that do not add up (error_message).
      const odd = await bot.submit({
        fields: { guess: "3", share_a: "50", share_b: "40" },
        button: { role: "next" },
      });
      expect(odd.rejected).toBe(true);
      expect(odd.url).toBe(split.url);
      expect(odd.page.fields.find((f) => f.name === "guess")?.error).toBe("The guess must be even");
      const sum = await bot.submit({
        fields: { guess: "4", share_a: "50", share_b: "40" },
        button: { role: "next" },
      });
      expect(sum.rejected).toBe(true);
      expect(sum.page.pageErrors).toContain("The shares must add up to 100");
      const done = await bot.submit({
        fields: { guess: "4", share_a: "50", share_b: "50" },
        button: { role: "next" },
      });
      expect(done.rejected).toBe(false);
      expect(done.page.kind).toBe("end");
    } finally {
      await bot.close();
    }
  }, 120_000);

  it("answers a slider set by JavaScript, which a plain HTTP bot cannot see", async () => {
    // Over HTTP the page has nothing to answer: the slider has no name, the field is hidden.
    const [httpStart] = await startLinks("js_slider", 1);
    const first = await fetch(httpStart as string);
    const httpPage = readOtreePage(await first.text(), { url: first.url, headers: first.headers });
    expect(httpPage.kind).toBe("form");
    expect(httpPage.fields).toEqual([]);
    // … and submitting it as it is fails on the server.
    const posted = await fetch(first.url, {
      method: "POST",
      body: new URLSearchParams({}),
      redirect: "manual",
    });
    expect(posted.status).toBe(200);
    expect(posted.headers.get("otree-redisplay-with-errors")).toBe("1");
    await posted.body?.cancel();

    const [start] = await startLinks("js_slider", 1);
    const bot = new BrowserTransport(browser);
    try {
      const slider = await bot.open(start as string);
      expect(slider.page.fields).toEqual([
        expect.objectContaining({
          name: "give_slider",
          label: "Points you give",
          type: "integer",
          min: 0,
          max: 100,
        }),
      ]);
      const timed = await bot.submit({ fields: { give_slider: "70" }, button: { role: "next" } });
      expect(timed.rejected).toBe(false);
      expect(timed.url).toMatch(/\/js_slider\/Timed\/2$/);
      expect(timed.page.timeoutSeconds).toBeGreaterThan(0);
      // oTree's back button (a type=button with a script) leads back to the slider.
      const back = await bot.submit({ fields: {}, button: { role: "back" } });
      expect(back.url).toMatch(/\/js_slider\/Slider\/1$/);
      const again = await bot.submit({ fields: { give_slider: "70" }, button: { role: "next" } });
      expect(again.url).toBe(timed.url);
      // With pageTimer "bot" (the default) the page's countdown never submits it: the bot's late
      // answer is the one oTree gets, flagged as a timeout as oTree's own script would.
      await new Promise((r) => setTimeout(r, 3000));
      const results = await bot.submit({
        fields: { note: "typed" },
        button: { role: "next" },
        timeoutHappened: true,
      });
      expect(results.page.text).toContain("You gave 70 points");
      expect(results.page.text).toContain("Timed out: yes. Note: [typed]");
    } finally {
      await bot.close();
    }
  }, 120_000);

  it('with pageTimer "page", lets oTree\'s own timer submit a timed page and does not post the late answer', async () => {
    const own = new SharedBrowser({ maxPages: 1, pageTimer: "page" });
    const [start] = await startLinks("js_slider", 1);
    const bot = new BrowserTransport(own);
    try {
      await bot.open(start as string);
      const timed = await bot.submit({ fields: { give_slider: "30" }, button: { role: "next" } });
      expect(timed.url).toMatch(/\/Timed\/2$/);
      await new Promise((r) => setTimeout(r, 5000));
      // The page moved on by itself: the transport says where the bot is instead of filling in
      // the next page.
      const after = await bot.submit({ fields: { note: "typed" }, button: { role: "next" } });
      expect(after.page.text).toContain("You gave 30 points");
      expect(after.page.text).toContain("Timed out: yes. Note: []");
    } finally {
      await bot.close();
      await own.close();
    }
  }, 120_000);

  it("passes the js_slider app's own oTree bots (otree test js_slider)", () => {
    const copy = join(dir, "bots");
    cpSync(OTREE_TEST_PROJECT, copy, { recursive: true });
    const r = spawnSync(otree, ["test", "js_slider"], {
      cwd: copy,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    });
    expect(r.stderr + r.stdout).toContain("Bots completed session");
    expect(r.status).toBe(0);
  }, 150_000);

  it("runs several bots in one browser with at most maxPages pages open, and gives pages back on wait pages", async () => {
    const starts = await startLinks("widgets", 5);
    // Two-player groups with wait pages: with 2 slots for 4 bots, bots waiting for their
    // partner must give their page back or the run would stall.
    const waiting = await startLinks("waiting", 4);
    let most = 0;
    const watch = setInterval(() => {
      most = Math.max(most, browser.openPages);
    }, 5);
    try {
      const walkWidgets = async (start: string): Promise<string> => {
        const bot = new BrowserTransport(browser);
        try {
          await bot.open(start);
          await bot.submit({ fields: WIDGETS, button: { role: "next" } });
          await bot.submit({ fields: {}, button: { name: "accepted", value: "True", role: "choice" } });
          const end = await bot.submit({
            fields: { guess: "2", share_a: "30", share_b: "70" },
            button: { role: "next" },
          });
          return end.page.text;
        } finally {
          await bot.close();
        }
      };
      const walkWaiting = async (start: string): Promise<{ pages: number; waits: number }> => {
        const bot = new BrowserTransport(browser);
        let pages = 0;
        let waits = 0;
        try {
          let page: LoadedPage = await bot.open(start);
          for (let step = 0; step < 200 && page.page.kind !== "end"; step++) {
            if (page.page.kind === "wait") {
              waits++;
              expect(page.page.text).not.toBe("");
              await new Promise((r) => setTimeout(r, 300));
              page = await bot.reload();
              continue;
            }
            const fields = Object.fromEntries(page.page.fields.map((f) => [f.name, String(f.min ?? 0)]));
            page = await bot.submit({ fields, button: { role: "next" } });
            pages++;
          }
          expect(page.page.kind).toBe("end");
          return { pages, waits };
        } finally {
          await bot.close();
        }
      };
      const [texts, counts] = await Promise.all([
        Promise.all(starts.map(walkWidgets)),
        Promise.all(waiting.map(walkWaiting)),
      ]);
      for (const text of texts) expect(text).toContain("You gave 30 points to A and 70 points to B");
      for (const count of counts) expect(count.pages).toBeGreaterThanOrEqual(6);
      // Someone waited for a partner at least once (the first of each pair to submit).
      expect(counts.reduce((sum, c) => sum + c.waits, 0)).toBeGreaterThan(0);
    } finally {
      clearInterval(watch);
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2);
    expect(browser.openPages).toBe(0);
    // One browser for all of them.
    const profile = browser.profileDirectory as string;
    expect(chromiumProcesses(profile).filter((p) => p.main)).toHaveLength(1);
  }, 300_000);

  it("gives an idle bot's page to a bot that needs one, and the idle bot opens it again to submit", async () => {
    const own = new SharedBrowser({ maxPages: 1 });
    const [a, b] = await startLinks("widgets", 2);
    const botA = new BrowserTransport(own);
    const botB = new BrowserTransport(own);
    try {
      // A and B take turns as if each waited for its model between calls: one page serves both.
      await botA.open(a as string);
      await botB.open(b as string);
      expect(own.reclaimed).toBe(1);
      expect(own.openPages).toBe(1);
      const offerA = await botA.submit({ fields: WIDGETS, button: { role: "next" } });
      const offerB = await botB.submit({ fields: { ...WIDGETS, fruit: "Cherry" }, button: { role: "next" } });
      expect([offerA.url, offerB.url]).toEqual([
        expect.stringMatching(/\/Offer\/2$/),
        expect.stringMatching(/\/Offer\/2$/),
      ]);
      // A refused value comes back on the page reopened for it, too.
      const refused = await botA.submit({
        fields: {},
        button: { name: "accepted", value: "Maybe", role: "choice" },
      });
      expect(refused.url).toBe(offerA.url);
      expect(refused.rejected).toBe(true);
      expect(refused.page.pageErrors).toEqual(['accepted: the page has no button with the value "Maybe"']);
      await botB.submit({ fields: {}, button: { name: "accepted", value: "False", role: "choice" } });
      await botA.submit({ fields: {}, button: { name: "accepted", value: "True", role: "choice" } });
      const endA = await botA.submit({
        fields: { guess: "8", share_a: "1", share_b: "99" },
        button: { role: "next" },
      });
      const endB = await botB.submit({
        fields: { guess: "6", share_a: "99", share_b: "1" },
        button: { role: "next" },
      });
      expect(endA.page.text).toContain("You gave 1 points to A");
      expect(endB.page.text).toContain("You gave 99 points to A");
      expect(own.reclaimed).toBeGreaterThanOrEqual(5);
      expect(own.openPages).toBe(0);
    } finally {
      await botA.close();
      await botB.close();
      await own.close();
    }
  }, 120_000);

  it("measures memory per open page, and leaves no Chromium process and no profile folder when closed", async () => {
    const own = new SharedBrowser({ maxPages: 8 });
    const bots: BrowserTransport[] = [];
    try {
      const starts = await startLinks("widgets", 8);
      const first = new BrowserTransport(own);
      bots.push(first);
      await first.open(starts[0] as string);
      const profile = own.profileDirectory as string;
      expect(existsSync(profile)).toBe(true);
      const one = pssMb(chromiumProcesses(profile).map((p) => p.pid));
      for (const start of starts.slice(1)) {
        const bot = new BrowserTransport(own);
        bots.push(bot);
        await bot.open(start);
      }
      expect(own.openPages).toBe(8);
      const processes = chromiumProcesses(profile);
      const eight = pssMb(processes.map((p) => p.pid));
      const perPage = (eight - one) / 7;
      console.log(
        `chromium memory (PSS): ${one.toFixed(0)} MB with 1 page, ${eight.toFixed(0)} MB with 8 pages ` +
          `(${processes.length} processes): ≈ ${perPage.toFixed(1)} MB per extra page`,
      );
      expect(perPage).toBeGreaterThan(0);
      expect(perPage).toBeLessThan(150);

      await own.close();
      expect(await waitUntil(() => chromiumProcesses(profile).length === 0, 10_000)).toBe(true);
      expect(existsSync(profile)).toBe(false);
      await expect(own.lease()).rejects.toThrow(/closed/);
    } finally {
      await own.close();
    }
  }, 180_000);

  it("closes the browser when the run is aborted, also while bots wait for a page slot", async () => {
    const abort = new AbortController();
    const own = new SharedBrowser({ maxPages: 1, signal: abort.signal });
    const [start] = await startLinks("widgets", 1);
    // A page in use (not idle) cannot be reclaimed: the bot has to wait for the slot.
    const busy = await own.lease();
    await busy.page.goto(start as string);
    const profile = own.profileDirectory as string;
    const waiter = new BrowserTransport(own).open(start as string);
    const outcome = waiter.then(
      () => "opened",
      (err: Error) => err.message,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(own.openPages).toBe(1);
    abort.abort(new Error("run aborted"));
    expect(await outcome).toBe("the shared browser was closed");
    expect(
      await waitUntil(() => chromiumProcesses(profile).length === 0 && !existsSync(profile), 10_000),
    ).toBe(true);
  }, 120_000);

  it("leaves no Chromium process when the silico process is killed with SIGKILL; the next launch removes its profile folder", async () => {
    // The built package, as the CLI runs it (`npm run build` first).
    const pool = join(REPO_ROOT, "packages", "silico", "dist", "otree", "browser-pool.js");
    expect(existsSync(pool), `${pool} is missing: run npm run build`).toBe(true);
    const script = [
      "const { SharedBrowser } = await import(process.argv[1]);",
      "const browser = new SharedBrowser({ maxPages: 1 });",
      "const lease = await browser.lease();",
      "await lease.page.setContent('<p>a bot page</p>');",
      "console.log(browser.profileDirectory);",
      "setInterval(() => {}, 1000);",
    ].join("\n");
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, pool], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const profile = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("\n")) resolve(out.trim());
      });
      child.on("exit", (code) => reject(new Error(`the child exited early (${code})`)));
    });
    try {
      expect(chromiumProcesses(profile).length).toBeGreaterThan(0);
      child.kill("SIGKILL");
      // Chromium ends when the pipe to its controlling process closes.
      expect(await waitUntil(() => chromiumProcesses(profile).length === 0, 10_000)).toBe(true);
      // The killed process could not remove its profile folder: the next launch does.
      expect(basename(profile)).toMatch(new RegExp(`^silico-chromium-${child.pid}-`));
      expect(existsSync(profile)).toBe(true);
      const next = new SharedBrowser({ maxPages: 1 });
      try {
        const lease = await next.lease();
        expect(existsSync(profile)).toBe(false);
        expect(existsSync(next.profileDirectory as string)).toBe(true);
        await lease.release();
      } finally {
        await next.close();
      }
    } finally {
      child.kill("SIGKILL");
      rmSync(profile, { recursive: true, force: true });
    }
  }, 60_000);

  it("loads playwright-core only when a browser is launched, so HTTP bots never pay for it", () => {
    const dist = join(REPO_ROOT, "packages", "silico", "dist", "otree");
    expect(existsSync(join(dist, "browser-transport.js")), "run npm run build").toBe(true);
    // A resolve hook that refuses playwright-core: importing the browser modules and making a
    // SharedBrowser must not need it; the first lease must (which shows the hook works).
    const hook = `data:text/javascript,${encodeURIComponent(
      "export async function resolve(s, c, next) { if (s.startsWith('playwright-core')) throw new Error('playwright-core was loaded'); return next(s, c); }",
    )}`;
    const script = [
      `import { register } from "node:module";`,
      `register(${JSON.stringify(hook)});`,
      `const { BrowserTransport } = await import(${JSON.stringify(join(dist, "browser-transport.js"))});`,
      `const { SharedBrowser } = await import(${JSON.stringify(join(dist, "browser-pool.js"))});`,
      "const browser = new SharedBrowser();",
      "new BrowserTransport(browser);",
      `console.log("constructed without playwright-core");`,
      "try { await browser.lease(); } catch (err) { console.log(err.message); }",
      "await browser.close();",
    ].join("\n");
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("constructed without playwright-core\nplaywright-core was loaded\n");
  }, 60_000);
});
