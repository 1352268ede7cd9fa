/**
 * alter_ego `built.json` scenarios, run unchanged: compiled directly into a plan (not through the
 * game format) so that alter_ego's exact semantics hold — turn order, one chat per thread, the
 * homogenized templates and their context, positional filters and the all-or-nothing taint rule.
 * Where alter_ego 1.6 is buggy silico does the right thing and says so in one warning line each.
 */
import { shortHash } from "../../engine/hash.js";
import type { Answer, Coordinates, Plan, SessionContext, SessionPlan } from "../../engine/plan.js";
import { ProblemList, TemplateError } from "../../errors.js";
import type { ModelParams } from "../../models/types.js";
import { ProviderError } from "../../models/types.js";
import { PyDict } from "@silico/jinja";
import type { StudySource } from "../../study/source.js";
import type { CompiledStudy, CompileOptions, Design } from "../design.js";
import { type AssignmentMode, assignTreatments } from "./assignment.js";
import { ExperimentView, makeConversation, type ThreadState, TreatmentView } from "./context.js";
import { applyFilter, filterParser } from "./filters.js";
import { BUILT_KEYS, knownNames, readScenario, type Scenario } from "./scenario.js";

export const ALTER_EGO_KIND = "alter_ego";

/** alter_ego's fixed settings for every API thread (scenarios/built.py and GPTThread.send). */
export const ALTER_EGO_PARAMS: ModelParams = { temperature: 1, maxTokens: 500 };

export interface AlterEgoCompileOptions extends CompileOptions {
  /** "balanced" (default) or "random" (alter_ego's independent uniform draw, but seeded). */
  assignment?: AssignmentMode;
  /**
   * Treatment names of conversations 1..N, in order, instead of drawing them. Used to replay an
   * alter_ego run exactly (the differential test); N is the list's length.
   */
  treatmentSequence?: string[];
}

/** A built.json: no `kind`, and most of alter_ego's six keys (all six are checked with locations). */
function detect(data: Record<string, unknown>): boolean {
  if (data.kind !== undefined) return false;
  return BUILT_KEYS.filter((k) => k in data).length >= 3;
}

const numberCoord = (v: number | bigint): number | string =>
  typeof v === "bigint" ? (v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v.toString()) : v;

