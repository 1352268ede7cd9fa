/**
 * A template that does not parse: the message, the 1-based line within the template and, where
 * the failing token is known, its 0-based offset in the (newline-normalized) source.
 */
export class TemplateSyntaxError extends Error {
  readonly line: number;
  readonly offset: number | undefined;
  constructor(message: string, line: number, offset?: number) {
    super(message);
    this.name = "TemplateSyntaxError";
    this.line = line;
    this.offset = offset;
  }
}
