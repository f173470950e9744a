// Real service processes for multi-instance, fault and drain tests: `node --import tsx
// src/server.ts` (or `node dist/server.js`, the compiled build) with an explicit environment,
// ready once /health/ready answers 200. Each instance is its own process with its own pool,
// exactly as production runs N of them on one database.
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { ConfigSchema } from "../../src/config.ts";
import { generateKeyRecord, serializeKeyFile } from "../../src/lib/signing-keys.ts";
import { freePort } from "./ports.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const OUTPUT_TAIL_CHARS = 256 * 1024;

export interface InstanceOptions {
  /** Service variables (DATABASE_URL, REDIS_URL, ...); the parent's service variables are never inherited. */
  env?: Record<string, string>;
  /** "src" runs the TypeScript through tsx (default); "dist" runs the compiled `node dist/server.js`. */
  entry?: "src" | "dist";
  readyTimeoutMs?: number;
}

export interface Instance {
  pid: number;
  port: number;
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  /** Everything the process wrote to stdout and stderr (the last 256 KiB). */
  output(): string;
  /** Resolves with the exit code and signal once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends the signal (default SIGTERM) and waits for the exit; SIGKILL after killAfterMs. */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Signing and encryption keys every instance of one deployment shares (as production configures them). */
export async function sharedKeys(now = new Date()): Promise<Record<string, string>> {
  const keys = { keys: [await generateKeyRecord("access", now), await generateKeyRecord("device", now)] };
  return { SIGNING_KEYS: serializeKeyFile(keys), ENCRYPTION_KEYS: `k1:${randomBytes(32).toString("base64url")}` };
}

/** The parent environment without any variable the service reads, plus `overrides`. */
function childEnvironment(overrides: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !(key in ConfigSchema.properties) && !key.startsWith("TAP")) env[key] = value;
  }
  return { ...env, ...overrides };
}

/** Starts one instance on a free port and waits until it is ready; the caller stops it (t.teardown(() => i.stop("SIGKILL"))). */
export async function startInstance(options: InstanceOptions = {}): Promise<Instance> {
  const port = await freePort();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "instance-"));
  const args = options.entry === "dist" ? ["dist/server.js"] : ["--import", "tsx", "src/server.ts"];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: childEnvironment({ HOST: "127.0.0.1", LOG_LEVEL: "warn", DATA_DIR: dataDir, ...options.env, PORT: String(port) }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error("could not start the service process");
  let text = "";
  const onOutput = (chunk: Buffer) => {
    text += String(chunk);
    if (text.length > OUTPUT_TAIL_CHARS) text = text.slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout.on("data", onOutput);
  child.stderr.on("data", onOutput);
  let done: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = once(child, "exit").then(async ([code, signal]) => {
    done = { code: code as number | null, signal: signal as NodeJS.Signals | null };
    await rm(dataDir, { recursive: true, force: true });
    return done;
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const instance: Instance = {
    pid: child.pid,
    port,
    baseUrl,
    output: () => text,
    exited,
    async stop(signal = "SIGTERM", killAfterMs = 15_000) {
      if (done) return done;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
      try { return await exited; } finally { clearTimeout(timer); }
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (done) throw new Error(`service exited (${JSON.stringify(done)}) before it was ready:\n${text.trim()}`);
    try {
      const res = await fetch(`${baseUrl}/health/ready`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.status === 200) return instance;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await instance.stop("SIGKILL");
  throw new Error(`service not ready after ${options.readyTimeoutMs ?? 60_000} ms:\n${text.trim()}`);
}

/** Runs the CLI (`node --import tsx src/cli.ts ...args`, or dist/cli.js) with the service variables given; returns stdout. */
export async function runCli(env: Record<string, string>, args: string[], entry: "src" | "dist" = "src"): Promise<string> {
  const script = entry === "dist" ? ["dist/cli.js"] : ["--import", "tsx", "src/cli.ts"];
  const { stdout } = await promisify(execFile)(process.execPath, [...script, ...args], { cwd: ROOT, env: childEnvironment({ LOG_LEVEL: "warn", ...env }), timeout: 120_000 });
  return stdout;
}

/** A service client with these scopes, made by the CLI as an operator would; returns its API key. */
export async function createApiKeyByCli(env: Record<string, string>, scopes: string[], entry: "src" | "dist" = "src"): Promise<string> {
  const out = await runCli(env, ["clients", "create", "--name", `test-${scopes.length}`, "--scopes", scopes.join(","), "--json"], entry);
  return (JSON.parse(out.trim().split("\n").pop()!) as { apiKey: string }).apiKey;
}
