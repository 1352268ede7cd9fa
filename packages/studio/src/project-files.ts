/**
 * Study files of the project folder: listed, read and written only inside it. A path that leaves
 * the folder (`..`, an absolute path, a symbolic link pointing out) is refused.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { HttpError } from "./http-errors.js";

const STUDY_EXTENSIONS = new Set([".yaml", ".yml", ".json"]);
/** Stimulus lists a study may name (silico reads .csv, .tsv, .txt as CSV, and .xlsx). */
export const TABLE_EXTENSIONS = new Set([".csv", ".tsv", ".txt", ".xlsx"]);
const SKIP = new Set(["node_modules", ".git", "dist", "web-dist"]);
const MAX_FILE = 5 * 1024 * 1024;

function inside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

export class ProjectFiles {
  readonly root: string;
  constructor(root: string) {
    this.root = realpathSync(resolve(root));
  }

  /** The absolute path of a project-relative study file path, confined to the folder. */
  resolve(path: string, extensions: Set<string> = STUDY_EXTENSIONS): string {
    if (typeof path !== "string" || path.trim() === "") throw new HttpError(400, "a file path is needed");
    if (isAbsolute(path) || path.includes("\0"))
      throw new HttpError(403, `"${path}" is not a path inside the project folder`);
    const full = resolve(this.root, path);
    if (!inside(this.root, full)) throw new HttpError(403, `"${path}" is outside the project folder`);
    if (!extensions.has(extname(full).toLowerCase()))
      throw new HttpError(
        400,
        extensions === STUDY_EXTENSIONS
          ? `"${path}": study files end in .yaml, .yml or .json`
          : `"${path}": stimulus files end in ${[...extensions].join(", ")}`,
      );
    // The nearest existing ancestor, with links resolved, must still be inside.
    let probe = full;
    while (!existsSync(probe)) probe = dirname(probe);
    if (!inside(this.root, realpathSync(probe)))
      throw new HttpError(403, `"${path}" is outside the project folder`);
    return full;
  }

  /** Study files (yaml, yml, json) up to three folders deep, project-relative, sorted. */
  list(): string[] {
    const out: string[] = [];
    const walk = (dir: string, depth: number) => {
      let entries: import("node:fs").Dirent[];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (e.name.startsWith(".") || SKIP.has(e.name)) continue;
        const p = join(dir, e.name);
        if (e.isDirectory() && depth < 3) walk(p, depth + 1);
        else if (
          e.isFile() &&
          STUDY_EXTENSIONS.has(extname(e.name).toLowerCase()) &&
          e.name !== "package.json" &&
          !e.name.endsWith("-lock.json") &&
          !e.name.startsWith("tsconfig")
        )
          out.push(relative(this.root, p).split(sep).join("/"));
        if (out.length >= 2000) return;
      }
    };
    walk(this.root, 0);
    return out.sort();
  }

  /** The project-relative form of an absolute path inside the folder. */
  relative(full: string): string {
    return relative(this.root, full).split(sep).join("/");
  }

  read(path: string): string {
    const full = this.resolve(path);
    if (!existsSync(full)) throw new HttpError(404, `no file "${path}" in the project folder`);
    const text = readFileSync(full, "utf8");
    if (text.length > MAX_FILE) throw new HttpError(413, `"${path}" is larger than 5 MB`);
    return text;
  }

  write(path: string, text: string): string {
    if (typeof text !== "string") throw new HttpError(400, "the file text is missing");
    if (text.length > MAX_FILE) throw new HttpError(413, "a study file is at most 5 MB");
    const full = this.resolve(path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, text);
    return relative(this.root, full).split(sep).join("/");
  }
}
