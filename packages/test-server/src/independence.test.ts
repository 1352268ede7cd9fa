/**
 * The test server stands in for a real provider, so it must not depend on silico or any other
 * package: only Node built-ins (and vitest in its own tests). See README.md, "Contributing".
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = dirname(fileURLToPath(import.meta.url));

describe("@silico/test-server", () => {
  it("imports only Node built-ins and its own modules", () => {
    const outside: string[] = [];
    const files = readdirSync(SRC).filter((f) => f.endsWith(".ts"));
    for (const file of files) {
      const text = readFileSync(join(SRC, file), "utf8");
      for (const m of text.matchAll(/^\s*(?:import|export)[^"']*?from\s+["']([^"']+)["']/gm)) {
        const spec = m[1] as string;
        const ok =
          spec.startsWith("./") ||
          spec.startsWith("node:") ||
          (file.endsWith(".test.ts") && spec === "vitest");
        if (!ok) outside.push(`${file}: ${spec}`);
      }
    }
    expect(files.length).toBeGreaterThan(3);
    expect(outside).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(SRC, "..", "package.json"), "utf8")) as Record<string, unknown>;
    expect(pkg.dependencies).toBeUndefined();
  });
});
