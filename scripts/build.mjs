// npm run build: compile src/ to dist/ with tsc (tsconfig.build.json), then copy the files
// src/ reads at run time beside its code (the generated common-password filter), so
// `node dist/server.js` finds them where `tsx src/server.ts` does. The migrations and the
// Prisma schema stay under prisma/ (read from the working directory), and the Wasm schema
// engine is resolved from node_modules.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

const STAMP = "dist/.build-stamp";

/** The newest modification time under a directory (src/, the tsconfigs). */
function newestMtime(target) {
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(target).map((entry) => newestMtime(path.join(target, entry))));
}

// --if-stale (npm start's prestart): build only when a source is newer than the last build,
// so a second `npm start` starts at once and a fresh clone still gets its dist/.
if (process.argv.includes("--if-stale") && existsSync(STAMP)) {
  const built = statSync(STAMP).mtimeMs;
  if (["src", "tsconfig.json", "tsconfig.build.json", "package.json"].every((p) => newestMtime(p) <= built)) process.exit(0);
}

rmSync("dist", { recursive: true, force: true });
const tsc = spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

/** Every file under src/ that tsc does not emit (anything but .ts), copied to the same place under dist/. */
function copyAssets(dir) {
  for (const entry of readdirSync(dir)) {
    const source = path.join(dir, entry);
    if (statSync(source).isDirectory()) copyAssets(source);
    else if (!entry.endsWith(".ts")) cpSync(source, path.join("dist", path.relative("src", source)));
  }
}
copyAssets("src");
writeFileSync(STAMP, `${new Date().toISOString()}\n`);
