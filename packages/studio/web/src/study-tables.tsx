/**
 * The study's roles, treatments × variables and factorial factors × levels as editable tables.
 * Every change is an edit of the study text made on the server (comments and order kept); the
 * text then drives the problems and the preview as typing does.
 */
import { useState } from "preact/hooks";

export interface OutlineTable {
  title: string;
  columns: string[];
  rows: string[][];
  base: string[];
  list?: boolean;
  placeholders?: string[];
}

export type Key = string | number;
export type StudyEdit =
  | { op: "set"; path: Key[]; value: string; as?: "yaml" | "text" }
  | { op: "delete"; path: Key[] }
  | { op: "rename"; path: Key[]; to: string };

/** What a new row starts as. */
const NEW_ROW: Record<string, string> = { roles: "{ count: 1 }", treatments: "{}", levels: "[]" };

export function StudyTables({
  tables,
  onEdit,
}: {
  tables: OutlineTable[];
  onEdit: (edits: StudyEdit[]) => void;
}) {
  return (
    <div class="outline" data-testid="outline">
      {tables.map((t) => (
        <EditableTable key={t.title} table={t} onEdit={onEdit} />
      ))}
    </div>
  );
}

function EditableTable({ table: t, onEdit }: { table: OutlineTable; onEdit: (edits: StudyEdit[]) => void }) {
  const [newRow, setNewRow] = useState("");
  const [newCol, setNewCol] = useState("");
  const valueColumns = t.columns.slice(1);
  // A list gets one more column: typing there adds an item.
  const shown = t.list ? [...valueColumns, `level ${valueColumns.length + 1}`] : valueColumns;
  const pathOf = (row: string, col: number): Key[] => [
    ...t.base,
    row,
    t.list ? col : (valueColumns[col] as string),
  ];
  const change = (row: string, col: number, before: string, after: string) => {
    if (after === before) return;
    const path = pathOf(row, col);
    onEdit([after.trim() === "" ? { op: "delete", path } : { op: "set", path, value: after }]);
  };
  const addColumn = () => {
    const name = newCol.trim();
    if (!name) return;
    onEdit(t.rows.map((r) => ({ op: "set", path: [...t.base, r[0] as string, name], value: "0" })));
    setNewCol("");
  };
  return (
    <table class="grid editable" data-testid={`outline-${t.title}`}>
      <caption>{t.title}</caption>
      <thead>
        <tr>
          <th>{t.columns[0]}</th>
          {shown.map((c) => (
            <th key={c}>{c}</th>
          ))}
          {t.title === "treatments" ? (
            <th>
              <input
                placeholder="+ variable"
                value={newCol}
                size={9}
                data-testid="add-variable"
                onInput={(e) => setNewCol((e.target as HTMLInputElement).value)}
                onKeyDown={(e) => e.key === "Enter" && addColumn()}
              />
            </th>
          ) : null}
          <th />
        </tr>
      </thead>
      <tbody>
        {t.rows.map((r) => {
          const row = r[0] as string;
          const filled = r.slice(1).filter((v) => v !== "").length;
          return (
            <tr key={row}>
              <td>
                <input
                  key={row}
                  defaultValue={row}
                  size={Math.max(6, row.length)}
                  data-testid={`key-${t.title}-${row}`}
                  onChange={(e) => {
                    const to = (e.target as HTMLInputElement).value.trim();
                    if (to && to !== row) onEdit([{ op: "rename", path: [...t.base, row], to }]);
                  }}
                />
              </td>
              {shown.map((c, i) => {
                const v = r[i + 1] ?? "";
                return (
                  <td key={c}>
                    <input
                      key={`${row}-${c}-${v}`}
                      defaultValue={v}
                      placeholder={t.placeholders?.[i + 1] ?? ""}
                      disabled={t.list === true && i > filled}
                      size={Math.max(4, v.length)}
                      data-testid={`cell-${t.title}-${row}-${t.list ? i : c}`}
                      onChange={(e) => change(row, i, v, (e.target as HTMLInputElement).value)}
                    />
                  </td>
                );
              })}
              {t.title === "treatments" ? <td /> : null}
              <td>
                <button
                  type="button"
                  title={`remove ${row}`}
                  data-testid={`remove-${t.title}-${row}`}
                  onClick={() => onEdit([{ op: "delete", path: [...t.base, row] }])}
                >
                  ×
                </button>
              </td>
            </tr>
          );
        })}
        <tr>
          <td>
            <input
              placeholder={`+ ${t.columns[0]}`}
              value={newRow}
              size={8}
              data-testid={`add-${t.title}`}
              onInput={(e) => setNewRow((e.target as HTMLInputElement).value)}
              onKeyDown={(e) => {
                const name = newRow.trim();
                if (e.key !== "Enter" || !name) return;
                onEdit([{ op: "set", path: [...t.base, name], value: NEW_ROW[t.title] ?? "{}" }]);
                setNewRow("");
              }}
            />
          </td>
        </tr>
      </tbody>
    </table>
  );
}
