import { editDistance } from "../../did-you-mean.js";
import type { ProblemList } from "../../errors.js";
import { checkModelId, type ProviderConfig } from "../../models/registry.js";
import { createParser, normalizeParserSpec } from "../../parse/index.js";
import {
  type CompiledTemplate,
  type CompileOptions,
  compileExpression,
  EXPRESSION_FUNCTIONS,
  TemplateError,
  templateWhere,
} from "@silico/jinja";
import { checkKeys, compileTemplateAt, describe, isObj, type Obj, readParams } from "../../study/common.js";
import type { PathPart, StudySource } from "../../study/source.js";
import type { AssignmentMode } from "./assignment.js";
import {
  bareChoicesFor,
  CONTEXT_NAMES,
  type GameShape,
  PARTICIPANT_FIELDS,
  SYSTEM_CONTEXT_NAMES,
} from "./context.js";
import type { Expression, GameSpec, InvalidPolicy, RoleSpec, StageSpec, TreatmentSpec } from "./spec.js";

export const GAME_KEYS = [
  "kind",
  "name",
  "description",
  "seed",
  "groups",
  "rounds",
  "roles",
  "treatments",
  "variables",
  "assignment",
  "matching",
  "stages",
  "payoffs",
  "invalid",
  "model",
  "params",
  "system",
  "settings",
  "providers",
] as const;

const ROLE_KEYS = ["count", "model", "params", "system"];
const STAGE_KEYS = ["name", "roles", "mode", "prompt", "parse", "as", "params", "when"];
const INVALID_KEYS = ["reask", "message", "then"];

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Words a name may not be: template/expression keywords and the methods of dicts and lists. */
const KEYWORDS = [
  "and",
  "or",
  "not",
  "if",
  "else",
  "elif",
  "in",
  "is",
  "for",
  "endfor",
  "endif",
  "set",
  "block",
  "macro",
  "import",
  "include",
  "with",
  "true",
  "false",
  "none",
  "True",
  "False",
  "None",
  "null",
  "loop",
  "range",
  "dict",
  "lipsum",
  "cycler",
  "joiner",
  "namespace",
  "self",
  "super",
  "caller",
  "varargs",
  "kwargs",
];
const METHOD_NAMES = [
  "keys",
  "values",
  "items",
  "get",
  "pop",
  "popitem",
  "update",
  "copy",
  "clear",
  "setdefault",
  "fromkeys",
  "append",
  "count",
  "extend",
  "insert",
  "remove",
  "reverse",
  "sort",
];
/** Prompts may call the functions payoffs call (min, max, round, sum, mean, …), with the same results. */
const PROMPT_OPTIONS: CompileOptions = { globals: EXPRESSION_FUNCTIONS };

/** Globals a Jinja template may use without defining them. */
const TEMPLATE_GLOBALS = [
  "range",
  "dict",
  "lipsum",
  "cycler",
  "joiner",
  "namespace",
  "loop",
  "true",
  "false",
  "none",
  "True",
  "False",
  "None",
];

/** Checks a name used as a key of participant objects and contexts. */
function checkName(
  name: string,
  what: string,
  path: PathPart[],
  src: StudySource,
  problems: ProblemList,
  taken: Map<string, string>,
): boolean {
  if (!IDENT.test(name)) {
    problems.add(
      src.where(path),
      `${what} "${name}" must be an identifier (letters, digits, _; not starting with a digit)`,
    );
    return false;
  }
  if (KEYWORDS.includes(name) || METHOD_NAMES.includes(name)) {
    problems.add(src.where(path), `${what} "${name}" is a reserved word in templates; choose another name`);
    return false;
  }
  if (CONTEXT_NAMES.includes(name) || PARTICIPANT_FIELDS.includes(name)) {
    problems.add(
      src.where(path),
      `${what} "${name}" is reserved for the game context (${[...new Set([...CONTEXT_NAMES, ...PARTICIPANT_FIELDS])].join(", ")})`,
    );
    return false;
  }
  const other = taken.get(name);
  if (other) {
    problems.add(
      src.where(path),
      `${what} "${name}" is already the name of ${other}; names of roles, variables and choices must differ`,
    );
    return false;
  }
  taken.set(name, `${what} "${name}"`);
  return true;
}

