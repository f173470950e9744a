// After `npm install`: generate the Prisma client (without the native engine)
// and the common-password filter (src/lib/common-passwords.ts says why), then,
// where tap is installed (not in a production install), rebuild tap's plugin
// set from package.json so the first `npm test` loads tsx alone, not tap's
// default ts-node plugin beside it.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

function run(command, args) {
  const result = spawnSync(command, args, { stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

run(process.execPath, ["scripts/prisma-generate.mjs"]);
run(process.execPath, ["--import", "tsx", "scripts/build-common-passwords.ts"]);
if (existsSync("node_modules/.bin/tap")) run("node_modules/.bin/tap", ["build"]);
