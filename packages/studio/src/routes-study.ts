/** Builder routes: compile (problems), preview, dry-run estimate, and the project's study files. */
import { Hono } from "hono";
import { pricedModels } from "silico";
import { HttpError } from "./http-errors.js";
import { checkWithModels } from "./model-override.js";
import { check, estimate, outlineOfText, preview, scopeOf } from "./preview.js";
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
      scope: scopeOf(r.study.source.data),
    });
  });

  app.post("/study/preview", async (c) => {
    const b = await body(c);
    const { text, full } = studyOf(files, b);
    // With models chosen for the run, the preview shows who would receive what.
    const { result: r } = checkWithModels(text, full, b);
    if (!r.ok) return c.json({ ok: false, problems: r.problems, outline: outlineOfText(text) });
    const coords =
      typeof b.coords === "object" && b.coords !== null
        ? Object.fromEntries(Object.entries(b.coords).map(([k, v]) => [k, String(v)]))
        : undefined;
    const index = typeof b.index === "number" && Number.isInteger(b.index) ? b.index : undefined;
    const p = await preview(r.study, {
      ...(index !== undefined ? { index } : {}),
      ...(coords ? { coords } : {}),
    });
    return c.json({
      ok: true,
      problems: [],
      preview: p,
      scope: scopeOf(r.study.source.data),
      outline: outlineOfText(text),
    });
  });

  app.post("/study/estimate", async (c) => {
    const b = await body(c);
    const { text, full } = studyOf(files, b);
    const { result: r } = checkWithModels(text, full, b);
    if (!r.ok) return c.json({ ok: false, problems: r.problems });
    return c.json({ ok: true, problems: [], models: r.study.models, estimate: await estimate(r.study) });
  });

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
