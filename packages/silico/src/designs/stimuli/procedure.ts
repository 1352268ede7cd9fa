import type { Coordinates, ParticipantPlan, Procedure, Question, ReaskPolicy } from "../../engine/plan.js";
import type { ModelParams, TokenLogprob } from "../../models/types.js";
import type { Parser } from "../../parse/types.js";
import { measureValues, type ProbabilityMeasure } from "./measures.js";
import { segmentsText, toPromptContent } from "./prompt-parts.js";
import type { StimulusRow } from "./stimulus-rows.js";

/** One trial of a session: an item at its position in the run, with its events in sending order. */
export interface Trial {
  trial: number;
  item: number;
  events: StimulusRow[];
}

export interface ProcedureSettings {
  model: string;
  params: ModelParams;
  system?: string;
  mode: "chat" | "completion";
  parser: Parser;
  contextParser: Parser;
  /** Event numbers whose answers are parsed and measured; undefined = all. */
  parseEvents?: Set<number>;
  reask?: ReaskPolicy;
  measure?: ProbabilityMeasure;
}

/** Separator between exchanges in completion mode (see README: "Text-completion mode"). */
export const COMPLETION_SEPARATOR = "\n";

export function callCount(trials: readonly Trial[]): number {
  return trials.reduce((n, t) => n + t.events.length, 0);
}

/**
 * Who answers. In chat mode one participant holds the whole conversation (the executor keeps the
 * history). In completion mode the design writes the full text of every call itself, so each call
 * gets its own participant whose only message is exactly the text sent.
 */
export function participantsFor(trials: readonly Trial[], s: ProcedureSettings): ParticipantPlan[] {
  if (s.mode === "chat") {
    return [
      { id: "p1", model: s.model, params: s.params, mode: "chat", ...(s.system ? { system: s.system } : {}) },
    ];
  }
  return Array.from({ length: callCount(trials) }, (_, i) => ({
    id: `c${i + 1}`,
    model: s.model,
    params: s.params,
    mode: "completion" as const,
  }));
}

/**
 * Sends the trials in order (events of each trial in order). Parsed events record `answer`
 * (plus `p_<key>`/`covered` when a probability measure applies), the others `response`.
 */
export function stimulusProcedure(trials: readonly Trial[], s: ProcedureSettings): Procedure {
  return async (ctx) => {
    let call = 0;
    // Completion mode: the text so far (system prompt, then each prompt directly followed by its answer).
    const exchanges: string[] = [];
    for (const t of trials) {
      for (let p = 0; p < t.events.length; p++) {
        const row = t.events[p] as StimulusRow;
        const parsed = s.parseEvents === undefined || s.parseEvents.has(row.event);
        const coords: Coordinates = {
          trial: t.trial,
          item: row.item,
          event: row.event,
          position: p + 1,
          condition: row.condition,
          ...row.extra,
        };
        call++;
        let pid = "p1";
        let prompt: Question["prompt"];
        if (s.mode === "completion") {
          pid = `c${call}`;
          const head = s.system ? [s.system] : [];
          prompt = [...head, ...exchanges, segmentsText(row.segments)].join(COMPLETION_SEPARATOR);
        } else prompt = toPromptContent(row.segments);
        const answer = await ctx.ask(pid, {
          prompt,
          parser: parsed ? s.parser : s.contextParser,
          turn: `t${t.trial}/i${row.item}/e${row.event}`,
          name: parsed ? "answer" : "response",
          coords,
          reask: parsed && s.reask ? s.reask : { max: 0 },
          ...(parsed ? {} : { constrain: false }),
          meta: { prompt: row.prompt, list: row.list, stimulus: row.where },
        });
        if (s.mode === "completion") exchanges.push(segmentsText(row.segments) + answer.raw);
        // The executor passes each choice's logprobs on (Answer's type does not list them yet).
        const logprobs = (answer.choices[0] as { logprobs?: TokenLogprob[] } | undefined)?.logprobs;
        if (parsed && s.measure && logprobs && logprobs.length > 0) {
          // The first token's distribution is the same for every sampled choice, so one
          // measurement per trial (from the first choice) is the whole information.
          for (const m of measureValues(s.measure, logprobs)) ctx.record(pid, m.name, m.value, coords);
        }
      }
    }
  };
}
