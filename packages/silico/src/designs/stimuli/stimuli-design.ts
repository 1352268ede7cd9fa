import { dirname, isAbsolute, resolve } from "node:path";
import { shortHash } from "../../engine/hash.js";
import type { Coordinates, Plan, SessionPlan } from "../../engine/plan.js";
import { Rng } from "../../engine/rng.js";
import { ProblemList } from "../../errors.js";
import { checkModelId, type ProviderConfig, splitModelId } from "../../models/registry.js";
import { createParser, normalizeParserSpec } from "../../parse/index.js";
import type { ParserSpec } from "../../parse/types.js";
import {
  checkKeys,
  describe,
  isObj,
  readModels,
  readParams,
  readProviders,
  readReask,
  readSeed,
  readSettings,
} from "../../study/common.js";
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
import { inlineStimulusTable, readStimulusTable, type StimulusTable, TableError } from "./stimulus-table.js";

const KEYS = [
  "kind",
  "name",
  "description",
  "stimuli",
  "sheet",
  "delimiter",
  "columns",
  "design",
  "sessions",
  "randomize",
  "system",
  "model",
  "models",
  "params",
  "parse",
  "parse_events",
  "measure",
  "mode",
  "reask",
  "seed",
  "settings",
  "providers",
] as const;

export type StimulusDesignName = "one-trial-per-run" | "many-trials-per-run";
const DESIGNS: StimulusDesignName[] = ["one-trial-per-run", "many-trials-per-run"];

