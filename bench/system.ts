// Machine facts and /proc readers: CPU time per process group, resident memory, free ports.
// Linux only (/proc); elsewhere the figures come out as "n/a" instead of failing the run.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import net from "node:net";
import os from "node:os";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** VmRSS and VmHWM (peak resident set) of a process, in KiB. */
export function memoryOf(pid: number | "self"): { rssKiB?: number; hwmKiB?: number } {
  const text = readText(`/proc/${pid}/status`);
  if (!text) return {};
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
    return match ? Number(match[1]) : undefined;
  };
  return { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") };
}

/** utime + stime of a process in seconds (all its threads, including the libuv pool). */
export function cpuSecondsOf(pid: number): number | undefined {
  return cpuSecondsOfPath(`/proc/${pid}/stat`);
}

function cpuSecondsOfPath(statPath: string): number | undefined {
  const text = readText(statPath);
  if (!text) return undefined;
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is stat field 3 (state); utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** CPU seconds of every process named `postgres` (the server and all its backends, any database). */
export function postgresCpuSeconds(): number {
  let total = 0;
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    if (readText(`/proc/${entry}/comm`)?.trim() !== "postgres") continue;
    total += cpuSecondsOf(Number(entry)) ?? 0;
  }
  return total;
}

/** Busy and total CPU seconds of the whole machine since boot (/proc/stat). */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readText("/proc/stat")?.split("\n")[0];
  if (!line) return { busy: 0, total: 0 };
  const values = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

/** CPU seconds of one thread of a process (/proc/<pid>/task/<tid>/stat). */
export function threadCpuSecondsOf(pid: number, tid: number): number | undefined {
  return cpuSecondsOfPath(`/proc/${pid}/task/${tid}/stat`);
}

export interface CpuSnapshot {
  at: number;
  server: number;
  /** The server's main thread (JavaScript, the event loop); the rest is the libuv pool (argon2) and V8 helpers (GC). */
  serverMain: number;
  postgres: number;
  bench: NodeJS.CpuUsage;
  machine: { busy: number; total: number };
}

/** Where the CPU went during a window: seconds per process group, and what the rest of the machine used. */
export interface CpuUsage {
  wallSeconds: number;
  serverSeconds: number;
  /** Of serverSeconds: the main thread (JavaScript). The remainder ran on other threads (libuv pool: argon2; V8: GC). */
  serverMainThreadSeconds: number;
  postgresSeconds: number;
  benchSeconds: number;
  machineBusySeconds: number;
  /** Busy time not accounted to the server, PostgreSQL or the bench: other work on the machine. */
  otherSeconds: number;
  /** CPU capacity of the window: cores × wall time. */
  capacitySeconds: number;
}

export function cpuSnapshot(serverPid: number): CpuSnapshot {
  return {
    at: performance.now(),
    server: cpuSecondsOf(serverPid) ?? 0,
    serverMain: threadCpuSecondsOf(serverPid, serverPid) ?? 0,
    postgres: postgresCpuSeconds(),
    bench: process.cpuUsage(),
    machine: machineCpuSeconds(),
  };
}

export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuUsage {
  const wallSeconds = (b.at - a.at) / 1000;
  const serverSeconds = b.server - a.server;
  const postgresSeconds = Math.max(0, b.postgres - a.postgres);
  const benchSeconds = (b.bench.user - a.bench.user + b.bench.system - a.bench.system) / 1e6;
  const machineBusySeconds = b.machine.busy - a.machine.busy;
  return {
    wallSeconds,
    serverSeconds,
    serverMainThreadSeconds: b.serverMain - a.serverMain,
    postgresSeconds,
    benchSeconds,
    machineBusySeconds,
    otherSeconds: Math.max(0, machineBusySeconds - serverSeconds - postgresSeconds - benchSeconds),
    capacitySeconds: os.cpus().length * wallSeconds,
  };
}

/** Samples a process's VmRSS every `intervalMs`; `window()` gives the peak since the last call. */
export class RssSampler {
  peakKiB = 0;
  private windowPeakKiB = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pid: number | "self", private readonly intervalMs = 200) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  sample(): void {
    const rss = memoryOf(this.pid).rssKiB ?? 0;
    this.peakKiB = Math.max(this.peakKiB, rss);
    this.windowPeakKiB = Math.max(this.windowPeakKiB, rss);
  }

  /** Peak VmRSS since the previous call. */
  window(): number {
    this.sample();
    const peak = this.windowPeakKiB;
    this.windowPeakKiB = 0;
    return peak;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  kernel: string;
  loadAverage: number[];
  uvThreadpoolSize: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
    loadAverage: os.loadavg().map((n) => Math.round(n * 100) / 100),
    uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? "unset (libuv default 4)",
  };
}

/** Share of the machine's CPU busy over the next `seconds` (0..1). */
export async function machineBusyShare(seconds: number): Promise<number> {
  const a = machineCpuSeconds();
  await sleep(seconds * 1000);
  const b = machineCpuSeconds();
  const total = b.total - a.total;
  return total > 0 ? (b.busy - a.busy) / total : 0;
}

/**
 * Waits (at most maxSeconds) for a 3 s window in which the machine is less than `threshold` busy.
 * Returns the last measured share and whether the machine was quiet.
 */
export async function waitForQuiet(maxSeconds: number, threshold: number, log: (message: string) => void): Promise<{ busy: number; quiet: boolean; waitedSeconds: number }> {
  const started = performance.now();
  let busy = await machineBusyShare(3);
  while (busy >= threshold && (performance.now() - started) / 1000 + 3 <= maxSeconds) {
    log(`machine ${Math.round(busy * 100)} % busy; waiting for < ${Math.round(threshold * 100)} %`);
    busy = await machineBusyShare(3);
  }
  return { busy, quiet: busy < threshold, waitedSeconds: (performance.now() - started) / 1000 };
}
