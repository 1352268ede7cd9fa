/**
 * Models chosen at run time, written into the study text before it is compiled. silico has no
 * run-time model flag, and a run is resumed by recompiling the source it recorded: an override
 * kept outside the text would be lost on resume. So the chosen models go into the text (through
 * the yaml Document API: comments, order and everything else stay as they were), and the run
 * records exactly what it ran.
 */
import { type Document, isMap, isSeq, parseDocument } from "yaml";
import { HttpError } from "./http-errors.js";
import { type CheckResult, check } from "./preview.js";

export interface ModelOverride {
  /** Every participant's model (several: a factorial's `models`, one cell per model). */
  models?: string[];
  /** A model per game role, per agent or (kind: otree) per bot seat number, over `models`. */
  roles?: Record<string, string>;
}

const MODEL_ID = /^[a-z][a-z0-9_-]*:\S+$/;

/** The override from a request body's `models`/`roles`, checked; undefined when nothing is chosen. */
export function overrideOf(body: { models?: unknown; roles?: unknown }): ModelOverride | undefined {
  const out: ModelOverride = {};
  if (body.models !== undefined && body.models !== null) {
    const list = typeof body.models === "string" ? [body.models] : body.models;
    if (!Array.isArray(list) || list.some((m) => typeof m !== "string"))
      throw new HttpError(400, "models: expected a list of model ids like openai:gpt-4o-mini");
    const ids = (list as string[]).map((m) => m.trim()).filter(Boolean);
    for (const id of ids) checkId(id, "models");
    if (ids.length > 0) out.models = [...new Set(ids)];
  }
  if (body.roles !== undefined && body.roles !== null) {
    if (typeof body.roles !== "object" || Array.isArray(body.roles))
      throw new HttpError(400, "roles: expected role → model id");
    const roles: Record<string, string> = {};
    for (const [role, m] of Object.entries(body.roles)) {
      if (typeof m !== "string") throw new HttpError(400, `roles.${role}: expected a model id`);
      if (m.trim() === "") continue;
      checkId(m.trim(), `roles.${role}`);
      roles[role] = m.trim();
    }
    if (Object.keys(roles).length > 0) out.roles = roles;
  }
  return out.models || out.roles ? out : undefined;
}

function checkId(id: string, where: string): void {
  if (!MODEL_ID.test(id))
    throw new HttpError(400, `${where}: "${id}" is not of the form provider:model (e.g. openai:gpt-4o-mini)`);
}

/** Where each kind names its models: the default, and the map whose entries may carry their own. */
const PLACES: Record<string, { root: string[]; members?: string[]; many?: boolean }> = {
  factorial: { root: [], many: true },
  stimuli: { root: [] },
  game: { root: [], members: ["roles"] },
  agents: { root: [], members: ["agents"] },
  otree: { root: ["bots"] },
};

/** The study text with the chosen models written in; refuses what the kind cannot take. */
export function applyModelOverride(kind: string, text: string, o: ModelOverride): string {
  const place = PLACES[kind];
  if (!place)
    throw new HttpError(
      400,
      `choosing models at run time is not available for kind: ${kind} (set them in the file)`,
    );
  const doc = parseDocument(text, { keepSourceTokens: true });
  if (doc.errors.length > 0) throw new HttpError(400, doc.errors[0]?.message ?? "the study is not YAML");
  const models = o.models ?? [];
  if (models.length > 1 && !place.many)
    throw new HttpError(400, `kind: ${kind} takes one model for all participants (or one per role)`);
  if (kind === "otree") {
    seatModels(doc, models[0], o.roles ?? {});
    return doc.toString({ lineWidth: 0 });
  }
  if (models.length === 1) {
    doc.setIn([...place.root, "model"], models[0]);
    if (place.many) doc.deleteIn(["models"]);
  } else if (models.length > 1) {
    doc.setIn(["models"], doc.createNode(models, { flow: true }));
    doc.deleteIn(["model"]);
  }
  const members = place.members;
  if (members) {
    const map = doc.getIn(members);
    const names = isMap(map)
      ? map.items.map((p) => String((p.key as { value?: unknown })?.value ?? p.key))
      : [];
    // One model for everyone: members' own models would still win, so they go.
    if (models.length > 0)
      for (const n of names) if (doc.hasIn([...members, n, "model"])) doc.deleteIn([...members, n, "model"]);
    for (const [role, m] of Object.entries(o.roles ?? {})) {
      if (!names.includes(role))
        throw new HttpError(
          400,
          `roles.${role}: the study has no such ${members[0] === "roles" ? "role" : "agent"} (${names.join(", ")})`,
        );
      const entry = doc.getIn([...members, role]);
      if (!isMap(entry)) doc.setIn([...members, role], doc.createNode({ model: m }, { flow: true }));
      else doc.setIn([...members, role, "model"], m);
    }
  } else if (o.roles && Object.keys(o.roles).length > 0) {
    throw new HttpError(400, `kind: ${kind} has no roles to give their own models`);
  }
  // No folding of long lines: nothing but the models may change.
  return doc.toString({ lineWidth: 0 });
}

