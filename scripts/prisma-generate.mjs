// Runs `prisma generate` without the native schema engine. Prisma 7's CLI only
// checks that PRISMA_SCHEMA_ENGINE_BINARY points at an existing file before it
// generates the client; it never executes it for `generate`, so any existing
// path avoids the download this network cannot reach (design/PRISMA-OFFLINE.md).
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const cli = require.resolve("prisma/build/index.js");
const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath };
const result = spawnSync(process.execPath, [cli, "generate", "--schema", "prisma/schema.prisma"], { stdio: "inherit", env });
process.exit(result.status ?? 1);
