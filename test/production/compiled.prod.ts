// The production build (npm run build → dist/, what npm start and the Dockerfile run): the
// compiled service starts on the embedded PGlite default, its migrations applied through the
// Wasm schema engine from dist, the generated Prisma client and the common-password filter
// found beside the code; the compiled CLI makes an API key and checks the migrations; and
// nothing in dist/ needs tsx or TypeScript at run time.
import t from "tap";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createApiKeyByCli, ROOT, runCli, sharedKeys, startInstance } from "../helpers/instances.ts";
import { createPerson, session } from "../helpers/http-flows.ts";

const run = promisify(execFile);

await run(process.execPath, ["scripts/build.mjs"], { cwd: ROOT });
const dataDir = await mkdtemp(path.join(os.tmpdir(), "compiled-"));
t.teardown(() => rm(dataDir, { recursive: true, force: true }));
const env = { DATA_DIR: dataDir, ...(await sharedKeys()) };

t.test("no compiled module imports tsx, typescript or a .ts file", async (t) => {
  const files = (await readdir(path.join(ROOT, "dist"), { recursive: true })).filter((f) => f.endsWith(".js"));
  t.ok(files.includes("server.js") && files.includes("cli.js"), `${files.length} modules, server.js and cli.js among them`);
  const offenders: string[] = [];
  for (const file of files) {
    const text = await readFile(path.join(ROOT, "dist", file), "utf8");
    if (/from ["'](tsx|typescript)["']|import\(["'](tsx|typescript)["']\)|from ["'][^"']+\.ts["']/.test(text)) offenders.push(file);
  }
  t.same(offenders, [], "every relative import was rewritten to .js");
});

t.test("the compiled CLI migrates a fresh embedded database and makes an API key; the compiled service signs a person in", async (t) => {
  const apiKey = await createApiKeyByCli(env, ["users:write"], "dist");
  t.match(apiKey, /^isk_/, "API key from node dist/cli.js");
  const started = performance.now();
  const instance = await startInstance({ entry: "dist", env });
  t.teardown(() => instance.stop("SIGKILL"));
  t.comment(`node dist/server.js ready in ${Math.round(performance.now() - started)} ms (an applied schema: the Wasm engine is not loaded)`);
  const person = await createPerson(instance.baseUrl, apiKey);
  const tokens = await session(instance.baseUrl, person.email);
  t.ok(tokens.accessToken, "signed in through the compiled service");
  t.same(await instance.stop("SIGTERM"), { code: 0, signal: null }, "and it drains and exits 0 on SIGTERM");
});

t.test("the compiled CLI checks the migrations against schema.prisma", async (t) => {
  const out = await runCli({}, ["migrate", "check"], "dist");
  t.match(out, /agree/, out.trim());
});
