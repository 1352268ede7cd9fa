import { useEffect, useRef, useState } from "preact/hooks";
import { api, type Problem } from "./api";
import { StudyEditor } from "./editor";
import { choiceBody, type ModelChoice, ModelPicker } from "./model-picker";
import { type JsonSchema, SchemaForm } from "./schema-form";
import { SeatModels } from "./seat-models";
import { type CellProblem, type GridChange, StimuliTable, type StimulusGrid } from "./stimuli-table";
import { type OutlineTable, type StudyEdit, StudyTables } from "./study-tables";
import { TEMPLATES } from "./templates";

interface PreviewData {
  kind: string;
  total: number;
  sessions: { index: number; key: string; coords: Record<string, unknown> }[];
  session: { index: number; key: string; coords: Record<string, unknown> } | null;
  participants: {
    id: string;
    role: string | null;
    model: string;
    turns: {
      turn: string;
      name: string;
      coords: Record<string, unknown>;
      messages: { role: string; content: string }[];
    }[];
  }[];
  stopped: string | null;
  warnings: string[];
  variables?: Record<string, string>;
  humans?: number[];
}

interface Outline {
  kind: string;
  tables: OutlineTable[];
}

const label = (c: Record<string, unknown>) =>
  Object.entries(c)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(", ");

/**
 * The builder: a study file in an editor with Jinja highlighting and completion, its problems
 * inline as you type (the compiler's own, located), and a live preview of the messages each
 * participant of a chosen session receives; save, open, dry-run estimate and run.
 */
