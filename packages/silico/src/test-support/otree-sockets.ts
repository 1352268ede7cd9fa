// Test support for the socket tests (wait page, chat, live): a devserver on a copy of the test
// project, sessions over REST, and a tiny plain-fetch participant (the project's HTTP transport is
// built elsewhere; these tests only need to open and submit a page).
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OTREE_SETUP_HINT, OTREE_TEST_PROJECT, testOtree } from "./python.js";
import type { LoadedPage, PageHandlerContext } from "../otree/bot-contract.js";
import { type Devserver, startDevserver } from "../otree/devserver.js";
import { readOtreePage } from "../otree/page-reader.js";
import { OtreeRestClient } from "../otree/rest-client.js";

export interface TestServer {
  server: Devserver;
  rest: OtreeRestClient;
  /** Participant codes of a new session of `config`, in id_in_session order. */
  session(config: string, participants: number): Promise<string[]>;
  stop(): Promise<void>;
}

/** Starts a devserver on a copy of the test project (oTree writes its database into the project). */
export async function startTestServer(): Promise<TestServer> {
  const otree = testOtree();
  if (!otree) throw new Error(`the oTree integration tests need oTree 6.0. To get it: ${OTREE_SETUP_HINT}.`);
  const dir = mkdtempSync(join(tmpdir(), "silico-otree-sockets-"));
  const project = join(dir, "project");
  cpSync(OTREE_TEST_PROJECT, project, { recursive: true });
  const server = await startDevserver({ projectDir: project, otree });
  const rest = new OtreeRestClient(server.baseUrl);
  return {
    server,
    rest,
    async session(config, participants) {
      const created = await rest.createSession({ configName: config, participants });
      return (await rest.session(created.code)).participants.map((p) => p.code);
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function load(res: Response): Promise<LoadedPage> {
  const html = await res.text();
  if (res.status !== 200)
    throw new Error(`oTree answered ${res.status} for ${res.url}: ${html.slice(0, 300)}`);
  return {
    url: res.url,
    page: readOtreePage(html, { url: res.url, headers: res.headers }),
    rejected: res.headers.get("otree-redisplay-with-errors") === "1",
    html,
  };
}

/** GET the participant's start link (fetch follows oTree's redirects with GET). */
export async function openStart(baseUrl: string, participantCode: string): Promise<LoadedPage> {
  return load(await fetch(`${baseUrl}/InitializeParticipant/${participantCode}`));
}

/** GET a page URL again (a stale URL redirects to the current page). */
export async function reload(url: string): Promise<LoadedPage> {
  return load(await fetch(url));
}

/** POST a page's fields; fetch follows the 302 to the next page with GET. */
export async function submit(loaded: LoadedPage, fields: Record<string, string> = {}): Promise<LoadedPage> {
  return load(
    await fetch(loaded.url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    }),
  );
}

export interface RecordedObservation {
  name: string;
  value: unknown;
  extra?: { valid?: boolean; reason?: string; meta?: Record<string, unknown> };
}

export interface AskCall {
  prompt: string;
  schema: Record<string, unknown>;
  turn: string;
}

/** A handler context whose `ask` is a test function; it keeps what was asked, told and recorded. */
export function testContext(
  loaded: LoadedPage,
  baseUrl: string,
  answer: (call: AskCall, index: number) => unknown | Promise<unknown>,
): PageHandlerContext & { asks: AskCall[]; told: string[]; recorded: RecordedObservation[] } {
  const asks: AskCall[] = [];
  const told: string[] = [];
  const recorded: RecordedObservation[] = [];
  return {
    loaded,
    baseUrl,
    turnPrefix: loaded.url,
    asks,
    told,
    recorded,
    async ask(question) {
      asks.push(question);
      const value = await answer(question, asks.length - 1);
      return { valid: true, value, raw: JSON.stringify(value) };
    },
    tell: (text) => {
      told.push(text);
    },
    record: (name, value, extra) => {
      recorded.push(extra === undefined ? { name, value } : { name, value, extra });
    },
  };
}
