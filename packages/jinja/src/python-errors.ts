/**
 * The exception raised while evaluating a template: a Python exception type name (`TypeError`,
 * `UndefinedError`, ...) and its message. The renderer turns it into a TemplateError that names
 * the template and line.
 */
export class PyException extends Error {
  readonly pyType: string;
  constructor(pyType: string, message: string) {
    super(message);
    this.name = "PyException";
    this.pyType = pyType;
  }
  /** The detail shown to users: Jinja2's UndefinedError message alone, other errors prefixed by their type. */
  get detail(): string {
    return this.pyType === "UndefinedError" ? this.message : `${this.pyType}: ${this.message}`;
  }
}

export const typeError = (message: string): PyException => new PyException("TypeError", message);
export const valueError = (message: string): PyException => new PyException("ValueError", message);
export const zeroDivision = (message: string): PyException => new PyException("ZeroDivisionError", message);
export const overflowError = (message: string): PyException => new PyException("OverflowError", message);
export const undefinedError = (message: string): PyException => new PyException("UndefinedError", message);
export const runtimeError = (message: string): PyException =>
  new PyException("TemplateRuntimeError", message);
