import { dirname, isAbsolute, resolve } from "node:path";
import { shortHash } from "../../engine/hash.js";
import type { Coordinates, Plan, SessionPlan } from "../../engine/plan.js";
import { Rng } from "../../engine/rng.js";
import { ProblemList } from "../../errors.js";
import type { ModelParams } from "../../models/types.js";
import { capabilitiesOf } from "../../models/registry.js";
import { createParser, normalizeParserSpec } from "../../parse/index.js";
import type { ParserSpec } from "../../parse/types.js";
import { parseLocated } from "../../study/located-issues.js";
import { checkModels } from "../../study/model-checks.js";
import { toModelParams, toProviders, toReask, toSettings } from "../../study/schema-parts.js";
import type { PathPart, StudySource } from "../../study/source.js";
import type { CompiledStudy, Design } from "../design.js";
import { makeMeasure, type ProbabilityMeasure } from "./measures.js";
import {
  callCount,
  participantsFor,
  type ProcedureSettings,
  stimulusProcedure,
  type Trial,
} from "./procedure.js";
import { hasImage } from "./prompt-parts.js";
import {
  FIELDS,
  type Field,
  readStimulusRows,
  type StimulusList,
  type StimulusSet,
  STIMULI_COORDINATES,
} from "./stimulus-rows.js";
import { DELIMITERS, type StimuliStudy, type StimulusDesignName, stimuliSchema } from "./stimuli-schema.js";
import { inlineStimulusTable, readStimulusTable, type StimulusTable, TableError } from "./stimulus-table.js";

export type { StimulusDesignName } from "./stimuli-schema.js";

interface Options {
  design: StimulusDesignName;
  sessions: number;
  randomItems: boolean;
  randomEvents: boolean;
  mode: "chat" | "completion";
}

/**
 * A stimulus-list study (MacBehaviour's designs): a CSV/XLSX table of Run, Item, Event,
 * Condition and Prompt, run either one item per conversation or one conversation per Run.
 * See README "Stimulus lists" for the format.
 */
