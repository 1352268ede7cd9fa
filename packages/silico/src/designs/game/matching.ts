import { Rng } from "../../engine/rng.js";

export interface RoleCount {
  name: string;
  count: number;
}

/** One participant of a session (a partner group or a stranger matching pool). */
export interface Seat {
  id: string;
  role: string;
  /** 1-based position among the session's participants of this role. */
  index: number;
}

/** One group in one round: participant ids in role order (roles as declared, then by index). */
export interface RoundGroup {
  /** Group id, unique in the run for a given round (pool-major numbering). */
  id: number;
  members: string[];
}

/** Group size: the sum of the role counts. */
export function groupSize(roles: readonly RoleCount[]): number {
  return roles.reduce((n, r) => n + r.count, 0);
}

/**
 * The participants of a session holding `groups` groups. A role with one participant in the
 * session is named after the role ("proposer"); otherwise ids are numbered ("player1", "player2").
 */
export function sessionSeats(roles: readonly RoleCount[], groups: number): Seat[] {
  const seats: Seat[] = [];
  for (const r of roles) {
    const n = r.count * groups;
    for (let k = 1; k <= n; k++)
      seats.push({ id: n === 1 ? r.name : `${r.name}${k}`, role: r.name, index: k });
  }
  return seats;
}

/** Partner matching: one fixed group for every round. */
export function partnerMatching(
  roles: readonly RoleCount[],
  groupId: number,
  rounds: number,
): RoundGroup[][] {
  const members = sessionSeats(roles, 1).map((s) => s.id);
  return Array.from({ length: rounds }, () => [{ id: groupId, members: members.slice() }]);
}

/**
 * Stranger matching: every round, within one matching pool, each role's participants are
 * shuffled and dealt into the pool's groups (so every group always has the declared role counts;
 * nobody changes role). Random re-matching, not "perfect stranger": two participants may meet
 * again. Seeded by the run seed and the pool, so the same seed gives the same matching.
 * Group ids continue across pools: pool p's groups are (p-1)·g+1 … p·g.
 */
export function strangerMatching(
  roles: readonly RoleCount[],
  groupsPerPool: number,
  rounds: number,
  seed: number,
  pool: number,
): RoundGroup[][] {
  const seats = sessionSeats(roles, groupsPerPool);
  const out: RoundGroup[][] = [];
  for (let round = 1; round <= rounds; round++) {
    const rng = new Rng(seed, "game", "matching", pool, round);
    const groups: RoundGroup[] = Array.from({ length: groupsPerPool }, (_, g) => ({
      id: (pool - 1) * groupsPerPool + g + 1,
      members: [],
    }));
    for (const r of roles) {
      const dealt = rng.shuffle(seats.filter((s) => s.role === r.name));
      groups.forEach((g, gi) => {
        const mine = dealt.slice(gi * r.count, (gi + 1) * r.count).sort((a, b) => a.index - b.index);
        g.members.push(...mine.map((s) => s.id));
      });
    }
    out.push(groups);
  }
  return out;
}
