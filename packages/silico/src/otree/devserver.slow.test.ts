// Runs a real `otree devserver` on the project's oTree test project (integrations/otree/test_project)
// from .venv-test-otree/ (`npm test` creates it; or set SILICO_TEST_OTREE).
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OTREE_SETUP_HINT, OTREE_TEST_PROJECT, testOtree } from "../test-support/python.js";
import { type Devserver, groupAlive, startDevserver } from "./devserver.js";
import { OtreeRestError, OtreeServerError } from "./errors.js";
import { OtreeRestClient } from "./rest-client.js";

function requireOtree(): string {
  const otree = testOtree();
  if (!otree) throw new Error(`the oTree integration tests need oTree 6.0. To get it: ${OTREE_SETUP_HINT}.`);
  return otree;
}

/** oTree writes db.sqlite3 into the project on stop: each server gets a copy of the project. */
function projectCopy(dir: string): string {
  const copy = join(dir, "project");
  cpSync(OTREE_TEST_PROJECT, copy, { recursive: true });
  return copy;
}

describe("oTree devserver and REST client", () => {
  const otree = requireOtree();
  const dir = mkdtempSync(join(tmpdir(), "silico-otree-"));
  let server: Devserver;
  let rest: OtreeRestClient;

  beforeAll(async () => {
    server = await startDevserver({ projectDir: projectCopy(dir), otree });
    rest = new OtreeRestClient(server.baseUrl);
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("answers on loopback with oTree 6.0", async () => {
    expect(server.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await rest.version()).toMatch(/^6\.0\./);
    expect(await rest.sessionConfigNames()).toEqual(expect.arrayContaining(["waiting", "widgets"]));
  });

  it("creates a session, lists its participants, and every start link shows the first page's form", async () => {
    const created = await rest.createSession({
      configName: "waiting",
      participants: 4,
      modifiedConfig: { silico_note: "hello" },
    });
    const session = await rest.session(created.code);
    expect(session.participants.map((p) => p.idInSession)).toEqual([1, 2, 3, 4]);
    expect(new Set(session.participants.map((p) => p.code)).size).toBe(4);
    expect((session.raw.config as Record<string, unknown>).silico_note).toBe("hello");
    for (const p of session.participants) {
      const res = await fetch(rest.startLink(p.code));
      expect(res.status).toBe(200);
      expect(res.url).toContain(`/p/${p.code}/waiting/Contribute/`);
      const html = await res.text();
      expect(html).toContain('id="form"');
      expect(html).toContain('name="contribution"');
    }
  });

  it("names an unknown session config and lists the known ones", async () => {
    const err = await rest.createSession({ configName: "nope", participants: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(OtreeRestError);
    expect(err.kind).toBe("bad_request");
    expect(err.status).toBe(400);
    expect(err.message).toContain('"nope"');
    expect(err.message).toMatch(/waiting.*widgets|widgets.*waiting/);
  });

  it("turns oTree's 400, 403 and 404 into typed errors", async () => {
    const odd = await rest.createSession({ configName: "waiting", participants: 3 }).catch((e) => e);
    expect(odd).toMatchObject({ kind: "bad_request", status: 400 });
    expect(odd.message).toContain("not a multiple of group size");
    const missing = await rest.session("nosuchsession").catch((e) => e);
    expect(missing).toMatchObject({ kind: "not_found", status: 404, code: "otree_rest" });
    expect(missing.message).toContain("read session nosuchsession");
  });

  it("a port already in use is a clear error, and nothing is left running", async () => {
    const err = await startDevserver({ projectDir: join(dir, "project"), otree, port: server.port }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(OtreeServerError);
    expect(err.message).toContain(`port ${server.port} is already in use`);
    expect(await rest.version()).toMatch(/^6\.0\./);
  });

  it("stop ends the whole process group and oTree saves its database", async () => {
    const { pgid } = server;
    expect(groupAlive(pgid)).toBe(true);
    // A generous grace: SIGKILL (after the grace) would skip the save this test looks for.
    await server.stop(60_000);
    expect(groupAlive(pgid)).toBe(false);
    expect(existsSync(join(dir, "project", "db.sqlite3"))).toBe(true);
    const err = await rest.version().catch((e) => e);
    expect(err).toMatchObject({ kind: "unreachable" });
  }, 90_000);
});

describe("oTree devserver with a REST key", () => {
  const otree = requireOtree();
  const dir = mkdtempSync(join(tmpdir(), "silico-otree-key-"));
  const restKey = "test-key-0123";
  let server: Devserver;

  beforeAll(async () => {
    server = await startDevserver({ projectDir: projectCopy(dir), otree, restKey });
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("refuses REST calls without the key (403) and never echoes the key", async () => {
    const without = await new OtreeRestClient(server.baseUrl)
      .createSession({ configName: "widgets", participants: 1 })
      .catch((e) => e);
    expect(without).toMatchObject({ kind: "forbidden", status: 403 });
    const wrong = await new OtreeRestClient(server.baseUrl, { restKey: "wrong-key-xyz" })
      .session("abc")
      .catch((e) => e);
    expect(wrong).toMatchObject({ kind: "forbidden", status: 403 });
    expect(wrong.message).not.toContain("wrong-key-xyz");
    const rest = new OtreeRestClient(server.baseUrl, { restKey });
    const created = await rest.createSession({ configName: "widgets", participants: 1 });
    const [p] = (await rest.session(created.code)).participants;
    const res = await fetch(rest.startLink(p?.code ?? ""));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('name="age"');
  });

  it("a start with a missing project says so", async () => {
    await expect(startDevserver({ projectDir: join(dir, "nothing-here"), otree })).rejects.toThrow(
      /not an oTree project/,
    );
  });
});
