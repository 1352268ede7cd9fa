import type { Coordinates, Question, SessionContext } from "../../engine/plan.js";
import type {
  LoadedPage,
  PageHandler,
  PageTransport,
  SubmitForm,
  WaitForPage,
} from "../../otree/bot-contract.js";
import { parse } from "node-html-parser";
import { createJsonParser } from "../../parse/json-parser.js";
import type { Parser } from "../../parse/types.js";
import { createTextParser } from "../../parse/text-parser.js";
import {
  answerSchema,
  type FieldAnswer,
  hasQuestions,
  pagePrompt,
  placeOf,
  REASON_KEY,
  rejectionOf,
  roundFromHtml,
  toSubmitForm,
} from "./page-answer.js";
import { sleep } from "../../otree/sleep.js";

/** The participant id of the bot in its plan session. */
export const BOT_ID = "bot";

export interface BotOptions {
  seat: number;
  participantCode: string;
  startLink: string;
  baseUrl: string;
  /** The session has human seats: a long wait is "waiting for humans". */
  humans: boolean;
  memory: "full" | "summary";
  rejections: number;
  waitLimitMs: number;
  /** Re-asks of an answer that is no JSON or does not fit the page's schema. */
  parseReasks: number;
  transport: PageTransport;
  waitForPage: WaitForPage;
  handlers: readonly PageHandler[];
  notice(message: string): void;
  /** Times a page that is not an oTree participant page (a 500) is met by re-opening the start link (default 3). */
  unrecognizedRetries?: number;
  /** First pause before such a re-open, doubled each time (ms, default 500). */
  unrecognizedBackoffMs?: number;
  /**
   * Rounds from page indexes, shared by the run's bots (each reports the pages it sees). Used when
   * the page has no debug panel (production servers); without it rounds are counted per page.
   */
  rounds?: { observe(url: string): void; roundOf(url: string): number | undefined };
  /**
   * The run's stall watch (sessions without humans): told of every page, it may end a wait that
   * cannot end (every bot waiting, nothing moving) with a reason.
   */
  stall?: { progress(): void; wait(seat: number): { stalled: Promise<string>; leave(): void } };
  /** Called now and then while the bot sits on a wait page (default: a notice per bot). */
  onWaiting?(seconds: number): void;
  signal?: AbortSignal;
}

/** A page answered and posted but not yet known to be accepted (kept in the session state). */
interface Pending {
  /** The page's path (`pageKey`): a restarted devserver serves the same pages on another port. */
  url: string;
  form: SubmitForm;
  observations: PendingObservation[];
}

interface PendingObservation {
  name: string;
  value: unknown;
  raw: string | null;
  reason: string | null;
  coords: Coordinates;
  callId: number;
  attempts: number;
  timeout: boolean;
}

/** What a bot keeps in its session's design state, so a resumed bot neither loses nor repeats a page. */
interface BotState {
  /** Times each app/page was answered (the round when the page does not show it). */
  visits: Record<string, number>;
  /**
   * What was posted for each page oTree accepted, by page path. Should oTree show such a page
   * again (a server restored from an older save), it gets the same answer, not a new question
   * and no second row.
   */
  posted?: Record<string, SubmitForm>;
  pending?: Pending;
  /** A chat or live handler's notes per page path (e.g. on_connect sent), until the page is accepted. */
  handlers?: Record<string, Record<string, unknown>>;
  summary?: string;
  pages: number;
}

/** The bot stops on this page; the session fails with this reason while other bots go on. */
export class BotStopped extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BotStopped";
  }
}

/**
 * One oTree participant played by a model: open the start link, then per page — end: stop; wait
 * page: wait, reload; form: one question (title, text, time left, the fields as a JSON Schema),
 * post the answer, re-ask with the server's messages when it is rejected. Observations (one per
 * answered field) are recorded once oTree accepted the page, in the same commit as the state that
 * says so, so a resumed bot neither repeats nor loses a page.
 */
