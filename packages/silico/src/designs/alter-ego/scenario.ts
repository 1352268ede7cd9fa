/**
 * Reads and validates an alter_ego `built.json` before any call. alter_ego validates nothing and
 * crashes (or taints every conversation) mid-run; here every problem is reported with its place,
 * and the scenario is returned in the shape the plan needs.
 */
import { type ProblemList, TemplateError } from "../../errors.js";
import { checkModelId } from "../../models/registry.js";
import { compileTemplate, PyDict, PyFloat } from "@silico/jinja";
import type { PathPart, StudySource } from "../../study/source.js";
import { API_THREAD_NAMES, HIDDEN_THREAD_NAMES, JINJA_GLOBALS, THREAD_CONTEXT_NAMES } from "./context.js";
import { FILTER_NAMES, type FilterName, type FilterSpec } from "./filters.js";
import { homogenize } from "./homogenize.js";
import { pyJsonLoads, toPlain } from "./python-json.js";
import { parseThreadDef, type ThreadDef } from "./threads.js";

export const BUILT_KEYS = ["threads", "treatments", "rounds", "variables", "prompts", "filters"] as const;

export type EgoTemplate = ReturnType<typeof compileTemplate>;

export interface ScenarioThread {
  /** The `i` exposed to templates (a Python int). */
  i: number | bigint;
  def: ThreadDef;
  /** The raw `threads[k][1]` entry, for the manifest. */
  raw: unknown;
}

export interface Scenario {
  threads: ScenarioThread[];
  treatments: string[];
  rounds: number;
  /** Variable name → (treatment → Python value), in file order. */
  variables: [string, Map<string, unknown>][];
  system: EgoTemplate;
  user: EgoTemplate;
  /** One filter per thread, by position. */
  filters: FilterSpec[];
  /** The raw `filters[k]` entries used (for observation meta). */
  filterDefs: unknown[];
  warnings: string[];
}

/** Python-typed view of the file: JSON re-read with Python's json semantics (4.0 stays a float). */
export function loadBuiltData(src: StudySource): unknown {
  if (src.file.toLowerCase().endsWith(".json")) {
    const r = pyJsonLoads(src.text);
    if (r.ok) return r.value;
  }
  return fromPlain(src.data);
}

function fromPlain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromPlain);
  if (v !== null && typeof v === "object") {
    const d = new PyDict();
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) d.set(k, fromPlain(x));
    return d;
  }
  return v;
}

const isInt = (v: unknown): v is number | bigint =>
  (typeof v === "number" && Number.isInteger(v)) || typeof v === "bigint";

function describePy(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (v instanceof PyDict) return "a mapping";
  if (v instanceof PyFloat) return `the number ${v.toString()}`;
  if (typeof v === "string") return `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v === "number" || typeof v === "bigint" ? "the number" : typeof v} ${String(v)}`;
}

function closest(word: string, options: readonly string[]): string | undefined {
  const w = word.toLowerCase().replace(/[\s_-]/g, "");
  return options.find((o) => {
    const x = o.toLowerCase().replace(/[\s_-]/g, "");
    return x === w || x.startsWith(w.slice(0, 4)) || w.startsWith(x.slice(0, 4));
  });
}

