import type { Coordinates, Plan, SessionPlan } from "../../engine/plan.js";
import { shortHash } from "../../engine/hash.js";
import { ProblemList, TemplateError } from "../../errors.js";
import { createParser, normalizeParserSpec } from "../../parse/index.js";
import type { ParserSpec } from "../../parse/types.js";
import type { CompiledTemplate } from "@silico/jinja";
import { compileTemplateAt } from "../../study/common.js";
import { parseLocated } from "../../study/located-issues.js";
import { checkModels } from "../../study/model-checks.js";
import { toModelParams, toProviders, toReask, toSettings } from "../../study/schema-parts.js";
import type { StudySource } from "../../study/source.js";
import type { CompiledStudy, Design } from "../design.js";
import { type FactorialStudy, factorialSchema } from "./factorial-schema.js";

type Level = string | number | boolean;

/** A factor listing one level twice would double its cells. */
function checkDistinctLevels(levels: [string, Level[]][], src: StudySource, problems: ProblemList): void {
  for (const [name, list] of levels) {
    const seen = new Set(list.map((v) => JSON.stringify(v)));
    if (seen.size !== list.length) problems.add(src.where(["levels", name]), "lists the same level twice");
  }
}

/**
 * A factorial microexperiment: one prompt template crossed with every combination of factor
 * levels, every model and `times` draws. Each session is one fresh conversation with one question.
 */
export const factorialDesign: Design = {
  kind: "factorial",
  compile(src: StudySource): CompiledStudy {
    const problems = new ProblemList();
    const raw = src.data as Record<string, unknown>;
    const { data: d } = parseLocated(factorialSchema, src, problems);

    const prompt: CompiledTemplate | undefined =
      d.prompt !== undefined ? compileTemplateAt(d.prompt, ["prompt"], src, problems, "prompt") : undefined;
    const system: CompiledTemplate | undefined =
      d.system !== undefined ? compileTemplateAt(d.system, ["system"], src, problems, "system") : undefined;

    const levels: [string, Level[]][] = Object.entries(d.levels ?? {}).map(([name, values]) => [
      name,
      Array.isArray(values) ? values : [values],
    ]);
    checkDistinctLevels(levels, src, problems);

    const providers = toProviders(raw.providers);
    const { ids: models } = checkModels(raw, d, src, problems, providers);
    const times = d.times ?? 1;
    let parserSpec: ParserSpec | undefined = { type: "text" };
    if (raw.parse !== undefined)
      parserSpec = normalizeParserSpec(raw.parse, (sub) => src.where(["parse", ...sub]), problems);
    const params = toModelParams(d.params);
    const reask = toReask(d.reask);
    const seed = d.seed;
    const settings = toSettings(d.settings);
    const name: FactorialStudy["name"] = d.name;

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
      ...(name !== undefined ? { name } : {}),
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
