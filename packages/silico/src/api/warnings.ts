/**
 * Warnings as data. The designs and the executor word their warnings for people; the library
 * hands them on as objects whose `message` is exactly the text the CLI prints after "warning: ".
 */
export type SilicoWarningCode =
  /** Something in the study silico runs, but perhaps not as meant (from compiling the plan). */
  | "study"
  /** A model or provider changed a request (e.g. a parameter it does not support). */
  | "provider";

export interface SilicoWarning {
  code: SilicoWarningCode;
  message: string;
  /** Where in the study, when the message starts with a location (`study.yaml:12: params`). */
  where?: string;
}

// "file.yaml:12: path: message", "built.json: treatments: message" or "game: stages[0]: message".
const LOCATED = /^([^\s:]+(?::\d+)?(?:: [A-Za-z_][\w.[\]-]*)?): (.+)$/s;

/** A warning from its printed text. */
export function toWarning(message: string, code: SilicoWarningCode = "study"): SilicoWarning {
  const m = LOCATED.exec(message);
  return m && /[.:[]/.test(m[1] as string) ? { code, message, where: m[1] as string } : { code, message };
}

export function toWarnings(messages: readonly string[], code: SilicoWarningCode = "study"): SilicoWarning[] {
  return messages.map((m) => toWarning(m, code));
}
