import type { NewRun, RunStore } from "./run-store.js";

/**
 * FOR TESTS ONLY: a run row with placeholder study fields, for tests of the store and the executor
 * that need a run to write into; `fields` sets what a test cares about.
 */
export function createTestRun(store: RunStore, fields: Partial<NewRun> = {}): string {
  return store.createRun({
    kind: "test",
    studyHash: "h",
    studyText: "t",
    silicoVersion: "0",
    seed: 1,
    settings: {},
    manifest: {},
    totalSessions: 0,
    ...fields,
  });
}