export const stimuliDesign: Design = {
  kind: "stimuli",
  compile(src: StudySource): CompiledStudy {
    const problems = new ProblemList();
    const raw = src.data as Record<string, unknown>;
    const { data: d } = parseLocated(stimuliSchema, src, problems);
    /** Present in the file but not valid (already reported): what depends on it is not checked. */
    const invalid = (key: keyof StimuliStudy) => raw[key] !== undefined && d[key] === undefined;

    const opts = toOptions(d);
    const system = d.system;
    const providers = toProviders(raw.providers);
    const { ids: models, paths: modelPaths, ok: modelsOk } = checkModels(raw, d, src, problems, providers);

    let parserSpec: ParserSpec | undefined = { type: "text" };
    if (raw.parse !== undefined)
      parserSpec = normalizeParserSpec(raw.parse, (sub) => src.where(["parse", ...sub]), problems);
    const params = toModelParams(d.params);
    const reask = toReask(d.reask);
    const seed = d.seed;
    const settings = toSettings(d.settings);
    if (opts.mode === "completion" && reask && reask.max > 0) {
      problems.add(
        src.where(["reask"]),
        "re-asking is not available in completion mode (there is no conversation to correct)",
      );
    }

    const table =
      d.stimuli === undefined || invalid("sheet") || invalid("delimiter")
        ? undefined
        : readTable(d, src, problems);
    const names = invalid("columns") ? undefined : checkColumnNames(d, src, problems);
    let set: StimulusSet | undefined;
    if (table && names) {
      set = readStimulusRows(
        table,
        names.names,
        names.mapped,
        typeof d.stimuli === "string" ? dirname(stimulusPath(src, d.stimuli)) : src.dir,
        problems,
      );
    }
    const parseEvents = checkParseEvents(d, set, src, problems);
    const measure = invalid("measure") ? undefined : checkMeasure(d, parserSpec, params, src, problems);

    if (set) {
      const imageRow = set.rows.find((r) => hasImage(r.segments));
      if (imageRow) {
        if (opts.mode === "completion") {
          problems.add(imageRow.where, "has an <img> but mode: completion sends text only");
        }
        models.forEach((m, i) => {
          if (!modelsOk[i]) return;
          if (capabilitiesOf(m, providers)?.images === false) {
            problems.add(
              src.where(modelPaths[i] ?? ["models"]),
              `${m} takes text only, but ${imageRow.where} has an image (<img>); use a model with image input`,
            );
          }
        });
      }
      if (opts.mode === "completion") {
        models.forEach((m, i) => {
          if (modelsOk[i] && capabilitiesOf(m, providers)?.completionMode === false) {
            problems.add(
              src.where(modelPaths[i] ?? ["models"]),
              `${m} has no text-completion endpoint (mode: completion)`,
            );
          }
        });
      }
    }
    problems.throwIfAny();

    const o = opts as Options;
    const stimuli = set as StimulusSet;
    const parser = createParser(parserSpec as ParserSpec);
    const contextParser = createParser({ type: "text", allowEmpty: true });
    const lists = stimuli.lists;
    const warnings: string[] = [];
    const multiCall =
      o.design === "many-trials-per-run" || lists.some((l) => l.items.some((it) => it.events.length > 1));
    if ((params.n ?? 1) > 1 && multiCall) {
      warnings.push(
        `n = ${params.n}: every choice is recorded, and the conversation continues with the first choice`,
      );
    }
    if (measure && !params.topLogprobs) {
      warnings.push("top_logprobs is not set: probabilities rest on the chosen first token alone");
    }
    const sessionsPerRepetition =
      o.design === "one-trial-per-run" ? lists.reduce((n, l) => n + l.items.length, 0) : lists.length;
    const total = sessionsPerRepetition * models.length * o.sessions;
    const table0 = table as StimulusTable;

    return {
      kind: "stimuli",
      ...(d.name !== undefined ? { name: d.name } : {}),
      source: src,
      ...(seed !== undefined ? { seed } : {}),
      settings,
      providers,
      ...(reask ? { reask } : {}),
      models,
      size: {
        sessions: total,
        calls: stimuli.rows.length * models.length * o.sessions,
        where: src.where(d.sessions !== undefined ? ["sessions"] : []),
      },
      manifest: {
        stimuli: {
          file: table0.file,
          format: table0.format,
          ...(table0.sheet ? { sheet: table0.sheet } : {}),
          ...(table0.delimiter ? { delimiter: table0.delimiter } : {}),
          sha256: table0.hash,
          rows: stimuli.rows.length,
          runs: lists.length,
          extra_columns: stimuli.extraColumns,
        },
        design: o.design,
        sessions: o.sessions,
        randomize: { items: o.randomItems, events: o.randomEvents },
        mode: o.mode,
        ...(parseEvents ? { parse_events: [...parseEvents] } : {}),
        ...(measure ? { measure: { source: measure.source, keys: measure.keys } } : {}),
      },
      exportHints: { layouts: ["macbehaviour"] },
      plan(runSeed: number): Plan {
        const base: Omit<ProcedureSettings, "model"> = {
          params,
          ...(system !== undefined ? { system } : {}),
          mode: o.mode,
          parser,
          contextParser,
          ...(parseEvents ? { parseEvents } : {}),
          ...(reask ? { reask } : {}),
          ...(measure ? { measure } : {}),
        };
        return {
          kind: "stimuli",
          total,
          models,
          warnings,
          coordinateColumns: [...STIMULI_COORDINATES, ...stimuli.extraColumns],
          *sessions(): Iterable<SessionPlan> {
            let index = 0;
            // Repetitions outermost, so a partial run has every list equally often.
            for (let repetition = 1; repetition <= o.sessions; repetition++) {
              for (const model of models) {
                const settingsFor: ProcedureSettings = { ...base, model };
                for (const list of lists) {
                  const trials = orderTrials(list, runSeed, repetition, o);
                  const groups = o.design === "one-trial-per-run" ? trials.map((t) => [t]) : [trials];
                  for (const group of groups) {
                    const first = group[0] as Trial;
                    const keyCoords: Coordinates =
                      o.design === "one-trial-per-run"
                        ? { model, repetition, list: list.list, item: first.item }
                        : { model, repetition, list: list.list };
                    const coords: Coordinates =
                      o.design === "one-trial-per-run" ? { ...keyCoords, trial: first.trial } : keyCoords;
                    yield {
                      key: `st-${shortHash(keyCoords)}`,
                      index: index++,
                      coords,
                      // Identical conversations (a filler or prime shared by lists) are still
                      // separate samples: the executor keys every call by its session.
                      draw: repetition,
                      expectedCalls: callCount(group),
                      participants: participantsFor(group, settingsFor),
                      procedure: stimulusProcedure(group, settingsFor),
                    };
                  }
                }
              }
            }
          },
        };
      },
    };
  },
};

/**
 * The sending order of one list in one repetition: items in file order or shuffled, events by
 * Event number or shuffled. Seeded by run seed, repetition and list (and item for events) but
 * not by model, so every model sees the same orders.
 */
export function orderTrials(
  list: StimulusList,
  seed: number,
  repetition: number,
  o: Pick<Options, "randomItems" | "randomEvents">,
): Trial[] {
  const items = o.randomItems
    ? new Rng(seed, "stimuli/items", repetition, list.list).shuffle(list.items)
    : list.items;
  return items.map((it, i) => ({
    trial: i + 1,
    item: it.item,
    events: o.randomEvents
      ? new Rng(seed, "stimuli/events", repetition, list.list, it.item).shuffle(it.events)
      : it.events,
  }));
}

