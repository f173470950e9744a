// npm run bench [-- --database pglite|postgres] [--baseline DIR] [--help]
// Measures the machine's ceilings (raw argon2id verify/s, a bare Fastify JSON route, a bare Fastify
// route doing one query) and then the service's hot routes, each target (this checkout, and with
// --baseline another checkout with its own node_modules) on a fresh database seeded through its
// own code (bench/seed.ts) and started as its own process. Prints a table, writes
// bench/results-<database>.json and the generated block of bench/RESULTS.md.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { loadConfig } from "../src/config.ts";
import { createPasswordHasher, defaultHashConcurrency } from "../src/lib/passwords.ts";
import { runLoad, type LoadFigures } from "./load.ts";
import { childEnvironment, freePort, settle, startNode, waitReady, watch } from "./procs.ts";
import { preparePush, PUSH_PEOPLE, runPush } from "./push.ts";
import { scenarios, type Target } from "./scenarios.ts";
import type { Seeded, SeedSpec } from "./seed.ts";

const BENCH_DIR = import.meta.dirname;
const ROOT = path.resolve(BENCH_DIR, "..");
const PUSH = `push-round-trip-c${PUSH_PEOPLE}`;
const PASSWORD = "bench correct horse battery staple";
/** Second steps per second the default pool is sized for; each user can pass about 4 in the run (steps T − 1..T + 1, then one per new step). */
const MFA_RATE = { postgres: 1000, pglite: 400 };
const USAGE = `npm run bench -- [options]
  --database pglite|postgres  the service's database (default postgres: BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres)
  --duration SECONDS          measured seconds per run (default 10)
  --runs N                    runs per scenario and ceiling; the median by ok/s is reported (default 3)
  --warmup SECONDS            uncounted warm-up before a scenario's first run (default 2)
  --connections N             autocannon connections (default 50)
  --mfa-users N               users seeded with TOTP, 4 MFA tokens each: the second step's pool (default: enough for
                              ${MFA_RATE.postgres} ok/s on postgres, ${MFA_RATE.pglite} on pglite, over the warm-up and every run)
  --baseline DIR              also measure the service in checkout DIR (its own node_modules), in the same run
  --only a,b                  only these: ${[...scenarios.map((s) => s.name), PUSH].join(", ")} (${PUSH} runs only when named)
Without --only it rewrites bench/results-<database>.json and its block in bench/RESULTS.md.`;

const { values: argv } = parseArgs({
  options: {
    database: { type: "string", default: "postgres" }, duration: { type: "string", default: "10" }, runs: { type: "string", default: "3" },
    warmup: { type: "string", default: "2" }, connections: { type: "string", default: "50" }, "mfa-users": { type: "string" },
    baseline: { type: "string" }, only: { type: "string" }, help: { type: "boolean", default: false },
  },
});
const count = (name: keyof typeof argv, min: number) => {
  const n = Number(argv[name]);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} takes a whole number ≥ ${min}`);
  return n;
};
const database = argv.database as keyof typeof MFA_RATE;
if (!(database in MFA_RATE)) throw new Error("--database takes pglite or postgres");
const options = {
  database, seconds: count("duration", 1), runs: count("runs", 1), warmup: count("warmup", 0), connections: count("connections", 1),
  mfaUsers: 0, baseline: argv.baseline ? path.resolve(argv.baseline) : undefined,
  only: argv.only?.split(",").map((s) => s.trim()).filter(Boolean) ?? [],
};
options.mfaUsers = argv["mfa-users"] === undefined
  ? Math.ceil((MFA_RATE[options.database] * (options.warmup + options.runs * options.seconds)) / 4)
  : count("mfa-users", 1);
const unknown = options.only.filter((name) => name !== PUSH && !scenarios.some((s) => s.name === name));
if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(", ")}`);
const selected = scenarios.filter((s) => options.only.length === 0 || options.only.includes(s.name));
const withPush = options.only.includes(PUSH);
const log = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
const loadavg = async () => (await readFile("/proc/loadavg", "utf8")).split(" ").slice(0, 3).join(" ");

