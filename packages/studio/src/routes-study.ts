/** Builder routes: compile (problems), preview, dry-run estimate, and the project's study files. */
import { dirname, resolve } from "node:path";
import { Hono } from "hono";
import { pricedModels, SilicoError, studyJsonSchemas } from "silico";
import { HttpError } from "./http-errors.js";
import { checkWithModels } from "./model-override.js";
import {
  type CheckResult,
  check,
  csvHeader,
  dataOfText,
  estimate,
  outlineOfText,
  preview,
  scopeOf,
} from "./preview.js";
import { TABLE_EXTENSIONS } from "./project-files.js";
import { type CellProblem, gridOf, inlineCells, readGrid, saveGrid, withEditedGrid } from "./stimuli-grid.js";
import { applyStudyEdits, editsOf } from "./study-edit.js";
import type { ProjectFiles } from "./project-files.js";

const FREE_MODELS = ["local:smollm2-135m", "mock:random"];

interface StudyBody {
  text?: unknown;
  path?: unknown;
  index?: unknown;
  coords?: unknown;
  models?: unknown;
  roles?: unknown;
  edits?: unknown;
  vars?: unknown;
  stimuli?: unknown;
}

async function body(c: { req: { json(): Promise<unknown> } }): Promise<StudyBody> {
  let b: unknown;
  try {
    b = await c.req.json();
  } catch {
    throw new HttpError(400, "the request body is not JSON");
  }
  if (typeof b !== "object" || b === null) throw new HttpError(400, "the request body is not a JSON object");
  return b as StudyBody;
}

function studyOf(files: ProjectFiles, b: StudyBody): { text: string; full: string } {
  const path = typeof b.path === "string" && b.path !== "" ? b.path : "study.yaml";
  const full = files.resolve(path);
  if (typeof b.text !== "string") throw new HttpError(400, "the study text is missing");
  return { text: b.text, full };
}