/**
 * kind: otree: `all` becomes `bots.model` (the seats entries' own models go, as a game's roles'
 * do); a seat's model goes to the `bots.seats` entry that holds it, or to a new entry
 * `{seats: [n], model}`. An entry's seats share its model: giving them different ones is refused
 * (splitting an entry would have to copy its prompt, params and personas: done in the file).
 */
function seatModels(doc: Document, all: string | undefined, seats: Record<string, string>): void {
  const entries = doc.getIn(["bots", "seats"]);
  const list = isSeq(entries) ? entries.items : [];
  const seatsOf = (e: unknown): number[] => {
    const s = isMap(e) ? e.get("seats") : undefined;
    return isSeq(s) ? s.items.map((x) => Number((x as { value?: unknown })?.value ?? x)) : [];
  };
  if (all !== undefined) {
    doc.setIn(["bots", "model"], all);
    // From the last: an entry left with nothing but its seats is invalid, so it goes.
    for (let i = list.length - 1; i >= 0; i--) {
      const e = list[i];
      if (!isMap(e) || !e.has("model")) continue;
      if (e.items.length <= 2) doc.deleteIn(["bots", "seats", i]);
      else doc.deleteIn(["bots", "seats", i, "model"]);
    }
    if (list.length === 0 && isSeq(entries)) doc.deleteIn(["bots", "seats"]);
  }
  const wanted = new Map<number, string>();
  for (const [k, m] of Object.entries(seats)) {
    const n = Number(k.replace(/^seat\s*/, ""));
    if (!Number.isInteger(n) || n < 1)
      throw new HttpError(400, `roles.${k}: kind: otree takes a model per bot seat number (1, 2, …)`);
    wanted.set(n, m);
  }
  list.forEach((e, i) => {
    const own = seatsOf(e);
    const chosen = own.filter((n) => wanted.has(n));
    if (chosen.length === 0) return;
    const ms = new Set(chosen.map((n) => wanted.get(n)));
    if (chosen.length < own.length || ms.size > 1)
      throw new HttpError(
        400,
        `bots.seats[${i}]: seats ${own.join(", ")} share one entry, so one model (split the entry in the file to give them different ones)`,
      );
    doc.setIn(["bots", "seats", i, "model"], [...ms][0]);
    for (const n of chosen) wanted.delete(n);
  });
  if (wanted.size === 0) return;
  if (!isSeq(entries)) doc.setIn(["bots", "seats"], doc.createNode([]));
  const seq = doc.getIn(["bots", "seats"]);
  if (!isSeq(seq)) throw new HttpError(400, "bots.seats: expected a list of {seats, model, …}");
  for (const [n, m] of [...wanted].sort((a, b) => a[0] - b[0]))
    seq.items.push(doc.createNode({ seats: [n], model: m }, { flow: true }));
}

/**
 * Compiles the study as `silico run FILE` would, with the chosen models written in when there are
 * any; `text` is what was compiled (what a run records).
 */
export function checkWithModels(
  text: string,
  path: string,
  body: { models?: unknown; roles?: unknown },
): { result: CheckResult; text: string } {
  const first = check(text, path);
  const o = overrideOf(body);
  if (!first.ok || !o) return { result: first, text };
  const chosen = applyModelOverride(first.study.kind, text, o);
  return { result: check(chosen, path), text: chosen };
}
