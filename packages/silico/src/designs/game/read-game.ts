import type { ProblemList } from "../../errors.js";
import { checkModelId, type ProviderConfig } from "../../models/registry.js";
import { createParser, normalizeParserSpec } from "../../parse/index.js";
import {
  type CompiledTemplate,
  type CompileOptions,
  compileExpression,
  EXPRESSION_FUNCTIONS,
  TemplateError,
} from "@silico/jinja";
import { compileTemplateAt, describe, isObj, type Obj } from "../../study/common.js";
import { parseLocated, salvage } from "../../study/located-issues.js";
import { IDENT, toModelParams } from "../../study/schema-parts.js";
import type { PathPart, StudySource } from "../../study/source.js";
import type { AssignmentMode } from "./assignment.js";
import { checkGameNames, suggest } from "./check-game-names.js";
import { CONTEXT_NAMES, PARTICIPANT_FIELDS } from "./context.js";
import { type GameStudy, gameSchema, roleSchema, stageSchema } from "./game-schema.js";
import type { Expression, GameSpec, InvalidPolicy, RoleSpec, StageSpec, TreatmentSpec } from "./spec.js";

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
/**
 * Checks a name used as a key of participant objects and contexts: not a template word, not a
 * context name, not taken by another role, variable or choice. Its form (an identifier) is the
 * schema's rule, reported there.
 */