type Run = LoadFigures & { peakRssMiB: number; mainThreadBusy: number };
type Row = Run & { scenario: string; ofCeiling?: number; ofJson?: number; notes: string[] };
/** The run with the median ok/s (the lower middle for an even count), with the highest peak RSS of all runs. */
function median(runs: Run[]): Run & { okPerSecondRuns: number[] } {
  const sorted = [...runs].sort((a, b) => a.okPerSecond - b.okPerSecond);
  return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, peakRssMiB: Math.max(...runs.map((r) => r.peakRssMiB)), okPerSecondRuns: runs.map((r) => round(r.okPerSecond)) };
}
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** What to undo when the run is interrupted: child processes to stop, databases to drop. */
const cleanups = new Set<() => Promise<unknown>>();
const undo = <T extends () => Promise<unknown>>(fn: T): T => { cleanups.add(fn); return (() => { cleanups.delete(fn); return fn(); }) as T; };
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    // Last in, first out: processes stop before their database is dropped.
    void [...cleanups].reverse().reduce<Promise<unknown>>((done, fn) => done.then(fn).catch(() => {}), Promise.resolve()).finally(() => process.exit(130));
  });
}

/** A fresh PostgreSQL database, or a temp directory for PGlite; DATA_DIR also holds the development keys. */
async function freshDatabase(label: string) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `identity-bench-${label}-`));
  if (options.database === "pglite") return { dataDir, url: undefined, drop: undo(() => rm(dataDir, { recursive: true, force: true })) };
  const base = process.env.BENCH_DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres";
  const name = `identity_bench_${label.replace(/\W/g, "_")}_${Date.now()}`;
  const admin = async (sql: string) => { const c = new pg.Client(base); await c.connect(); try { await c.query(sql); } finally { await c.end(); } };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return { dataDir, url: url.toString(), drop: undo(async () => { await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); await rm(dataDir, { recursive: true, force: true }); }) };
}

/** Repeats an autocannon load on `pid`: an uncounted warm-up, then `options.runs` measured runs. */
async function repeat(pid: number, load: (seconds: number) => Promise<LoadFigures>, warmup = options.warmup) {
  if (warmup > 0) { await load(warmup); await settle(pid); }
  const runs: Run[] = [];
  for (let i = 0; i < options.runs; i++) {
    const { value, ...usage } = await watch(pid, () => load(options.seconds));
    runs.push({ ...value, ...usage });
    await settle(pid);
  }
  return median(runs);
}

/** argon2id verify at the service's parameters, in this process, on as many threads as the service's hashing pool. */
async function argon2Ceiling() {
  const config = loadConfig(childEnvironment({}));
  const parallel = defaultHashConcurrency();
  const hasher = createPasswordHasher({ memoryCost: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST, parallelism: config.ARGON2_PARALLELISM }, { maxConcurrent: parallel });
  const hash = await hasher.hash(PASSWORD);
  return repeat(process.pid, async (seconds) => {
    const end = performance.now() + seconds * 1000;
    const latencies: number[] = [];
    await Promise.all(Array.from({ length: parallel }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        if (!(await hasher.verify(hash, PASSWORD))) throw new Error("argon2 verify refused the right password");
        latencies.push(performance.now() - t0);
      }
    }));
    latencies.sort((a, b) => a - b);
    const at = (p: number) => latencies[Math.floor(p * (latencies.length - 1))] ?? 0;
    return { ok: latencies.length, okPerSecond: latencies.length / seconds, answers: latencies.length, statusCodes: {}, errors: 0, timeouts: 0, p50Ms: at(0.5), p99Ms: at(0.99), notOkSamples: [] };
  }, 1);
}

/** The bare Fastify routes (bench/ceiling-server.ts) on the run's database kind. */
async function httpCeilings() {
  const database = await freshDatabase("ceiling");
  const port = await freePort();
  const server = startNode(ROOT, [path.join(BENCH_DIR, "ceiling-server.ts")], childEnvironment({ PORT: String(port), DATA_DIR: database.dataDir, ...(database.url ? { DATABASE_URL: database.url } : {}) }));
  const stop = undo(() => server.stop());
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitReady(server, `${baseUrl}/json`);
    const bare = (route: string) => (seconds: number) => runLoad({ baseUrl, connections: options.connections, seconds, method: "GET", path: route, ok: (b) => b === '{"ok":true}' });
    const json = await repeat(server.pid, bare("/json"));
    await fetch(`${baseUrl}/stats`);
    const query = await repeat(server.pid, bare("/query"));
    const stats = (await (await fetch(`${baseUrl}/stats`)).json()) as Record<string, unknown>;
    return { json, query, queryServer: stats };
  } finally {
    await stop();
    await database.drop();
  }
}