export function BuilderPage({ file }: { file: string }) {
  const [path, setPath] = useState(file || "study.yaml");
  const [text, setText] = useState("");
  const [files, setFiles] = useState<string[]>([]);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [scope, setScope] = useState<string[]>([]);
  const [outline, setOutline] = useState<Outline | null>(null);
  const [preview, setPreview] = useState<PreviewData | null>(null);
  const [index, setIndex] = useState<number | undefined>(undefined);
  const [round, setRound] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const [estimate, setEstimate] = useState<string[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [known, setKnown] = useState<string[]>([]);
  const [studyModels, setStudyModels] = useState<string[]>([]);
  const [choice, setChoice] = useState<ModelChoice>({ all: "", roles: {} });
  const [schemas, setSchemas] = useState<Record<string, JsonSchema>>({});
  const [data, setData] = useState<Record<string, unknown> | null>(null);
  const [grid, setGrid] = useState<StimulusGrid | null>(null);
  const [gridDirty, setGridDirty] = useState(false);
  const [cellProblems, setCellProblems] = useState<CellProblem[]>([]);
  const [vars, setVars] = useState<Record<string, string>>({});
  const seq = useRef(0);
  const estimateSeq = useRef(0);

  useEffect(() => {
    void api<{ known: string[] }>("/api/models").then((r) => setKnown(r.known));
    void api<Record<string, JsonSchema>>("/api/schemas").then(setSchemas);
  }, []);
  // The stimulus table follows the study's `stimuli:` (unless it holds unsaved edits).
  const stimuliKey = data?.kind === "stimuli" ? JSON.stringify(data.stimuli ?? null) : "";
  useEffect(() => {
    if (stimuliKey === "") {
      setGrid(null);
      return;
    }
    if (gridDirty) return;
    void api<{ grid: StimulusGrid | null }>("/api/study/stimuli", { body: { path, text } })
      .then((r) => setGrid(r.grid))
      .catch(() => setGrid(null));
  }, [stimuliKey, path]);
  // The estimate shown follows the models chosen.
  useEffect(() => {
    if (estimate !== null) void dryRun();
  }, [choice]);

  const loadFiles = () => api<{ files: string[] }>("/api/files").then((r) => setFiles(r.files));
  useEffect(() => {
    void loadFiles();
    if (file) void open(file);
  }, []);

  // Problems and preview follow the text, 300 ms after the last keystroke; late answers are dropped.
  useEffect(() => {
    if (text.trim() === "") {
      setProblems([]);
      setPreview(null);
      return;
    }
    const mine = ++seq.current;
    const chosen = choiceBody(choice);
    const t = setTimeout(() => {
      api<{
        ok: boolean;
        problems: Problem[];
        preview?: PreviewData;
        scope?: string[];
        outline?: Outline;
        data?: Record<string, unknown> | null;
        stimuliProblems?: CellProblem[];
      }>("/api/study/preview", {
        body: {
          path,
          text,
          ...(index !== undefined ? { index } : {}),
          ...chosen,
          ...(Object.keys(vars).length > 0 ? { vars } : {}),
          ...(gridDirty && grid?.source === "file"
            ? { stimuli: { header: grid.header, rows: grid.rows } }
            : {}),
        },
      })
        .then((r) => {
          if (mine !== seq.current) return;
          setProblems(r.problems);
          if (r.preview) {
            setPreview(r.preview);
            // The study's own models (the placeholder) only from a preview without a choice.
            if (Object.keys(chosen).length === 0)
              setStudyModels([...new Set(r.preview.participants.map((p) => p.model))]);
          }
          if (r.scope) setScope(r.scope);
          setOutline(r.outline ?? null);
          setData(r.data ?? null);
          setCellProblems(r.stimuliProblems ?? []);
        })
        .catch((e: Error) => mine === seq.current && setProblems([{ where: path, message: e.message }]));
    }, 300);
    return () => clearTimeout(t);
  }, [text, path, index, choice, vars, grid, gridDirty]);

  async function open(p: string) {
    try {
      const r = await api<{ text: string }>(`/api/file?path=${encodeURIComponent(p)}`);
      setPath(p);
      setText(r.text);
      setIndex(undefined);
      setGridDirty(false);
      setVars({});
      setMessage(`opened ${p}`);
    } catch (e) {
      setMessage((e as Error).message);
    }
  }

  // The edited stimulus table into its file, in its own format.
  async function saveTable(): Promise<boolean> {
    if (grid?.source !== "file") return true;
    try {
      const r = await api<{ grid: StimulusGrid }>("/api/stimuli", {
        method: "PUT",
        body: { path, text, stimuli: { header: grid.header, rows: grid.rows } },
      });
      setGrid(r.grid);
      setGridDirty(false);
      setMessage(`saved ${r.grid.path ?? r.grid.file}`);
      return true;
    } catch (e) {
      setMessage((e as Error).message);
      return false;
    }
  }

  function changeGrid(c: GridChange) {
    setGrid(c.grid);
    if (c.edits) {
      if (c.edits.length > 0) void edit(c.edits);
    } else setGridDirty(true);
  }

  async function save(): Promise<boolean> {
    try {
      const r = await api<{ path: string }>("/api/file", { method: "PUT", body: { path, text } });
      if (gridDirty && !(await saveTable())) return false;
      setMessage(`saved ${r.path}${gridDirty && grid ? ` and ${grid.path ?? grid.file}` : ""}`);
      void loadFiles();
      return true;
    } catch (e) {
      setMessage((e as Error).message);
      return false;
    }
  }

  async function dryRun() {
    const mine = ++estimateSeq.current;
    try {
      const r = await api<{ ok: boolean; problems: Problem[]; estimate?: { lines: string[] } }>(
        "/api/study/estimate",
        {
          body: {
            path,
            text,
            ...choiceBody(choice),
            ...(gridDirty && grid?.source === "file"
              ? { stimuli: { header: grid.header, rows: grid.rows } }
              : {}),
          },
        },
      );
      if (mine !== estimateSeq.current) return; // a later estimate is on its way
      setProblems(r.problems);
      setEstimate(r.estimate?.lines ?? null);
    } catch (e) {
      setEstimate([(e as Error).message]);
    }
  }

  // A table edit: made on the text by the server (comments and order kept); the text then drives
  // the problems and the preview as typing does.
  async function edit(edits: StudyEdit[]) {
    try {
      const r = await api<{ text: string; outline: Outline | null; data: Record<string, unknown> | null }>(
        "/api/study/edit",
        { body: { path, text, edits } },
      );
      setText(r.text);
      if (r.outline) setOutline(r.outline);
      if (r.data) setData(r.data);
    } catch (e) {
      setMessage((e as Error).message);
    }
  }

  async function start() {
    setBusy(true);
    try {
      if (!(await save())) return;
      const r = await api<{ ok: boolean; runId?: string; problems: Problem[] }>("/api/run", {
        body: { path, text, ...choiceBody(choice) },
      });
      if (!r.ok || !r.runId) {
        setProblems(r.problems ?? []);
        return;
      }
      location.hash = `#/run/${r.runId}`;
    } catch (e) {
      setMessage((e as Error).message);
    } finally {
      setBusy(false);
    }
  }

  function importFile(input: HTMLInputElement) {
    const f = input.files?.[0];
    if (!f) return;
    void f.text().then((t) => {
      setPath(f.name);
      setText(t);
      setIndex(undefined);
      setMessage(`imported ${f.name}`);
    });
    input.value = "";
  }

  function exportFile() {
    const blob = new Blob([text], { type: path.endsWith(".json") ? "application/json" : "text/yaml" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = path.split("/").pop() ?? "study.yaml";
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  // kind: otree: the bot seats (from the preview) with the model the file gives each.
  const bots =
    data?.kind === "otree" && typeof data.bots === "object" && data.bots !== null
      ? (data.bots as Record<string, unknown>)
      : null;
  const seatModel = (n: number): string => {
    const entry = (
      Array.isArray(bots?.seats) ? (bots.seats as { seats?: unknown; model?: unknown }[]) : []
    ).find((e) => Array.isArray(e?.seats) && e.seats.includes(n) && typeof e.model === "string");
    return String(entry?.model ?? bots?.model ?? "");
  };
  const botSeats: [string, string, string][] = bots
    ? (preview?.participants ?? [])
        .map((p) => Number(p.id.replace(/^seat /, "")))
        .filter((n) => Number.isInteger(n))
        .map((n) => [String(n), seatModel(n), `seat ${n}`])
    : [];

  const rounds = [
    ...new Set(
      preview?.participants.flatMap((p) => p.turns.map((t) => t.coords.round)).filter((r) => r !== undefined),
    ),
  ];

  return (
    <section class="builder">
      <div class="toolbar">
        <label>
          file{" "}
          <input
            value={path}
            onInput={(e) => setPath((e.target as HTMLInputElement).value)}
            data-testid="path"
            size={28}
          />
        </label>
        <select
          onChange={(e) =>
            (e.target as HTMLSelectElement).value && open((e.target as HTMLSelectElement).value)
          }
          value=""
        >
          <option value="">open…</option>
          {files.map((f) => (
            <option key={f}>{f}</option>
          ))}
        </select>
        {Object.keys(TEMPLATES).map((k) => (
          <button
            type="button"
            key={k}
            data-testid={`new-${k}`}
            onClick={() => {
              setText(TEMPLATES[k] as string);
              setPath(`${k}.yaml`);
              setIndex(undefined);
              setGridDirty(false);
            }}
          >
            New {k}
          </button>
        ))}
        <button type="button" onClick={save} data-testid="save">
          Save
        </button>
        <button type="button" onClick={dryRun} data-testid="estimate">
          Dry run
        </button>
        <button
          type="button"
          onClick={start}
          disabled={busy || problems.length > 0 || text === ""}
          data-testid="run"
        >
          Run
        </button>
        <label class="button">
          Import built.json
          <input
            type="file"
            accept=".json"
            hidden
            data-testid="import"
            onChange={(e) => importFile(e.target as HTMLInputElement)}
          />
        </label>
        <button type="button" onClick={exportFile} data-testid="export">
          Export
        </button>
        {message ? (
          <span class="message" data-testid="message">
            {message}
          </span>
        ) : null}
      </div>
      {text !== "" && !path.endsWith(".json") ? (
        <ModelPicker
          known={[...new Set([...studyModels, ...known])]}
          roles={
            outline?.kind === "game"
              ? (outline.tables.find((t) => t.title === "roles")?.rows ?? []).map(
                  (r) => [r[0] ?? "", r[2] ?? ""] as [string, string],
                )
              : data?.kind === "agents" && typeof data.agents === "object" && data.agents !== null
                ? Object.entries(data.agents as Record<string, { model?: unknown } | null>).map(
                    ([name, a]) => [name, typeof a?.model === "string" ? a.model : ""] as [string, string],
                  )
                : botSeats
          }
          current={studyModels.join(", ")}
          value={choice}
          onChange={setChoice}
        />
      ) : null}
      {bots && !path.endsWith(".json") ? <SeatModels bots={bots} onEdit={(e) => void edit(e)} /> : null}
      <div class="split">
        <div class="left">
          <StudyEditor value={text} onChange={setText} problems={problems} scope={scope} />
          <ul class="problems" data-testid="problems">
            {problems.map((p, i) => (
              <li key={i} class="error">
                <code>{p.where}</code>: {p.message}
              </li>
            ))}
          </ul>
          {estimate ? <pre data-testid="estimate-text">{estimate.join("\n")}</pre> : null}
          {grid && !path.endsWith(".json") ? (
            <StimuliTable
              grid={grid}
              dirty={gridDirty}
              problems={cellProblems}
              onChange={changeGrid}
              onSave={() => void saveTable()}
            />
          ) : null}
          {outline && outline.tables.length > 0 && !path.endsWith(".json") ? (
            <StudyTables tables={outline.tables} onEdit={(e) => void edit(e)} />
          ) : null}
          {data && typeof data.kind === "string" && schemas[data.kind] && !path.endsWith(".json") ? (
            <details class="form" open data-testid="form-section">
              <summary>
                <b>Form</b> <small>from the {data.kind} schema; each change edits only its own text</small>
              </summary>
              <SchemaForm
                schema={schemas[data.kind] as JsonSchema}
                data={data}
                problems={problems}
                onEdit={(e) => void edit(e)}
              />
            </details>
          ) : null}
        </div>
        <div class="right" data-testid="preview">
          <h2>Preview</h2>
          {preview ? (
            <>
              {preview.variables ? (
                <fieldset class="vars" data-testid="preview-vars">
                  <legend>Example turn variables</legend>
                  {Object.entries(preview.variables).map(([k, v]) => (
                    <label key={k}>
                      {k}{" "}
                      <input
                        key={`${k}-${v}`}
                        defaultValue={v}
                        size={Math.min(30, Math.max(6, v.length))}
                        data-testid={`var-${k}`}
                        onChange={(e) => setVars({ ...vars, [k]: (e.target as HTMLInputElement).value })}
                      />{" "}
                    </label>
                  ))}
                </fieldset>
              ) : null}
              {preview.humans && preview.humans.length > 0 ? (
                <p data-testid="preview-humans">human seats: {preview.humans.join(", ")}</p>
              ) : null}
              {preview.warnings.map((w, i) => (
                <p class="note" key={i}>
                  {w}
                </p>
              ))}
              <p class="controls" hidden={preview.sessions.length === 0}>
                <select
                  value={preview.session ? String(preview.session.index) : ""}
                  onChange={(e) => setIndex(Number((e.target as HTMLSelectElement).value))}
                  data-testid="preview-session"
                >
                  {preview.sessions.map((s) => (
                    <option key={s.index} value={String(s.index)}>
                      {s.index + 1}: {label(s.coords)}
                    </option>
                  ))}
                </select>{" "}
                {rounds.length > 1 ? (
                  <select value={round} onChange={(e) => setRound((e.target as HTMLSelectElement).value)}>
                    <option value="">all rounds</option>
                    {rounds.map((r) => (
                      <option key={String(r)} value={String(r)}>
                        round {String(r)}
                      </option>
                    ))}
                  </select>
                ) : null}{" "}
                {preview.total} sessions
              </p>
              {preview.stopped ? <p class="warning">{preview.stopped}</p> : null}
              <div class="columns">
                {preview.participants.map((p) => (
                  <div class="chat" key={p.id} data-testid={`preview-${p.id}`}>
                    <h3>
                      {p.id} <small data-testid={`preview-model-${p.id}`}>{p.model}</small>
                    </h3>
                    {p.turns
                      .filter((t) => round === "" || String(t.coords.round) === round)
                      .flatMap((t) =>
                        t.messages.map((m, i) => (
                          <div class={`bubble ${m.role}`} key={`${t.turn}-${i}`}>
                            <div class="who">
                              {m.role} {m.role === "user" ? <small>{t.turn}</small> : null}
                            </div>
                            <div class="text">{m.content}</div>
                          </div>
                        )),
                      )}
                  </div>
                ))}
              </div>
            </>
          ) : (
            <p>Write or open a study: the messages each participant receives appear here.</p>
          )}
        </div>
      </div>
    </section>
  );
}
