/** A template that does not parse: the message and the 1-based line within the template. */
export class TemplateSyntaxError extends Error {
  readonly line: number;
  constructor(message: string, line: number) {
    super(message);
    this.name = "TemplateSyntaxError";
    this.line = line;
  }
}
