import { ConfigError, SilicoError, StudyError, TemplateError } from "../errors.js";
import { redact } from "../models/secrets.js";
import { type CliIo, processIo } from "./io.js";

/** Errors that mean the user asked for something that is not there: bad input, exit code 2. */
const BAD_INPUT = new Set(["run_missing", "run_ambiguous", "store_missing", "store_not_silico"]);

/**
 * Prints an error for a person, never a stack trace (unless SILICO_DEBUG=1), and returns the exit
 * code: 2 for bad input, 1 for a fault. `db` names the store for database errors that reach here
 * unlabelled.
 */
export function reportError(e: unknown, context: { db?: string } = {}, io: CliIo = processIo()): number {
  const debug = io.env.SILICO_DEBUG === "1";
  const write = (text: string) => io.stderr.write(`${redact(text)}\n`);
  const trace = () => {
    if (debug && e instanceof Error && e.stack) write(e.stack);
  };
  if (e instanceof StudyError || e instanceof ConfigError) {
    write(e.message);
    trace();
    return 2;
  }
  if (e instanceof TemplateError) {
    // A study's template that no compiler turned into a located problem: still the study's fault.
    write(`1 problem in the study:\n  ${e.message}`);
    trace();
    return 2;
  }
  if (e instanceof SilicoError) {
    write(`error: ${e.message}`);
    trace();
    return BAD_INPUT.has(e.code) ? 2 : 1;
  }
  const message = e instanceof Error ? e.message : String(e);
  const code = String((e as { code?: unknown } | null)?.code ?? "");
  if (code.startsWith("SQLITE_")) {
    write(`error: the store${context.db ? ` ${context.db}` : ""} failed: ${message} (${code})`);
  } else if (e instanceof RangeError && /Maximum call stack/i.test(message)) {
    write("error: the input is nested too deeply to process (maximum call stack size exceeded)");
  } else {
    write(`error: ${message || String(e)}`);
    if (!debug) write("(an unexpected fault; SILICO_DEBUG=1 shows where it happened)");
  }
  trace();
  return 1;
}
