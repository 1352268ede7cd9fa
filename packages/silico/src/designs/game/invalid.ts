import { Undef } from "@silico/jinja";

/** Reading an invalid choice aborts the evaluation of a payoff or condition with this error. */
export class InvalidReference extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "InvalidReference";
  }
}

/**
 * Stands in for a choice (or payoff) that has no valid value, in the context of payoffs and
 * conditions. It is a strict undefined value of the expression engine whose use raises
 * InvalidReference, so a payoff that depends on it becomes "invalid" rather than a wrong number;
 * a payoff that does not read it is computed normally. Templates see None instead.
 */
export class InvalidValue extends Undef {
  constructor(readonly reason: string) {
    super(reason);
  }
  override fail(): never {
    throw new InvalidReference(this.reason);
  }
}

/** The InvalidReference behind an evaluation error, if that is what it was. */
export function invalidReferenceOf(e: unknown): InvalidReference | undefined {
  if (e instanceof InvalidReference) return e;
  if (e instanceof Error && e.cause instanceof InvalidReference) return e.cause;
  return undefined;
}