function suggest(word: string, options: string[]): string {
  const lower = word.toLowerCase();
  const prefix = lower.length >= 3 ? options.find((o) => o.toLowerCase().startsWith(lower)) : undefined;
  if (prefix) return ` (did you mean "${prefix}"?)`;
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const o of options) {
    const d = editDistance(word.toLowerCase(), o.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = o;
    }
  }
  return best ? ` (did you mean "${best}"?)` : "";
}

function intAt(
  v: unknown,
  path: PathPart[],
  src: StudySource,
  problems: ProblemList,
  min: number,
  what: string,
): number | undefined {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    problems.add(src.where(path), `${what} must be a whole number ≥ ${min}, got ${describe(v)}`);
    return undefined;
  }
  return v;
}

function tryExpression(
  raw: unknown,
  path: PathPart[],
  src: StudySource,
  problems: ProblemList,
  what: string,
): Expression | undefined {
  if (typeof raw !== "string" && typeof raw !== "number" && typeof raw !== "boolean") {
    problems.add(src.where(path), `${what} must be an expression (text) or a number, got ${describe(raw)}`);
    return undefined;
  }
  const where = src.where(path);
  try {
    return compileExpression(raw, { where });
  } catch (e) {
    if (e instanceof TemplateError) {
      const text = String(raw);
      const shown = JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
      problems.add(where, `bad expression ${shown}: ${e.detail}`);
      return undefined;
    }
    throw e;
  }
}

/** Free variables not guarded by `is defined` / `|default`. */
function unguarded(t: CompiledTemplate): string[] {
  const optional =
    (t as CompiledTemplate & { optionalVariables?: () => string[] }).optionalVariables?.() ?? [];
  return t.freeVariables().filter((v) => !optional.includes(v));
}

/** The template's origin with the file line where a name first appears. */
function whereIn(t: CompiledTemplate, name: string): string {
  const re = new RegExp(`\\b${name}\\b`);
  const lines = t.source.split("\n");
  const i = lines.findIndex((l) => re.test(l));
  return templateWhere(t.origin, i < 0 ? 1 : i + 1);
}

/**
 * Validates a `kind: game` study and compiles its templates and expressions. Every problem found
 * is collected (file:line: path: message); the caller throws them together.
 */
