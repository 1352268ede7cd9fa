/**
 * A form drawn from a study kind's JSON Schema (silico generates them from the schemas that
 * validate study files): enum → select, boolean → checkbox, numbers with their bounds, texts,
 * descriptions as help, optional fields added and removed, nested mappings collapsible. What a
 * form cannot express well (lists of mappings, multi-line templates, unions of structures) is
 * left to the text editor. Every change is an edit of the study text made on the server, so only
 * the edited value's text changes. A field added to a schema appears here without new code.
 */
import { useState } from "preact/hooks";
import type { Problem } from "./api";
import type { Key, StudyEdit } from "./study-tables";

export type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  default?: unknown;
  title?: string;
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** `settings.concurrency`, `agents.helper.model`, `stages[0].prompt`: how silico names a place. */
export function pathText(path: Key[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? p : `.${p}`;
  return out;
}

/** The problems silico located at exactly this place (`file:12: settings.concurrency`). */
function problemsAt(problems: Problem[], path: Key[]): Problem[] {
  const p = pathText(path);
  return problems.filter((x) => x.where.endsWith(`: ${p}`) || x.where.includes(`: ${p} (`));
}

const typesOf = (s: JsonSchema): string[] =>
  s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];

function valueType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v === "object" ? "object" : typeof v;
}

/** The branch of a union that a value fits (or, for a new value, the first plain one). */
function branchOf(s: JsonSchema, v: unknown): JsonSchema | undefined {
  if (!s.anyOf) return s;
  const t = valueType(v);
  const fits = (b: JsonSchema) => {
    if (b.const !== undefined) return b.const === v;
    if (b.enum) return b.enum.includes(v);
    const ts = typesOf(b);
    return ts.includes(t) || (t === "integer" && ts.includes("number"));
  };
  return v === undefined ? s.anyOf.find((b) => isScalarSchema(b)) : s.anyOf.find(fits);
}

const isScalarSchema = (s: JsonSchema): boolean =>
  s.enum !== undefined ||
  typesOf(s).some((t) => ["string", "number", "integer", "boolean"].includes(t)) ||
  (s.const !== undefined && typeof s.const !== "object");

/** What a newly added field starts as, as YAML text. */
function initial(s: JsonSchema): { value: string; as?: "text" } {
  const b = branchOf(s, undefined) ?? s;
  if (b.default !== undefined) return { value: JSON.stringify(b.default) };
  if (b.enum && b.enum.length > 0) return { value: JSON.stringify(b.enum[0]) };
  const t = typesOf(b)[0];
  if (t === "boolean") return { value: "false" };
  if (t === "integer" || t === "number") return { value: String(b.minimum ?? b.exclusiveMinimum ?? 0) };
  if (t === "object" || (b.properties && !t)) return { value: "{}" };
  if (t === "array") return { value: "[]" };
  return { value: "", as: "text" };
}

interface FormProps {
  schema: JsonSchema;
  data: Obj;
  problems: Problem[];
  onEdit: (edits: StudyEdit[]) => void;
  /** Root keys drawn elsewhere (the kind, tables). */
  skip?: string[];
}

/** The whole form of a study: the root mapping's fields. */
export function SchemaForm({ schema, data, problems, onEdit, skip = [] }: FormProps) {
  return (
    <div class="schema-form" data-testid="schema-form">
      <MappingFields
        schema={schema}
        value={data}
        path={[]}
        problems={problems}
        onEdit={onEdit}
        skip={["kind", ...skip]}
      />
    </div>
  );
}

