/**
 * The one error the engine raises on purpose: a template or expression that does not compile or
 * render. `where` names the origin and line (`study.yaml: prompt (line 3)`), `detail` says what
 * went wrong in Python's or Jinja2's words. `code` and `isRetryable` follow the error shape of
 * the programs that embed the engine, so they can report it like their own errors.
 */
export class TemplateError extends Error {
  readonly code = "template_error";
  readonly isRetryable = false;
  readonly where: string;
  readonly detail: string;
  constructor(where: string, detail: string, options?: { cause?: unknown }) {
    super(`${where}: ${detail}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TemplateError";
    this.where = where;
    this.detail = detail;
  }
}