export async function playBot(ctx: SessionContext, options: BotOptions): Promise<void> {
  const o = { unrecognizedRetries: 3, unrecognizedBackoffMs: 500, ...options };
  const state: BotState = {
    visits: {},
    pages: 0,
    ...((ctx.state.get() as BotState | undefined) ?? {}),
  };
  // A resumed bot gets its conversation back from the record (the executor continues the session
  // in place); with memory: summary it starts from its notes instead (recorded already).
  if (o.memory === "summary" && state.summary) {
    ctx.resetConversation(BOT_ID, [summaryMessage(state.summary)], { record: false });
  }
  const save = () => ctx.state.set(state);
  const commit = (pending: Pending) => {
    for (const obs of pending.observations) {
      ctx.record(BOT_ID, obs.name, obs.value, obs.coords, {
        ...(obs.reason !== null ? { reason: obs.reason } : {}),
        ...(obs.raw !== null ? { raw: obs.raw } : {}),
        attempts: obs.attempts,
        callId: obs.callId,
        meta: { attempts: obs.attempts, timeout: obs.timeout },
      });
    }
    state.posted = { ...(state.posted ?? {}), [pageKey(pending.url)]: pending.form };
    if (state.handlers) delete state.handlers[pageKey(pending.url)];
    const key = visitKey(pending.url);
    state.visits[key] = (state.visits[key] ?? 0) + 1;
    state.pages++;
    delete state.pending;
  };

  let loaded = await o.transport.open(o.startLink);
  if (state.pending) {
    const pending = state.pending;
    if (pageKey(loaded.url) === pageKey(pending.url) && loaded.page.kind === "form") {
      // Answered before the stop but not (or not successfully) posted: post the kept answer.
      const next = await submitUntilMoved(o.transport, pending.form, pending.url);
      if (pageKey(next.url) === pageKey(pending.url) && next.rejected) {
        delete state.pending;
        save();
      } else {
        commit(pending);
        save();
      }
      loaded = next;
    } else {
      // oTree moved on: the post went through before the stop.
      commit(pending);
      save();
    }
  }

  let rejections = 0;
  let rejectedUrl: string | undefined;
  let unrecognized = 0;
  const handled = new Set<string>();
  for (;;) {
    const { page } = loaded;
    o.rounds?.observe(loaded.url);
    o.stall?.progress();
    if (page.kind === "end" && page.unrecognized) {
      // Not an oTree page (a 500 traceback, a proxy's error page): a passing server fault, not the
      // end. Re-sync through the start link, a few times.
      unrecognized++;
      if (unrecognized > o.unrecognizedRetries) {
        throw new BotStopped(
          `oTree kept answering with a page that is not a participant page (${describePage(loaded)}), ${unrecognized} times: the bot stops here`,
        );
      }
      o.notice(
        `seat ${o.seat}: oTree answered with a page that is not a participant page (${describePage(loaded)}): opening the start link again`,
      );
      await sleep(o.unrecognizedBackoffMs * 2 ** (unrecognized - 1), o.signal);
      loaded = await o.transport.open(o.startLink);
      continue;
    }
    unrecognized = 0;
    if (page.kind === "end") {
      const controls = page.chat ? [] : unnamedControls(loaded.html);
      if (page.endReason !== "out_of_range" && controls.length > 0) {
        // A page whose only controls have no name (set by the page's own scripts) is not the end.
        throw new BotStopped(
          `${placeOf(loaded.url).app}/${placeOf(loaded.url).page} has only controls without a name (${controls.join(", ")}): a bot over HTTP cannot answer it (try driver: browser)`,
        );
      }
      return;
    }
    if (page.kind === "wait") {
      const watch = o.stall?.wait(o.seat);
      const stop = new AbortController();
      const waited = o.waitForPage(loaded, {
        baseUrl: o.baseUrl,
        limitMs: o.waitLimitMs,
        signal: o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal,
        onWaiting: (seconds) =>
          o.onWaiting
            ? o.onWaiting(seconds)
            : o.notice(
                `seat ${o.seat} waiting on "${page.title || placeOf(loaded.url).page}" for ${seconds} s${o.humans ? " (waiting for humans)" : ""}`,
              ),
      });
      let outcome: "ready" | "timeout" | { stalled: string };
      try {
        outcome = watch
          ? await Promise.race([waited, watch.stalled.then((reason) => ({ stalled: reason }))])
          : await waited;
      } finally {
        watch?.leave();
      }
      if (typeof outcome === "object") {
        // The waiter is left behind: stop it (its socket) and swallow its abort.
        stop.abort(new Error("stalled"));
        await waited.catch(() => undefined);
        throw new BotStopped(`${placeOf(loaded.url).app}/${placeOf(loaded.url).page}: ${outcome.stalled}`);
      }
      if (outcome === "timeout") {
        throw new BotStopped(
          `waited more than ${Math.round(o.waitLimitMs / 1000)} s on the wait page ${placeOf(loaded.url).page}${o.humans ? " (waiting for humans)" : ""}`,
        );
      }
      loaded = await o.transport.reload();
      continue;
    }
    const again = state.posted?.[pageKey(loaded.url)];
    if (again && !loaded.rejected) {
      o.notice(
        `seat ${o.seat}: oTree shows ${placeOf(loaded.url).page} again, which it had accepted: posting the same answer`,
      );
      loaded = await submitUntilMoved(o.transport, again, loaded.url);
      continue;
    }
    const place = placeOf(loaded.url);
    const pageName = `${place.app}/${place.page}`;
    if (loaded.rejected && rejectedUrl === loaded.url) {
      rejections++;
    } else {
      rejections = 0;
      rejectedUrl = undefined;
    }
    const handler = handled.has(loaded.url) ? undefined : o.handlers.find((h) => h.matches(loaded));
    if (handler) {
      // The handler (chat, live) takes the page first, once; then its form is answered as usual.
      handled.add(loaded.url);
      const here = loaded;
      const turnPrefix = `${pageName}/${place.index}`;
      await handler.run({
        loaded: here,
        baseUrl: o.baseUrl,
        turnPrefix,
        ask: async (q) => {
          const a = await ctx.ask(BOT_ID, {
            prompt: q.prompt,
            parser: jsonParserFor(q.schema),
            // A handler's turn is unique within its page only: the page makes it unique in the
            // session (else a second chat page would get the first one's cached answers).
            turn: `${turnPrefix}/${q.turn}`,
            coords: coordsOf(o, here, state),
            reask: { max: o.parseReasks },
          });
          return { valid: a.valid, value: a.value, raw: a.raw, ...(a.reason ? { reason: a.reason } : {}) };
        },
        tell: (text) => ctx.tell(BOT_ID, "user", text),
        record: (name, value, extra) => ctx.record(BOT_ID, name, value, coordsOf(o, here, state), extra),
        memo: {
          get: () => state.handlers?.[pageKey(here.url)],
          set: (value) => {
            state.handlers = { ...(state.handlers ?? {}), [pageKey(here.url)]: value };
            save();
          },
        },
        ...(o.signal ? { signal: o.signal } : {}),
      });
      loaded = await o.transport.reload();
      continue;
    }
    if (page.live && !handled.has(loaded.url)) {
      throw new BotStopped(
        `${pageName} is a live page and no live handler matches it: the bot cannot answer it`,
      );
    }
    if (!hasQuestions(page)) {
      if (!page.buttons.some((b) => b.role === "next")) {
        throw new BotStopped(`${pageName} has no fields and no button the bot knows: it cannot answer it`);
      }
      // Nothing to decide: the bot reads the page and goes on.
      if (page.text) ctx.tell(BOT_ID, "user", `Page: ${page.title}\n\n${page.text}`);
      const pending: Pending = {
        url: pageKey(loaded.url),
        form: { fields: {}, button: { role: "next" } },
        observations: [],
      };
      state.pending = pending;
      save();
      const next = await submitUntilMoved(o.transport, pending.form, pending.url);
      if (next.rejected && pageKey(next.url) === pageKey(pending.url)) {
        // Nothing the model could change: the page wants something the bot cannot see or give.
        const why = rejectionOf(next.page);
        throw new BotStopped(
          `${pageName}: oTree refused to go on from a page with nothing for the bot to answer: ${
            [...why.fieldErrors.map((e) => `${e.name}: ${e.error}`), ...why.pageErrors].join("; ") ||
            "no message"
          }${unnamedControls(loaded.html).length > 0 ? " (its controls without a name need driver: browser)" : ""}`,
        );
      }
      commit(pending);
      save();
      loaded = next;
      continue;
    }

    const timed = page.timeoutSeconds !== undefined;
    const askedAt = Date.now();
    const deadline = timed ? askedAt + (page.timeoutSeconds as number) * 1000 : undefined;
    const schema = answerSchema(page);
    const prompt = pagePrompt({
      loaded,
      schema,
      ...(timed ? { secondsLeft: page.timeoutSeconds as number } : {}),
      ...(loaded.rejected ? { rejected: rejectionOf(page) } : {}),
    });
    const turn =
      rejections > 0 ? `${pageName}/${place.index}/rejected-${rejections}` : `${pageName}/${place.index}`;
    const question: Question = {
      prompt,
      parser: jsonParserFor(schema),
      turn,
      observe: false,
      reask: { max: o.parseReasks },
    };
    const answer = await ctx.ask(BOT_ID, question);
    if (!answer.valid) {
      throw new BotStopped(
        `${pageName}: the model's answer could not be used (${answer.reason ?? "invalid"})`,
      );
    }
    const value = answer.value as Record<string, unknown>;
    const { form, fields } = toSubmitForm(page, value);
    const coords = coordsOf(o, loaded, state);
    const pendingOf = (timeout: boolean): Pending => ({
      url: pageKey(loaded.url),
      form,
      observations: observationsOf(fields, value, coords, answer.callId, rejections + 1, timeout),
    });
    if (deadline !== undefined && Date.now() > deadline - TIMER_MARGIN_MS) {
      // Near or past the deadline oTree may have moved on already (a server that submits expired
      // pages itself then drops a late post silently): look first; the answer is kept as a timeout.
      const now = await o.transport.reload();
      if (pageKey(now.url) !== pageKey(loaded.url)) {
        o.notice(`seat ${o.seat}: oTree moved on from ${pageName} before the answer came (timeout)`);
        commit(pendingOf(true));
        save();
        loaded = now;
        continue;
      }
    }
    const timeout = deadline !== undefined && Date.now() > deadline;
    if (timeout) form.timeoutHappened = true;
    const pending = pendingOf(timeout);
    state.pending = pending;
    save();
    const next = await submitUntilMoved(o.transport, form, loaded.url);
    if (next.rejected && next.url === loaded.url) {
      if (rejections + 1 > o.rejections) {
        const why = rejectionOf(next.page);
        throw new BotStopped(
          `${pageName}: oTree rejected the answer ${rejections + 1} time(s) (budget ${o.rejections}): ${[
            ...why.fieldErrors.map((e) => `${e.name}: ${e.error}`),
            ...why.pageErrors,
          ].join("; ")}`,
        );
      }
      delete state.pending;
      save();
      rejectedUrl = loaded.url;
      loaded = next;
      continue;
    }
    commit(pending);
    save();
    if (o.memory === "summary") await summarise(ctx, state, turn);
    loaded = next;
  }
}