export function studyRoutes(files: ProjectFiles): Hono {
  const app = new Hono();

  // The columns of a CSV the study names (a personas file), read only inside the project folder.
  const columnsNear = (studyFull: string) => (file: string) => {
    try {
      return csvHeader(files.resolve(files.relative(resolve(dirname(studyFull), file)), TABLE_EXTENSIONS));
    } catch {
      return [];
    }
  };

  app.post("/study/check", async (c) => {
    const { text, full } = studyOf(files, await body(c));
    const r = check(text, full);
    if (!r.ok) return c.json({ ok: false, problems: r.problems });
    return c.json({
      ok: true,
      problems: [],
      kind: r.study.kind,
      name: r.study.name ?? null,
      models: r.study.models,
      scope: scopeOf(r.study.source.data, columnsNear(full)),
    });
  });

  // The compiled study behind a preview or estimate: with the models chosen for the run, and
  // against the page's edited (unsaved) stimulus table when one is sent.
  async function compiled<T>(
    b: StudyBody,
    use: (r: CheckResult, text: string) => Promise<T>,
  ): Promise<{ value: T; cells: CellProblem[] }> {
    const { text, full } = studyOf(files, b);
    const path = typeof b.path === "string" && b.path !== "" ? b.path : "study.yaml";
    if (b.stimuli !== undefined && b.stimuli !== null)
      return withEditedGrid(
        files,
        path,
        text,
        gridOf(b.stimuli),
        (pointed, at) => checkWithModels(pointed, at, b).result,
        (r) => use(r, text),
      );
    const r = checkWithModels(text, full, b).result;
    let grid = null;
    try {
      grid = readGrid(files, path, text);
    } catch {
      // A stimulus path outside the project: the compiler's problems say enough.
    }
    return { value: await use(r, text), cells: inlineCells(r, grid) };
  }

  app.post("/study/preview", async (c) => {
    const b = await body(c);
    const vars =
      typeof b.vars === "object" && b.vars !== null && !Array.isArray(b.vars)
        ? Object.fromEntries(Object.entries(b.vars).map(([k, v]) => [k, String(v)]))
        : undefined;
    const coords =
      typeof b.coords === "object" && b.coords !== null
        ? Object.fromEntries(Object.entries(b.coords).map(([k, v]) => [k, String(v)]))
        : undefined;
    const index = typeof b.index === "number" && Number.isInteger(b.index) ? b.index : undefined;
    const { full } = studyOf(files, b);
    const { value, cells } = await compiled(b, async (r, text) => {
      if (!r.ok)
        return {
          ok: false,
          problems: r.problems,
          outline: outlineOfText(text),
          data: dataOfText(text),
          // Completion keeps working while the study has problems: the names as written so far.
          scope: scopeOf(dataOfText(text), columnsNear(full)),
        };
      const p = await preview(r.study, {
        ...(index !== undefined ? { index } : {}),
        ...(coords ? { coords } : {}),
        ...(vars ? { vars } : {}),
      });
      return {
        ok: true,
        problems: [],
        preview: p,
        scope: scopeOf(r.study.source.data, columnsNear(full)),
        outline: outlineOfText(text),
        data: dataOfText(text),
      };
    });
    return c.json({ ...value, stimuliProblems: cells });
  });

  app.post("/study/estimate", async (c) => {
    const b = await body(c);
    const { value } = await compiled(b, async (r) => {
      if (!r.ok) return { ok: false, problems: r.problems };
      try {
        return { ok: true, problems: [], models: r.study.models, estimate: await estimate(r.study) };
      } catch (e) {
        // kind: agents has no plan of its own (silico serve makes it): say so, as the CLI does.
        if (e instanceof SilicoError)
          return { ok: false, problems: [{ where: r.study.source.file, message: e.message }] };
        throw e;
      }
    });
    return c.json(value);
  });

  // The stimulus list of a kind: stimuli study, as a table (null when it names none).
  app.post("/study/stimuli", async (c) => {
    const b = await body(c);
    const { text } = studyOf(files, b);
    return c.json({ grid: readGrid(files, typeof b.path === "string" ? b.path : "study.yaml", text) });
  });

  // Saves an edited stimulus table into the file the study names, in the file's own format.
  app.put("/stimuli", async (c) => {
    const b = await body(c);
    const { text } = studyOf(files, b);
    const path = typeof b.path === "string" && b.path !== "" ? b.path : "study.yaml";
    const grid = await saveGrid(files, path, text, gridOf(b.stimuli));
    return c.json({ grid });
  });

  // The JSON Schema of each study kind, as silico generates it from the schemas that validate
  // them: the builder's forms are drawn from these, so new fields appear without new UI code.
  app.get("/schemas", (c) => c.json(studyJsonSchemas()));

  // An edit from the builder's tables, made on the text (comments and order kept), then compiled.
  app.post("/study/edit", async (c) => {
    const b = await body(c);
    const { text, full } = studyOf(files, b);
    if (/\.json$/i.test(full)) throw new HttpError(400, "a built.json is edited as text");
    const edited = applyStudyEdits(text, editsOf(b.edits));
    const r = check(edited, full);
    return c.json({
      text: edited,
      ok: r.ok,
      problems: r.ok ? [] : r.problems,
      outline: outlineOfText(edited),
      data: dataOfText(edited),
    });
  });

  // Model ids to offer (never a key): the priced ones silico knows, its free ones, and the study's.
  app.get("/models", (c) => c.json({ known: [...pricedModels(), ...FREE_MODELS] }));

  app.get("/files", (c) => c.json({ root: ".", files: files.list() }));

  app.get("/file", (c) => {
    const path = c.req.query("path") ?? "";
    return c.json({ path, text: files.read(path) });
  });

  app.put("/file", async (c) => {
    const b = await body(c);
    if (typeof b.path !== "string") throw new HttpError(400, "a file path is needed");
    if (typeof b.text !== "string") throw new HttpError(400, "the file text is missing");
    return c.json({ path: files.write(b.path, b.text) });
  });

  return app;
}