/** Reads a built.json; adds every problem to `problems` and returns undefined when there is any. */
export function readScenario(src: StudySource, problems: ProblemList): Scenario | undefined {
  const data = loadBuiltData(src);
  const at = (path: PathPart[]) => src.where(path);
  const warnings: string[] = [];
  if (!(data instanceof PyDict)) {
    problems.add(at([]), "a built.json must be a JSON object");
    return undefined;
  }
  for (const key of BUILT_KEYS) {
    if (!data.has(key))
      problems.add(at([]), `missing key "${key}" (a built.json has ${BUILT_KEYS.join(", ")})`);
  }
  for (const key of data.keys()) {
    if (!(BUILT_KEYS as readonly string[]).includes(String(key))) {
      warnings.push(
        `${at([String(key)])}: key "${String(key)}" is not part of the built.json format and is ignored (alter_ego ignores it too)`,
      );
    }
  }
  const get = (k: string) => {
    const v = data.get(k);
    return v === undefined || typeof v === "symbol" ? undefined : v;
  };

  // threads
  const threads: ScenarioThread[] = [];
  const rawThreads = get("threads");
  if (rawThreads !== undefined) {
    if (!Array.isArray(rawThreads))
      problems.add(
        at(["threads"]),
        'must be a list of [i, thread] pairs, e.g. [[1, ["GPTThread", "gpt-4o"]]]',
      );
    else if (rawThreads.length === 0)
      problems.add(at(["threads"]), "lists no threads; a conversation needs at least one");
    else {
      rawThreads.forEach((entry, k) => {
        if (!Array.isArray(entry) || entry.length !== 2) {
          problems.add(
            at(["threads", k]),
            `must be a pair [i, thread] such as [${k + 1}, ["GPTThread", "gpt-4o"]], got ${describePy(entry)}${Array.isArray(entry) ? ` of ${entry.length} elements` : ""}`,
          );
          return;
        }
        const [i, def] = entry as [unknown, unknown];
        let ok = true;
        if (!isInt(i)) {
          problems.add(
            at(["threads", k, 0]),
            `the thread index i must be a whole number, got ${describePy(i)}`,
          );
          ok = false;
        }
        const parsed = parseThreadDef(def);
        if (!parsed.ok) {
          problems.add(at(["threads", k, 1]), parsed.message);
          ok = false;
        } else {
          ok = checkModelId(parsed.def.model, at(["threads", k, 1]), problems) && ok;
        }
        if (ok && parsed.ok) threads.push({ i: i as number | bigint, def: parsed.def, raw: def });
      });
    }
  }
  const threadCount = Array.isArray(rawThreads) ? rawThreads.length : 0;

  // treatments
  const treatments: string[] = [];
  const rawTreatments = get("treatments");
  if (rawTreatments !== undefined) {
    if (!Array.isArray(rawTreatments) || rawTreatments.length === 0) {
      problems.add(at(["treatments"]), 'must be a non-empty list of treatment names, e.g. ["give", "take"]');
    } else {
      rawTreatments.forEach((t, k) => {
        if (typeof t !== "string" || t === "")
          problems.add(
            at(["treatments", k]),
            `a treatment name must be a non-empty text, got ${describePy(t)}`,
          );
        else treatments.push(t);
      });
      if (treatments.length === rawTreatments.length && new Set(treatments).size === 1) {
        warnings.push(
          `${at(["treatments"])}: only one treatment; silico runs it (alter_ego requires at least two)`,
        );
      }
    }
  }

  // rounds
  let rounds = 0;
  const rawRounds = get("rounds");
  if (rawRounds !== undefined) {
    if (!isInt(rawRounds) || typeof rawRounds === "boolean") {
      problems.add(at(["rounds"]), `must be a whole number of rounds (≥ 1), got ${describePy(rawRounds)}`);
    } else if (Number(rawRounds) < 1) {
      problems.add(
        at(["rounds"]),
        `must be at least 1, got ${String(rawRounds)} (alter_ego would run no rounds at all)`,
      );
    } else if (Number(rawRounds) > 10_000) {
      problems.add(
        at(["rounds"]),
        `${String(rawRounds)} rounds is more than silico runs in one conversation (10000)`,
      );
    } else rounds = Number(rawRounds);
  }

  // variables
  const hasApi = threads.some((t) => t.def.type !== "CLIThread");
  const reserved = new Set<string>([
    ...THREAD_CONTEXT_NAMES,
    ...HIDDEN_THREAD_NAMES,
    ...(hasApi ? API_THREAD_NAMES : []),
  ]);
  const variables: [string, Map<string, unknown>][] = [];
  const rawVariables = get("variables");
  if (rawVariables !== undefined) {
    if (!(rawVariables instanceof PyDict)) {
      problems.add(at(["variables"]), "must be a mapping {variable: {treatment: value}}");
    } else {
      for (const [nameRaw, perTreatment] of rawVariables.items()) {
        const name = String(nameRaw);
        const p = ["variables", name];
        if (reserved.has(name)) {
          problems.add(
            at(p),
            `the variable name "${name}" clashes with the thread attribute of the same name that every prompt sees (alter_ego fails with a TypeError at render); rename it`,
          );
          continue;
        }
        if (!(perTreatment instanceof PyDict)) {
          problems.add(at(p), `must be a mapping {treatment: value}, got ${describePy(perTreatment)}`);
          continue;
        }
        const values = new Map<string, unknown>();
        for (const t of treatments) {
          if (!perTreatment.has(t))
            problems.add(at(p), `has no value for treatment "${t}" (alter_ego stops with a KeyError)`);
          else values.set(t, perTreatment.get(t));
        }
        variables.push([name, values]);
      }
    }
  }

  // prompts
  let system: EgoTemplate | undefined;
  let user: EgoTemplate | undefined;
  const rawPrompts = get("prompts");
  if (rawPrompts !== undefined) {
    if (!(rawPrompts instanceof PyDict))
      problems.add(at(["prompts"]), 'must be a mapping {"system": …, "user": …}');
    else {
      for (const which of ["system", "user"] as const) {
        const t = rawPrompts.get(which);
        if (typeof t !== "string") {
          problems.add(
            at(["prompts", which]),
            typeof t === "symbol"
              ? `missing the ${which} prompt`
              : `must be a text (a Jinja2 template), got ${describePy(t)}`,
          );
          continue;
        }
        try {
          // alter_ego compiles the homogenized text, so line numbers refer to it.
          const origin = { where: `${src.file}: prompts.${which} (after homogenize)` };
          const compiled = compileTemplate(homogenize(t), origin);
          if (which === "system") system = compiled;
          else user = compiled;
        } catch (e) {
          if (e instanceof TemplateError) problems.add(e.where, e.detail);
          else throw e;
        }
      }
    }
  }

  // filters
  const filters: FilterSpec[] = [];
  const filterDefs: unknown[] = [];
  const rawFilters = get("filters");
  if (rawFilters !== undefined) {
    if (!Array.isArray(rawFilters))
      problems.add(
        at(["filters"]),
        'must be a list with one filter per thread, e.g. [["JSON"], ["exclusive_response", "ACCEPT;REJECT"]]',
      );
    else {
      if (rawFilters.length < threadCount) {
        problems.add(
          at(["filters"]),
          `has ${rawFilters.length} ${rawFilters.length === 1 ? "entry" : "entries"} for ${threadCount} threads: filters[k] belongs to threads[k], so threads[${rawFilters.length}]${threadCount - rawFilters.length > 1 ? ` to threads[${threadCount - 1}]` : ""} ${threadCount - rawFilters.length > 1 ? "have" : "has"} no filter`,
        );
      } else if (rawFilters.length > threadCount && threadCount > 0) {
        warnings.push(
          `${at(["filters"])}: ${rawFilters.length} filters for ${threadCount} threads; filters[${threadCount}]${rawFilters.length - threadCount > 1 ? ` to filters[${rawFilters.length - 1}] are` : " is"} ignored (as in alter_ego). Filters apply by position: the builder leaves a deleted thread's filter behind, which shifts later threads onto the wrong filter, so check that filters[k] belongs to threads[k]`,
        );
      }
      rawFilters.slice(0, threadCount).forEach((entry, k) => {
        const p = ["filters", k];
        const spec = readFilter(entry);
        if (typeof spec === "string") problems.add(at(p), spec);
        else {
          filters.push(spec);
          filterDefs.push(toPlain(entry));
        }
      });
    }
  }

  if (!problems.ok || !system || !user) return undefined;
  return {
    threads,
    treatments,
    rounds,
    variables,
    system,
    user,
    filters,
    filterDefs,
    warnings,
  };
}