/** What a page that is not an oTree page looks like, briefly (for the bot's reason). */
function describePage(loaded: LoadedPage): string {
  const text = loaded.page.title || loaded.page.text || loaded.html.replace(/<[^>]*>/g, " ");
  const short = text.replace(/\s+/g, " ").trim().slice(0, 120);
  return `${pageKey(loaded.url)}${short ? `: "${short}"` : ""}`;
}

/** Visible form controls without a name in the page's form (scripts set what they mean). */
export function unnamedControls(html: string): string[] {
  // Most end pages have no form at all: skip parsing the page a second time.
  if (!html || !/<form[\s>]/i.test(html)) return [];
  const root = parse(html, { comment: false });
  for (const el of root.querySelectorAll(".debug-info, script, style, noscript")) el.remove();
  const form = root.querySelector("form.otree-form") ?? root.querySelector("form");
  if (!form) return [];
  const out: string[] = [];
  for (const el of form.querySelectorAll("input, select, textarea, button")) {
    if (el.getAttribute("name")) continue;
    const type = (el.getAttribute("type") ?? "").toLowerCase();
    if (type === "hidden") continue;
    const tag = el.tagName.toLowerCase();
    out.push(el.id ? `${tag}#${el.id}` : type ? `${tag}[type=${type}]` : tag);
  }
  return out;
}

