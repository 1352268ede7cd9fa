import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOpenAITestServer, type TestServer } from "@silico/test-server";
import { data, run, summary } from "silico";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStudio, type StudioHandle } from "./server.js";
import { gameStudy, http, type Reply } from "./testing/fixtures.js";

const FAKE_KEY = "sk-test-studio-0123456789";

describe("silico studio API (real HTTP server, real store, the project's test model server)", () => {
  let server: TestServer;
  let studio: StudioHandle;
  let dir: string;
  let db: string;
  let cliRunId: string;
  const auth = () => ({ "x-silico-token": studio.token });
  const get = (path: string) => http(studio.port, path, { headers: auth() });
  const post = (path: string, body: unknown) =>
    http(studio.port, path, { method: "POST", headers: auth(), body });
  const json = <T = Record<string, unknown>>(r: Reply): T => JSON.parse(r.text) as T;

  beforeAll(async () => {
    server = await startOpenAITestServer({
      models: ["test-model", "test-model-b"],
      responder: ({ messages }) => {
        const last = String(messages.at(-1)?.content ?? "");
        // Round 1 picks A; round 2 picks B for the "high" treatment only (payoffs then differ).
        return /Round 2/.test(last) && /earn 5/.test(last) ? "B" : "A";
      },
    });
    dir = mkdtempSync(join(tmpdir(), "silico-studio-"));
    db = join(dir, "silico.db");
    writeFileSync(join(dir, "game.yaml"), gameStudy(server.url));
    // A run made by the library (as the CLI makes it) before the studio starts.
    const outcome = await run(join(dir, "game.yaml"), { db, apiKeys: { TESTSERVER_KEY: FAKE_KEY } });
    expect(outcome.status).toBe("done");
    cliRunId = outcome.runId;
    studio = await startStudio({
      db: "silico.db",
      projectDir: dir,
      port: 0,
      env: { TESTSERVER_KEY: FAKE_KEY },
      engine: { backoffMs: 5 },
    });
  });

  afterAll(async () => {
    await studio?.close();
    await server?.close();
  });

  describe("security", () => {
    it("binds 127.0.0.1 and prints a URL carrying a random token", () => {
      expect(studio.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}$/);
      expect(studio.url).toContain(studio.token);
    });

    it("refuses requests without the token, or with a wrong one (401)", async () => {
      expect((await http(studio.port, "/api/runs")).status).toBe(401);
      expect((await http(studio.port, "/")).status).toBe(401);
      expect((await http(studio.port, "/api/runs", { headers: { "x-silico-token": "nope" } })).status).toBe(
        401,
      );
      expect((await http(studio.port, "/api/runs?token=nope")).status).toBe(401);
    });

    it("turns the token of the first page load into an HttpOnly SameSite=Strict cookie and drops it from the address", async () => {
      const r = await http(studio.port, `/?token=${studio.token}`);
      expect(r.status).toBe(303);
      expect(r.headers.location).toBe("/");
      const cookie = String(r.headers["set-cookie"]);
      expect(cookie).toContain("HttpOnly");
      expect(cookie).toContain("SameSite=Strict");
      const pair = cookie.split(";")[0] as string;
      const withCookie = await http(studio.port, "/api/runs", { headers: { cookie: pair } });
      expect(withCookie.status).toBe(200);
    });

    it("checks the Host header: other names are refused even with the token (DNS rebinding)", async () => {
      for (const host of [
        "evil.example:80",
        `evil.example:${studio.port}`,
        "127.0.0.1",
        `127.0.0.2:${studio.port}`,
      ]) {
        const r = await http(studio.port, "/api/runs", { headers: { ...auth(), host } });
        expect(r.status, host).toBe(421);
      }
      const ok = await http(studio.port, "/api/runs", {
        headers: { ...auth(), host: `localhost:${studio.port}` },
      });
      expect(ok.status).toBe(200);
    });

    it("sends no CORS headers and refuses a foreign Origin", async () => {
      const r = await http(studio.port, "/api/runs", {
        headers: { ...auth(), origin: "http://evil.example" },
      });
      expect(r.status).toBe(403);
      const own = await http(studio.port, "/api/runs", { headers: { ...auth(), origin: studio.origin } });
      expect(own.status).toBe(200);
      for (const h of Object.keys(own.headers)) expect(h.startsWith("access-control-")).toBe(false);
      const pre = await http(studio.port, "/api/runs", {
        method: "OPTIONS",
        headers: { ...auth(), origin: "http://evil.example" },
      });
      for (const h of Object.keys(pre.headers)) expect(h.startsWith("access-control-")).toBe(false);
    });

    it("never sends an API key to the browser", async () => {
      const pages = [
        "/api/runs",
        `/api/runs/${cliRunId}`,
        `/api/runs/${cliRunId}/sessions`,
        `/api/runs/${cliRunId}/export?format=jsonl`,
      ];
      const t = json<{ session: { key: string } }>(await get(`/api/runs/${cliRunId}/sessions?limit=1`));
      const key = (t as unknown as { items: { key: string }[] }).items[0]?.key as string;
      pages.push(`/api/runs/${cliRunId}/transcript/${encodeURIComponent(key)}`);
      const tr = json<{ calls: { id: number }[] }>(await get(pages.at(-1) as string));
      pages.push(`/api/runs/${cliRunId}/calls/${tr.calls[0]?.id}`);
      for (const p of pages) {
        const r = await get(p);
        expect(r.status, p).toBe(200);
        expect(r.text, p).not.toContain(FAKE_KEY);
      }
    });
  });

  describe("results", () => {
    it("lists runs with status, kind, models and cost", async () => {
      const r = json<{ items: { id: string; status: string; kind: string; models: string[] }[] }>(
        await get("/api/runs"),
      );
      expect(r.items[0]).toMatchObject({
        id: cliRunId,
        status: "done",
        kind: "game",
        models: ["ts:test-model"],
      });
    });

    it("gives a run's detail; an unknown run is a 404 naming it", async () => {
      const r = json<{ status: string; observationNames: string[] }>(await get(`/api/runs/${cliRunId}`));
      expect(r.status).toBe("done");
      expect(r.observationNames).toEqual(expect.arrayContaining(["pick", "payoff"]));
      const counts = json<{
        observations: number;
        statusCounts: Record<string, number>;
        models: { model: string; calls: number }[];
      }>(await get(`/api/runs/${cliRunId}/counts`));
      expect(counts.observations).toBe(32); // 16 picks and 16 payoffs
      expect(counts.statusCounts.done).toBe(4);
      expect(counts.models[0]).toMatchObject({ model: "ts:test-model", calls: 16 });
      const coords = json<Record<string, unknown[]>>(await get(`/api/runs/${cliRunId}/coordinates`));
      expect(coords.treatment).toEqual(expect.arrayContaining(["low", "high"]));
      const missing = await get("/api/runs/19990101-000000-dead");
      expect(missing.status).toBe(404);
      expect(json<{ error: string }>(missing).error).toContain("19990101-000000-dead");
    });

    it("gives the silico summary table, the same as the library's", async () => {
      const r = json<{ rows: unknown[]; by: string[] }>(await get(`/api/runs/${cliRunId}/summary`));
      const lib = await summary(cliRunId, { db });
      expect(r).toEqual(JSON.parse(JSON.stringify(lib)));
      expect(r.rows.length).toBeGreaterThan(0);
    });

    it("pages sessions on the server and filters them (status, model, treatment)", async () => {
      const p1 = json<{ items: { key: string }[]; total: number; nextOffset: number | null }>(
        await get(`/api/runs/${cliRunId}/sessions?limit=3`),
      );
      expect(p1.items).toHaveLength(3);
      expect(p1.total).toBe(4);
      expect(p1.nextOffset).toBe(3);
      const p2 = json<{ items: { key: string }[] }>(
        await get(`/api/runs/${cliRunId}/sessions?limit=3&offset=3`),
      );
      expect(p2.items).toHaveLength(1);
      const high = json<{ items: { coords: { treatment: string } }[]; total: number }>(
        await get(`/api/runs/${cliRunId}/sessions?treatment=high`),
      );
      expect(high.total).toBe(2);
      expect(high.items.every((s) => s.coords.treatment === "high")).toBe(true);
      expect(json<{ total: number }>(await get(`/api/runs/${cliRunId}/sessions?status=invalid`)).total).toBe(
        0,
      );
      expect(json<{ total: number }>(await get(`/api/runs/${cliRunId}/sessions?status=valid`)).total).toBe(4);
      expect(json<{ total: number }>(await get(`/api/runs/${cliRunId}/sessions?status=tainted`)).total).toBe(
        0,
      );
      expect(
        json<{ total: number }>(await get(`/api/runs/${cliRunId}/sessions?model=ts:test-model`)).total,
      ).toBe(4);
      expect(json<{ total: number }>(await get(`/api/runs/${cliRunId}/sessions?model=ts:other`)).total).toBe(
        0,
      );
      expect((await get(`/api/runs/${cliRunId}/sessions?status=bogus`)).status).toBe(400);
      expect((await get(`/api/runs/${cliRunId}/sessions?limit=0`)).status).toBe(400);
    });

    it("pages observations with filters (name, validity, coordinates typed as stored)", async () => {
      const r = json<{ items: { name: string; value: unknown }[]; total: number }>(
        await get(`/api/runs/${cliRunId}/observations?name=pick&coord.round=2&treatment=high&limit=10`),
      );
      expect(r.total).toBe(4); // 2 groups × 2 players
      expect(r.items.every((o) => o.name === "pick" && o.value === "B")).toBe(true);
      expect(json<{ total: number }>(await get(`/api/runs/${cliRunId}/observations?valid=false`)).total).toBe(
        0,
      );
    });

    it("aggregates on the server: means with 95 % intervals per treatment × round, and choice shares", async () => {
      const payoff = json<{
        kind: string;
        means: { group: Record<string, unknown>; mean: number; lo: number; hi: number }[];
      }>(await get(`/api/runs/${cliRunId}/plot?name=payoff&by=treatment,round`));
      expect(payoff.kind).toBe("mean");
      expect(payoff.means).toHaveLength(4);
      const cell = payoff.means.find((m) => m.group.treatment === "high" && m.group.round === 2);
      expect(cell?.mean).toBe(5); // both pick B: coordinated
      for (const m of payoff.means) expect(m.lo).toBeLessThanOrEqual(m.hi);
      const picks = json<{
        kind: string;
        shares: { group: Record<string, unknown>; value: string; share: number }[];
      }>(await get(`/api/runs/${cliRunId}/plot?name=pick&by=treatment,round`));
      expect(picks.kind).toBe("share");
      const b = picks.shares.find(
        (s) => s.group.treatment === "high" && s.group.round === 2 && s.value === "B",
      );
      expect(b?.share).toBe(1);
      expect((await get(`/api/runs/${cliRunId}/plot?name=nothing`)).status).toBe(404);
    });

    it("gives a numeric distribution in bins", async () => {
      const r = json<{ bins: { x0: number; count: number }[] }>(
        await get(`/api/runs/${cliRunId}/plot?name=payoff&by=treatment`),
      );
      const total = r.bins.reduce((s, b) => s + b.count, 0);
      expect(total).toBe(16); // 4 groups × 2 players × 2 rounds
    });

    it("gives a session's transcript (system prompt, messages, answers) and each call's raw request and response", async () => {
      const s = json<{ items: { key: string }[] }>(await get(`/api/runs/${cliRunId}/sessions?limit=1`));
      const key = s.items[0]?.key as string;
      const t = json<{
        participants: { id: string; messages: { role: string; content: string }[] }[];
        calls: { id: number }[];
      }>(await get(`/api/runs/${cliRunId}/transcript/${encodeURIComponent(key)}`));
      expect(t.participants).toHaveLength(2);
      const left = t.participants.find((p) => p.id === "left");
      expect(left?.messages[0]).toMatchObject({
        role: "system",
        content: "You are player left in a coordination game.",
      });
      expect(t.calls).toHaveLength(4);
      const call = json<{ request: { messages: unknown[] }; response: unknown }>(
        await get(`/api/runs/${cliRunId}/calls/${t.calls[0]?.id}`),
      );
      expect(call.request.messages.length).toBeGreaterThan(0);
      expect(call.response).not.toBeNull();
      expect((await get(`/api/runs/${cliRunId}/transcript/nope`)).status).toBe(404);
    });

    it("downloads every export format, identical to silico data", async () => {
      for (const format of ["csv", "jsonl"]) {
        const r = await get(`/api/runs/${cliRunId}/export?format=${format}`);
        expect(r.status, `${format}: ${r.text}`).toBe(200);
        expect(String(r.headers["content-disposition"])).toContain("attachment");
        const lib = await data(cliRunId, { db, format });
        expect(r.text, format).toBe(lib.text);
      }
      const x = await get(`/api/runs/${cliRunId}/export?format=xlsx`);
      expect(x.status).toBe(200);
      expect(x.text.slice(0, 2)).toBe("PK"); // a zip
      expect(String(x.headers["content-disposition"])).toBe(`attachment; filename="${cliRunId}.xlsx"`);
    });

    it("downloads parquet and the wide layout as silico data --format parquet / --wide writes them", async () => {
      const out = join(dir, "lib.parquet");
      const p = await get(`/api/runs/${cliRunId}/export?format=parquet`);
      expect(p.status, p.text).toBe(200);
      expect(p.headers["content-type"]).toBe("application/vnd.apache.parquet");
      expect(p.headers["content-disposition"]).toBe(`attachment; filename="${cliRunId}.parquet"`);
      expect(p.bytes.subarray(0, 4).toString("latin1")).toBe("PAR1");
      await data(cliRunId, { db, format: "parquet", out });
      expect(p.bytes.equals(readFileSync(out))).toBe(true);
      const pw = await get(`/api/runs/${cliRunId}/export?format=parquet&layout=wide`);
      await data(cliRunId, { db, format: "parquet", layout: "wide", out });
      expect(pw.bytes.equals(readFileSync(out))).toBe(true);
      expect(pw.headers["content-disposition"]).toBe(`attachment; filename="${cliRunId}-wide.parquet"`);
      for (const format of ["csv", "jsonl"] as const) {
        const w = await get(`/api/runs/${cliRunId}/export?format=${format}&layout=wide`);
        expect(w.status, w.text).toBe(200);
        expect(w.headers["content-disposition"]).toBe(`attachment; filename="${cliRunId}-wide.${format}"`);
        const lib = await data(cliRunId, { db, format, layout: "wide" });
        expect(w.text).toBe(lib.text);
        // Really the wide layout, not the tidy file under another name.
        expect(w.text).not.toBe((await data(cliRunId, { db, format })).text);
      }
      const xw = await get(`/api/runs/${cliRunId}/export?format=xlsx&layout=wide`);
      expect(xw.status).toBe(200);
      expect(xw.text.slice(0, 2)).toBe("PK");
      // Bad layouts and formats are refused, with what is accepted.
      const bad = await get(`/api/runs/${cliRunId}/export?format=csv&layout=tall`);
      expect(bad.status).toBe(400);
      expect(json<{ error: string }>(bad).error).toContain("tidy, wide or macbehaviour");
      const unknown = await get(`/api/runs/${cliRunId}/export?format=sav`);
      expect(json<{ error: string }>(unknown).error).toContain("parquet");
      // The library's own refusal of an impossible combination (ego is not a table) as a 400.
      const egoWide = await get(`/api/runs/${cliRunId}/export?format=ego&layout=wide`);
      expect(egoWide.status).toBe(400);
      expect(json<{ error: string }>(egoWide).error).toContain("--wide writes");
    });

    it("offers oTree's format for otree runs only, refusing others with the CLI's message", async () => {
      const o = await get(`/api/runs/${cliRunId}/export?format=otree`);
      expect(o.status).toBe(400);
      expect(json<{ error: string }>(o).error).toBe(
        `--format otree is for kind: otree and kind: agents runs; run ${cliRunId} is kind game`,
      );
    });

    it("refuses ego and MacBehaviour where the library does", async () => {
      // The MacBehaviour layout answers as the library does (rows, or its refusal as a 400).
      const mb = await get(`/api/runs/${cliRunId}/export?format=csv&layout=macbehaviour`);
      const lib = await data(cliRunId, { db, format: "csv", layout: "macbehaviour" }).then(
        (d) => ({ ok: true as const, text: d.text }),
        (e: Error) => ({ ok: false as const, text: e.message }),
      );
      if (lib.ok) expect(mb.text).toBe(lib.text);
      else expect(json<{ error: string }>(mb).error).toBe(lib.text);
      expect(mb.status).toBe(lib.ok ? 200 : 400);
      // alter_ego's format is for built.json runs: refused with the CLI's message.
      const ego = await get(`/api/runs/${cliRunId}/export?format=ego`);
      expect(ego.status).toBe(400);
      expect(json<{ error: string }>(ego).error).toContain("--format ego is for alter_ego");
    });
  });

  describe("builder", () => {
    it("offers the models silico knows (ids only) and estimates the dry run for the chosen ones", async () => {
      const known = json<{ known: string[] }>(await get("/api/models")).known;
      expect(known).toContain("openai:gpt-4o-mini");
      expect(known).toContain("local:smollm2-135m");
      expect(JSON.stringify(known)).not.toMatch(/key|sk-/i);
      const text = gameStudy(server.url);
      type Est = {
        models: string[];
        estimate: { models: { model: string; calls: number; costUsd: number | null }[] };
      };
      const plain = json<Est>(await post("/api/study/estimate", { path: "game.yaml", text }));
      expect(plain.estimate.models.map((m) => m.model)).toEqual(["ts:test-model"]);
      const chosen = json<Est>(
        await post("/api/study/estimate", { path: "game.yaml", text, models: ["openai:gpt-4o-mini"] }),
      );
      expect(chosen.models).toEqual(["openai:gpt-4o-mini"]);
      expect(chosen.estimate.models).toHaveLength(1);
      expect(chosen.estimate.models[0]).toMatchObject({ model: "openai:gpt-4o-mini" });
      expect(chosen.estimate.models[0]?.costUsd).toBeGreaterThan(0); // priced, unlike the test model
      expect(chosen.estimate.models[0]?.calls).toBe(plain.estimate.models[0]?.calls);
      const perRole = json<Est>(
        await post("/api/study/estimate", {
          path: "game.yaml",
          text,
          roles: { right: "openai:gpt-4o-mini" },
        }),
      );
      expect(perRole.estimate.models.map((m) => m.model).sort()).toEqual([
        "openai:gpt-4o-mini",
        "ts:test-model",
      ]);
    });

    it("reports problems with the CLI's messages and locations", async () => {
      const text = gameStudy(server.url, { typo: true });
      const r = json<{ ok: boolean; problems: { where: string; message: string; line?: number }[] }>(
        await post("/api/study/check", { path: "game.yaml", text }),
      );
      expect(r.ok).toBe(false);
      expect(r.problems[0]?.where).toMatch(/^game\.yaml: stages\[0\]\.prompt/);
      expect(r.problems[0]?.message).toContain("bonsu");
      expect(r.problems[0]?.line).toBe(text.split("\n").findIndex((l) => l.includes("bonsu")) + 1);
      const ok = json<{ ok: boolean; kind: string }>(
        await post("/api/study/check", { path: "game.yaml", text: gameStudy(server.url) }),
      );
      expect(ok).toMatchObject({ ok: true, kind: "game" });
      const bad = json<{ problems: { where: string }[] }>(
        await post("/api/study/check", { path: "x.yaml", text: "kind: [" }),
      );
      expect(bad.problems[0]?.where).toMatch(/^x\.yaml/);
    });

    it("previews the messages each participant receives in a chosen session (treatment), by the real compiler", async () => {
      const r = json<{
        ok: boolean;
        preview: {
          total: number;
          session: { coords: { treatment: string } };
          participants: {
            id: string;
            turns: { coords: { round: number }; messages: { role: string; content: string }[] }[];
          }[];
        };
      }>(
        await post("/api/study/preview", {
          path: "game.yaml",
          text: gameStudy(server.url),
          coords: { treatment: "high" },
        }),
      );
      expect(r.ok).toBe(true);
      expect(r.preview.total).toBe(4);
      expect(r.preview.session.coords.treatment).toBe("high");
      const right = r.preview.participants.find((p) => p.id === "right");
      expect(right?.turns).toHaveLength(2);
      expect(right?.turns[0]?.messages).toEqual([
        { role: "system", content: "You are player right in a coordination game." },
        { role: "user", content: "Round 1. You earn 5 if you both pick the same. Pick A or B." },
      ]);
      expect(right?.turns[1]?.coords.round).toBe(2);
      expect(right?.turns[1]?.messages.at(-1)?.content).toContain("Round 2.");
      const outline = (r as unknown as { outline: { tables: { title: string; rows: string[][] }[] } })
        .outline;
      expect(outline.tables.find((t) => t.title === "treatments")?.rows).toEqual([
        ["low", "1"],
        ["high", "5"],
      ]);
      expect(outline.tables.find((t) => t.title === "roles")?.rows).toEqual([
        ["left", "1", ""],
        ["right", "1", ""],
      ]);
    });

    it("edits a table cell in the text only there; the study still compiles and the preview follows", async () => {
      const text = `# a comment that stays\n${gameStudy(server.url)}`;
      type Edited = {
        text: string;
        ok: boolean;
        problems: unknown[];
        outline: { tables: { title: string; rows: string[][] }[] };
      };
      const r = json<Edited>(
        await post("/api/study/edit", {
          path: "game.yaml",
          text,
          edits: [{ op: "set", path: ["treatments", "high", "bonus"], value: "9" }],
        }),
      );
      expect(r.ok).toBe(true);
      const before = text.split("\n");
      const after = r.text.split("\n");
      expect(after).toHaveLength(before.length);
      const diff = after.map((l, i) => [before[i], l]).filter(([a, b]) => a !== b);
      expect(diff).toEqual([["  high: { bonus: 5 }", "  high: { bonus: 9 }"]]);
      expect(r.outline.tables.find((t) => t.title === "treatments")?.rows).toEqual([
        ["low", "1"],
        ["high", "9"],
      ]);
      type Pv = { preview: { participants: { turns: { messages: { content: string }[] }[] }[] } };
      const pv = json<Pv>(
        await post("/api/study/preview", { path: "game.yaml", text: r.text, coords: { treatment: "high" } }),
      );
      expect(pv.preview.participants[0]?.turns[0]?.messages.at(-1)?.content).toContain("You earn 9 if");
      // Renaming a role the payoffs name: the compiler's own located problem comes back, tables stay.
      const renamed = json<Edited>(
        await post("/api/study/edit", {
          path: "game.yaml",
          text,
          edits: [{ op: "rename", path: ["roles", "left"], to: "west" }],
        }),
      );
      expect(renamed.ok).toBe(false);
      expect(JSON.stringify(renamed.problems)).toMatch(/game\.yaml/);
      expect(renamed.outline.tables.find((t) => t.title === "roles")?.rows.map((x) => x[0])).toEqual([
        "west",
        "right",
      ]);
      const checked = json<{ ok: boolean }>(
        await post("/api/study/check", { path: "game.yaml", text: r.text }),
      );
      expect(checked.ok).toBe(true);
      const bad = await post("/api/study/edit", {
        path: "game.yaml",
        text,
        edits: [{ op: "set", path: [] }],
      });
      expect(bad.status).toBe(400);
    });

    it("edits a factorial's levels and gives it several models; it still compiles", async () => {
      const text =
        "kind: factorial # rate fruit\nname: fruit\nprompt: Rate {{ item }} from 0 to 10.\nlevels:\n  item: [apples, pears] # two\nmodel: mock:random\nparse: { type: number, min: 0, max: 10 }\n";
      const r = json<{
        text: string;
        ok: boolean;
        outline: { tables: { title: string; rows: string[][] }[] };
      }>(
        await post("/api/study/edit", {
          path: "fruit.yaml",
          text,
          edits: [{ op: "set", path: ["levels", "item", 2], value: "plums" }],
        }),
      );
      expect(r.ok).toBe(true);
      expect(r.text).toBe(
        text.replace("item: [apples, pears] # two", "item: [ apples, pears, plums ] # two"),
      );
      expect(r.outline.tables[0]?.rows).toEqual([["item", "apples", "pears", "plums"]]);
      type Est = { models: string[]; estimate: { sessions: number } };
      const e = json<Est>(
        await post("/api/study/estimate", {
          path: "fruit.yaml",
          text: r.text,
          models: ["mock:random", "mock:fixed:5"],
        }),
      );
      expect(e.models).toEqual(["mock:random", "mock:fixed:5"]);
      expect(e.estimate.sessions).toBe(6); // 3 levels × 2 models
    });

    it("gives the dry-run estimate", async () => {
      const r = json<{
        estimate: {
          sessions: number;
          calls: number;
          models: { model: string; calls: number }[];
          lines: string[];
        };
      }>(await post("/api/study/estimate", { path: "game.yaml", text: gameStudy(server.url) }));
      expect(r.estimate.sessions).toBe(4);
      expect(r.estimate.calls).toBe(16);
      expect(r.estimate.models[0]).toMatchObject({ model: "ts:test-model", calls: 16 });
      expect(r.estimate.lines.join("\n")).toContain("16");
    });

    it("saves and opens study files inside the project folder only", async () => {
      const put = await http(studio.port, "/api/file", {
        method: "PUT",
        headers: auth(),
        body: { path: "studies/new.yaml", text: "kind: game\n" },
      });
      expect(put.status).toBe(200);
      expect(readFileSync(join(dir, "studies", "new.yaml"), "utf8")).toBe("kind: game\n");
      const list = json<{ files: string[] }>(await get("/api/files"));
      expect(list.files).toEqual(expect.arrayContaining(["game.yaml", "studies/new.yaml"]));
      const open = json<{ text: string }>(await get("/api/file?path=studies/new.yaml"));
      expect(open.text).toBe("kind: game\n");
      symlinkSync(tmpdir(), join(dir, "out-link"));
      for (const path of [
        "../escape.yaml",
        "/etc/passwd.yaml",
        "studies/../../escape.yaml",
        "out-link/x.yaml",
      ]) {
        const r = await http(studio.port, "/api/file", {
          method: "PUT",
          headers: auth(),
          body: { path, text: "x" },
        });
        expect(r.status, path).toBe(403);
        expect((await get(`/api/file?path=${encodeURIComponent(path)}`)).status, path).toBe(403);
      }
      const notStudy = await http(studio.port, "/api/file", {
        method: "PUT",
        headers: auth(),
        body: { path: "run.sh", text: "x" },
      });
      expect(notStudy.status).toBe(400);
      expect((await get("/api/file?path=missing.yaml")).status).toBe(404);
    });
  });

  describe("run control", () => {
    it("starts a run, streams its progress to 100 % and the end, and lists it", async () => {
      const text = gameStudy(server.url, { groups: 6 });
      const started = await post("/api/run", { path: "game6.yaml", text });
      expect(started.status, started.text).toBe(200);
      const runId = json<{ runId: string }>(started).runId;
      const events = await http(studio.port, `/api/runs/${runId}/progress`, { headers: auth() });
      expect(String(events.headers["content-type"])).toContain("text/event-stream");
      const last = JSON.parse(
        events.text
          .trim()
          .split("\n")
          .filter((l) => l.startsWith("data:"))
          .at(-1)
          ?.slice(5) ?? "{}",
      );
      expect(last).toMatchObject({ runId, status: "done", sessions: 6, done: 6 });
      const runs = json<{ items: { id: string; status: string }[] }>(await get("/api/runs"));
      expect(runs.items[0]).toMatchObject({ id: runId, status: "done" });
    });

    it("runs with models chosen at run time: per role, recorded in the run's source, resumable as run", async () => {
      const text = gameStudy(server.url, { groups: 2 });
      const r = await post("/api/run", { path: "chosen.yaml", text, roles: { left: "ts:test-model-b" } });
      expect(r.status, r.text).toBe(200);
      const runId = json<{ runId: string }>(r).runId;
      await http(studio.port, `/api/runs/${runId}/progress`, { headers: auth() });
      const rows = (await data(runId, { db })).rows as { role?: unknown; model?: unknown }[];
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows)
        expect(row.model, String(row.role)).toBe(row.role === "left" ? "ts:test-model-b" : "ts:test-model");
      // One model for everyone replaces the study's (and any role's own).
      const all = await post("/api/run", { path: "chosen.yaml", text, models: ["ts:test-model-b"] });
      const allId = json<{ runId: string }>(all).runId;
      await http(studio.port, `/api/runs/${allId}/progress`, { headers: auth() });
      const models = new Set(((await data(allId, { db })).rows as { model?: unknown }[]).map((x) => x.model));
      expect([...models]).toEqual(["ts:test-model-b"]);
    });

    it("refuses model choices the study cannot take (400, nothing written)", async () => {
      const before = json<{ items: unknown[] }>(await get("/api/runs")).items.length;
      const text = gameStudy(server.url, { groups: 2 });
      const bad = await post("/api/run", { path: "g.yaml", text, models: ["gpt-4o"] });
      expect(bad.status).toBe(400);
      expect(json<{ error: string }>(bad).error).toContain("provider:model");
      const two = await post("/api/run", {
        path: "g.yaml",
        text,
        models: ["ts:test-model", "ts:test-model-b"],
      });
      expect(json<{ error: string }>(two).error).toContain("kind: game takes one model");
      const role = await post("/api/run", { path: "g.yaml", text, roles: { middle: "ts:test-model" } });
      expect(json<{ error: string }>(role).error).toContain("no such role (left, right)");
      // A chosen model the provider does not list is refused by silico's own model check.
      const unknown = await post("/api/run", { path: "g.yaml", text, models: ["ts:no-such-model"] });
      expect(unknown.status).toBeGreaterThanOrEqual(400);
      expect(unknown.text).toContain("no-such-model");
      expect(json<{ items: unknown[] }>(await get("/api/runs")).items.length).toBe(before);
    });

    it("refuses to start a study with problems (400, located), writing nothing", async () => {
      const before = json<{ items: unknown[] }>(await get("/api/runs")).items.length;
      const r = await post("/api/run", { path: "game.yaml", text: gameStudy(server.url, { typo: true }) });
      expect(r.status).toBe(400);
      expect(json<{ problems: { where: string }[] }>(r).problems[0]?.where).toMatch(/^game\.yaml:/);
      expect(json<{ items: unknown[] }>(await get("/api/runs")).items.length).toBe(before);
    });

    it("cancels a running run cleanly (interrupted, resumable) and resumes it to the end", async () => {
      server.setOptions({ latencyMs: 150 });
      const r = await post("/api/run", {
        path: "slow.yaml",
        text: gameStudy(server.url, { groups: 10 }),
        concurrency: 1,
      });
      expect(r.status, r.text).toBe(200);
      const runId = json<{ runId: string }>(r).runId;
      await new Promise((res) => setTimeout(res, 400));
      expect((await post(`/api/runs/${runId}/cancel`, {})).status).toBe(200);
      const ended = await http(studio.port, `/api/runs/${runId}/progress`, { headers: auth() });
      const last = JSON.parse(
        ended.text
          .trim()
          .split("\n")
          .filter((l) => l.startsWith("data:"))
          .at(-1)
          ?.slice(5) ?? "{}",
      );
      expect(last.status).toBe("interrupted");
      expect(last.done).toBeLessThan(10);
      expect((await post(`/api/runs/${runId}/cancel`, {})).status).toBe(409);
      server.setOptions({ latencyMs: 0 });
      const res = await post(`/api/runs/${runId}/resume`, {});
      expect(res.status, res.text).toBe(200);
      const done = await http(studio.port, `/api/runs/${runId}/progress`, { headers: auth() });
      const fin = JSON.parse(
        done.text
          .trim()
          .split("\n")
          .filter((l) => l.startsWith("data:"))
          .at(-1)
          ?.slice(5) ?? "{}",
      );
      expect(fin).toMatchObject({ status: "done", done: 10 });
    });

    it("follows a run of another process from the store", async () => {
      const outcome = await run(join(dir, "game.yaml"), {
        db,
        apiKeys: { TESTSERVER_KEY: FAKE_KEY },
        seed: 99,
      });
      const r = await http(studio.port, `/api/runs/${outcome.runId}/progress`, { headers: auth() });
      const last = JSON.parse(
        r.text
          .trim()
          .split("\n")
          .filter((l) => l.startsWith("data:"))
          .at(-1)
          ?.slice(5) ?? "{}",
      );
      expect(last).toMatchObject({
        runId: outcome.runId,
        status: "done",
        sessions: 4,
        done: 4,
        source: "store",
      });
      expect(last.calls).toBe(16);
    });

    it("404s an unknown endpoint and an unknown run's progress", async () => {
      expect((await get("/api/nothing")).status).toBe(404);
      expect((await get("/api/runs/19990101-000000-dead/progress")).status).toBe(404);
    });
  });
});
