import { editDistance } from "../../did-you-mean.js";
import type { ProblemList } from "../../errors.js";
import { type CompiledTemplate, templateWhere } from "@silico/jinja";
import type { PathPart, StudySource } from "../../study/source.js";
import { bareChoicesFor, CONTEXT_NAMES, type GameShape, SYSTEM_CONTEXT_NAMES } from "./context.js";
import type { Expression } from "./spec.js";
import type { RoleSpec, StageSpec } from "./spec.js";

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

/** ` (did you mean "…"?)` for the closest option (or one it begins), or nothing. */
export function suggest(word: string, options: string[]): string {
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

/** What the name checks need to know about a game that passed (or partly passed) validation. */
export interface GameNames {
  rounds: number;
  roles: RoleSpec[];
  stages: StageSpec[];
  /** Study path of each stage in `stages`. */
  stagePaths: PathPart[][];
  payoffs: Map<string, Expression> | undefined;
  variableNames: string[];
  /** Choices of stages that failed validation: known, so their uses raise no follow-up errors. */
  brokenChoices: Set<string>;
}

/**
 * Names that need the whole game: every variable of a template and every name of an expression
 * must be in scope where it is used (system prompts before round 1, stage prompts and conditions
 * per acting role, payoffs per role).
 */
export function checkGameNames(game: GameNames, src: StudySource, problems: ProblemList): void {
  const { rounds, roles, stages, stagePaths, payoffs, variableNames, brokenChoices } = game;
  const roleNames = roles.map((r) => r.name);
  const size = roles.reduce((n, r) => n + r.count, 0);
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
}
