// The typed client's types (clients/typescript/src/schema.ts) are generated from
// the committed document; like the document itself, they must never drift.
import t from "tap";
import { readFile } from "node:fs/promises";
import { CLIENT_SCHEMA_PATH, generateClientSchema } from "../../scripts/client-generation.ts";

t.test("the typed client's types match the committed OpenAPI document", async (t) => {
  const committed = await readFile(CLIENT_SCHEMA_PATH, "utf8").catch(() => "(missing)");
  const generated = await generateClientSchema();
  if (committed === generated) return t.pass("clients/typescript/src/schema.ts matches openapi/openapi.json");
  const line = committed.split("\n").findIndex((text, i) => text !== generated.split("\n")[i]);
  t.fail(`clients/typescript/src/schema.ts is stale (first difference at line ${line + 1}): run \`npm run client:generate\` and commit the result`);
});
