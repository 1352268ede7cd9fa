// Writes schemas/<kind>.schema.json from the zod schemas of the built package (run after tsc).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { studyJsonSchemas } from "../dist/designs/json-schemas.js";

const dir = join(import.meta.dirname, "..", "schemas");
for (const [kind, schema] of Object.entries(studyJsonSchemas())) {
  const file = join(dir, `${kind}.schema.json`);
  writeFileSync(file, `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`wrote ${file}`);
}
