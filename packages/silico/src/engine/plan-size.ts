import type { CompiledStudy, PlanSize } from "./compiled-study.js";
import { StudyError } from "../errors.js";

/**
 * Calls a run may plan before silico asks for an explicit limit. A million calls is far beyond a
 * typical study and still small enough to plan and store; a mistyped `times: 1000000000` is not.
 */
export const DEFAULT_MAX_CALLS = 1_000_000;

export type { PlanSize };

export function planSize(study: CompiledStudy): PlanSize {
  if (study.size) return study.size;
  const plan = study.plan(0);
  let calls = 0;
  for (const s of plan.sessions()) calls += s.expectedCalls;
  return { sessions: plan.total, calls, where: study.source.where([]) };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/**
 * Refuses a plan with more sessions or calls than `maxCalls` before anything is built, called or
 * written (StudyError: exit 2, located).
 */
export function checkPlanSize(study: CompiledStudy, maxCalls = DEFAULT_MAX_CALLS): PlanSize {
  const size = planSize(study);
  if (size.sessions > maxCalls || size.calls > maxCalls) {
    throw new StudyError([
      {
        where: size.where,
        message: `the plan has ${fmt(size.sessions)} sessions and about ${fmt(size.calls)} calls, more than the limit of ${fmt(maxCalls)} calls; make it smaller, or raise the limit with --max-calls N or settings: {max_calls: N}`,
      },
    ]);
  }
  return size;
}
