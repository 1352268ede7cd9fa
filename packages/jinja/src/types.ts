/** Where a template came from, for error messages: e.g. `study.yaml: prompt`. `line` is the 1-based line of the template's first line in that file, when known. */
export interface TemplateOrigin {
  where: string;
  line?: number;
}

export interface CompiledTemplate {
  readonly source: string;
  readonly origin: TemplateOrigin;
  /** Renders with strict undefined: an undefined name raises a TemplateError naming origin and line. */
  render(context: Record<string, unknown>): string;
  /** Top-level names the template reads from its context (not counting names it sets itself). */
  freeVariables(): string[];
}