/** The design, typed with its own compile options (it is an ordinary Design for the registry). */
export const alterEgoDesign: Design & {
  compile(src: StudySource, options: AlterEgoCompileOptions): CompiledStudy;
} = {
  kind: ALTER_EGO_KIND,
  detect,
  compile(src, options: AlterEgoCompileOptions): CompiledStudy {
    const problems = new ProblemList();
    const data = src.data as Record<string, unknown>;
    if (data.kind !== undefined && data.kind !== ALTER_EGO_KIND)
      problems.add(src.where(["kind"]), `must be "${ALTER_EGO_KIND}"`);
    const scenario = readScenario(src, problems);
    const warnings: string[] = [];

    const n = options.treatmentSequence?.length ?? options.replications ?? 1;
    if (!Number.isInteger(n) || n < 1)
      problems.add("-n", `the number of conversations must be a whole number ≥ 1, got ${n}`);
    if (options.treatmentSequence && options.replications !== undefined && options.replications !== n) {
      problems.add(
        "-n",
        `${options.replications} conversations asked for, but the treatment sequence lists ${n}`,
      );
    }
    if (scenario) {
      for (const t of options.treatmentSequence ?? []) {
        if (!scenario.treatments.includes(t))
          problems.add("treatment sequence", `"${t}" is not a treatment of this scenario`);
      }
      checkNames(scenario, src.file, problems, warnings);
    }
    const preflight = scenario && problems.ok ? preflightRender(scenario, problems) : undefined;
    problems.throwIfAny();
    const sc = scenario as Scenario;
    const pre = preflight as { systems: Map<string, string[]>; firstPromptChars: number };

    warnings.push(...sc.warnings);
    warnings.push(...differenceWarnings(sc, n, options));
    const emptySystem = sc.threads
      .map((_, k) => k)
      .filter((k) => [...pre.systems.values()].some((texts) => texts[k] === ""));
    if (emptySystem.length > 0) {
      warnings.push(
        `the system prompt renders empty for ${emptySystem.map((k) => `threads[${k}]`).join(", ")} (in some treatment): silico then sends no system message, alter_ego sends an empty one`,
      );
    }

    const mode: AssignmentMode = options.assignment ?? "balanced";
    const models = [...new Set(sc.threads.map((t) => t.def.model))];
    const parsers = sc.filters.map(filterParser);
    const treatmentViews = new Map(
      sc.treatments.map((t) => [
        t,
        new TreatmentView(t, PyDict.of(sc.variables.map(([name, values]) => [name, values.get(t)]))),
      ]),
    );
    const experiment = new ExperimentView(sc.treatments.map((t) => treatmentViews.get(t) as TreatmentView));

    return {
      kind: ALTER_EGO_KIND,
      source: src,
      compileOptions: options,
      // A person at the terminal answers one conversation after another, as in alter_ego.
      settings: sc.threads.some((t) => t.def.type === "CLIThread") ? { concurrency: 1 } : {},
      providers: {},
      reask: { max: 0 },
      models,
      size: { sessions: n, calls: n * sc.rounds * sc.threads.length, where: "-n" },
      manifest: {
        alter_ego: {
          threads: sc.threads.map((t, k) => ({
            position: k + 1,
            i: numberCoord(t.i),
            type: t.def.type,
            model: t.def.model,
          })),
          filters: sc.filterDefs,
          rounds: sc.rounds,
          treatments: sc.treatments,
          conversations: n,
          assignment: options.treatmentSequence ? "given" : mode,
        },
      },
      exportHints: { alter_ego: true },
      plan(seed: number): Plan {
        const sequence = options.treatmentSequence
          ? options.treatmentSequence.map((t) => sc.treatments.indexOf(t))
          : assignTreatments(sc.treatments.length, n, seed, mode);
        return {
          kind: ALTER_EGO_KIND,
          total: n,
          models,
          warnings,
          coordinateColumns: ["treatment", "convo", "i", "round", "thread", "thread_type"],
          *sessions(): Iterable<SessionPlan> {
            for (let convo = 1; convo <= n; convo++) {
              const treatment = sc.treatments[sequence[convo - 1] as number] as string;
              const key = `ae-${shortHash({ convo, treatment })}`;
              yield makeSession(
                sc,
                parsers,
                key,
                convo,
                treatment,
                treatmentViews.get(treatment) as TreatmentView,
                experiment,
              );
            }
          },
        };
      },
    };
  },
};

function makeSession(
  sc: Scenario,
  parsers: ReturnType<typeof filterParser>[],
  key: string,
  convo: number,
  treatment: string,
  treatmentView: TreatmentView,
  experiment: ExperimentView,
): SessionPlan {
  const variables = treatmentView.variables;
  // The system prompts are rendered once per thread, in array order, before any call (as alter_ego does).
  let systemError: string | undefined;
  const systems: string[] = [];
  for (const s of newConversation(sc, key, treatmentView, experiment)) {
    try {
      systems.push(sc.system.render(s.context(variables, false)));
    } catch (e) {
      systemError ??= `threads[${s.position}] system prompt: ${(e as Error).message}`;
      systems.push("");
    }
    s.history.push({ role: "system", content: systems[s.position] as string });
  }
  const coords: Coordinates = { treatment, convo };
  return {
    key,
    index: convo - 1,
    coords,
    draw: convo,
    expectedCalls: sc.rounds * sc.threads.length,
    participants: sc.threads.map((t, k) => ({
      id: `t${k + 1}`,
      model: t.def.model,
      params: t.def.type === "CLIThread" ? {} : { ...ALTER_EGO_PARAMS },
      system: systems[k] as string,
    })),
    procedure: async (ctx) => {
      const states = newConversation(sc, key, treatmentView, experiment);
      for (const s of states) s.history.push({ role: "system", content: systems[s.position] as string });
      if (systemError !== undefined) return taint(ctx, states, systemError);
      await converse(ctx, sc, parsers, states, variables);
    },
  };
}

