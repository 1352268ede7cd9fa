// Shared by the oTree study's integration tests: a schema-shaped responder for the test LLM
// server, a copy of the test project per test, and the otree command.
import { cpSync, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResponderRequest } from "@silico/test-server";
import type { ExecutorEvent } from "../../engine/executor.js";
import { startRun } from "../../engine/run-study.js";
import { TidyExport, type TidyRow } from "../../export/tidy-rows.js";
import { groupAlive } from "../../otree/devserver.js";
import { RunStore } from "../../store/run-store.js";
import { parseStudyText } from "../../study/source.js";
import { OTREE_SETUP_HINT, OTREE_TEST_PROJECT, testOtree } from "../../test-support/python.js";
import { otreeDesign } from "./otree-design.js";
import type { OtreeRunState } from "./otree-session.js";

export function requireOtree(): string {
  const otree = testOtree();
  if (!otree) throw new Error(`the oTree integration tests need oTree 6.0. To get it: ${OTREE_SETUP_HINT}.`);
  return otree;
}

/** oTree writes db.sqlite3 into the project on stop: each run gets its own copy of the project. */
export function projectCopy(prefix = "silico-otree-run-"): { dir: string; project: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const project = join(dir, "project");
  cpSync(OTREE_TEST_PROJECT, project, { recursive: true });
  return { dir, project };
}

function text(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p?.text === "string" ? p.text : "")).join("");
  return "";
}

export function lastUserText(req: ResponderRequest): string {
  const users = req.messages.filter((m) => m.role === "user");
  return text(users.at(-1)?.content);
}

/** The JSON Schema a page prompt carries in its ```json block. */
export function schemaInPrompt(prompt: string): Record<string, unknown> | undefined {
  const m = /```json\n([\s\S]*?)```/.exec(prompt);
  if (!m) return undefined;
  try {
    return JSON.parse(m[1] as string) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** A value that fits a property's schema: the first choice, a number inside the bounds, a text. */
export function valueFor(schema: Record<string, unknown>): unknown {
  const alts = schema.oneOf as { const: unknown }[] | undefined;
  if (alts && alts.length > 0) return alts[0]?.const;
  if (schema.type === "integer" || schema.type === "number") {
    const min = typeof schema.minimum === "number" ? schema.minimum : 0;
    const max = typeof schema.maximum === "number" ? schema.maximum : min + 10;
    return Math.round((min + max) / 2);
  }
  if (schema.type === "boolean") return true;
  return "a short answer";
}

/**
 * Answers a page prompt with an object that fits its schema; `fields` overrides chosen fields
 * (given the prompt, so an answer can change once the server said what is wrong).
 */
export function pageResponder(
  fields: Record<string, (prompt: string) => unknown> = {},
): (req: ResponderRequest) => string {
  return (req) => {
    const prompt = lastUserText(req);
    const schema = schemaInPrompt(prompt);
    if (!schema) return "I read the page and noted what happened.";
    const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
    const out: Record<string, unknown> = {};
    for (const [name, sub] of Object.entries(props)) {
      const override = fields[name];
      out[name] = override ? override(prompt) : name === "reason" ? "it seems sensible" : valueFor(sub);
    }
    return JSON.stringify(out);
  };
}

/** The widgets app's own rules: an even guess, shares adding up to 100. */
export const WIDGETS_OK: Record<string, (prompt: string) => unknown> = {
  guess: () => 4,
  share_a: () => 60,
  share_b: () => 40,
};

/** A `kind: otree` study on a project copy, its bots answered by the test LLM server as `ts:…`. */
export function otreeStudyText(o: {
  name: string;
  seed: number;
  project: string;
  otree: string;
  llmUrl: string;
  body: string;
}): string {
  return `kind: otree
name: ${o.name}
otree:
  project: ${JSON.stringify(o.project)}
  command: ${JSON.stringify(o.otree)}
${o.body}
seed: ${o.seed}
providers:
  ts: { type: openai-compatible, base_url: "${o.llmUrl}" }
`;
}

/** Runs a study text in `dir`'s store; the events it emitted and its notices come back too. */
export async function runOtreeStudy(
  text: string,
  dir: string,
  options: { design?: typeof otreeDesign; onEvent?: (e: ExecutorEvent) => void } = {},
) {
  const store = RunStore.open(join(dir, "silico.db"));
  const events: ExecutorEvent[] = [];
  const compiled = (options.design ?? otreeDesign).compile(parseStudyText(text, join(dir, "study.yaml")), {});
  const result = await startRun(compiled, {
    store,
    onEvent: (e) => {
      events.push(e);
      options.onEvent?.(e);
    },
  });
  return { store, result, events, notices: events.filter((e) => e.type === "notice").map((e) => e.message) };
}

export function tidyRowsOf(store: RunStore, runId: string): TidyRow[] {
  return [...new TidyExport(store, store.getRun(runId)).rows()];
}

/** The design state of the store's last run; undefined without a store or a run. */
export function lastRunState(db: string): OtreeRunState | undefined {
  if (!existsSync(db)) return undefined;
  try {
    const store = RunStore.open(db);
    try {
      return store.designState(store.getRun("last").id, "").get() as OtreeRunState;
    } finally {
      store.close();
    }
  } catch {
    return undefined;
  }
}

/** Stops the devserver process groups still alive, so a failing test leaves none running. */
export function stopDevserverGroups(...pgids: (number | undefined)[]): void {
  for (const pgid of pgids) {
    if (pgid !== undefined && groupAlive(pgid)) process.kill(-pgid, "SIGTERM");
  }
}
