// Child processes (the service in a checkout, the ceiling server, the seed worker) and the /proc
// readers the report needs: resident memory and the main thread's CPU time (Linux only).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { ConfigSchema } from "../src/config.ts";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The parent environment minus every variable a service reads (its ConfigSchema), plus `vars`. */
export function childEnvironment(vars: Record<string, string>): Record<string, string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key, value]) => value !== undefined && !(key in ConfigSchema.properties))) as Record<string, string>;
  return { ...env, ...vars };
}

export interface Child { pid: number; output(): string; exited(): boolean; stop(): Promise<void> }

/** `node --import tsx ...args` in `cwd` (tsx resolves from that checkout's node_modules). */
export function startNode(cwd: string, args: string[], env: Record<string, string>): Child & { done: Promise<number | null> } {
  const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  const keep = (chunk: Buffer) => { text = (text + String(chunk)).slice(-32_000); };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited = false;
  const done = new Promise<number | null>((resolve) => child.on("close", (code) => { exited = true; resolve(code); }));
  return {
    pid: child.pid!, done, output: () => text, exited: () => exited,
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await done;
      clearTimeout(timer);
    },
  };
}

/** Waits until `url` answers 200 (or the child exits). */
export async function waitReady(child: Child, url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exited()) throw new Error(`exited before it was ready:\n${child.output()}`);
    const status = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(async (r) => { await r.body?.cancel(); return r.status; }, () => 0);
    if (status === 200) return;
    await sleep(200);
  }
  await child.stop();
  throw new Error(`not ready after ${timeoutMs} ms:\n${child.output()}`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const read = (file: string) => { try { return readFileSync(file, "utf8"); } catch { return ""; } };

export function rssKiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(read(`/proc/${pid}/status`))?.[1] ?? 0);
}

function cpuSeconds(statFile: string): number {
  const stat = read(statFile);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100; // utime + stime; USER_HZ is 100 on Linux
}

/**
 * Waits (at most 20 s) until the process uses under 5 % of a core over 250 ms: requests a load
 * generator gave up on at the end of a run (a sign-in queued behind 50 argon2 verifications) are
 * still being served, and would otherwise fill the next run's hashing queue.
 */
export async function settle(pid: number): Promise<void> {
  for (let i = 0; i < 80; i++) {
    const before = cpuSeconds(`/proc/${pid}/stat`);
    await sleep(250);
    if (cpuSeconds(`/proc/${pid}/stat`) - before < 0.0125) return;
  }
}

/** CPU seconds (user + system) of the process's main thread: the event loop, where JavaScript and PGlite run. */
export const mainThreadSeconds = (pid: number) => cpuSeconds(`/proc/${pid}/task/${pid}/stat`);

/** Peak RSS and main-thread CPU of `pid` while `work` runs (RSS sampled every 100 ms). */
export async function watch<T>(pid: number, work: () => Promise<T>): Promise<{ value: T; peakRssMiB: number; mainThreadBusy: number }> {
  let peak = rssKiB(pid);
  const timer = setInterval(() => { peak = Math.max(peak, rssKiB(pid)); }, 100);
  const cpu0 = mainThreadSeconds(pid);
  const t0 = performance.now();
  try {
    const value = await work();
    const busy = (mainThreadSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000);
    return { value, peakRssMiB: Math.max(peak, rssKiB(pid)) / 1024, mainThreadBusy: busy };
  } finally {
    clearInterval(timer);
  }
}