export function readFilter(entry: unknown): FilterSpec | string {
  if (!Array.isArray(entry) || entry.length === 0) {
    return `must be a list such as ["JSON"] or ["exclusive_response", "A;B"], got ${describePy(entry)}`;
  }
  const name = entry[0];
  if (typeof name !== "string" || !(FILTER_NAMES as readonly string[]).includes(name)) {
    const hint = typeof name === "string" ? closest(name, FILTER_NAMES) : undefined;
    return `unknown filter ${typeof name === "string" ? JSON.stringify(name) : describePy(name)}${hint ? ` (did you mean "${hint}"?)` : ""}; known: ${FILTER_NAMES.map((f) => `"${f}"`).join(", ")}`;
  }
  if (name !== "exclusive_response") return { name: name as FilterName };
  const arg = entry[1];
  if (typeof arg !== "string") {
    return 'exclusive_response needs its tokens as a second element, separated by ";", e.g. ["exclusive_response", "ACCEPT;REJECT"]';
  }
  const tokens = arg.split(";");
  const problems: string[] = [];
  tokens.forEach((t, k) => {
    if (t.trim() === "")
      problems.push(`token ${k + 1} is empty (in alter_ego an empty token matches every answer)`);
  });
  const lower = tokens.map((t) => t.trim().toLowerCase()).filter((t) => t !== "");
  const dup = lower.find((t, k) => lower.indexOf(t) !== k);
  if (dup !== undefined)
    problems.push(`token "${dup}" is listed twice (alter_ego would reject every answer containing it)`);
  if (tokens.length < 2 && problems.length === 0)
    problems.push(`needs at least two tokens separated by ";", got ${JSON.stringify(arg)}`);
  if (problems.length > 0) return `exclusive_response: ${problems.join("; ")}`;
  return { name: "exclusive_response", tokens: tokens.map((t) => t.trim()) };
}

/** Names a template reads that no context defines. */
export function knownNames(
  scenario: Pick<Scenario, "variables" | "threads">,
  withRound: boolean,
): Set<string> {
  const names = new Set<string>([...JINJA_GLOBALS, ...scenario.variables.map(([n]) => n)]);
  for (const n of THREAD_CONTEXT_NAMES) {
    if (n === "round" && !withRound) continue;
    if (n === "other" && scenario.threads.length !== 2) continue;
    names.add(n);
  }
  if (scenario.threads.some((t) => t.def.type !== "CLIThread"))
    for (const n of ["model", "temperature", "delay"]) names.add(n);
  return names;
}
