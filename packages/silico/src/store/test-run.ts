import type { OwnerClaim } from "./run-lease.js";
import type { NewRun, RunStore } from "./run-store.js";

/**
 * FOR TESTS ONLY: a run row with placeholder study fields, for tests of the store and the executor
 * that need a run to write into; `fields` sets what a test cares about, `owner` claims the run.
 */
export function createTestRun(store: RunStore, fields: Partial<NewRun> = {}, owner?: OwnerClaim): string {
  return store.createRun(
    {
      kind: "test",
      studyHash: "h",
      studyText: "t",
      silicoVersion: "0",
      seed: 1,
      settings: {},
      manifest: {},
      totalSessions: 0,
      ...fields,
    },
    owner,
  );
}
