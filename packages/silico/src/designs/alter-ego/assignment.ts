/**
 * Which treatment each conversation gets. alter_ego draws `random.choice(treatments)` per
 * conversation: uniform, independent, unseeded and unrecorded. silico derives every draw from
 * the run seed (so a resumed run rebuilds the same conversations) and balances by default.
 */
import { Rng } from "../../engine/rng.js";

export type AssignmentMode = "balanced" | "random";

/**
 * Indexes into `treatments` for conversations 1..n. Balanced: every list entry appears ⌊n/T⌋ or
 * ⌈n/T⌉ times (a duplicated entry therefore counts twice, as in alter_ego's draw) and the order is
 * shuffled. Random: independent uniform draws, like alter_ego but seeded.
 */
export function assignTreatments(count: number, n: number, seed: number, mode: AssignmentMode): number[] {
  const rng = new Rng(seed, "alter-ego", "treatments", mode);
  if (mode === "random") return Array.from({ length: n }, () => rng.int(count));
  const out: number[] = [];
  const full = Math.floor(n / count);
  for (let k = 0; k < full; k++) for (let t = 0; t < count; t++) out.push(t);
  // The remainder goes to a random subset, so no treatment is favoured by its list position.
  const extra = rng.shuffle(Array.from({ length: count }, (_, t) => t)).slice(0, n - out.length);
  out.push(...extra);
  return rng.shuffle(out);
}
