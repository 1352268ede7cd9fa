import type { Coordinates, Plan, SessionPlan } from "../../engine/plan.js";
import { shortHash } from "../../engine/hash.js";
import { ProblemList } from "../../errors.js";
import { checkModelId } from "../../models/registry.js";
import { createParser, normalizeParserSpec } from "../../parse/index.js";
import type { ParserSpec } from "../../parse/types.js";
import type { CompiledTemplate } from "@silico/jinja";
import {
  checkKeys,
  compileTemplateAt,
  describe,
  isObj,
  readModels,
  readParams,
  readProviders,
  readReask,
  readSeed,
  readSettings,
} from "../../study/common.js";
import type { StudySource } from "../../study/source.js";
import { TemplateError } from "../../errors.js";
import type { CompiledStudy, Design } from "../design.js";

const KEYS = [
  "kind",
  "name",
  "description",
  "prompt",
  "system",
  "levels",
  "model",
  "models",
  "times",
  "parse",
  "params",
  "reask",
  "seed",
  "settings",
  "providers",
] as const;

/** Names that would collide with the columns every record has. */
const RESERVED = ["draw", "model", "value", "valid", "reason", "raw", "run", "session"];

type Level = string | number | boolean;

/**
 * A factorial microexperiment: one prompt template crossed with every combination of factor
 * levels, every model and `times` draws. Each session is one fresh conversation with one question.
 */
export const factorialDesign: Design = {
  kind: "factorial",
  compile(src: StudySource): CompiledStudy {
    const problems = new ProblemList();
    const d = src.data as Record<string, unknown>;
    checkKeys(d, KEYS, [], src, problems);
    if (d.name !== undefined && typeof d.name !== "string")
      problems.add(src.where(["name"]), "must be a text");

    let prompt: CompiledTemplate | undefined;
    if (typeof d.prompt !== "string" || d.prompt.trim() === "") {
      problems.add(src.where(["prompt"]), "a factorial study needs a prompt template (a non-empty text)");
    } else prompt = compileTemplateAt(d.prompt, ["prompt"], src, problems, "prompt");
    let system: CompiledTemplate | undefined;
    if (d.system !== undefined) {
      if (typeof d.system !== "string") problems.add(src.where(["system"]), "must be a text");
      else system = compileTemplateAt(d.system, ["system"], src, problems, "system");
    }

    const levels: [string, Level[]][] = [];
    if (d.levels === undefined) {
      // A single prompt without factors is a one-cell design.
    } else if (!isObj(d.levels)) {
      problems.add(src.where(["levels"]), "must be a mapping of factor names to lists of levels");
    } else {
      for (const [name, values] of Object.entries(d.levels)) {
        const p = ["levels", name];
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
          problems.add(
            src.where(p),
            `factor name "${name}" must be a template identifier (letters, digits, _)`,
          );
        } else if (RESERVED.includes(name)) {
          problems.add(src.where(p), `"${name}" is reserved for a data column; choose another factor name`);
        }
        const list = Array.isArray(values) ? values : [values];
        if (list.length === 0) {
          problems.add(src.where(p), "must list at least one level");
          continue;
        }
        list.forEach((v, i) => {
          if (!["string", "number", "boolean"].includes(typeof v)) {
            problems.add(
              src.where([...p, i]),
              `a level must be a text, number or true/false, got ${describe(v)}`,
            );
          }
        });
        const seen = new Set(list.map((v) => JSON.stringify(v)));
        if (seen.size !== list.length) problems.add(src.where(p), "lists the same level twice");
        levels.push([name, list as Level[]]);
      }
    }

    const providers = readProviders(d.providers, ["providers"], src, problems);
    const { ids: models, paths: modelPaths } = readModels(d, src, problems);
    if (models.length === 0 && d.model === undefined && d.models === undefined) {
      problems.add(src.where([]), 'needs "model" (e.g. model: local:smollm2-135m) or "models"');
    }
    models.forEach((m, i) => {
      checkModelId(m, src.where(modelPaths[i] ?? ["models"]), problems, providers);
    });
    if (new Set(models).size !== models.length)
      problems.add(src.where(["models"]), "lists the same model twice");

    let times = 1;
    if (d.times !== undefined) {
      if (typeof d.times !== "number" || !Number.isInteger(d.times) || d.times < 1) {
        problems.add(
          src.where(["times"]),
          `must be a whole number ≥ 1 (draws per cell), got ${describe(d.times)}`,
        );
      } else times = d.times;
    }
    let parserSpec: ParserSpec | undefined = { type: "text" };
    if (d.parse !== undefined) parserSpec = normalizeParserSpec(d.parse, src.where(["parse"]), problems);
    const params = readParams(d.params, ["params"], src, problems);
    const reask = readReask(d.reask, ["reask"], src, problems);
    const seed = readSeed(d.seed, ["seed"], src, problems);
    const settings = readSettings(d.settings, ["settings"], src, problems);

    // Pre-flight: render every cell now, so an undefined variable stops the study before any call.
    const cells = cartesian(levels);
    const rendered: { prompt: string; system?: string }[] = [];
    if (prompt && problems.ok) {
      for (const cell of cells) {
        try {
          rendered.push({
            prompt: prompt.render(cell),
            ...(system ? { system: system.render(cell) } : {}),
          });
        } catch (e) {
          if (e instanceof TemplateError) {
            problems.add(e.where, `${e.detail} (cell ${JSON.stringify(cell)})`);
            break;
          }
          throw e;
        }
      }
    }
    problems.throwIfAny();
    const parser = createParser(parserSpec as ParserSpec);
    const levelNames = levels.map(([n]) => n);
    const total = cells.length * models.length * times;

    return {
      kind: "factorial",
      ...(typeof d.name === "string" ? { name: d.name } : {}),
      source: src,
      ...(seed !== undefined ? { seed } : {}),
      settings,
      providers,
      ...(reask ? { reask } : {}),
      models,
      size: {
        sessions: total,
        calls: total,
        where: src.where(d.times !== undefined ? ["times"] : d.levels !== undefined ? ["levels"] : []),
      },
      plan(): Plan {
        return {
          kind: "factorial",
          total,
          models,
          warnings: [],
          coordinateColumns: [...levelNames, "model", "draw"],
          *sessions(): Iterable<SessionPlan> {
            let index = 0;
            // Draws outermost, so a partial run has every cell equally often.
            for (let draw = 1; draw <= times; draw++) {
              for (const model of models) {
                for (let c = 0; c < cells.length; c++) {
                  const cell = cells[c] as Record<string, Level>;
                  const r = rendered[c] as { prompt: string; system?: string };
                  const coords: Coordinates = { ...cell, model, draw };
                  yield {
                    key: `f-${shortHash({ cell, model, draw })}`,
                    index: index++,
                    coords,
                    draw,
                    expectedCalls: 1,
                    participants: [
                      { id: "p1", model, params, ...(r.system !== undefined ? { system: r.system } : {}) },
                    ],
                    procedure: async (ctx) => {
                      await ctx.ask("p1", {
                        prompt: r.prompt,
                        parser,
                        turn: "q1",
                        ...(reask ? { reask } : {}),
                      });
                    },
                  };
                }
              }
            }
          },
        };
      },
    };
  },
};

export function cartesian(levels: [string, Level[]][]): Record<string, Level>[] {
  let out: Record<string, Level>[] = [{}];
  for (const [name, values] of levels) {
    const next: Record<string, Level>[] = [];
    for (const partial of out) for (const v of values) next.push({ ...partial, [name]: v });
    out = next;
  }
  return out;
}
