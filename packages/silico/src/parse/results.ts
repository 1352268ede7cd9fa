import type { ParseResult } from "./types.js";

/** A valid parse result carrying `value`. */
export function valid(value: unknown): ParseResult {
  return { valid: true, value };
}

/** An invalid parse result; `reason` is shown to people and, in correction messages, to participants. */
export function invalid(reason: string): ParseResult {
  return { valid: false, value: null, reason };
}

/** Shortens text for use inside a reason, so that a long answer cannot flood a correction message. */
export function clip(text: string, max = 60): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
