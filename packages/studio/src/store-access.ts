/**
 * The studio's read access to the store: one read-only reader, opened once the file exists (a
 * new project has none until its first run), so runs started elsewhere (the CLI, this studio)
 * show up as they are written: SQLite's WAL lets a reader see every commit.
 */
import { existsSync } from "node:fs";
import { RunReader, RunStore } from "silico";

export class StoreAccess {
  private reader: RunReader | undefined;
  private store: RunStore | undefined;

  constructor(readonly path: string) {}

  /** The reader, or undefined while there is no store file yet. */
  get(): RunReader | undefined {
    if (this.reader) return this.reader;
    if (!existsSync(this.path)) return undefined;
    this.store = RunStore.openForReading(this.path);
    this.reader = new RunReader(this.store);
    return this.reader;
  }

  close(): void {
    this.store?.close();
    this.store = undefined;
    this.reader = undefined;
  }
}