/** Providers whose models take no image input. */
const TEXT_ONLY_PROVIDERS = ["local", "human"];
/** Provider types without a text-completion endpoint. */
const NO_COMPLETION = ["anthropic", "google", "human"];

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
    const d = src.data as Record<string, unknown>;
    checkKeys(d, KEYS, [], src, problems);
    if (d.name !== undefined && typeof d.name !== "string")
      problems.add(src.where(["name"]), "must be a text");

    const opts = readOptions(d, src, problems);
    const system = optionalText(d, "system", src, problems);
    const providers = readProviders(d.providers, ["providers"], src, problems);
    const { ids: models, paths: modelPaths } = readModels(d, src, problems);
    if (d.model === undefined && d.models === undefined) {
      problems.add(src.where([]), 'needs "model" (e.g. model: local:smollm2-135m) or "models"');
    }
    const modelsOk = models.map((m, i) =>
      checkModelId(m, src.where(modelPaths[i] ?? ["models"]), problems, providers),
    );
    if (new Set(models).size !== models.length)
      problems.add(src.where(["models"]), "lists the same model twice");

    let parserSpec: ParserSpec | undefined = { type: "text" };
    if (d.parse !== undefined) parserSpec = normalizeParserSpec(d.parse, src.where(["parse"]), problems);
    const params = readParams(d.params, ["params"], src, problems);
    const reask = readReask(d.reask, ["reask"], src, problems);
    const seed = readSeed(d.seed, ["seed"], src, problems);
    const settings = readSettings(d.settings, ["settings"], src, problems);
    if (opts?.mode === "completion" && reask && reask.max > 0) {
      problems.add(
        src.where(["reask"]),
        "re-asking is not available in completion mode (there is no conversation to correct)",
      );
    }

    const table = readTable(d, src, problems);
    const names = readColumnNames(d, src, problems);
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
    const parseEvents = readParseEvents(d, set, src, problems);
    const measure = readMeasure(d, parserSpec, params, src, problems);

    if (set && opts) {
      const imageRow = set.rows.find((r) => hasImage(r.segments));
      if (imageRow) {
        if (opts.mode === "completion") {
          problems.add(imageRow.where, "has an <img> but mode: completion sends text only");
        }
        models.forEach((m, i) => {
          if (!modelsOk[i]) return;
          const provider = providerType(m, providers);
          if (TEXT_ONLY_PROVIDERS.includes(provider)) {
            problems.add(
              src.where(modelPaths[i] ?? ["models"]),
              `${m} takes text only, but ${imageRow.where} has an image (<img>); use a model with image input`,
            );
          }
        });
      }
      if (opts.mode === "completion") {
        models.forEach((m, i) => {
          if (modelsOk[i] && NO_COMPLETION.includes(providerType(m, providers))) {
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
      ...(typeof d.name === "string" ? { name: d.name } : {}),
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

/** The design options; invalid values are reported and replaced by defaults (the study is rejected anyway). */
function readOptions(d: Record<string, unknown>, src: StudySource, problems: ProblemList): Options {
  let design: StimulusDesignName = "one-trial-per-run";
  if (d.design === undefined) {
    problems.add(src.where([]), `needs "design": ${DESIGNS.join(" or ")}`);
  } else if (!DESIGNS.includes(d.design as StimulusDesignName)) {
    problems.add(src.where(["design"]), `must be ${DESIGNS.join(" or ")}, got ${describe(d.design)}`);
  } else design = d.design as StimulusDesignName;
  let sessions = 1;
  if (d.sessions !== undefined) {
    if (typeof d.sessions !== "number" || !Number.isInteger(d.sessions) || d.sessions < 1) {
      problems.add(
        src.where(["sessions"]),
        `must be a whole number ≥ 1 (repetitions of the whole list), got ${describe(d.sessions)}`,
      );
    } else sessions = d.sessions;
  }
  let randomItems = false;
  let randomEvents = false;
  if (d.randomize !== undefined && d.randomize !== false && d.randomize !== "none") {
    const list = Array.isArray(d.randomize) ? d.randomize : [d.randomize];
    list.forEach((v, i) => {
      const at: PathPart[] = Array.isArray(d.randomize) ? ["randomize", i] : ["randomize"];
      if (v === "items") randomItems = true;
      else if (v === "events") randomEvents = true;
      else {
        problems.add(src.where(at), `must be items, events, [items, events] or none, got ${describe(v)}`);
      }
    });
  }
  let mode: "chat" | "completion" = "chat";
  if (d.mode !== undefined) {
    if (d.mode !== "chat" && d.mode !== "completion") {
      problems.add(src.where(["mode"]), `must be chat or completion, got ${describe(d.mode)}`);
    } else mode = d.mode;
  }
  return { design, sessions, randomItems, randomEvents, mode };
}

function optionalText(
  d: Record<string, unknown>,
  key: string,
  src: StudySource,
  problems: ProblemList,
): string | undefined {
  const v = d[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") {
    problems.add(src.where([key]), "must be a text");
    return undefined;
  }
  return v;
}

function stimulusPath(src: StudySource, file: string): string {
  return isAbsolute(file) ? file : resolve(src.dir, file);
}

function readTable(
  d: Record<string, unknown>,
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
  if (typeof d.stimuli !== "string" || d.stimuli.trim() === "") {
    problems.add(
      src.where(d.stimuli === undefined ? [] : ["stimuli"]),
      'needs "stimuli": the path of a .csv or .xlsx file (relative to the study file), or a list of rows',
    );
    return undefined;
  }
  const sheet = d.sheet;
  if (sheet !== undefined && typeof sheet !== "string") {
    problems.add(src.where(["sheet"]), "must be the name of a sheet (a text)");
    return undefined;
  }
  const delimiter = d.delimiter;
  const DELIMS: Record<string, "," | ";" | "\t"> = {
    ",": ",",
    ";": ";",
    "\t": "\t",
    tab: "\t",
    comma: ",",
    semicolon: ";",
  };
  if (delimiter !== undefined && (typeof delimiter !== "string" || !DELIMS[delimiter])) {
    problems.add(
      src.where(["delimiter"]),
      'must be ",", ";" or tab (default: detected from the header line)',
    );
    return undefined;
  }
  try {
    return readStimulusTable(stimulusPath(src, d.stimuli), d.stimuli, {
      ...(typeof sheet === "string" ? { sheet } : {}),
      ...(typeof delimiter === "string" ? { delimiter: DELIMS[delimiter] } : {}),
    });
  } catch (e) {
    if (e instanceof TableError) {
      problems.add(e.where, e.message);
      return undefined;
    }
    throw e;
  }
}

function readColumnNames(
  d: Record<string, unknown>,
  src: StudySource,
  problems: ProblemList,
): { names: Record<Field, string>; mapped: Partial<Record<Field, string>> } | undefined {
  const names = Object.fromEntries(Object.entries(FIELDS).map(([k, v]) => [k, v.header])) as Record<
    Field,
    string
  >;
  const mapped: Partial<Record<Field, string>> = {};
  if (d.columns === undefined) return { names, mapped };
  if (!isObj(d.columns)) {
    problems.add(
      src.where(["columns"]),
      "must map run, item, event, condition, prompt to column names in the file",
    );
    return undefined;
  }
  checkKeys(d.columns, Object.keys(FIELDS), ["columns"], src, problems);
  let ok = true;
  for (const [k, v] of Object.entries(d.columns)) {
    if (!(k in FIELDS)) continue;
    if (typeof v !== "string" || v.trim() === "") {
      problems.add(src.where(["columns", k]), "must be a column name (a text)");
      ok = false;
      continue;
    }
    names[k as Field] = v.trim();
    mapped[k as Field] = src.where(["columns", k]);
  }
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

function readParseEvents(
  d: Record<string, unknown>,
  set: StimulusSet | undefined,
  src: StudySource,
  problems: ProblemList,
): Set<number> | undefined {
  if (d.parse_events === undefined) return undefined;
  const raw = Array.isArray(d.parse_events) ? d.parse_events : [d.parse_events];
  const out = new Set<number>();
  raw.forEach((v, i) => {
    const at: PathPart[] = Array.isArray(d.parse_events) ? ["parse_events", i] : ["parse_events"];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
      problems.add(src.where(at), `must be an Event number, got ${describe(v)}`);
    } else if (set && !set.eventNumbers.has(v)) {
      problems.add(
        src.where(at),
        `no row has Event ${v} (events: ${[...set.eventNumbers].sort((a, b) => a - b).join(", ")})`,
      );
    } else out.add(v);
  });
  if (raw.length === 0) problems.add(src.where(["parse_events"]), "must list at least one Event number");
  return out;
}

function readMeasure(
  d: Record<string, unknown>,
  parserSpec: ParserSpec | undefined,
  params: ReturnType<typeof readParams>,
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
  if (!isObj(d.measure)) {
    problems.add(src.where(["measure"]), "must be a mapping {targets: [word, …], case_sensitive: false}");
    return undefined;
  }
  checkKeys(d.measure, ["targets", "case_sensitive"], ["measure"], src, problems);
  const targets = d.measure.targets;
  if (
    !Array.isArray(targets) ||
    targets.length < 2 ||
    targets.some((t) => typeof t !== "string" || t.trim() === "")
  ) {
    problems.add(src.where(["measure", "targets"]), "must list at least two target words, e.g. [he, she]");
    return undefined;
  }
  const cs = d.measure.case_sensitive;
  if (cs !== undefined && typeof cs !== "boolean")
    problems.add(src.where(["measure", "case_sensitive"]), "must be true or false");
  const measure = makeMeasure("targets", targets as string[], cs === true);
  if (new Set(measure.names.map((n) => (cs === true ? n : n.toLowerCase()))).size !== measure.names.length) {
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

function providerType(id: string, providers: Record<string, ProviderConfig>): string {
  const provider = splitModelId(id)?.provider ?? "";
  return providers[provider]?.type ?? provider;
}