/** The design options; invalid ones are replaced by defaults (they are reported; the study is rejected anyway). */
function toOptions(d: Partial<StimuliStudy>): Options {
  const randomize = d.randomize === undefined || d.randomize === false ? [] : [d.randomize].flat();
  return {
    design: d.design ?? "one-trial-per-run",
    sessions: d.sessions ?? 1,
    randomItems: randomize.includes("items"),
    randomEvents: randomize.includes("events"),
    mode: d.mode ?? "chat",
  };
}

function stimulusPath(src: StudySource, file: string): string {
  return isAbsolute(file) ? file : resolve(src.dir, file);
}

function readTable(
  d: Partial<StimuliStudy>,
  src: StudySource,
  problems: ProblemList,
): StimulusTable | undefined {
  if (Array.isArray(d.stimuli)) {
    try {
      return inlineStimulusTable(d.stimuli, (i) => src.where(["stimuli", i]), src.where(["stimuli"]));
    } catch (e) {
      if (e instanceof TableError) {
        problems.add(e.where, e.message);
        return undefined;
      }
      throw e;
    }
  }
  const file = d.stimuli as string;
  try {
    return readStimulusTable(stimulusPath(src, file), file, {
      ...(d.sheet !== undefined ? { sheet: d.sheet } : {}),
      ...(d.delimiter !== undefined ? { delimiter: DELIMITERS[d.delimiter] } : {}),
    });
  } catch (e) {
    if (e instanceof TableError) {
      problems.add(e.where, e.message);
      return undefined;
    }
    throw e;
  }
}

/** The file's name of each column; two fields may not name the same column. */
function checkColumnNames(
  d: Partial<StimuliStudy>,
  src: StudySource,
  problems: ProblemList,
): { names: Record<Field, string>; mapped: Partial<Record<Field, string>> } | undefined {
  const names = Object.fromEntries(Object.entries(FIELDS).map(([k, v]) => [k, v.header])) as Record<
    Field,
    string
  >;
  const mapped: Partial<Record<Field, string>> = {};
  for (const [k, v] of Object.entries(d.columns ?? {})) {
    if (v === undefined) continue;
    names[k as Field] = v.trim();
    mapped[k as Field] = src.where(["columns", k]);
  }
  let ok = true;
  const taken = new Map<string, string>();
  for (const [k, v] of Object.entries(names)) {
    const other = taken.get(v.toLowerCase());
    if (other) {
      problems.add(src.where(["columns"]), `${other} and ${k} both name the column "${v}"`);
      ok = false;
    }
    taken.set(v.toLowerCase(), k);
  }
  return ok ? { names, mapped } : undefined;
}

/** Every Event named in `parse_events` must occur in the stimulus list. */
function checkParseEvents(
  d: Partial<StimuliStudy>,
  set: StimulusSet | undefined,
  src: StudySource,
  problems: ProblemList,
): Set<number> | undefined {
  if (d.parse_events === undefined) return undefined;
  const list = [d.parse_events].flat();
  const out = new Set<number>();
  list.forEach((v, i) => {
    const at: PathPart[] = Array.isArray(d.parse_events) ? ["parse_events", i] : ["parse_events"];
    if (set && !set.eventNumbers.has(v)) {
      problems.add(
        src.where(at),
        `no row has Event ${v} (events: ${[...set.eventNumbers].sort((a, b) => a - b).join(", ")})`,
      );
    } else out.add(v);
  });
  return out;
}

/** The probability measure: targets that stay distinct, and log probabilities to read them from. */
function checkMeasure(
  d: Partial<StimuliStudy>,
  parserSpec: ParserSpec | undefined,
  params: ModelParams,
  src: StudySource,
  problems: ProblemList,
): ProbabilityMeasure | undefined {
  const logprobs = params.logprobs === true || (params.topLogprobs ?? 0) > 0;
  if (d.measure === undefined) {
    // A choice question with logprobs on gets option probabilities without being asked.
    if (logprobs && parserSpec?.type === "choice") {
      return makeMeasure("options", parserSpec.options, parserSpec.caseSensitive === true);
    }
    return undefined;
  }
  const cs = d.measure.case_sensitive === true;
  const measure = makeMeasure("targets", d.measure.targets, cs);
  if (new Set(measure.names.map((n) => (cs ? n : n.toLowerCase()))).size !== measure.names.length) {
    problems.add(
      src.where(["measure", "targets"]),
      `targets must differ (they become the columns ${measure.names.join(", ")})`,
    );
  }
  if (!logprobs) {
    problems.add(
      src.where(["measure"]),
      "needs log probabilities: add params: {logprobs: true, top_logprobs: 5}",
    );
  }
  return measure;
}
