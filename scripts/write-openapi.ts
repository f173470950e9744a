// npm run openapi: regenerates openapi/openapi.json from the routes.
// Commit the result; test/openapi.test.ts fails while it is stale.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { generateOpenApiDocument, OPENAPI_PATH } from "./openapi-document.ts";

async function main() {
  const document = await generateOpenApiDocument();
  await mkdir(path.dirname(OPENAPI_PATH), { recursive: true });
  await writeFile(OPENAPI_PATH, document);
  process.stdout.write(`wrote ${path.relative(process.cwd(), OPENAPI_PATH)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`openapi generation failed: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
});
