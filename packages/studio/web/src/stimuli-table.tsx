/**
 * The stimulus list of a `kind: stimuli` study as a table: cells editable, rows and columns added
 * and removed, silico's own problems (same messages and locations as the CLI) shown at their row
 * and column. A CSV/XLSX list is edited here and saved into its file in its own format (the
 * preview and problems follow the unsaved table); rows written in the study itself are edits of
 * the study text, like the other tables.
 */
import { useState } from "preact/hooks";
import type { StudyEdit } from "./study-tables";

export interface StimulusGrid {
  source: "file" | "inline";
  file: string;
  path?: string;
  format: "csv" | "xlsx" | "rows";
  sheet?: string;
  delimiter?: string;
  header: string[];
  rows: string[][];
  error?: string;
}

export interface CellProblem {
  row: number;
  column: number;
  where: string;
  message: string;
}

/** How a change of the table is made: a new table (a file's), or edits of the study text (inline rows). */
export interface GridChange {
  grid: StimulusGrid;
  edits?: StudyEdit[];
}

const PLAIN = /^(-?\d+(\.\d+)?|true|false)$/;
const blankRow = (n: number) => Array.from({ length: n }, () => "");

export function StimuliTable({
  grid,
  dirty,
  problems,
  onChange,
  onSave,
}: {
  grid: StimulusGrid;
  dirty: boolean;
  problems: CellProblem[];
  onChange: (c: GridChange) => void;
  onSave: () => void;
}) {
  const [newCol, setNewCol] = useState("");
  const inline = grid.source === "inline";
  const width = grid.header.length;
  const at = (row: number, col: number) =>
    problems.filter((p) => p.row === row && (p.column === col || (col === -1 && p.column < 0)));

  const setCell = (row: number, col: number, v: string) => {
    const rows = grid.rows.map((r, i) => (i === row ? r.map((c, j) => (j === col ? v : c)) : r));
    const name = grid.header[col] as string;
    onChange({
      grid: { ...grid, rows },
      ...(inline
        ? {
            edits: [
              v.trim() === ""
                ? { op: "delete", path: ["stimuli", row, name] }
                : // Numbers and true/false as such; any other text as text (a prompt may hold ": ").
                  {
                    op: "set",
                    path: ["stimuli", row, name],
                    value: v,
                    ...(PLAIN.test(v.trim()) ? {} : { as: "text" }),
                  },
            ],
          }
        : {}),
    });
  };
  const setHeader = (col: number, v: string) => {
    const before = grid.header[col] as string;
    const header = grid.header.map((h, j) => (j === col ? v : h));
    onChange({
      grid: { ...grid, header },
      ...(inline
        ? {
            edits: grid.rows
              .map((r, i) => ({ r, i }))
              .filter(({ r }) => (r[col] ?? "") !== "")
              .map(({ i }) => ({ op: "rename" as const, path: ["stimuli", i, before], to: v })),
          }
        : {}),
    });
  };
  const addRow = () => {
    const rows = [...grid.rows, blankRow(width)];
    // A new inline row starts with the key columns, empty: the problems say what it needs.
    const record = `{${grid.header.map((h) => `${JSON.stringify(h)}: ""`).join(", ")}}`;
    onChange({
      grid: { ...grid, rows },
      ...(inline ? { edits: [{ op: "set", path: ["stimuli", grid.rows.length], value: record }] } : {}),
    });
  };
  const removeRow = (row: number) =>
    onChange({
      grid: { ...grid, rows: grid.rows.filter((_, i) => i !== row) },
      ...(inline ? { edits: [{ op: "delete", path: ["stimuli", row] }] } : {}),
    });
  const addColumn = () => {
    const name = newCol.trim();
    if (!name || grid.header.includes(name)) return;
    onChange({
      grid: { ...grid, header: [...grid.header, name], rows: grid.rows.map((r) => [...r, ""]) },
      ...(inline
        ? {
            edits: grid.rows.map((_, i) => ({ op: "set" as const, path: ["stimuli", i, name], value: '""' })),
          }
        : {}),
    });
    setNewCol("");
  };
  const removeColumn = (col: number) => {
    const name = grid.header[col] as string;
    onChange({
      grid: {
        ...grid,
        header: grid.header.filter((_, j) => j !== col),
        rows: grid.rows.map((r) => r.filter((_, j) => j !== col)),
      },
      ...(inline
        ? {
            edits: grid.rows
              .map((r, i) => ({ r, i }))
              .filter(({ r }) => (r[col] ?? "") !== "")
              .map(({ i }) => ({ op: "delete" as const, path: ["stimuli", i, name] })),
          }
        : {}),
    });
  };

  const headerProblems = problems.filter((p) => p.row === -1);
  if (grid.error)
    return (
      <div class="stimuli" data-testid="stimuli-table">
        <h3>
          Stimuli <small>{grid.path ?? grid.file}</small>
        </h3>
        <p class="error" data-testid="stimuli-error">
          {grid.error} — fix the file outside the studio (it is not shown, so that saving cannot lose it).
        </p>
      </div>
    );
  return (
    <div class="stimuli" data-testid="stimuli-table">
      <h3>
        Stimuli{" "}
        <small>{inline ? "rows written in the study" : `${grid.path ?? grid.file} (${grid.format})`}</small>{" "}
        {!inline ? (
          <button type="button" onClick={onSave} disabled={!dirty} data-testid="stimuli-save">
            {dirty ? "Save table" : "Saved"}
          </button>
        ) : null}
      </h3>
      {headerProblems.length > 0 ? (
        <ul class="problems" data-testid="stimuli-header-problems">
          {headerProblems.map((p, i) => (
            <li key={i} class="error">
              <code>{p.where}</code>: {p.message}
            </li>
          ))}
        </ul>
      ) : null}
      <div class="scroll">
        <table class="grid editable">
          <thead>
            <tr>
              <th>#</th>
              {grid.header.map((h, j) => (
                <th key={j} class={at(-1, j).length > 0 ? "bad" : ""}>
                  <input
                    key={`${j}-${h}`}
                    defaultValue={h}
                    size={Math.max(5, h.length)}
                    data-testid={`stimuli-head-${j}`}
                    onChange={(e) => {
                      const v = (e.target as HTMLInputElement).value.trim();
                      if (v && v !== h) setHeader(j, v);
                    }}
                  />
                  <button
                    type="button"
                    title={`remove column ${h}`}
                    data-testid={`stimuli-remove-col-${j}`}
                    onClick={() => removeColumn(j)}
                  >
                    ×
                  </button>
                </th>
              ))}
              <th>
                <input
                  placeholder="+ column"
                  size={9}
                  value={newCol}
                  data-testid="stimuli-add-col"
                  onInput={(e) => setNewCol((e.target as HTMLInputElement).value)}
                  onKeyDown={(e) => e.key === "Enter" && addColumn()}
                />
              </th>
            </tr>
          </thead>
          <tbody>
            {grid.rows.map((r, i) => {
              const rowProblems = at(i, -1);
              return (
                <tr
                  key={i}
                  class={problems.some((p) => p.row === i) ? "bad" : ""}
                  data-testid={`stimuli-row-${i}`}
                >
                  <td title={rowProblems.map((p) => `${p.where}: ${p.message}`).join("\n")}>
                    {i + 1}
                    {rowProblems.map((p, k) => (
                      <div class="error cell-problem" key={k} data-testid={`stimuli-problem-${i}`}>
                        {p.where}: {p.message}
                      </div>
                    ))}
                  </td>
                  {grid.header.map((_, j) => {
                    const v = r[j] ?? "";
                    const here = at(i, j);
                    return (
                      <td key={j} class={here.length > 0 ? "bad" : ""}>
                        <input
                          key={`${i}-${j}-${v}`}
                          defaultValue={v}
                          size={Math.min(40, Math.max(4, v.length))}
                          title={v}
                          data-testid={`stimuli-cell-${i}-${j}`}
                          onChange={(e) => {
                            const t = (e.target as HTMLInputElement).value;
                            if (t !== v) setCell(i, j, t);
                          }}
                        />
                        {here.map((p, k) => (
                          <div class="error cell-problem" key={k} data-testid={`stimuli-problem-${i}-${j}`}>
                            {p.where}: {p.message}
                          </div>
                        ))}
                      </td>
                    );
                  })}
                  <td>
                    <button
                      type="button"
                      title={`remove row ${i + 1}`}
                      data-testid={`stimuli-remove-row-${i}`}
                      onClick={() => removeRow(i)}
                    >
                      ×
                    </button>
                  </td>
                </tr>
              );
            })}
            <tr>
              <td colSpan={width + 2}>
                <button type="button" onClick={addRow} data-testid="stimuli-add-row">
                  + row
                </button>
              </td>
            </tr>
          </tbody>
        </table>
      </div>
    </div>
  );
}