/** One checkout: fresh database, seeded with its own code, its server as its own process, every selected scenario. */
async function measureTarget(label: string, root: string, ceilings: Awaited<ReturnType<typeof ceilingsFor>>) {
  const database = await freshDatabase(label);
  const port = await freePort();
  const env = childEnvironment({
    MODE: "development", LOG_LEVEL: "warn", DATA_DIR: database.dataDir, ...(database.url ? { DATABASE_URL: database.url } : {}),
    // Every request comes from 127.0.0.1: the per-address sign-in limit is lifted (to config's maximum), as in the issue's run.
    LOGIN_RATE_PER_IP: "1000000",
    // The seeded MFA tokens must outlive the scenarios before the second step's last run.
    MFA_TOKEN_TTL_SECONDS: "1800",
  });
  const seedFile = path.join(database.dataDir, "seeded.json");
  const spec: SeedSpec = { plainUsers: 2 * options.connections + (withPush ? PUSH_PEOPLE : 0), mfaUsers: selected.some((s) => s.name === "mfa-verify") ? options.mfaUsers : 0, tokensPerUser: 4, password: PASSWORD };
  try {
    log(`${label}: seeding ${spec.plainUsers} users and ${spec.mfaUsers} with TOTP through ${root}'s repositories`);
    const seeder = startNode(root, [path.join(BENCH_DIR, "seed.ts"), root, JSON.stringify(spec), seedFile], env);
    const stopSeeder = undo(() => seeder.stop());
    const exitCode = await seeder.done;
    await stopSeeder();
    if (exitCode !== 0) throw new Error(`seeding failed:\n${seeder.output()}`);
    const seeded = JSON.parse(await readFile(seedFile, "utf8")) as Seeded;
    log(`${label}: seeded in ${seeded.seconds.toFixed(1)} s; starting ${root}/src/server.ts on port ${port}`);
    const server = startNode(root, ["src/server.ts"], { ...env, HOST: "127.0.0.1", PORT: String(port) });
    const stop = undo(() => server.stop());
    const baseUrl = `http://127.0.0.1:${port}`;
    const results: Row[] = [];
    try {
      await waitReady(server, `${baseUrl}/health/ready`);
      const accessTokens = await Promise.all(seeded.plain.slice(0, 16).map(async (email) => {
        const res = await fetch(`${baseUrl}/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password: PASSWORD }) });
        return String(((await res.json()) as { accessToken?: string }).accessToken);
      }));
      const target: Target = { baseUrl, seeded: { ...seeded, plain: seeded.plain.slice(0, 2 * options.connections) }, password: PASSWORD, accessTokens };
      for (const scenario of selected) {
        const { notes, ...spec } = scenario.load(target);
        const figures = await repeat(server.pid, (seconds) => runLoad({ ...spec, baseUrl, connections: options.connections, seconds }));
        const ceiling = scenario.ceiling === "argon2" ? ceilings.argon2 : ceilings.query;
        results.push({ scenario: scenario.name, ...figures, ofCeiling: ceiling ? figures.okPerSecond / ceiling.okPerSecond : undefined,
          ofJson: scenario.ceiling === "query" && ceilings.json ? figures.okPerSecond / ceilings.json.okPerSecond : undefined, notes: notes?.() ?? [] });
        log(`${label} ${scenario.name}: ${figures.okPerSecond.toFixed(1)} ok/s (runs ${figures.okPerSecondRuns.join(", ")}), p99 ${figures.p99Ms} ms${notes ? `; ${notes().join("; ")}` : ""}`);
      }
      if (withPush) {
        log(`${label}: pairing ${PUSH_PEOPLE} phones`);
        const persons = await preparePush(baseUrl, seeded.plain.slice(-PUSH_PEOPLE), PASSWORD);
        const { value, ...usage } = await watch(server.pid, () => runPush(baseUrl, persons));
        results.push({ scenario: PUSH, ...value, ...usage, notes: ["ok/s = approved sign-ins per second; latency = one whole round (4 HTTP requests, 2 JWS by the app)"] });
        log(`${label} ${PUSH}: ${value.okPerSecond.toFixed(1)} ok/s, p50 ${value.p50Ms.toFixed(0)} ms, p99 ${value.p99Ms.toFixed(0)} ms`);
      }
      return { label, root, seedSeconds: seeded.seconds, results, serverLogTail: server.output().slice(-4_000) };
    } finally {
      await stop();
    }
  } finally {
    await database.drop();
  }
}

async function ceilingsFor() {
  const argon2 = selected.some((s) => s.ceiling === "argon2") ? await argon2Ceiling() : undefined;
  if (argon2) log(`ceiling argon2id verify: ${argon2.okPerSecond.toFixed(1)}/s`);
  const http = selected.some((s) => s.ceiling === "query") ? await httpCeilings() : undefined;
  if (http) log(`ceiling fastify json ${http.json.okPerSecond.toFixed(0)}/s, one query ${http.query.okPerSecond.toFixed(0)}/s`);
  return { argon2, json: http?.json, query: http?.query, queryServer: http?.queryServer };
}

type Report = { machine: Record<string, unknown>; options: typeof options; ceilings: Awaited<ReturnType<typeof ceilingsFor>>; targets: Awaited<ReturnType<typeof measureTarget>>[] };

function table(report: Report): string {
  const c = report.ceilings;
  const lines = [
    `Run ${report.machine.startedAt}, ${report.machine.cpus}, Node ${process.version}; /proc/loadavg at start ${report.machine.loadStart}, at end ${report.machine.loadEnd}.`,
    `Database ${options.database}; autocannon on loopback, ${options.connections} connections; ${options.runs} × ${options.seconds} s per row (median by ok/s) after ${options.warmup} s warm-up.`,
    ...(c.argon2 || c.json ? ["", "| ceiling | per s | p50 ms | p99 ms | server main thread busy |", "|---|---:|---:|---:|---:|"] : []),
    ...([["raw argon2id verify (service parameters, one per core)", c.argon2], ["bare Fastify JSON route", c.json], [`bare Fastify route, one ${options.database === "pglite" ? "PGlite" : "PostgreSQL"} query (service's Prisma adapter)`, c.query]] as const)
      .filter(([, r]) => r).map(([name, r]) => `| ${name} | ${round(r!.okPerSecond)} | ${round(r!.p50Ms)} | ${round(r!.p99Ms)} | ${name.startsWith("raw") ? "" : `${Math.round(r!.mainThreadBusy * 100)} %`} |`),
    ...(c.queryServer ? ["", `One query alone, on the ceiling server: ${JSON.stringify(c.queryServer.bareQuery)} (wall and main-thread CPU per query); event-loop delay during the query load: ${JSON.stringify(c.queryServer.eventLoopDelayMs)}.`] : []),
    "", "| checkout | route | ok/s | ÷ its ceiling | ÷ bare JSON | p50 ms | p99 ms | peak RSS MiB | main thread busy | main-thread ms per ok | not ok |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const t of report.targets) {
    for (const r of t.results) {
      const notOk = r.answers - r.ok + r.errors + r.timeouts;
      lines.push(`| ${t.label} | ${r.scenario} | ${round(r.okPerSecond)} | ${r.ofCeiling === undefined ? "" : round(r.ofCeiling, 2)} | ${r.ofJson === undefined ? "" : round(r.ofJson, 3)} | ${round(r.p50Ms)} | ${round(r.p99Ms)} | ${Math.round(r.peakRssMiB)} | ${Math.round(r.mainThreadBusy * 100)} % | ${r.ok ? round((r.mainThreadBusy * 1000) / r.okPerSecond, 2) : ""} | ${notOk} |`);
    }
  }
  return lines.join("\n");
}

async function main() {
  if (argv.help) { process.stdout.write(`${USAGE}\n`); return; }
  const machine: Record<string, unknown> = { startedAt: new Date().toISOString(), cpus: `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}`, loadStart: await loadavg() };
  const ceilings = await ceilingsFor();
  const targets = [];
  if (options.baseline) targets.push(await measureTarget("before", options.baseline, ceilings));
  targets.push(await measureTarget(options.baseline ? "after" : "this", ROOT, ceilings));
  machine.loadEnd = await loadavg();
  const report: Report = { machine, options, ceilings, targets };
  const printed = table(report);
  process.stdout.write(`${printed}\n`);
  if (options.only.length > 0) return;
  await writeFile(path.join(BENCH_DIR, `results-${options.database}.json`), `${JSON.stringify(report, null, 2)}\n`);
  const file = path.join(BENCH_DIR, "RESULTS.md");
  const [open, close] = [`<!-- bench:${options.database} (generated by npm run bench) -->`, `<!-- /bench:${options.database} -->`];
  const text = await readFile(file, "utf8");
  const block = `${open}\n${printed}\n${close}`;
  await writeFile(file, text.includes(open) ? text.slice(0, text.indexOf(open)) + block + text.slice(text.indexOf(close) + close.length) : `${text}\n${block}\n`);
  log(`wrote bench/results-${options.database}.json and its block in bench/RESULTS.md`);
}

main().then(() => process.exit(0), (error: unknown) => { log(`failed: ${(error as Error).stack ?? String(error)}`); process.exit(1); });