function MappingFields({
  schema,
  value,
  path,
  problems,
  onEdit,
  skip = [],
}: {
  schema: JsonSchema;
  value: Obj;
  path: Key[];
  problems: Problem[];
  onEdit: (edits: StudyEdit[]) => void;
  skip?: string[];
}) {
  const props = Object.entries(schema.properties ?? {}).filter(([k]) => !skip.includes(k));
  const required = new Set(schema.required ?? []);
  const present = props.filter(([k]) => value[k] !== undefined || required.has(k));
  const absent = props.filter(([k]) => value[k] === undefined && !required.has(k));
  const extra = isObj(schema.additionalProperties) ? schema.additionalProperties : undefined;
  const named = extra ? Object.keys(value).filter((k) => !schema.properties?.[k]) : [];
  const [newName, setNewName] = useState("");
  return (
    <div class="fields">
      {present.map(([k, s]) => (
        <Field
          key={k}
          name={k}
          schema={s}
          value={value[k]}
          path={[...path, k]}
          required={required.has(k)}
          problems={problems}
          onEdit={onEdit}
        />
      ))}
      {extra
        ? named.map((k) => (
            <Field
              key={k}
              name={k}
              schema={extra}
              value={value[k]}
              path={[...path, k]}
              required={false}
              problems={problems}
              onEdit={onEdit}
            />
          ))
        : null}
      {absent.length > 0 ? (
        <select
          class="add-field"
          value=""
          data-testid={`add-field-${pathText(path) || "root"}`}
          onChange={(e) => {
            const k = (e.target as HTMLSelectElement).value;
            const s = schema.properties?.[k];
            if (!k || !s) return;
            const first = initial(s);
            onEdit([
              { op: "set", path: [...path, k], value: first.value, ...(first.as ? { as: first.as } : {}) },
            ]);
          }}
        >
          <option value="">+ field…</option>
          {absent.map(([k, s]) => (
            <option key={k} value={k} title={s.description ?? ""}>
              {k}
            </option>
          ))}
        </select>
      ) : null}
      {extra ? (
        <input
          class="add-name"
          placeholder="+ name"
          size={10}
          value={newName}
          data-testid={`add-name-${pathText(path) || "root"}`}
          onInput={(e) => setNewName((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => {
            const n = newName.trim();
            if (e.key !== "Enter" || !n) return;
            const first = initial(extra);
            onEdit([
              { op: "set", path: [...path, n], value: first.value, ...(first.as ? { as: first.as } : {}) },
            ]);
            setNewName("");
          }}
        />
      ) : null}
    </div>
  );
}

function Help({ s }: { s: JsonSchema }) {
  return s.description ? <div class="help">{s.description}</div> : null;
}

function Field({
  name,
  schema,
  value,
  path,
  required,
  problems,
  onEdit,
}: {
  name: string;
  schema: JsonSchema;
  value: unknown;
  path: Key[];
  required: boolean;
  problems: Problem[];
  onEdit: (edits: StudyEdit[]) => void;
}) {
  const id = pathText(path);
  const here = problemsAt(problems, path);
  const remove = required ? null : (
    <button
      type="button"
      class="remove"
      title={`remove ${name}`}
      data-testid={`remove-field-${id}`}
      onClick={() => onEdit([{ op: "delete", path }])}
    >
      ×
    </button>
  );
  const marks = here.map((p, i) => (
    <div class="error" key={i} data-testid={`field-problem-${id}`}>
      {p.message}
    </div>
  ));
  const b = branchOf(schema, value);
  const description = schema.description ?? b?.description;
  const withHelp: JsonSchema = { ...(b ?? {}), ...(description ? { description } : {}) };
  // A mapping with fields of its own, or a mapping of names to entries: collapsible.
  if (b && (b.properties || isObj(b.additionalProperties)) && (isObj(value) || value === undefined)) {
    const count = isObj(value) ? Object.keys(value).length : 0;
    return (
      <details class="nested" data-testid={`group-${id}`}>
        <summary>
          <b>{name}</b> <small>{count} set</small> {remove}
        </summary>
        <Help s={withHelp} />
        {marks}
        <MappingFields
          schema={b}
          value={isObj(value) ? value : {}}
          path={path}
          problems={problems}
          onEdit={onEdit}
        />
      </details>
    );
  }
  let input: preact.JSX.Element;
  if (!b || (!isScalarSchema(b) && !(b.type === "array" && b.items && isScalarSchema(b.items)))) {
    input = (
      <span class="in-text" data-testid={`in-text-${id}`}>
        {typeof value === "string" ? <code>{value.slice(0, 60)}</code> : null} edit in the text
      </span>
    );
  } else if (b.const !== undefined) {
    input = <code>{String(b.const)}</code>;
  } else if (b.enum) {
    input = (
      <select
        value={value === undefined ? "" : String(value)}
        data-testid={`field-${id}`}
        onChange={(e) => {
          const v = (e.target as HTMLSelectElement).value;
          const chosen = b.enum?.find((x) => String(x) === v);
          onEdit([
            typeof chosen === "string"
              ? { op: "set", path, value: chosen, as: "text" }
              : { op: "set", path, value: JSON.stringify(chosen) },
          ]);
        }}
      >
        {value === undefined ? <option value="">—</option> : null}
        {b.enum.map((x) => (
          <option key={String(x)} value={String(x)}>
            {String(x) === "\t" ? "tab" : String(x)}
          </option>
        ))}
      </select>
    );
  } else if (typesOf(b).includes("boolean") && typesOf(b).length === 1) {
    input = (
      <input
        type="checkbox"
        checked={value === true}
        data-testid={`field-${id}`}
        onChange={(e) =>
          onEdit([{ op: "set", path, value: (e.target as HTMLInputElement).checked ? "true" : "false" }])
        }
      />
    );
  } else if (typesOf(b).every((t) => t === "integer" || t === "number") && typesOf(b).length > 0) {
    const v = value === undefined ? "" : String(value);
    input = (
      <input
        type="number"
        key={`${id}-${v}`}
        defaultValue={v}
        min={b.minimum ?? b.exclusiveMinimum}
        max={b.maximum}
        step={typesOf(b).includes("integer") ? 1 : "any"}
        data-testid={`field-${id}`}
        onChange={(e) => {
          const t = (e.target as HTMLInputElement).value.trim();
          if (t !== v)
            onEdit([t === "" && !required ? { op: "delete", path } : { op: "set", path, value: t }]);
        }}
      />
    );
  } else if (typeof value === "string" && value.includes("\n")) {
    // A multi-line text (a template, mostly) belongs in the editor, with its highlighting.
    input = (
      <span class="in-text" data-testid={`in-text-${id}`}>
        <code>{value.split("\n")[0]?.slice(0, 60)}…</code> edit in the text
      </span>
    );
  } else {
    const list = b.type === "array";
    const v =
      value === undefined
        ? ""
        : list && Array.isArray(value)
          ? `[${value.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(", ")}]`
          : typeof value === "string"
            ? value
            : JSON.stringify(value);
    const textOnly = typesOf(b).length === 1 && typesOf(b)[0] === "string";
    input = (
      <input
        key={`${id}-${v}`}
        defaultValue={v}
        size={Math.min(60, Math.max(12, v.length + 2))}
        placeholder={list ? "[a, b]" : ""}
        data-testid={`field-${id}`}
        onChange={(e) => {
          const t = (e.target as HTMLInputElement).value;
          if (t === v) return;
          onEdit([
            t.trim() === "" && !required
              ? { op: "delete", path }
              : { op: "set", path, value: t, ...(textOnly ? { as: "text" as const } : {}) },
          ]);
        }}
      />
    );
  }
  return (
    <div class={`field${here.length > 0 ? " bad" : ""}`}>
      <span class="name" title={pathText(path)}>
        {name}
        {required ? "*" : ""}
      </span>{" "}
      {input} {remove}
      <Help s={withHelp} />
      {marks}
    </div>
  );
}
