/** Exit codes after a signal, as shells report them: 128 + the signal number. */
export const SIGNAL_EXIT_CODES = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof SIGNAL_EXIT_CODES;
const SIGNALS = Object.keys(SIGNAL_EXIT_CODES) as StopSignal[];

export interface SignalHooks {
  /** The first signal, once the run exists: the run is being stopped cleanly. */
  onFirst(signal: StopSignal): void;
  /** The first signal before the run exists (nothing written yet), or a second signal: exit now. */
  onExitNow(signal: StopSignal, second: boolean): void;
}

/**
 * Ctrl-C, SIGTERM and SIGHUP during `run`/`resume`. The first one aborts `signal`: no new
 * calls start, calls in flight are waited for and recorded, the run ends "interrupted" and the
 * command exits with 130/143/129. A second one exits at once.
 */
export class SignalWatch {
  private readonly controller = new AbortController();
  private first: StopSignal | undefined;
  private runStarted = false;
  private readonly handlers = new Map<StopSignal, () => void>();

  constructor(private readonly hooks: SignalHooks) {
    for (const name of SIGNALS) {
      const handler = () => this.receive(name);
      this.handlers.set(name, handler);
      process.on(name, handler);
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The signal that interrupted the run, if any. */
  get received(): StopSignal | undefined {
    return this.first;
  }

  /** From now on the first signal stops the run cleanly instead of exiting. */
  started(): void {
    this.runStarted = true;
  }

  private receive(name: StopSignal): void {
    if (this.first !== undefined || !this.runStarted) {
      this.hooks.onExitNow(name, this.first !== undefined);
      return;
    }
    this.first = name;
    this.controller.abort(name);
    this.hooks.onFirst(name);
  }

  dispose(): void {
    for (const [name, handler] of this.handlers) process.off(name, handler);
    this.handlers.clear();
  }
}
