// npm run bench:startup: the compiled build's cold start and resident memory, on the embedded
// PGlite default (no DATABASE_URL) as `npm start` runs it.
// - first start: an empty DATA_DIR (PGlite initdb, every migration through the Wasm schema
//   engine, keys generated);
// - restart: the same DATA_DIR again (what a deployment or a developer's second `npm start` does),
//   median of three; also `tsx src/server.ts` for comparison;
// - RSS idle (5 s after ready) and the peak RSS under 10 s of password sign-ins (argon2id at
//   the default 64 MiB, 8 connections), sampled every 200 ms from /proc.
import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { cpuSecondsOf, freePort, memoryOf, RssSampler, sleep } from "./system.ts";
import { childEnvironment } from "./server.ts";
import { createUsers } from "./seed.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

async function startTimed(entry: string[], dataDir: string, env: Record<string, string> = {}) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, entry, {
    cwd: ROOT,
    env: childEnvironment({ DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn", ...env }),
    stdio: ["ignore", "inherit", "inherit"],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    const ok = await fetch(`${baseUrl}/health/ready`).then((r) => r.status === 200, () => false);
    if (ok) break;
    await sleep(10);
  }
  const readyMs = Math.round(performance.now() - started);
  // CPU time to ready (all threads): what the start costs whatever else the machine runs;
  // on an idle machine the wall time is close to it (start-up is mostly one thread).
  const cpuMs = Math.round((cpuSecondsOf(child.pid!) ?? 0) * 1000);
  return {
    readyMs,
    cpuMs,
    baseUrl,
    pid: child.pid!,
    async stop() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mib = (kib: number | undefined) => Math.round((kib ?? 0) / 1024);

async function main() {
  execFileSync(process.execPath, ["scripts/build.mjs", "--if-stale"], { cwd: ROOT, stdio: "inherit" });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "startup-"));
  try {
    const first = await startTimed(["dist/server.js"], dataDir);
    await first.stop();
    const restarts: number[] = [];
    const restartsCpu: number[] = [];
    for (let i = 0; i < 3; i++) {
      const again = await startTimed(["dist/server.js"], dataDir);
      restarts.push(again.readyMs);
      restartsCpu.push(again.cpuMs);
      await again.stop();
    }
    const tsx: number[] = [];
    const tsxCpu: number[] = [];
    for (let i = 0; i < 3; i++) {
      const again = await startTimed(["--import", "tsx", "src/server.ts"], dataDir);
      tsx.push(again.readyMs);
      tsxCpu.push(again.cpuMs);
      await again.stop();
    }
    // The API key comes from the CLI (compiled too), run while no server holds the embedded database.
    const out = execFileSync(process.execPath, ["dist/cli.js", "clients", "create", "--name", "startup", "--scopes", "users:write", "--json"], {
      cwd: ROOT, env: childEnvironment({ DATA_DIR: dataDir, LOG_LEVEL: "warn" }),
    });
    const { apiKey } = JSON.parse(String(out).trim().split("\n").pop()!) as { apiKey: string };
    // Loopback is one client address: lift the per-address sign-in limit for the load (the default argon2 cost stays).
    const server = await startTimed(["dist/server.js"], dataDir, { LOGIN_RATE_PER_IP: "1000000" });
    await sleep(5_000);
    const idle = memoryOf(server.pid).rssKiB;
    const users = await createUsers(server.baseUrl, apiKey, 16, 4);
    const sampler = new RssSampler(server.pid).start();
    let i = 0;
    const result = await autocannon({
      url: server.baseUrl,
      connections: 8,
      duration: 10,
      requests: [{
        method: "POST",
        path: "/v1/auth/login",
        headers: { "content-type": "application/json" },
        setupRequest: (request) => ({ ...request, body: JSON.stringify(users[i++ % users.length]) }),
      }],
    });
    sampler.stop();
    const afterLoad = memoryOf(server.pid);
    await server.stop();
    const report = {
      machine: `${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`,
      firstStartMs: first.readyMs,
      firstStartCpuMs: first.cpuMs,
      restartMsMedian: median(restarts),
      restartsMs: restarts,
      restartCpuMsMedian: median(restartsCpu),
      tsxRestartMsMedian: median(tsx),
      tsxRestartCpuMsMedian: median(tsxCpu),
      rssIdleMiB: mib(idle),
      rssPeakUnderLoginLoadMiB: mib(sampler.peakKiB),
      vmHwmMiB: mib(afterLoad.hwmKiB),
      logins: { requests: result.requests.total, perSecond: result.requests.average, non2xx: result.non2xx, errors: result.errors },
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
