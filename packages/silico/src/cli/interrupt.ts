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
    // Should anything end the process before the run's own exit code is set (e.g. writing to
    // a terminal that hung up), it still exits with the signal's code.
    process.exitCode = SIGNAL_EXIT_CODES[name];
    // After SIGHUP the terminal may be gone: messages to it are lost, not fatal.
    if (name === "SIGHUP") process.stderr.on("error", () => {});
    this.controller.abort(name);
    this.hooks.onFirst(name);
  }

  /**
   * Called when the command is done with exit code `code` (undefined: an error, main sets it).
   * Without a signal this only removes the handlers. After one, the process exits as soon as
   * its output is written, not waiting for work an interrupt left behind; the handlers stay, so a
   * further signal still exits at once.
   */
  finish(code?: number): void {
    const sig = this.first;
    if (sig === undefined) {
      this.dispose();
      return;
    }
    if (hungUp(sig)) {
      // Ref'd: it must run before a natural exit, which would abort (see exitForSignal).
      setTimeout(() => exitForSignal(sig), 0);
      return;
    }
    if (code !== undefined) setTimeout(() => process.exit(code), 1000).unref();
  }

  dispose(): void {
    for (const [name, handler] of this.handlers) process.off(name, handler);
    this.handlers.clear();
  }
}

/** SIGHUP with a terminal on stdio: the terminal is gone. */
function hungUp(sig: StopSignal): boolean {
  return sig === "SIGHUP" && [process.stdin, process.stdout, process.stderr].some((s) => s.isTTY === true);
}

/**
 * Exit now with the signal's code. After a terminal hang-up Node aborts while restoring the
 * terminal's settings on exit (SIGABRT, 134), so then the process ends by SIGHUP itself, its
 * default action, which shells report as 129 too.
 */
export function exitForSignal(sig: StopSignal): void {
  if (hungUp(sig)) {
    process.removeAllListeners("SIGHUP");
    process.kill(process.pid, "SIGHUP");
    return;
  }
  process.exit(SIGNAL_EXIT_CODES[sig]);
}