function checkName(
  name: string,
  what: string,
  path: PathPart[],
  src: StudySource,
  problems: ProblemList,
  taken: Map<string, string>,
): boolean {
  if (!IDENT.test(name)) return false;
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

/** Prompts may call the functions payoffs call (min, max, round, sum, mean, …), with the same results. */
const PROMPT_OPTIONS: CompileOptions = { globals: EXPRESSION_FUNCTIONS };

/** Compiles a payoff or condition expression; a syntax error is reported at the path. */
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

/** What the checks share: the file, the problems, the names taken so far. */
interface Ctx {
  src: StudySource;
  problems: ProblemList;
  taken: Map<string, string>;
}

/**
 * Validates a `kind: game` study (its zod schema, then the checks a schema cannot express) and
 * compiles its templates and expressions. Every problem found is collected (file:line: path:
 * message); the caller throws them together.
 */
export function readGame(
  src: StudySource,
  problems: ProblemList,
  providers: Record<string, ProviderConfig>,
): GameSpec | undefined {
  const raw = src.data as Obj;
  const { data: d } = parseLocated(gameSchema, src, problems);
  const ctx: Ctx = { src, problems, taken: new Map() };

  const rounds = d.rounds ?? 1;
  if (d.model !== undefined) checkModelId(d.model, src.where(["model"]), problems, providers);
  const roles = checkRoles(raw, d, providers, ctx);
  const roleNames = roles.map((r) => r.name);
  const size = roles.reduce((n, r) => n + r.count, 0);
  const { treatments, variableNames } = checkTreatments(raw, d, ctx);
  const assignment: AssignmentMode = d.assignment ?? "balanced";
  const matching = checkMatching(d, size, ctx);
  const invalid: InvalidPolicy = {
    reask: d.invalid?.reask ?? 2,
    action: d.invalid?.then ?? "taint",
    ...(d.invalid?.message !== undefined ? { message: d.invalid.message } : {}),
  };
  const { stages, stagePaths, brokenChoices } = checkStages(raw, roleNames, ctx);
  const payoffs = checkPayoffs(raw, roleNames, ctx);
  checkGameNames({ rounds, roles, stages, stagePaths, payoffs, variableNames, brokenChoices }, src, problems);

  if (d.groups === undefined || roles.length === 0 || stages.length === 0 || treatments.length === 0)
    return undefined;
  return {
    ...(d.name !== undefined ? { name: d.name } : {}),
    groups: d.groups,
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

/**
 * Roles in file order, each with its model (its own or the default), parameters (the defaults
 * overridden) and system prompt. A role whose entry is invalid is kept with what is valid in it,
 * so that its name raises no "unknown role" elsewhere.
 */
function checkRoles(raw: Obj, d: Partial<GameStudy>, providers: Record<string, ProviderConfig>, ctx: Ctx) {
  const { src, problems } = ctx;
  const roles: RoleSpec[] = [];
  if (!isObj(raw.roles)) return roles;
  const defaultParams = toModelParams(d.params);
  const defaultSystem: CompiledTemplate | undefined =
    d.system !== undefined
      ? compileTemplateAt(d.system, ["system"], src, problems, "system", PROMPT_OPTIONS)
      : undefined;
  for (const [name, entry] of Object.entries(raw.roles)) {
    const p: PathPart[] = ["roles", name];
    checkName(name, "role", p, src, problems, ctx.taken);
    const r = salvage(roleSchema, entry);
    const model = r.model ?? d.model;
    if (model === undefined && (!isObj(entry) || entry.model === undefined) && raw.model === undefined) {
      problems.add(
        src.where(p),
        `role "${name}" needs a model (here or a top-level "model:", e.g. local:smollm2-135m)`,
      );
    } else if (r.model !== undefined) checkModelId(r.model, src.where([...p, "model"]), problems, providers);
    const system =
      r.system !== undefined
        ? compileTemplateAt(r.system, [...p, "system"], src, problems, "system", PROMPT_OPTIONS)
        : defaultSystem;
    roles.push({
      name,
      count: r.count ?? 1,
      model: model ?? "",
      params: { ...defaultParams, ...toModelParams(r.params) },
      ...(system ? { system } : {}),
    });
  }
  return roles;
}

/**
 * Treatments with their variables (the shared ones overridden). Every treatment must set every
 * variable some treatment sets, unless it has a shared default.
 */
function checkTreatments(raw: Obj, d: Partial<GameStudy>, ctx: Ctx) {
  const { src, problems, taken } = ctx;
  const common: Record<string, unknown> = {};
  if (isObj(raw.variables)) {
    for (const [k, v] of Object.entries(raw.variables)) {
      if (checkName(k, "variable", ["variables", k], src, problems, taken)) common[k] = v;
    }
  }
  const treatments: TreatmentSpec[] = [];
  if (raw.treatments === undefined) treatments.push({ name: "base", variables: { ...common } });
  else if (isObj(raw.treatments) && d.treatments !== undefined) {
    const entries = Object.entries(d.treatments).map(([name, vars]) => [name, vars ?? {}] as const);
    const setBy = new Map<string, string[]>();
    for (const [tname, vars] of entries) {
      for (const k of Object.keys(vars)) setBy.set(k, [...(setBy.get(k) ?? []), tname]);
    }
    for (const [k, where] of setBy) {
      if (!Object.hasOwn(common, k))
        checkName(k, "variable", ["treatments", where[0] as string, k], src, problems, taken);
    }
    for (const [tname, own] of entries) {
      for (const [k, list] of setBy) {
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
    ...new Set([
      ...Object.keys(common),
      ...treatments.flatMap((t) => Object.keys(t.variables)),
      // Names from treatments that failed validation stay known: no follow-up "undefined variable".
      ...(isObj(raw.treatments)
        ? Object.values(raw.treatments).flatMap((v) => (isObj(v) ? Object.keys(v) : []))
        : []),
    ]),
  ];
  return { treatments, variableNames };
}

/** Stranger matching: pools that hold whole groups (at least two), and groups that fill the pools. */
function checkMatching(d: Partial<GameStudy>, size: number, ctx: Ctx): GameSpec["matching"] {
  const { src, problems } = ctx;
  const m = typeof d.matching === "string" ? { type: d.matching } : d.matching;
  if (m === undefined || m.type === "partner") {
    if (m && "pool_size" in m && m.pool_size !== undefined)
      problems.add(src.where(["matching", "pool_size"]), "only stranger matching has pools");
    return { type: "partner" };
  }
  const pool = "pool_size" in m ? m.pool_size : undefined;
  if (pool === undefined) {
    problems.add(
      src.where(["matching"]),
      `stranger matching needs a pool size: matching: {type: stranger, pool_size: ${size * 2 || "N"}} (participants re-matched within each pool every round)`,
    );
  } else if (size > 0) {
    if (pool % size !== 0 || pool < 2 * size) {
      problems.add(
        src.where(["matching", "pool_size"]),
        `must be a multiple of the group size (${size}) holding at least two groups, got ${pool}`,
      );
    } else if (d.groups !== undefined && d.groups % (pool / size) !== 0) {
      problems.add(
        src.where(["groups"]),
        `${d.groups} groups do not fill pools of ${pool / size} groups (pool_size ${pool} / group size ${size}); use a multiple of ${pool / size}`,
      );
    } else return { type: "stranger", poolSize: pool, groupsPerPool: pool / size };
  }
  return { type: "partner" };
}

/**
 * Stages: distinct names, acting roles that exist, a prompt for every acting role and none for
 * others, templates and conditions that compile, a parser that is valid.
 */
function checkStages(raw: Obj, roleNames: string[], ctx: Ctx) {
  const { src, problems } = ctx;
  const stages: StageSpec[] = [];
  const stagePaths: PathPart[][] = [];
  const brokenChoices = new Set<string>();
  if (!Array.isArray(raw.stages)) return { stages, stagePaths, brokenChoices };
  const stageNames = new Set<string>();
  raw.stages.forEach((entry: unknown, i) => {
    const p: PathPart[] = ["stages", i];
    if (!isObj(entry)) return;
    const s = salvage(stageSchema, entry);
    const name = s.name;
    if (name === undefined) return;
    if (stageNames.has(name)) problems.add(src.where([...p, "name"]), `two stages are called "${name}"`);
    stageNames.add(name);
    if (entry.as !== undefined && s.as === undefined) return;
    const choice = s.as ?? name;
    checkName(choice, "choice", s.as === undefined ? [...p, "name"] : [...p, "as"], src, problems, ctx.taken);
    let broken = Object.keys(entry).some(
      (k) => k in stageSchema.shape && entry[k] !== undefined && !(k in s),
    );

    let actors: string[] = roleNames.slice();
    // From the file, so that names are checked even when the list also holds a non-name (reported).
    const named = typeof entry.roles === "string" ? [entry.roles] : entry.roles;
    if (Array.isArray(named) && named.length > 0) {
      actors = [];
      named.forEach((r: unknown, j) => {
        if (typeof r !== "string") return;
        if (!roleNames.includes(r)) {
          problems.add(
            src.where(typeof entry.roles === "string" ? [...p, "roles"] : [...p, "roles", j]),
            `unknown role ${JSON.stringify(r)}${suggest(r, roleNames)}; roles: ${roleNames.join(", ")}`,
          );
          broken = true;
        } else if (actors.includes(r)) problems.add(src.where([...p, "roles", j]), `lists role "${r}" twice`);
        else actors.push(r);
      });
    }
    const prompts = new Map<string, CompiledTemplate>();
    if (typeof s.prompt === "string") {
      const t = compileTemplateAt(s.prompt, [...p, "prompt"], src, problems, "prompt", PROMPT_OPTIONS);
      if (t) for (const role of actors) prompts.set(role, t);
    } else if (s.prompt !== undefined) {
      for (const [role, text] of Object.entries(s.prompt)) {
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
        if (!Object.hasOwn(s.prompt, role))
          problems.add(src.where([...p, "prompt"]), `has no prompt for role "${role}"`);
      }
    }
    const parserSpec =
      entry.parse === undefined
        ? { type: "text" as const }
        : normalizeParserSpec(entry.parse, (sub) => src.where([...p, "parse", ...sub]), problems);
    const when =
      s.when === undefined ? undefined : tryExpression(s.when, [...p, "when"], src, problems, "when");
    if (!parserSpec || broken || actors.length === 0) {
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
      mode: s.mode ?? "simultaneous",
      prompts,
      parserSpec,
      parser,
      ...(s.params ? { params: toModelParams(s.params) } : {}),
      ...(when ? { when } : {}),
    });
    stagePaths.push(p);
  });
  return { stages, stagePaths, brokenChoices };
}

/** A payoff expression for every role, and none for a role that does not exist. */
function checkPayoffs(raw: Obj, roleNames: string[], ctx: Ctx): Map<string, Expression> | undefined {
  const { src, problems } = ctx;
  if (!isObj(raw.payoffs)) return undefined;
  const payoffs = new Map<string, Expression>();
  for (const [role, value] of Object.entries(raw.payoffs)) {
    if (!roleNames.includes(role)) {
      problems.add(
        src.where(["payoffs", role]),
        `unknown role "${role}"${suggest(role, roleNames)}; roles: ${roleNames.join(", ")}`,
      );
      continue;
    }
    // A value of the wrong type was reported by the schema.
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") continue;
    const e = tryExpression(value, ["payoffs", role], src, problems, "a payoff");
    if (e) payoffs.set(role, e);
  }
  for (const r of roleNames)
    if (!Object.hasOwn(raw.payoffs, r)) problems.add(src.where(["payoffs"]), `has no payoff for role "${r}"`);
  return payoffs;
}