export function readGame(
  src: StudySource,
  problems: ProblemList,
  providers: Record<string, ProviderConfig>,
): GameSpec | undefined {
  const d = src.data as Obj;
  checkKeys(d, GAME_KEYS, [], src, problems);
  if (d.name !== undefined && typeof d.name !== "string") problems.add(src.where(["name"]), "must be a text");
  if (d.description !== undefined && typeof d.description !== "string")
    problems.add(src.where(["description"]), "must be a text");

  const taken = new Map<string, string>();

  // groups and rounds
  let groups: number | undefined;
  if (d.groups === undefined)
    problems.add(src.where([]), 'needs "groups": the number of groups to play (e.g. groups: 30)');
  else groups = intAt(d.groups, ["groups"], src, problems, 1, "groups");
  const rounds = d.rounds === undefined ? 1 : (intAt(d.rounds, ["rounds"], src, problems, 1, "rounds") ?? 1);

  // defaults shared by roles
  const defaultParams = readParams(d.params, ["params"], src, problems);
  if (d.model !== undefined) checkModelId(d.model, src.where(["model"]), problems, providers);
  let defaultSystem: CompiledTemplate | undefined;
  if (d.system !== undefined)
    defaultSystem = compileTemplateAt(d.system, ["system"], src, problems, "system", PROMPT_OPTIONS);

  // roles
  const roles: RoleSpec[] = [];
  if (d.roles === undefined)
    problems.add(src.where([]), 'needs "roles": a mapping of role names to {count, model, system}');
  else if (!isObj(d.roles) || Object.keys(d.roles).length === 0) {
    problems.add(
      src.where(["roles"]),
      "must be a non-empty mapping of role names to {count, model, params, system}",
    );
  } else {
    for (const [name, raw] of Object.entries(d.roles)) {
      const p: PathPart[] = ["roles", name];
      checkName(name, "role", p, src, problems, taken);
      const r: Obj = raw === null || raw === undefined ? {} : isObj(raw) ? raw : {};
      if (raw !== null && raw !== undefined && !isObj(raw)) {
        problems.add(src.where(p), `must be a mapping {count, model, params, system}, got ${describe(raw)}`);
        continue;
      }
      checkKeys(r, ROLE_KEYS, p, src, problems);
      const count = r.count === undefined ? 1 : intAt(r.count, [...p, "count"], src, problems, 1, "count");
      const model = r.model ?? d.model;
      if (model === undefined) {
        problems.add(
          src.where(p),
          `role "${name}" needs a model (here or a top-level "model:", e.g. local:smollm2-135m)`,
        );
      } else if (r.model !== undefined)
        checkModelId(r.model, src.where([...p, "model"]), problems, providers);
      const params = { ...defaultParams, ...readParams(r.params, [...p, "params"], src, problems) };
      const system =
        r.system !== undefined
          ? compileTemplateAt(r.system, [...p, "system"], src, problems, "system", PROMPT_OPTIONS)
          : defaultSystem;
      roles.push({
        name,
        count: count ?? 1,
        model: typeof model === "string" ? model : "",
        params,
        ...(system ? { system } : {}),
      });
    }
  }
  const roleNames = roles.map((r) => r.name);
  const size = roles.reduce((n, r) => n + r.count, 0);

  // variables and treatments
  const common: Record<string, unknown> = {};
  if (d.variables !== undefined) {
    if (!isObj(d.variables))
      problems.add(src.where(["variables"]), "must be a mapping of variable names to values");
    else {
      for (const [k, v] of Object.entries(d.variables)) {
        if (checkName(k, "variable", ["variables", k], src, problems, taken)) common[k] = v;
      }
    }
  }
  const treatments: TreatmentSpec[] = [];
  if (d.treatments === undefined) {
    treatments.push({ name: "base", variables: { ...common } });
  } else if (!isObj(d.treatments) || Object.keys(d.treatments).length === 0) {
    problems.add(
      src.where(["treatments"]),
      "must be a non-empty mapping of treatment names to their variables (leave it out for a single treatment)",
    );
  } else {
    const names = new Map<string, string[]>();
    const entries = Object.entries(d.treatments);
    for (const [tname, vars] of entries) {
      const p: PathPart[] = ["treatments", tname];
      if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(tname)) {
        problems.add(src.where(p), `treatment name "${tname}" may use letters, digits, _, - and . only`);
      }
      if (vars !== null && vars !== undefined && !isObj(vars)) {
        problems.add(src.where(p), `must be a mapping of variable names to values, got ${describe(vars)}`);
        continue;
      }
      for (const k of Object.keys(vars ?? {})) {
        const list = names.get(k) ?? [];
        list.push(tname);
        names.set(k, list);
      }
    }
    for (const [k, where] of names) {
      if (!Object.hasOwn(common, k))
        checkName(k, "variable", ["treatments", where[0] as string, k], src, problems, taken);
    }
    for (const [tname, vars] of entries) {
      if (vars !== null && vars !== undefined && !isObj(vars)) continue;
      const own = (vars ?? {}) as Obj;
      for (const [k, list] of names) {
        if (!Object.hasOwn(own, k) && !Object.hasOwn(common, k)) {
          problems.add(
            src.where(["treatments", tname]),
            `does not set variable "${k}" (set in ${list.join(", ")}); give it a value here or a default under "variables:"`,
          );
        }
      }
      treatments.push({ name: tname, variables: { ...common, ...own } });
    }
  }
  const variableNames = [
    ...new Set([...Object.keys(common), ...treatments.flatMap((t) => Object.keys(t.variables))]),
  ];

  // assignment and matching
  let assignment: AssignmentMode = "balanced";
  if (d.assignment !== undefined) {
    if (d.assignment !== "balanced" && d.assignment !== "random") {
      problems.add(
        src.where(["assignment"]),
        `must be "balanced" (equal counts, shuffled) or "random" (independent draws), got ${describe(d.assignment)}`,
      );
    } else assignment = d.assignment;
  }
  let matching: GameSpec["matching"] = { type: "partner" };
  if (d.matching !== undefined && d.matching !== "partner") {
    const m: Obj | undefined =
      d.matching === "stranger" ? { type: "stranger" } : isObj(d.matching) ? d.matching : undefined;
    if (!m) {
      problems.add(
        src.where(["matching"]),
        `must be "partner", "stranger" or {type: stranger, pool_size: N}, got ${describe(d.matching)}`,
      );
    } else {
      if (isObj(d.matching)) checkKeys(m, ["type", "pool_size"], ["matching"], src, problems);
      if (m.type === "partner") {
        if (m.pool_size !== undefined)
          problems.add(src.where(["matching", "pool_size"]), "only stranger matching has pools");
      } else if (m.type !== "stranger") {
        problems.add(
          src.where(isObj(d.matching) ? ["matching", "type"] : ["matching"]),
          `must be "partner" or "stranger", got ${describe(m.type)}`,
        );
      } else if (m.pool_size === undefined) {
        problems.add(
          src.where(["matching"]),
          `stranger matching needs a pool size: matching: {type: stranger, pool_size: ${size * 2 || "N"}} (participants re-matched within each pool every round)`,
        );
      } else {
        const pool = intAt(m.pool_size, ["matching", "pool_size"], src, problems, 2, "pool_size");
        if (pool !== undefined && size > 0) {
          if (pool % size !== 0 || pool < 2 * size) {
            problems.add(
              src.where(["matching", "pool_size"]),
              `must be a multiple of the group size (${size}) holding at least two groups, got ${pool}`,
            );
          } else if (groups !== undefined && groups % (pool / size) !== 0) {
            problems.add(
              src.where(["groups"]),
              `${groups} groups do not fill pools of ${pool / size} groups (pool_size ${pool} / group size ${size}); use a multiple of ${pool / size}`,
            );
          } else matching = { type: "stranger", poolSize: pool, groupsPerPool: pool / size };
        }
      }
    }
  }

  // invalid-answer policy
  const invalid: InvalidPolicy = { reask: 2, action: "taint" };
  if (d.invalid !== undefined) {
    if (!isObj(d.invalid)) problems.add(src.where(["invalid"]), "must be a mapping {reask, message, then}");
    else {
      checkKeys(d.invalid, INVALID_KEYS, ["invalid"], src, problems);
      if (d.invalid.reask !== undefined) {
        const v = intAt(d.invalid.reask, ["invalid", "reask"], src, problems, 0, "reask");
        if (v !== undefined && v > 10) problems.add(src.where(["invalid", "reask"]), "at most 10 re-asks");
        else if (v !== undefined) invalid.reask = v;
      }
      if (d.invalid.message !== undefined) {
        if (typeof d.invalid.message !== "string" || d.invalid.message.trim() === "") {
          problems.add(
            src.where(["invalid", "message"]),
            "must be a text ({reason} and {expected} are filled in)",
          );
        } else invalid.message = d.invalid.message;
      }
      if (d.invalid.then !== undefined) {
        if (d.invalid.then !== "taint" && d.invalid.then !== "continue") {
          problems.add(
            src.where(["invalid", "then"]),
            `must be "taint" (stop the group) or "continue" (record the invalid answer and go on), got ${describe(d.invalid.then)}`,
          );
        } else invalid.action = d.invalid.then;
      }
    }
  }

  // stages
  const stages: StageSpec[] = [];
  const stagePaths: PathPart[][] = [];
  const brokenChoices = new Set<string>();
  if (d.stages === undefined)
    problems.add(src.where([]), 'needs "stages": the list of decisions in each round');
  else if (!Array.isArray(d.stages) || d.stages.length === 0)
    problems.add(src.where(["stages"]), "must be a non-empty list of stages");
  else {
    const stageNames = new Set<string>();
    d.stages.forEach((raw, i) => {
      const p: PathPart[] = ["stages", i];
      if (!isObj(raw)) {
        problems.add(src.where(p), `must be a mapping {name, roles, prompt, parse, …}, got ${describe(raw)}`);
        return;
      }
      checkKeys(raw, STAGE_KEYS, p, src, problems);
      const name = raw.name;
      if (typeof name !== "string" || !IDENT.test(name)) {
        problems.add(
          src.where([...p, "name"]),
          `a stage needs a name (an identifier such as "offer"), got ${describe(name)}`,
        );
        return;
      }
      if (stageNames.has(name)) problems.add(src.where([...p, "name"]), `two stages are called "${name}"`);
      stageNames.add(name);
      const choice = raw.as === undefined ? name : raw.as;
      if (typeof choice !== "string") {
        problems.add(src.where([...p, "as"]), "must be a name for the choice");
        return;
      }
      checkName(choice, "choice", raw.as === undefined ? [...p, "name"] : [...p, "as"], src, problems, taken);

      let actors: string[] = roleNames.slice();
      let rolesBroken = false;
      if (raw.roles !== undefined) {
        const list = typeof raw.roles === "string" ? [raw.roles] : raw.roles;
        if (!Array.isArray(list) || list.length === 0) {
          problems.add(src.where([...p, "roles"]), "must be a non-empty list of role names");
        } else {
          actors = [];
          list.forEach((r, j) => {
            if (typeof r !== "string" || !roleNames.includes(r)) {
              problems.add(
                src.where(typeof raw.roles === "string" ? [...p, "roles"] : [...p, "roles", j]),
                `unknown role ${typeof r === "string" ? JSON.stringify(r) : describe(r)}${typeof r === "string" ? suggest(r, roleNames) : ""}; roles: ${roleNames.join(", ")}`,
              );
              rolesBroken = true;
            } else if (actors.includes(r))
              problems.add(src.where([...p, "roles", j]), `lists role "${r}" twice`);
            else actors.push(r);
          });
        }
      }
      let mode: StageSpec["mode"] = "simultaneous";
      if (raw.mode !== undefined) {
        if (raw.mode !== "simultaneous" && raw.mode !== "sequential") {
          problems.add(
            src.where([...p, "mode"]),
            `must be "simultaneous" or "sequential", got ${describe(raw.mode)}`,
          );
        } else mode = raw.mode;
      }
      const prompts = new Map<string, CompiledTemplate>();
      if (raw.prompt === undefined)
        problems.add(
          src.where(p),
          `stage "${name}" needs a prompt (a template, or a mapping role → template)`,
        );
      else if (isObj(raw.prompt)) {
        for (const [role, text] of Object.entries(raw.prompt)) {
          if (!actors.includes(role)) {
            problems.add(
              src.where([...p, "prompt", role]),
              `role "${role}" does not act in stage "${name}" (acting: ${actors.join(", ")})${suggest(role, actors)}`,
            );
            continue;
          }
          const t = compileTemplateAt(text, [...p, "prompt", role], src, problems, "prompt", PROMPT_OPTIONS);
          if (t) prompts.set(role, t);
        }
        for (const role of actors) {
          if (!Object.hasOwn(raw.prompt, role))
            problems.add(src.where([...p, "prompt"]), `has no prompt for role "${role}"`);
        }
      } else {
        const t = compileTemplateAt(raw.prompt, [...p, "prompt"], src, problems, "prompt", PROMPT_OPTIONS);
        if (t) for (const role of actors) prompts.set(role, t);
      }
      const parserSpec =
        raw.parse === undefined
          ? { type: "text" as const }
          : normalizeParserSpec(raw.parse, src.where([...p, "parse"]), problems);
      const params =
        raw.params === undefined ? undefined : readParams(raw.params, [...p, "params"], src, problems);
      const when =
        raw.when === undefined ? undefined : tryExpression(raw.when, [...p, "when"], src, problems, "when");
      if (!parserSpec || rolesBroken || actors.length === 0) {
        // Already reported; keep the choice name known so that its uses raise no follow-up errors.
        brokenChoices.add(choice);
        return;
      }
      let parser: StageSpec["parser"];
      try {
        parser = createParser(parserSpec);
      } catch {
        return; // normalizeParserSpec has reported the problem
      }
      stages.push({
        name,
        choice,
        roles: actors,
        mode,
        prompts,
        parserSpec,
        parser,
        ...(params ? { params } : {}),
        ...(when ? { when } : {}),
      });
      stagePaths.push(p);
    });
  }

  // payoffs
  let payoffs: Map<string, Expression> | undefined;
  if (d.payoffs !== undefined) {
    if (!isObj(d.payoffs))
      problems.add(src.where(["payoffs"]), "must be a mapping of role names to payoff expressions");
    else {
      payoffs = new Map();
      for (const [role, raw] of Object.entries(d.payoffs)) {
        if (!roleNames.includes(role)) {
          problems.add(
            src.where(["payoffs", role]),
            `unknown role "${role}"${suggest(role, roleNames)}; roles: ${roleNames.join(", ")}`,
          );
          continue;
        }
        const e = tryExpression(raw, ["payoffs", role], src, problems, "a payoff");
        if (e) payoffs.set(role, e);
      }
      for (const r of roleNames)
        if (!Object.hasOwn(d.payoffs, r))
          problems.add(src.where(["payoffs"]), `has no payoff for role "${r}"`);
    }
  }

  // Name checks that need the whole game: template variables and expression references.
  const shape: GameShape = {
    rounds,
    roles: roles.map((r) => ({ name: r.name, count: r.count })),
    choices: stages.map((s) => ({ name: s.choice, roles: s.roles })),
  };
  const allChoices = stages.map((s) => s.choice);
  const knownFor = (role: string, withStage: boolean) => {
    const names = new Set([
      ...CONTEXT_NAMES,
      ...variableNames,
      ...roleNames,
      ...bareChoicesFor(shape, role),
      ...brokenChoices,
    ]);
    if (size !== 2) names.delete("other");
    if (!withStage) names.delete("stage");
    return names;
  };
  const unknownMessage = (name: string, role: string, known: Set<string>) => {
    if (name === "other" && size !== 2)
      return `"other" exists only in two-person groups (this group has ${size}); use others (a list) or a role name`;
    if (allChoices.includes(name)) {
      const maker = stages.find((s) => s.choice === name)?.roles[0] ?? "role";
      return `the choice "${name}" is made by several participants, so it has no single value for role ${role}; use ${maker}.${name} (a list when the role has several members), others.${name} or players.${name}`;
    }
    return `undefined variable "${name}"${suggest(name, [...known])}`;
  };

  for (const r of roles) {
    if (!r.system) continue;
    const system = r.system;
    const known = new Set([...SYSTEM_CONTEXT_NAMES, ...variableNames, ...TEMPLATE_GLOBALS]);
    for (const v of unguarded(system)) {
      if (known.has(v)) continue;
      if (
        [
          "round",
          "group",
          "others",
          "other",
          "players",
          "history",
          "stage",
          ...roleNames,
          ...allChoices,
        ].includes(v)
      ) {
        problems.add(
          whereIn(system, v),
          `"${v}" is not available in the system prompt of role ${r.name}: it is shown once, before round 1 (available: ${SYSTEM_CONTEXT_NAMES.join(", ")} and the variables); use it in a stage prompt`,
        );
      } else
        problems.add(
          whereIn(system, v),
          `undefined variable "${v}"${suggest(v, [...known])} (system prompt of role ${r.name})`,
        );
    }
  }
  stages.forEach((s, i) => {
    const p = stagePaths[i] as PathPart[];
    for (const [role, t] of s.prompts) {
      const known = knownFor(role, true);
      for (const v of unguarded(t)) {
        if (known.has(v) || TEMPLATE_GLOBALS.includes(v)) continue;
        problems.add(
          whereIn(t, v),
          `${unknownMessage(v, role, known)}${s.prompts.size > 1 || s.roles.length > 1 ? ` (prompt for role ${role})` : ""}`,
        );
      }
    }
    if (s.when) {
      for (const role of s.roles) checkReferences(s.when, knownFor(role, true), role, [...p, "when"]);
    }
  });
  if (payoffs)
    for (const [role, e] of payoffs) checkReferences(e, knownFor(role, false), role, ["payoffs", role]);

  function checkReferences(e: Expression, known: Set<string>, role: string, path: PathPart[]): void {
    const seen = new Set<string>();
    for (const ref of e.references()) {
      const msg = !known.has(ref.name)
        ? unknownMessage(ref.name, role, known)
        : checkAttribute(ref.name, ref.attrs);
      if (msg && !seen.has(msg)) {
        seen.add(msg);
        problems.add(
          src.where(path),
          `${msg} (column ${ref.column} of ${JSON.stringify(e.source)}${path[0] === "stages" ? `, role ${role}` : ""})`,
        );
      }
    }
  }
  function checkAttribute(name: string, attrs: string[]): string | undefined {
    const first = attrs[0];
    if (first === undefined) return undefined;
    if (
      name === "me" ||
      name === "other" ||
      name === "others" ||
      name === "players" ||
      roleNames.includes(name)
    ) {
      const fields = [...allChoices, ...brokenChoices, "id", "role", "index", "choices", "payoffs", "total"];
      if (!fields.includes(first))
        return `${name}.${first}: "${first}" is not a choice or field of a participant${suggest(first, fields)} (choices: ${allChoices.join(", ") || "none"})`;
    }
    return undefined;
  }

  if (groups === undefined || roles.length === 0 || stages.length === 0 || treatments.length === 0)
    return undefined;
  return {
    ...(typeof d.name === "string" ? { name: d.name } : {}),
    groups,
    rounds,
    roles,
    treatments,
    assignment,
    matching,
    stages,
    ...(payoffs ? { payoffs } : {}),
    invalid,
  };
}
