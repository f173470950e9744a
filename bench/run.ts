// npm run bench [-- --pglite] [--help]
// Starts the service as a child process on a free loopback port (PostgreSQL in a fresh database
// by default, or PGlite), seeds a service client and users, runs every scenario in
// bench/scenarios.ts, and rewrites bench/RESULTS*.md and bench/results*.json.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config.ts";
import { defaultHashConcurrency } from "../src/lib/passwords.ts";
import type { BenchContext, BenchOptions, ScenarioResult, WindowUsage } from "./context.ts";
import { failuresOf } from "./context.ts";
import { generateBenchKeys } from "./mfa.ts";
import { createBenchDatabase, DEFAULT_BENCH_DATABASE_URL, pgliteVersion, postgresVersion, type BenchDatabase } from "./database.ts";
import { computeGoals, computeRatios, renderMarkdown, type BenchReport } from "./report.ts";
import { RATIO_GOAL, scenarios } from "./scenarios.ts";
import { createServiceClient, createUsers } from "./seed.ts";
import { childEnvironment, startServer, type ServerHandle } from "./server.ts";
import { cpuBetween, cpuSnapshot, freePort, machineInfo, memoryOf, RssSampler, waitForQuiet } from "./system.ts";

const HOST = "127.0.0.1";
const SEED_CONCURRENCY = 8;
/** Key material the bench sets itself (fresh keys every run, values never written to the results): --server-env may not override it. */
const BENCH_KEY_VARIABLES = ["SIGNING_KEYS", "SIGNING_KEYS_FILE", "ENCRYPTION_KEYS", "ENCRYPTION_ACTIVE_KEY_ID"];

const USAGE = `npm run bench -- [options]
  --pglite               embedded PGlite instead of PostgreSQL (BENCH_DATABASE_URL, default ${DEFAULT_BENCH_DATABASE_URL})
  --duration SECONDS     measured seconds per scenario (default 10, 1..60)
  --warmup SECONDS       uncounted warm-up per scenario (default 2, 0..10)
  --users N              users to seed (default 200, 16..5000)
  --only a,b             run only these scenarios: ${scenarios.map((s) => s.name).join(", ")}
  --server-env K=V       extra server environment, repeatable (e.g. UV_THREADPOOL_SIZE=8)
  --server-node-arg ARG  extra node flag for the server, repeatable (e.g. --server-node-arg=--cpu-prof)
  --label NAME           write bench/RESULTS-NAME.md and bench/results-NAME.json
  --wait-quiet SECONDS   first wait up to SECONDS for the machine to be < 20 % busy (shared machines; default 0)
Default outputs: bench/RESULTS.md + bench/results.json (PostgreSQL), bench/RESULTS-pglite.md + bench/results-pglite.json (--pglite).`;

function bounded(value: string | undefined, fallback: number, min: number, max: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in ${min}..${max}`);
  return n;
}

function parseOptions(argv: string[]): (BenchOptions & { label: string }) | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      pglite: { type: "boolean", default: false },
      duration: { type: "string" },
      warmup: { type: "string" },
      users: { type: "string" },
      only: { type: "string" },
      "server-env": { type: "string", multiple: true },
      "server-node-arg": { type: "string", multiple: true },
      label: { type: "string" },
      "wait-quiet": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return null;
  const only = (values.only ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((name) => !scenarios.some((s) => s.name === name));
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(", ")}`);
  const serverEnv: Record<string, string> = {};
  for (const pair of values["server-env"] ?? []) {
    const at = pair.indexOf("=");
    if (at < 1) throw new Error(`--server-env takes KEY=VALUE, got ${pair}`);
    const key = pair.slice(0, at);
    if (BENCH_KEY_VARIABLES.includes(key)) throw new Error(`--server-env ${key}: the bench generates the run's keys itself (the MFA scenarios seal TOTP seeds and check device tokens with them)`);
    serverEnv[key] = pair.slice(at + 1);
  }
  const label = values.label ?? (values.pglite ? "pglite" : "");
  if (!/^[a-z0-9-]*$/i.test(label)) throw new Error("--label takes letters, digits and -");
  return {
    database: values.pglite ? "pglite" : "postgresql",
    durationSeconds: bounded(values.duration, 10, 1, 60, "duration"),
    warmupSeconds: bounded(values.warmup, 2, 0, 10, "warmup"),
    users: Math.floor(bounded(values.users, 200, 16, 5000, "users")),
    only,
    serverEnv,
    serverNodeArgs: values["server-node-arg"] ?? [],
    waitQuietSeconds: bounded(values["wait-quiet"], 0, 0, 1800, "wait-quiet"),
    label,
  };
}

