// Writes the JSON Schema of every Tributary document to sdk/schemas/*.json (generated, not committed).
import { mkdirSync, writeFileSync } from "node:fs";
import { jsonSchemas } from "../src/schemas/index.ts";

const outDir = new URL("../schemas/", import.meta.url);
mkdirSync(outDir, { recursive: true });
const schemas = jsonSchemas();
for (const [file, schema] of Object.entries(schemas)) {
  writeFileSync(new URL(file, outDir), JSON.stringify(schema, null, 2) + "\n");
}
console.log(`wrote ${Object.keys(schemas).length} JSON Schemas to sdk/schemas/`);