function coordsOf(o: BotOptions, loaded: LoadedPage, state: BotState): Coordinates {
  const place = placeOf(loaded.url);
  const round =
    roundFromHtml(loaded.html) ??
    o.rounds?.roundOf(loaded.url) ??
    (state.visits[visitKey(loaded.url)] ?? 0) + 1;
  return {
    participant_code: o.participantCode,
    seat: o.seat,
    app: place.app,
    round,
    page: place.page,
    page_index: place.index,
  };
}

function visitKey(url: string): string {
  const p = placeOf(url);
  return `${p.app}/${p.page}`;
}

function observationsOf(
  fields: FieldAnswer[],
  value: Record<string, unknown>,
  coords: Coordinates,
  callId: number,
  attempts: number,
  timeout: boolean,
): PendingObservation[] {
  const reason = typeof value[REASON_KEY] === "string" ? (value[REASON_KEY] as string) : null;
  return fields.map((f) => ({
    name: f.name,
    value: f.value,
    raw: f.posted,
    reason,
    coords: { ...coords, timeout },
    callId,
    attempts,
    timeout,
  }));
}

function summaryMessage(summary: string): { role: "user"; content: string } {
  return { role: "user", content: `What happened in the experiment so far (your own notes):\n${summary}` };
}

/** botex-style memory: after each page, a running summary replaces the conversation. */
async function summarise(ctx: SessionContext, state: BotState, turn: string): Promise<void> {
  const answer = await ctx.ask(BOT_ID, {
    prompt:
      "Update your notes: summarise in a few sentences what you have seen and done in the experiment so far (what you will need to know on later pages).",
    parser: createTextParser({ type: "text" }),
    turn: `${turn}/summary`,
    observe: false,
    constrain: false,
  });
  if (!answer.valid) return;
  state.summary = String(answer.value);
  ctx.state.set(state);
  ctx.resetConversation(BOT_ID, [summaryMessage(state.summary)]);
}

