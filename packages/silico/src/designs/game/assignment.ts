import { Rng } from "../../engine/rng.js";

export type AssignmentMode = "balanced" | "random";

/**
 * Treatment of each unit (group or matching pool), in unit order. Balanced: every treatment
 * equally often (counts differ by at most one; which treatments get the leftover units is drawn),
 * in a shuffled order. Random: an independent uniform draw per unit (alter_ego's rule, but seeded).
 * Both depend only on the seed, so a resumed run rebuilds the same assignment.
 */
export function assignTreatments(
  treatments: readonly string[],
  units: number,
  mode: AssignmentMode,
  seed: number,
): string[] {
  if (treatments.length === 0) throw new Error("no treatments to assign");
  const rng = new Rng(seed, "game", "assignment", mode);
  if (mode === "random") return Array.from({ length: units }, () => rng.pick(treatments));
  const full = Math.floor(units / treatments.length);
  const list: string[] = [];
  for (let k = 0; k < full; k++) list.push(...treatments);
  list.push(...rng.shuffle(treatments).slice(0, units - list.length));
  return rng.shuffle(list);
}
