// The OpenAPI document is generated from the routes, never written by hand
// (design/STYLE.md: "the OpenAPI contract written twice" is what to avoid).
// `npm run openapi` and the drift test both call this one function, so the
// committed file and the test can only disagree when the routes changed.
import { fileURLToPath } from "node:url";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";

export const OPENAPI_PATH = fileURLToPath(new URL("../openapi/openapi.json", import.meta.url));

/**
 * An empty environment, not process.env: the document (its server URL is the
 * ISSUER default, for one) must come out the same on every machine.
 */
function documentConfig() {
  return loadConfig({}, { DATA_DIR: "memory://", LOG_LEVEL: "silent", MIGRATE_ON_START: true });
}

/** The document as committed: key order as produced, 2-space indent, trailing newline. */
export async function generateOpenApiDocument(): Promise<string> {
  const app = await buildApp({ config: documentConfig() });
  try {
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
  }
}
