// What every scenario gets (BenchContext) and gives back (ScenarioResult).
import type { Config } from "../src/config.ts";
import type { ServerHandle } from "./server.ts";
import type { BenchUser } from "./seed.ts";
import type { CpuUsage } from "./system.ts";

export interface BenchOptions {
  database: "postgresql" | "pglite";
  durationSeconds: number;
  warmupSeconds: number;
  users: number;
  /** Only these scenarios (by name); all when empty. */
  only: string[];
  /** Extra environment for the server (experiments: UV_THREADPOOL_SIZE, ARGON2_MAX_CONCURRENT, ...). */
  serverEnv: Record<string, string>;
  /** Extra node flags for the server process (experiments: --cpu-prof, ...). */
  serverNodeArgs: string[];
  /** Wait up to this long for a quiet machine before starting (0: don't). */
  waitQuietSeconds: number;
}

export interface BenchContext {
  root: string;
  options: BenchOptions;
  /** The configuration the server runs with (loadConfig() over the child's environment). */
  config: Config;
  /** ARGON2_MAX_CONCURRENT as the server resolves it (0 means one per core). */
  hasherConcurrency: number;
  server: ServerHandle;
  baseUrl: string;
  apiKey: string;
  users: BenchUser[];
  log(message: string): void;
  /** Runs fn and accounts the CPU (server, PostgreSQL, bench, rest of machine) and peak RSS of that window. */
  measure<T>(fn: () => Promise<T>): Promise<{ value: T; usage: WindowUsage }>;
  /** Scratch space scenarios share (e.g. token pools). */
  shared: Map<string, unknown>;
}

export interface WindowUsage {
  cpu: CpuUsage;
  serverPeakRssKiB: number;
  benchPeakRssKiB: number;
}

export interface HttpFigures {
  durationSeconds: number;
  requests: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  statusCodes: Record<string, number>;
  non2xx: number;
  /** Responses other than 200 (a 201 or 204 would not be what these scenarios expect). */
  non200: number;
  /** 200 responses whose body failed the scenario's check. */
  badBodies: number;
  errors: number;
  timeouts: number;
  failureSamples: string[];
}

export interface ScenarioResult {
  name: string;
  title: string;
  kind: "in-process" | "http";
  concurrency: number;
  figures: HttpFigures;
  usage: WindowUsage;
  warmupFailures: number;
  notes: string[];
}

export interface Scenario {
  name: string;
  title: string;
  kind: "in-process" | "http";
  concurrency: number;
  /** Setup outside the measured window (seeding, token pools). */
  prepare?(ctx: BenchContext): Promise<void>;
  run(ctx: BenchContext): Promise<ScenarioResult>;
}

/** A scenario failed if any counted or warm-up response was not the expected 200. */
export function failuresOf(result: ScenarioResult): number {
  const f = result.figures;
  return f.non200 + f.badBodies + f.errors + f.timeouts + result.warmupFailures;
}
