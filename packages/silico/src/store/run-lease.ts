import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { SilicoError } from "../errors.js";

/**
 * A run is worked on by one process at a time. That process holds a lease: a row in
 * `run_owners` naming its pid and host, refreshed every few seconds. A second `run`/`resume`
 * of the same run is refused while the owner lives; once it is gone (killed, crashed, host
 * rebooted) the next `resume` takes the lease over. Commits check the lease too (see
 * RunStore.flush), so a process that lost it cannot write another answer into the run.
 */
export interface RunOwner {
  run_id: string;
  token: string;
  pid: number;
  host: string;
  command: string;
  acquired_at: string;
  heartbeat_at: string;
}

export type OwnerClaim = Omit<RunOwner, "run_id" | "acquired_at" | "heartbeat_at">;

/** How often the owner refreshes its lease. */
export const HEARTBEAT_MS = 5_000;
/**
 * A lease not refreshed for this long is treated as abandoned even if its pid exists: the pid
 * was reused, the process is stopped or hung, or it ran on another host that is gone.
 */
export const STALE_MS = 60_000;

/** Leases this process holds now: its own pid alone does not say whether a lease is still in use. */
const heldHere = new Set<string>();

export function newClaim(command: string): OwnerClaim {
  return { token: randomUUID(), pid: process.pid, host: hostname(), command };
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether the lease still belongs to a working process. */
export function ownerAlive(owner: RunOwner, now = Date.now()): boolean {
  const fresh = now - Date.parse(owner.heartbeat_at) < STALE_MS;
  if (owner.host !== hostname()) return fresh;
  if (owner.pid === process.pid) return heldHere.has(owner.token);
  return fresh && pidExists(owner.pid);
}

export function describeOwner(owner: RunOwner, now = Date.now()): string {
  const age = Math.max(0, Math.round((now - Date.parse(owner.heartbeat_at)) / 1000));
  return `process ${owner.pid} on host ${owner.host} (silico ${owner.command}, since ${owner.acquired_at}, last heartbeat ${age} s ago)`;
}

export class RunBusyError extends SilicoError {
  constructor(
    runId: string,
    readonly owner: RunOwner,
  ) {
    super(
      "run_busy",
      `run ${runId} is in use by ${describeOwner(owner)}; wait for it to finish, or stop it (Ctrl-C in its terminal, or kill -INT ${owner.pid}) and resume then`,
    );
    this.name = "RunBusyError";
  }
}

/** What a lease needs of the store (RunStore has it; declared here so this module imports no store). */
export interface LeaseStore {
  guardCommits(runId: string, token: string): void;
  touchOwner(runId: string, token: string): void;
  claimRun(runId: string, claim: OwnerClaim, alive: (o: RunOwner) => boolean): RunOwner | undefined;
}

/** The lease of the current process on one run: heartbeats until released. */
export class RunLease {
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly store: LeaseStore,
    readonly runId: string,
    readonly claim: OwnerClaim,
  ) {
    store.guardCommits(runId, claim.token);
    heldHere.add(claim.token);
    this.timer = setInterval(() => {
      try {
        store.touchOwner(runId, claim.token);
      } catch {
        // A failed store stops the run through its failure listeners; nothing to add here.
      }
    }, HEARTBEAT_MS);
    this.timer.unref();
  }

  /** Take the lease of an existing run, or throw RunBusyError naming the live owner. */
  static claim(store: LeaseStore, runId: string, command: string): RunLease {
    const claim = newClaim(command);
    const holder = store.claimRun(runId, claim, ownerAlive);
    if (holder) throw new RunBusyError(runId, holder);
    return new RunLease(store, runId, claim);
  }

  /** Stop heartbeating; the caller writes the run's final state with store.finishRun. */
  stop(): void {
    clearInterval(this.timer);
    heldHere.delete(this.claim.token);
  }
}
