import { autocompletion, type CompletionContext, type CompletionResult } from "@codemirror/autocomplete";
import { yaml } from "@codemirror/lang-yaml";
import { type Diagnostic, setDiagnostics } from "@codemirror/lint";
import { EditorState } from "@codemirror/state";
import { Decoration, type DecorationSet, EditorView, MatchDecorator, ViewPlugin, type ViewUpdate } from "@codemirror/view";
import { basicSetup } from "codemirror";
import { useEffect, useRef } from "preact/hooks";
import type { Problem } from "./api";

/** Jinja tags inside YAML strings: `{{ … }}` expressions, `{% … %}` statements, `{# … #}` comments. */
const jinjaMarks = new MatchDecorator({
  regexp: /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|\{#[\s\S]*?#\}/g,
  decoration: (m) => Decoration.mark({ class: m[0].startsWith("{#") ? "cm-jinja-comment" : m[0].startsWith("{%") ? "cm-jinja-stmt" : "cm-jinja-expr" }),
});

const jinjaHighlight = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = jinjaMarks.createDeco(view);
    }
    update(u: ViewUpdate) {
      this.decorations = jinjaMarks.updateDeco(u, this.decorations);
    }
  },
  { decorations: (v) => v.decorations },
);

/** Names in scope, completed inside `{{ … }}` and `{% … %}`. */
function jinjaCompletion(scope: () => string[]) {
  return (ctx: CompletionContext): CompletionResult | null => {
    const line = ctx.state.doc.lineAt(ctx.pos);
    const before = line.text.slice(0, ctx.pos - line.from);
    const open = Math.max(before.lastIndexOf("{{"), before.lastIndexOf("{%"));
    const close = Math.max(before.lastIndexOf("}}"), before.lastIndexOf("%}"));
    if (open < 0 || close > open) return null;
    const word = ctx.matchBefore(/[A-Za-z_][\w]*/);
    if (!word && !ctx.explicit) return null;
    return {
      from: word ? word.from : ctx.pos,
      options: scope().map((name) => ({ label: name, type: "variable" })),
      validFor: /^[\w]*$/,
    };
  };
}

export function StudyEditor({
  value,
  onChange,
  problems,
  scope,
}: {
  value: string;
  onChange: (text: string) => void;
  problems: Problem[];
  scope: string[];
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changed = useRef(onChange);
  changed.current = onChange;
  const names = useRef(scope);
  names.current = scope;
  useEffect(() => {
    const v = new EditorView({
      parent: host.current as HTMLDivElement,
      state: EditorState.create({
        doc: value,
        extensions: [
          basicSetup,
          yaml(),
          jinjaHighlight,
          autocompletion({ override: [jinjaCompletion(() => names.current)] }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) changed.current(u.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = v;
    return () => v.destroy();
  }, []);
  // A text loaded from outside (open, import, template) replaces the document.
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
  }, [value]);
  useEffect(() => {
    const v = view.current;
    if (!v) return;
    const doc = v.state.doc;
    const diagnostics: Diagnostic[] = problems.map((p) => {
      const line = doc.line(Math.min(Math.max(p.line ?? 1, 1), doc.lines));
      return { from: line.from, to: line.to, severity: "error", message: `${p.where}: ${p.message}` };
    });
    v.dispatch(setDiagnostics(v.state, diagnostics));
  }, [problems]);
  return <div class="editor" ref={host} data-testid="editor" />;
}