function newConversation(
  sc: Scenario,
  key: string,
  treatment: TreatmentView,
  experiment: ExperimentView,
): ThreadState[] {
  return makeConversation(
    key,
    sc.threads.map((t) => ({
      i: t.i,
      type: t.def.type,
      modelId: t.def.type === "CLIThread" ? undefined : t.def.model.slice(t.def.model.indexOf(":") + 1),
    })),
    treatment,
    sc.rounds,
    experiment,
  );
}

function taint(ctx: SessionContext, states: ThreadState[], reason: string): void {
  for (const s of states) s.tainted = true;
  ctx.taint(reason);
}

/** Rounds × threads in array order; the first invalid answer or failure taints and ends the conversation. */
async function converse(
  ctx: SessionContext,
  sc: Scenario,
  parsers: ReturnType<typeof filterParser>[],
  states: ThreadState[],
  variables: PyDict,
): Promise<void> {
  for (let round = 1; round <= sc.rounds; round++) {
    for (const s of states) s.round = round;
    for (const s of states) {
      const k = s.position;
      const tag = `threads[${k}] (i=${String(s.i)}), round ${round}`;
      let prompt: string;
      try {
        prompt = sc.user.render(s.context(variables, true));
      } catch (e) {
        // alter_ego catches every exception of a turn and taints; a template error is one of them.
        return taint(ctx, states, `${tag}: user prompt: ${(e as Error).message}`);
      }
      s.history.push({ role: "user", content: prompt });
      const filter = sc.filters[k] as (typeof sc.filters)[number];
      let answer: Answer;
      try {
        answer = await ctx.ask(`t${k + 1}`, {
          prompt,
          parser: parsers[k] as ReturnType<typeof filterParser>,
          turn: `r${round}`,
          name: "choice",
          coords: { i: numberCoord(s.i as number | bigint), round, thread: k + 1, thread_type: s.type },
          reask: { max: 0 },
          constrain: false,
          meta: { filter: sc.filterDefs[k] },
        });
      } catch (e) {
        // A call that failed after the executor's retries taints like alter_ego's API error; run-level stops propagate.
        if (e instanceof ProviderError && !e.fatal)
          return taint(ctx, states, `${tag}: the call failed: ${e.message}`);
        throw e;
      }
      s.history.push({ role: "assistant", content: answer.raw });
      const out = applyFilter(filter, answer.raw);
      if (out.ok) {
        s.choices.push(out.value);
        continue;
      }
      if (out.none) s.choices.push(null);
      return taint(ctx, states, `${tag}: ${filter.name}: ${out.reason}`);
    }
  }
}

/** Free template names: `round` in the system prompt, `other` with ≠ 2 threads and typos are errors before any call. */
function checkNames(sc: Scenario, file: string, problems: ProblemList, warnings: string[]): void {
  for (const [which, template, withRound] of [
    ["system", sc.system, false],
    ["user", sc.user, true],
  ] as const) {
    const known = knownNames(sc, withRound);
    const where = `${file}: prompts.${which}`;
    // Names only used guarded (`x is defined`, `x|default(…)`) are fine: such templates adapt on purpose.
    const optional = new Set(template.optionalVariables());
    for (const name of template.freeVariables()) {
      if (known.has(name) || optional.has(name)) continue;
      if (name === "round" && !withRound) {
        problems.add(
          where,
          "uses `round`, which exists only in the user prompt (the system prompt is rendered once, before round 1; alter_ego crashes here)",
        );
      } else if (name === "other") {
        problems.add(
          where,
          `uses \`other\`, which exists only with exactly 2 threads (this scenario has ${sc.threads.length}); use \`others\`, the list of the other threads`,
        );
      } else if (name === "api_key") {
        problems.add(
          where,
          "uses `api_key`: silico never shows API keys to templates (alter_ego would send the key to the model)",
        );
      } else if (name === "log" || name === "env" || name === "history_hooks") {
        problems.add(where, `uses \`${name}\`, an alter_ego thread internal that silico does not expose`);
      } else {
        problems.add(
          where,
          `uses \`${name}\`, which is neither a variable of this scenario nor a name alter_ego defines`,
        );
      }
    }
  }
  const usesOthers =
    sc.system.freeVariables().includes("others") || sc.user.freeVariables().includes("others");
  if (usesOthers && sc.threads.length < 3) {
    warnings.push(
      `the prompts use \`others\` with ${sc.threads.length} thread${sc.threads.length === 1 ? "" : "s"}: silico defines it for every group size, alter_ego only for 3 or more threads (there the render fails and taints the conversation)`,
    );
  }
}

