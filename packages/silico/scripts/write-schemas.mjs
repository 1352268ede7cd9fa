// Writes schemas/<kind>.schema.json from the zod schemas of the built package (run after tsc).
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { studyJsonSchemas } from "../dist/designs/json-schemas.js";

const dir = join(import.meta.dirname, "..", "schemas");
for (const [kind, schema] of Object.entries(studyJsonSchemas())) {
  const file = join(dir, `${kind}.schema.json`);
  writeFileSync(file, `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`wrote ${file}`);
}
// Format as the repository does (biome keeps short arrays on one line), so lint stays clean.
const fmt = spawnSync("npx", ["biome", "format", "--write", dir], { stdio: "inherit" });
if (fmt.status !== 0) process.exit(fmt.status ?? 1);
