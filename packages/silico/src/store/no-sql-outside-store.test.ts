import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

// The store schema is a contract read through RunReader: library, CLI and export code hold no
// SQL and no connection of their own. Tests may check rows through store/test-sql.ts.

const src = join(import.meta.dirname, "..");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith(".ts") ? [path] : [];
  });
}

const outside = sourceFiles(src)
  .map((f) => relative(src, f))
  .filter((f) => !f.startsWith("store/") && !f.endsWith(".test.ts") && !f.startsWith("test-support/"));

const SQL =
  /\b(SELECT\s+(DISTINCT\s+)?[\w*(]|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX))/;

describe("no SQL outside store/", () => {
  it("finds the library's source files", () => {
    expect(outside).toContain("export/tidy-rows.ts");
    expect(outside).toContain("api/factorial.ts");
  });

  it.each(outside)("%s holds no SQL and opens no connection", (file) => {
    const text = readFileSync(join(src, file), "utf8");
    expect(text).not.toMatch(/from "better-sqlite3"/);
    expect(text).not.toMatch(/store\/(connection|test-sql)\.js"/);
    expect(text).not.toMatch(/\.db\.prepare\(|store\.db\b/);
    expect(text.match(SQL)?.[0]).toBeUndefined();
  });

  it("the pattern does catch SQL", () => {
    expect("SELECT key FROM sessions").toMatch(SQL);
    expect("SELECT DISTINCT name FROM observations").toMatch(SQL);
    expect("INSERT OR REPLACE INTO participants").toMatch(SQL);
  });
});
