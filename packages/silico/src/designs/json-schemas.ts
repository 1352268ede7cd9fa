import { toStudyJsonSchema } from "../study/schema-parts.js";
import { agentsSchema } from "./agents/agents-schema.js";
import { builtSchema } from "./alter-ego/built-schema.js";
import { factorialSchema } from "./factorial/factorial-schema.js";
import { gameSchema } from "./game/game-schema.js";
import { otreeSchema } from "./otree/otree-schema.js";
import { stimuliSchema } from "./stimuli/stimuli-schema.js";

/**
 * The JSON Schema of each kind of study file, generated from the zod schemas that also validate
 * them. Shipped as `schemas/<kind>.schema.json` (written by `npm run schemas`) for editors: they
 * check the surface (keys, types, ranges); silico checks more and names file and line.
 */
export function studyJsonSchemas(): Record<string, Record<string, unknown>> {
  return {
    agents: toStudyJsonSchema(
      agentsSchema,
      "silico agents file (kind: agents)",
      "LLM agents answering the turns of human participants in a running experiment (oTree), served by `silico serve`. silico itself checks more than this schema (model providers, templates, parsers) and reports every problem with file and line.",
    ),
    alter_ego: toStudyJsonSchema(
      builtSchema,
      "alter_ego built.json scenario",
      "A scenario written by alter_ego's builder (no kind key), run by silico unchanged. silico itself checks more than this schema (thread types and models, filters per thread, variables per treatment, names in the prompts) and reports every problem with file and line.",
    ),
    factorial: toStudyJsonSchema(
      factorialSchema,
      "silico factorial study (kind: factorial)",
      "One prompt template crossed with every combination of factor levels, every model and `times` draws. silico itself checks more than this schema (template variables, model providers, parsers) and reports every problem with file and line.",
    ),
    game: toStudyJsonSchema(
      gameSchema,
      "silico game study (kind: game)",
      "A multi-agent game: roles, treatments assigned to groups, rounds of stages, payoffs. Reference: packages/silico/src/designs/game/README.md. silico itself checks more than this schema (names in templates and payoff expressions, pool sizes, …) and reports every problem with file and line.",
    ),
    otree: toStudyJsonSchema(
      otreeSchema,
      "silico oTree study (kind: otree)",
      "LLM bots in a real oTree session, alone or alongside humans: the server (a project folder or a URL), the session config, which seats are humans, and the bots' model, prompt, personas and memory. silico itself checks more than this schema (the session config on the server, seat positions, templates) and reports every problem with file and line.",
    ),
    stimuli: toStudyJsonSchema(
      stimuliSchema,
      "silico stimulus-list study (kind: stimuli)",
      "A CSV/XLSX stimulus list (Run, Item, Event, Condition, Prompt) run one item per conversation or one conversation per Run. silico itself checks more than this schema (the stimulus file, Event numbers, model capabilities) and reports every problem with file and line.",
    ),
  };
}
