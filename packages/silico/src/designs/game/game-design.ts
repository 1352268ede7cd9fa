import { shortHash } from "../../engine/hash.js";
import type {
  Coordinates,
  ParticipantPlan,
  Plan,
  Question,
  SessionContext,
  SessionPlan,
} from "../../engine/plan.js";
import { ProblemList } from "../../errors.js";
import { salvage } from "../../study/located-issues.js";
import { toProviders, toSettings } from "../../study/schema-parts.js";
import type { StudySource } from "../../study/source.js";
import type { CompiledStudy, CompileOptions, Design } from "../design.js";
import { assignTreatments } from "./assignment.js";
import { systemContext } from "./context.js";
import { partnerMatching, type RoundGroup, sessionSeats, strangerMatching } from "./matching.js";
import { type GameIO, playSession } from "./play.js";
import { preflight, shapeOf } from "./preflight.js";
import { gameSchema } from "./game-schema.js";
import { readGame } from "./read-game.js";
import type { GameSpec } from "./spec.js";

/**
 * A multi-agent game (`kind: game`): roles, treatments assigned to groups (or matching pools),
 * rounds of stages, payoffs. One session per group (partner matching) or per matching pool
 * (stranger matching); each participant keeps its own conversation across rounds.
 */
export const gameDesign: Design = {
  kind: "game",
  compile(src: StudySource, options: CompileOptions = {}): CompiledStudy {
    const problems = new ProblemList();
    const d = src.data as Record<string, unknown>;
    const providers = toProviders(d.providers);
    const game = readGame(src, problems, providers);
    // Problems in these were reported by readGame's validation.
    const { seed, settings: rawSettings } = salvage(gameSchema, d);
    const settings = toSettings(rawSettings);
    problems.throwIfAny();
    const g = game as GameSpec;
    const check = preflight(g, src);
    for (const p of check.problems) problems.add(p.where, p.message);
    problems.throwIfAny();

    const replications = options.replications ?? 1;
    const models = [...new Set(g.roles.map((r) => r.model))];
    const reask = { max: g.invalid.reask, ...(g.invalid.message ? { message: g.invalid.message } : {}) };
    const size = g.roles.reduce((n, r) => n + r.count, 0);
    const groupsPerUnit = g.matching.type === "stranger" ? g.matching.groupsPerPool : 1;
    const unitsPerReplication = g.groups / groupsPerUnit;
    const units = unitsPerReplication * replications;
    const decisionsPerGroupRound = g.stages.reduce(
      (n, s) => n + g.roles.filter((r) => s.roles.includes(r.name)).reduce((k, r) => k + r.count, 0),
      0,
    );
    const callsPerSession = decisionsPerGroupRound * g.rounds * groupsPerUnit;
    const unitName = g.matching.type === "stranger" ? "pool" : "group";
    const coordinateColumns = [
      "treatment",
      ...(replications > 1 ? ["replication"] : []),
      ...(g.matching.type === "stranger" ? ["pool"] : []),
      "group",
      "round",
      "stage",
      "role",
    ];

    return {
      kind: "game",
      ...(g.name ? { name: g.name } : {}),
      source: src,
      ...(seed !== undefined ? { seed } : {}),
      settings,
      providers,
      reask,
      models,
      size: {
        sessions: units,
        calls: units * callsPerSession,
        where: replications > 1 ? "-n" : src.where(["groups"]),
      },
      manifest: {
        game: {
          groups: g.groups * replications,
          group_size: size,
          rounds: g.rounds,
          roles: Object.fromEntries(g.roles.map((r) => [r.name, { count: r.count, model: r.model }])),
          treatments: g.treatments.map((t) => t.name),
          assignment: g.assignment,
          matching:
            g.matching.type === "stranger"
              ? { type: "stranger", pool_size: g.matching.poolSize }
              : { type: "partner" },
          stages: g.stages.map((s) => ({ name: s.name, choice: s.choice, roles: s.roles, mode: s.mode })),
          invalid: {
            reask: g.invalid.reask,
            message: g.invalid.message ?? null,
            on_invalid: g.invalid.action,
          },
          replications,
        },
      },
      plan(runSeed: number): Plan {
        const assigned = assignTreatments(
          g.treatments.map((t) => t.name),
          units,
          g.assignment,
          runSeed,
        );
        return {
          kind: "game",
          total: units,
          models,
          warnings: check.warnings,
          coordinateColumns,
          *sessions(): Iterable<SessionPlan> {
            for (let u = 0; u < units; u++) {
              const unitNo = u + 1;
              const replication = Math.floor(u / unitsPerReplication) + 1;
              const treatment = g.treatments.find(
                (t) => t.name === assigned[u],
              ) as GameSpec["treatments"][number];
              const coords: Coordinates = {
                treatment: treatment.name,
                ...(replications > 1 ? { replication } : {}),
                [unitName]: unitNo,
              };
              const seats = sessionSeats(g.roles, groupsPerUnit);
              const matching: RoundGroup[][] =
                g.matching.type === "stranger"
                  ? strangerMatching(g.roles, groupsPerUnit, g.rounds, runSeed, unitNo)
                  : partnerMatching(g.roles, unitNo, g.rounds);
              const participants: ParticipantPlan[] = seats.map((seat) => {
                const role = g.roles.find((r) => r.name === seat.role) as GameSpec["roles"][number];
                const system = role.system?.render(
                  systemContext(seat, shapeOf(g), treatment.name, treatment.variables),
                );
                return {
                  id: seat.id,
                  role: seat.role,
                  model: role.model,
                  params: role.params,
                  ...(system !== undefined && system !== "" ? { system } : {}),
                };
              });
              yield {
                key: `g-${shortHash({ [unitName]: unitNo, treatment: treatment.name, replication })}`,
                index: u,
                coords,
                // Each group or pool is one sample of the game (the executor also keys every call
                // by the session, so identical first prompts of two groups stay separate draws).
                draw: unitNo,
                participants,
                expectedCalls: callsPerSession,
                procedure: async (ctx) => {
                  await playSession(g, { treatment, seats, matching }, executorIO(ctx, reask));
                },
              };
            }
          },
        };
      },
    };
  },
};

/** Connects the game to the executor: questions carry the coordinates of their observation. */
function executorIO(ctx: SessionContext, reask: Question["reask"]): GameIO {
  return {
    ask: (d) => {
      const q: Question = {
        prompt: d.prompt,
        parser: d.stage.parser,
        turn: `r${d.round}/${d.stage.name}`,
        name: d.stage.choice,
        coords: { round: d.round, stage: d.stage.name, role: d.role, group: d.group },
        ...(reask ? { reask } : {}),
        ...(d.stage.params ? { params: d.stage.params } : {}),
      };
      return ctx.ask(d.pid, q);
    },
    record: (pid, name, value, coords, extra) => ctx.record(pid, name, value, coords, extra),
    taint: (reason) => ctx.taint(reason),
  };
}