/**
 * Every bot of a group meets the same pages: compiling a schema validator per question was about
 * half the bots' CPU in the 100-bot bench. Parsers are pure, so one per schema text serves all.
 */
const parsers = new Map<string, Parser>();
const PARSER_CACHE_LIMIT = 1_000;

function jsonParserFor(schema: Record<string, unknown>): Parser {
  const key = JSON.stringify(schema);
  let parser = parsers.get(key);
  if (!parser) {
    if (parsers.size >= PARSER_CACHE_LIMIT) parsers.clear();
    parser = createJsonParser({ type: "json", schema });
    parsers.set(key, parser);
  }
  return parser;
}

/** A page's identity across server restarts: its path `/p/{code}/{app}/{Page}/{index}` (not the port). */
export function pageKey(url: string): string {
  return new URL(url, "http://otree.invalid").pathname;
}

/**
 * An answer this close to a page's deadline counts as late: the timer started when oTree rendered
 * the page, a little before the bot read it.
 */
const TIMER_MARGIN_MS = 1_000;

/** Times a submit is posted again while oTree keeps showing the same page without errors. */
const RESUBMITS = 3;

/**
 * Posts a page; when oTree shows the same page again without errors (a post lost on the way and
 * the page re-synced through the start link), posts it again, so a page is never counted as
 * answered before oTree moved on.
 */
async function submitUntilMoved(
  transport: PageTransport,
  form: SubmitForm,
  url: string,
): Promise<LoadedPage> {
  for (let attempt = 1; ; attempt++) {
    const next = await transport.submit(form);
    if (pageKey(next.url) !== pageKey(url) || next.rejected || next.page.kind !== "form") return next;
    if (attempt >= RESUBMITS) {
      throw new BotStopped(
        `oTree kept showing ${placeOf(url).app}/${placeOf(url).page} after ${attempt} submits`,
      );
    }
  }
}
