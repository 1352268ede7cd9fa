/**
 * Reads and validates an alter_ego `built.json` before any call. alter_ego validates nothing and
 * crashes (or taints every conversation) mid-run; here every problem is reported with its place,
 * and the scenario is returned in the shape the plan needs.
 */
import { type ProblemList, TemplateError } from "../../errors.js";
import { checkModelId } from "../../models/registry.js";
import { compileTemplate, PyDict } from "@silico/jinja";
import { parseLocated } from "../../study/located-issues.js";
import type { PathPart, StudySource } from "../../study/source.js";
import { BUILT_KEYS, builtSchema, describePy, threadEntrySchema } from "./built-schema.js";
import { API_THREAD_NAMES, HIDDEN_THREAD_NAMES, JINJA_GLOBALS, THREAD_CONTEXT_NAMES } from "./context.js";
import { FILTER_NAMES, type FilterName, type FilterSpec } from "./filters.js";
import { homogenize } from "./homogenize.js";
import { pyJsonLoads, toPlain } from "./python-json.js";
import { parseThreadDef, type ThreadDef } from "./threads.js";

export { BUILT_KEYS } from "./built-schema.js";

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
  // The schema checks the shape on the plain data; values are taken from the Python-typed view.
  const { data: valid } = parseLocated(builtSchema, src, problems);
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
  const threads = checkThreads(get("threads"), at, problems);
  const threadCount = Array.isArray(get("threads")) ? (get("threads") as unknown[]).length : 0;
  const treatments = valid.treatments ?? [];
  if (new Set(treatments).size === 1) {
    warnings.push(
      `${at(["treatments"])}: only one treatment; silico runs it (alter_ego requires at least two)`,
    );
  }
  const rounds = checkRounds(get("rounds"), valid.rounds, at, problems);
  const variables = checkVariables(get("variables"), threads, treatments, at, problems);
  const system = valid.prompts ? compilePrompt(valid.prompts.system, "system", src, problems) : undefined;
  const user = valid.prompts ? compilePrompt(valid.prompts.user, "user", src, problems) : undefined;
  const { filters, filterDefs } = checkFilters(
    valid.filters ? get("filters") : undefined,
    threadCount,
    at,
    problems,
    warnings,
  );

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

type At = (path: PathPart[]) => string;

/**
 * Threads whose entry has the right shape (the schema reported the others): an `i` that is a
 * Python int (not 1.0), a thread definition in alter_ego's grammar, a model id silico knows.
 */
function checkThreads(raw: unknown, at: At, problems: ProblemList): ScenarioThread[] {
  const threads: ScenarioThread[] = [];
  if (!Array.isArray(raw)) return threads;
  raw.forEach((entry: unknown, k) => {
    if (!threadEntrySchema.safeParse(toPlain(entry)).success) return;
    const [i, def] = entry as [unknown, unknown];
    let ok = true;
    if (!isInt(i)) {
      problems.add(at(["threads", k, 0]), `the thread index i must be a whole number, got ${describePy(i)}`);
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
  return threads;
}

/** JSON keeps 2.0 apart from 2, and so does alter_ego's Python: a float is no number of rounds. */
function checkRounds(raw: unknown, valid: number | undefined, at: At, problems: ProblemList): number {
  if (valid === undefined) return 0;
  if (!isInt(raw)) {
    problems.add(at(["rounds"]), `must be a whole number of rounds (≥ 1), got ${describePy(raw)}`);
    return 0;
  }
  return valid;
}

/** Variable names that do not clash with thread attributes, each with a value for every treatment. */
function checkVariables(
  raw: unknown,
  threads: ScenarioThread[],
  treatments: string[],
  at: At,
  problems: ProblemList,
): [string, Map<string, unknown>][] {
  const variables: [string, Map<string, unknown>][] = [];
  if (!(raw instanceof PyDict)) return variables;
  const hasApi = threads.some((t) => t.def.type !== "CLIThread");
  const reserved = new Set<string>([
    ...THREAD_CONTEXT_NAMES,
    ...HIDDEN_THREAD_NAMES,
    ...(hasApi ? API_THREAD_NAMES : []),
  ]);
  for (const [nameRaw, perTreatment] of raw.items()) {
    const name = String(nameRaw);
    const p = ["variables", name];
    if (reserved.has(name)) {
      problems.add(
        at(p),
        `the variable name "${name}" clashes with the thread attribute of the same name that every prompt sees (alter_ego fails with a TypeError at render); rename it`,
      );
      continue;
    }
    if (!(perTreatment instanceof PyDict)) continue;
    const values = new Map<string, unknown>();
    for (const t of treatments) {
      if (!perTreatment.has(t))
        problems.add(at(p), `has no value for treatment "${t}" (alter_ego stops with a KeyError)`);
      else values.set(t, perTreatment.get(t));
    }
    variables.push([name, values]);
  }
  return variables;
}

function compilePrompt(
  text: string,
  which: "system" | "user",
  src: StudySource,
  problems: ProblemList,
): EgoTemplate | undefined {
  try {
    // alter_ego compiles the homogenized text, so line numbers refer to it.
    return compileTemplate(homogenize(text), { where: `${src.file}: prompts.${which} (after homogenize)` });
  } catch (e) {
    if (e instanceof TemplateError) {
      problems.add(e.where, e.detail);
      return undefined;
    }
    throw e;
  }
}

/** One filter per thread, by position; extra filters are ignored with a warning, as alter_ego does. */
function checkFilters(raw: unknown, threadCount: number, at: At, problems: ProblemList, warnings: string[]) {
  const filters: FilterSpec[] = [];
  const filterDefs: unknown[] = [];
  if (!Array.isArray(raw)) return { filters, filterDefs };
  if (raw.length < threadCount) {
    problems.add(
      at(["filters"]),
      `has ${raw.length} ${raw.length === 1 ? "entry" : "entries"} for ${threadCount} threads: filters[k] belongs to threads[k], so threads[${raw.length}]${threadCount - raw.length > 1 ? ` to threads[${threadCount - 1}]` : ""} ${threadCount - raw.length > 1 ? "have" : "has"} no filter`,
    );
  } else if (raw.length > threadCount && threadCount > 0) {
    warnings.push(
      `${at(["filters"])}: ${raw.length} filters for ${threadCount} threads; filters[${threadCount}]${raw.length - threadCount > 1 ? ` to filters[${raw.length - 1}] are` : " is"} ignored (as in alter_ego). Filters apply by position: the builder leaves a deleted thread's filter behind, which shifts later threads onto the wrong filter, so check that filters[k] belongs to threads[k]`,
    );
  }
  raw.slice(0, threadCount).forEach((entry, k) => {
    const spec = readFilter(entry);
    if (typeof spec === "string") problems.add(at(["filters", k]), spec);
    else {
      filters.push(spec);
      filterDefs.push(toPlain(entry));
    }
  });
  return { filters, filterDefs };
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
