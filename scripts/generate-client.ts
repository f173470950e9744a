// npm run client:generate: regenerates clients/typescript/src/schema.ts from
// openapi/openapi.json. Commit the result; test/contract/client.test.ts fails while it is stale.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { CLIENT_SCHEMA_PATH, generateClientSchema } from "./client-generation.ts";

async function main() {
  await writeFile(CLIENT_SCHEMA_PATH, await generateClientSchema());
  process.stdout.write(`wrote ${path.relative(process.cwd(), CLIENT_SCHEMA_PATH)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`client generation failed: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
});