/**
 * Renders what can be rendered exactly before any call: every thread's system prompt in every
 * treatment, and the first thread's round-1 user prompt (no one has answered yet). An error there
 * would crash alter_ego's run or taint every conversation, so it is a validation error here.
 */
function preflightRender(
  sc: Scenario,
  problems: ProblemList,
): { systems: Map<string, string[]>; firstPromptChars: number } {
  const systems = new Map<string, string[]>();
  let firstPromptChars = 0;
  const treatments = [...new Set(sc.treatments)];
  const experiment = new ExperimentView([]);
  for (const t of treatments) {
    const view = new TreatmentView(t, PyDict.of(sc.variables.map(([name, values]) => [name, values.get(t)])));
    const states = newConversation(sc, "preflight", view, experiment);
    const rendered: string[] = [];
    for (const s of states) {
      try {
        rendered.push(sc.system.render(s.context(view.variables, false)));
      } catch (e) {
        addRenderProblem(problems, sc.system.origin.where, e, `threads[${s.position}], treatment "${t}"`);
        return { systems, firstPromptChars };
      }
      s.history.push({ role: "system", content: rendered[s.position] as string });
    }
    systems.set(t, rendered);
    for (const s of states) s.round = 1;
    try {
      firstPromptChars = Math.max(
        firstPromptChars,
        sc.user.render((states[0] as ThreadState).context(view.variables, true)).length,
      );
    } catch (e) {
      addRenderProblem(
        problems,
        sc.user.origin.where,
        e,
        `threads[0] in round 1, treatment "${t}": every conversation would fail at its first turn`,
      );
      return { systems, firstPromptChars };
    }
  }
  return { systems, firstPromptChars };
}

function addRenderProblem(problems: ProblemList, where: string, e: unknown, context: string): void {
  if (e instanceof TemplateError) problems.add(e.where, `${e.detail} (${context})`);
  else problems.add(where, `${e instanceof Error ? e.message : String(e)} (${context})`);
}

function differenceWarnings(sc: Scenario, n: number, options: AlterEgoCompileOptions): string[] {
  const out: string[] = [];
  if (sc.filters.some((f) => f.name === "extract_number")) {
    out.push(
      'extract_number: silico reads decimals and grouped numbers ("3.5" → 3.5, "1,000" → 1000); alter_ego 1.6 fails on them and taints the conversation',
    );
  }
  if (sc.filters.some((f) => f.name === "exclusive_response")) {
    out.push(
      'exclusive_response: silico matches whole words ("UNACCEPTABLE" is not ACCEPT); alter_ego matches substrings',
    );
  }
  if (
    !options.treatmentSequence &&
    new Set(sc.treatments).size > 1 &&
    n > 1 &&
    (options.assignment ?? "balanced") === "balanced"
  ) {
    out.push(
      `treatments: assigned balanced over the ${n} conversations, seeded and recorded (alter_ego draws random.choice per conversation, unseeded)`,
    );
  }
  out.push(
    "a tainted conversation is recorded as invalid: silico exits with 3 if some and 1 if all conversations are tainted (alter_ego prints OK and exits 0)",
  );
  const api = sc.threads.map((t) => t.def.type);
  if (api.includes("GPTThread") && process.env.OPENAI_KEY && !process.env.OPENAI_API_KEY) {
    out.push("OPENAI_KEY is set but silico reads the key from OPENAI_API_KEY");
  }
  if (api.includes("OpenRouterThread") && process.env.OPENROUTER_KEY && !process.env.OPENROUTER_API_KEY) {
    out.push("OPENROUTER_KEY is set but silico reads the key from OPENROUTER_API_KEY");
  }
  return out;
}
