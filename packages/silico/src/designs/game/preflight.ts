import { TemplateError } from "../../errors.js";
import { exampleValue } from "../../parse/example-answer.js";
import type { StudySource } from "../../study/source.js";
import { systemContext } from "./context.js";
import { partnerMatching, sessionSeats, strangerMatching } from "./matching.js";
import { GameCheckError, playSessionSync } from "./play.js";
import type { GameSpec } from "./spec.js";

export interface PreflightResult {
  problems: { where: string; message: string }[];
  warnings: string[];
}

/**
 * Plays one group (or pool) of every treatment with stand-in answers of the right shape,
 * rendering every prompt and evaluating every payoff of every round. A template that reads a name
 * before it exists (say, the responder's choice in the proposer's prompt) or a payoff that fails
 * is reported before any model is called. Stand-ins: the first option of a choice, the middle of a
 * number range, a value following the JSON schema. Without a JSON schema the shape is unknown, so
 * what fails after such a choice is a warning, not an error.
 */
export function preflight(game: GameSpec, src: StudySource): PreflightResult {
  const problems: PreflightResult["problems"] = [];
  const warnings: string[] = [];
  const unsure = game.stages.find((s) => s.parserSpec.type === "json" && !s.parserSpec.schema);
  const seen = new Set<string>();
  // The same fault usually shows in every treatment: report it once, with the first place found.
  const report = (where: string, message: string, at: string) => {
    const key = `${where}\u0000${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    message = `${message}${at}`;
    if (unsure) {
      warnings.push(
        `${where}: ${message} — not checked for certain: the choice "${unsure.choice}" has no JSON schema (add parse.schema so that its fields are known before the run)`,
      );
    } else problems.push({ where, message });
  };

  const groupsPerUnit = game.matching.type === "stranger" ? game.matching.groupsPerPool : 1;
  const seats = sessionSeats(game.roles, groupsPerUnit);
  const matching =
    game.matching.type === "stranger"
      ? strangerMatching(game.roles, groupsPerUnit, game.rounds, 0, 1)
      : partnerMatching(game.roles, 1, game.rounds);

  for (const treatment of game.treatments) {
    for (const seat of seats) {
      const role = game.roles.find((r) => r.name === seat.role);
      if (!role?.system) continue;
      try {
        role.system.render(systemContext(seat, shapeOf(game), treatment.name, treatment.variables));
      } catch (e) {
        if (!(e instanceof TemplateError)) throw e;
        report(e.where, e.detail, ` (treatment ${treatment.name}, role ${seat.role})`);
      }
    }
    let at = "";
    try {
      playSessionSync(
        game,
        { treatment, seats, matching },
        {
          answer: (d) => ({ valid: true, value: exampleValue(d.stage.parserSpec) }),
          record: () => {},
          taint: () => {},
        },
        {
          strict: true,
          onRender: (pid, round, stage) => {
            at = ` (treatment ${treatment.name}, ${pid}, round ${round}, stage ${stage})`;
          },
        },
      );
    } catch (e) {
      if (e instanceof TemplateError) report(e.where, e.detail, at);
      else if (e instanceof GameCheckError)
        report(
          src.where(e.path),
          e.message,
          ` (pre-flight with stand-in answers, treatment ${treatment.name})`,
        );
      else throw e;
    }
  }
  return {
    problems,
    warnings,
  };
}

export function shapeOf(game: GameSpec) {
  return {
    rounds: game.rounds,
    roles: game.roles.map((r) => ({ name: r.name, count: r.count })),
    choices: game.stages.map((s) => ({ name: s.choice, roles: s.roles })),
  };
}