const log = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

async function main(argv: string[]): Promise<number> {
  const parsed = parseOptions(argv);
  if (!parsed) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { label, ...options } = parsed;
  const root = path.resolve(import.meta.dirname, "..");
  const outputs = {
    markdown: `bench/RESULTS${label ? `-${label}` : ""}.md`,
    json: `bench/results${label ? `-${label}` : ""}.json`,
  };
  const quietness = options.waitQuietSeconds > 0 ? await waitForQuiet(options.waitQuietSeconds, 0.2, log) : undefined;
  if (quietness) log(`machine ${Math.round(quietness.busy * 100)} % busy after ${quietness.waitedSeconds.toFixed(0)} s${quietness.quiet ? "" : " (not quiet: starting anyway)"}`);
  const startedAt = new Date();
  const machine = machineInfo();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "identity-bench-"));
  let database: BenchDatabase | undefined;
  let server: ServerHandle | undefined;
  let serverRss: RssSampler | undefined;
  const benchRss = new RssSampler("self").start();

  let cleaning: Promise<void> | undefined;
  const cleanup = () => (cleaning ??= (async () => {
    serverRss?.stop();
    benchRss.stop();
    await server?.stop().catch((e: unknown) => log(`stopping the server failed: ${(e as Error).message}`));
    await database?.drop().catch((e: unknown) => log(`dropping ${database?.name} failed: ${(e as Error).message}`));
    await rm(dataDir, { recursive: true, force: true });
  })());
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    let databaseVersion = "";
    if (options.database === "postgresql") {
      const base = process.env.BENCH_DATABASE_URL || DEFAULT_BENCH_DATABASE_URL;
      database = await createBenchDatabase(base, startedAt);
      databaseVersion = await postgresVersion(database.url);
      log(`created database ${database.name}`);
    }

    // Known key material: the MFA scenarios seal TOTP seeds with ENCRYPTION_KEYS and check
    // device tokens against SIGNING_KEYS' device key.
    const keys = await generateBenchKeys(startedAt);
    const serverVars: Record<string, string> = {
      MODE: "development",
      LOG_LEVEL: "warn",
      LOGIN_RATE_PER_IP: "1000000", // the maximum config.ts accepts; see RESULTS.md notes
      DATA_DIR: dataDir,
      ...(database ? { DATABASE_URL: database.url } : {}),
      ...keys.env,
      ...options.serverEnv,
    };
    const env = childEnvironment(serverVars);
    const config = loadConfig(env); // what the server will see: argon2 defaults, pool size, ...
    const hasherConcurrency = config.ARGON2_MAX_CONCURRENT > 0 ? config.ARGON2_MAX_CONCURRENT : defaultHashConcurrency();

    log("creating the service client with the CLI (migrates the database)");
    const client = await createServiceClient(root, env);
    const port = await freePort(HOST);
    log(`starting the server on ${HOST}:${port} (${options.database})`);
    server = await startServer(root, env, HOST, port, options.serverNodeArgs);
    const running = server;
    serverRss = new RssSampler(running.pid).start();
    const serverSampler = serverRss;

    const seedStart = performance.now();
    const users = await createUsers(running.baseUrl, client.apiKey, options.users, SEED_CONCURRENCY);
    const seedSeconds = (performance.now() - seedStart) / 1000;
    log(`seeded ${users.length} users in ${seedSeconds.toFixed(1)} s`);

    const ctx: BenchContext = {
      root,
      options,
      config,
      hasherConcurrency,
      server: running,
      baseUrl: running.baseUrl,
      apiKey: client.apiKey,
      users,
      ...(database ? { databaseUrl: database.url } : {}),
      keys,
      log,
      shared: new Map(),
      async measure(fn) {
        serverSampler.window();
        benchRss.window();
        const before = cpuSnapshot(running.pid);
        const value = await fn();
        const after = cpuSnapshot(running.pid);
        const usage: WindowUsage = { cpu: cpuBetween(before, after), serverPeakRssKiB: serverSampler.window(), benchPeakRssKiB: benchRss.window() };
        return { value, usage };
      },
    };

    const selected = scenarios.filter((s) => options.only.length === 0 || options.only.includes(s.name));
    const results: ScenarioResult[] = [];
    const skipped: BenchReport["skipped"] = [];
    for (const scenario of selected) {
      const skipReason = scenario.skipReason?.(ctx);
      if (skipReason) {
        log(`${scenario.name}: NOT RUN: ${skipReason}`);
        skipped.push({ scenario: scenario.name, reason: skipReason });
        continue;
      }
      let prepareSeconds: number | undefined;
      if (scenario.prepare) {
        log(`${scenario.name}: preparing`);
        const prepareStart = performance.now();
        await scenario.prepare(ctx);
        prepareSeconds = (performance.now() - prepareStart) / 1000;
      }
      log(`${scenario.name}: running ${options.warmupSeconds} s warm-up + ${options.durationSeconds} s`);
      const result = { ...(await scenario.run(ctx)), ...(prepareSeconds !== undefined ? { prepareSeconds } : {}) };
      results.push(result);
      const f = result.figures;
      const failed = failuresOf(result);
      log(`${scenario.name}: ${f.rps.toFixed(1)}/s, p50 ${f.latencyMs.p50.toFixed(1)} ms, p99 ${f.latencyMs.p99.toFixed(1)} ms, ${f.requests} done${failed ? `, ${failed} FAILED` : ""}`);
      for (const note of result.notes) if (note.startsWith("LOUD:")) log(`${scenario.name}: ${note}`);
    }

    const logLines = running.logLines();
    const logTail = running.outputTail();
    serverSampler.stop();
    const stopStart = performance.now();
    const stopped = await running.stop();
    log(`server stopped in ${((performance.now() - stopStart) / 1000).toFixed(1)} s (exit code ${stopped.exitCode})`);
    const benchPeakRssKiB = memoryOf("self").hwmKiB;
    if (options.database === "pglite") databaseVersion = await pgliteVersion();

    const finishedAt = new Date();
    const failures = results.map((r) => ({ scenario: r.name, failed: failuresOf(r) })).filter((f) => f.failed > 0);
    const report: BenchReport = {
      generatedBy: `npm run bench${argv.length ? ` -- ${argv.join(" ")}` : ""}`,
      outputs,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      runtimeSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      options,
      machine: { ...machine, busyBeforeStart: quietness?.busy, loadAverageAtEnd: os.loadavg().map((n) => Math.round(n * 100) / 100) },
      database: { kind: options.database, version: databaseVersion, name: database?.name, poolSize: config.DATABASE_POOL_SIZE },
      server: {
        argon2: { memoryKiB: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST, parallelism: config.ARGON2_PARALLELISM },
        hasherMaxConcurrent: { configured: config.ARGON2_MAX_CONCURRENT, effective: hasherConcurrency },
        uvThreadpoolSize: env.UV_THREADPOOL_SIZE ?? "unset (libuv default 4)",
        environment: {
          ...serverVars,
          DATA_DIR: "<temp dir>",
          ...(database ? { DATABASE_URL: `<fresh database ${database.name}>` } : {}),
          ...Object.fromEntries(Object.keys(keys.env).map((k) => [k, "<generated for this run>"])),
        },
        peakRssKiB: stopped.peakRssKiB,
        sampledPeakRssKiB: serverSampler.peakKiB,
        logLinesAtWarnOrAbove: logLines,
        ...(logLines > 0 ? { logTail: logTail.slice(-8_000) } : {}),
      },
      bench: { peakRssKiB: benchPeakRssKiB, sampledPeakRssKiB: benchRss.peakKiB },
      seeding: { users: users.length, seconds: seedSeconds },
      scenarios: results,
      ratios: computeRatios(results),
      ratioGoal: RATIO_GOAL,
      goals: computeGoals(results, machine.cores),
      skipped,
      failures,
    };
    await writeFile(path.join(root, outputs.markdown), renderMarkdown(report));
    await writeFile(path.join(root, outputs.json), `${JSON.stringify(report, null, 2)}\n`);
    for (const r of report.ratios) log(`${r.login} ÷ ${r.raw}: ${r.ratio.toFixed(2)} (goal ≥ ${RATIO_GOAL}${r.meetsGoal ? ", met" : ", NOT met"})`);
    for (const g of report.goals) log(`${g.scenario}: ${g.rps.toFixed(0)} req/s, p99 ${g.p99Ms} ms (goal ≥ ${g.goalRps} req/s${g.met ? ", met" : ", NOT met"})`);
    log(`server peak RSS ${((stopped.peakRssKiB ?? 0) / 1024).toFixed(0)} MiB; wrote ${outputs.markdown} and ${outputs.json} in ${report.runtimeSeconds.toFixed(0)} s`);
    if (failures.length > 0) {
      log(`FAILED RESPONSES in: ${failures.map((f) => `${f.scenario} (${f.failed})`).join(", ")}`);
      return 1;
    }
    return 0;
  } finally {
    await cleanup();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
