import { yaml } from "@codemirror/lang-yaml";
import { type Diagnostic, setDiagnostics } from "@codemirror/lint";
import { EditorState } from "@codemirror/state";
import {
  Decoration,
  type DecorationSet,
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
  MatchDecorator,
  ViewPlugin,
  type ViewUpdate,
} from "@codemirror/view";
import { autocompletion, type CompletionContext, type CompletionResult } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  bracketMatching,
  defaultHighlightStyle,
  indentOnInput,
  syntaxHighlighting,
} from "@codemirror/language";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { useEffect, useRef } from "preact/hooks";
import type { Problem } from "./api";

/** Jinja tags inside YAML strings: `{{ … }}` expressions, `{% … %}` statements, `{# … #}` comments. */
const jinjaMarks = new MatchDecorator({
  regexp: /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|\{#[\s\S]*?#\}/g,
  decoration: (m) =>
    Decoration.mark({
      class: m[0].startsWith("{#")
        ? "cm-jinja-comment"
        : m[0].startsWith("{%")
          ? "cm-jinja-stmt"
          : "cm-jinja-expr",
    }),
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
    // `me.pay` completes to `me.payoff`: fields of the context's objects are in the scope as `a.b`.
    const word = ctx.matchBefore(/[A-Za-z_][\w.]*/);
    if (!word && !ctx.explicit) return null;
    return {
      from: word ? word.from : ctx.pos,
      options: scope().map((name) => ({ label: name, type: name.includes(".") ? "property" : "variable" })),
      validFor: /^[\w.]*$/,
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
  // The last text the editor itself reported: a `value` equal to it is that text coming back, not
  // a new text from outside (which would otherwise overwrite newer keystrokes, back and forth).
  const emitted = useRef(value);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const names = useRef(scope);
  names.current = scope;
  useEffect(() => {
    const v = new EditorView({
      parent: host.current as HTMLDivElement,
      state: EditorState.create({
        doc: value,
        extensions: [
          // codemirror's basicSetup, with completion of the names in scope inside Jinja tags.
          lineNumbers(),
          highlightActiveLineGutter(),
          highlightActiveLine(),
          history(),
          drawSelection(),
          indentOnInput(),
          bracketMatching(),
          highlightSelectionMatches(),
          syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
          keymap.of([...defaultKeymap, ...historyKeymap, ...searchKeymap, indentWithTab]),
          yaml(),
          jinjaHighlight,
          autocompletion({ override: [jinjaCompletion(() => names.current)] }),
          EditorView.updateListener.of((u) => {
            if (!u.docChanged) return;
            // Reported outside CodeMirror's update cycle: a page re-render started from inside it
            // froze Chromium together with the completion plugin.
            clearTimeout(pending.current);
            pending.current = setTimeout(() => {
              emitted.current = u.view.state.doc.toString();
              changed.current(emitted.current);
            }, 30);
          }),
        ],
      }),
    });
    view.current = v;
    return () => {
      clearTimeout(pending.current);
      v.destroy();
    };
  }, []);
  // A text loaded from outside (open, import, template) replaces the document.
  useEffect(() => {
    const v = view.current;
    if (!v || value === emitted.current) return;
    emitted.current = value;
    if (v.state.doc.toString() !== value)
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
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
  const insert = (name: string) => {
    const v = view.current;
    if (!v) return;
    const { from, to } = v.state.selection.main;
    const text = `{{ ${name} }}`;
    v.dispatch({ changes: { from, to, insert: text }, selection: { anchor: from + text.length } });
    v.focus();
  };
  return (
    <div>
      <div class="editor" ref={host} data-testid="editor" />
      {scope.length > 0 ? (
        <p class="scope" data-testid="scope">
          In scope (click to insert):{" "}
          {scope
            .filter((n) => !n.includes("."))
            .map((n) => (
              <button type="button" class="chip" key={n} onClick={() => insert(n)}>
                {n}
              </button>
            ))}
        </p>
      ) : null}
    </div>
  );
}
