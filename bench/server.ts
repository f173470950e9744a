// The service under test as a child process (`node --import tsx src/server.ts`), and the CLI
// run the same way. Both get one explicit environment; the parent's service variables are dropped.
import { spawn } from "node:child_process";
import { ConfigSchema } from "../src/config.ts";
import { memoryOf, sleep } from "./system.ts";

const OUTPUT_TAIL_BYTES = 64 * 1024;

/** The parent environment minus every variable the service reads, plus `overrides`. */
export function childEnvironment(overrides: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !(key in ConfigSchema.properties)) env[key] = value;
  }
  return { ...env, ...overrides };
}

function tailBuffer() {
  let text = "";
  return {
    push(chunk: Buffer | string) {
      text += String(chunk);
      if (text.length > OUTPUT_TAIL_BYTES) text = text.slice(-OUTPUT_TAIL_BYTES);
    },
    get text() {
      return text;
    },
  };
}

/** Runs `node --import tsx src/cli.ts ...args` and returns its stdout; rejects on a non-zero exit or after timeoutMs. */
export async function runCli(root: string, env: Record<string, string>, args: string[], timeoutMs = 60_000): Promise<string> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  const out = tailBuffer();
  const err = tailBuffer();
  child.stdout.on("data", (chunk) => out.push(chunk));
  child.stderr.on("data", (chunk) => err.push(chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", resolve);
    });
    if (code !== 0) throw new Error(`cli ${args.join(" ")} exited with ${code}: ${err.text.trim()}`);
    return out.text;
  } finally {
    clearTimeout(timer);
  }
}

export interface ServerHandle {
  pid: number;
  baseUrl: string;
  /** Log lines the server wrote (LOG_LEVEL=warn: every line is a warning or worse). */
  logLines(): number;
  outputTail(): string;
  /** SIGTERM, then SIGKILL after 10 s. Returns the peak resident set (VmHWM) read just before. */
  stop(): Promise<{ peakRssKiB?: number; exitCode: number | null }>;
}

export async function startServer(
  root: string,
  env: Record<string, string>,
  host: string,
  port: number,
  nodeArgs: string[] = [],
  readyTimeoutMs = 60_000,
): Promise<ServerHandle> {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", "src/server.ts"], {
    cwd: root,
    env: { ...env, HOST: host, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = tailBuffer();
  let lines = 0;
  const onOutput = (chunk: Buffer) => {
    output.push(chunk);
    lines += String(chunk).split("\n").filter((line) => line.trim()).length;
  };
  child.stdout.on("data", onOutput);
  child.stderr.on("data", onOutput);
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) => child.on("close", (code) => { exited = code; resolve(code); }));
  if (child.pid === undefined) throw new Error("could not start the server process");
  const pid = child.pid;
  const baseUrl = `http://${host}:${port}`;

  const handle: ServerHandle = {
    pid,
    baseUrl,
    logLines: () => lines,
    outputTail: () => output.text,
    async stop() {
      const peakRssKiB = memoryOf(pid).hwmKiB;
      if (exited === undefined) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exit;
        clearTimeout(timer);
      }
      return { peakRssKiB, exitCode: exited ?? null };
    },
  };

  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`server exited with ${exited} before it was ready:\n${output.text.trim()}`);
    try {
      const res = await fetch(`${baseUrl}/health/ready`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.status === 200) return handle;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  await handle.stop();
  throw new Error(`server not ready after ${readyTimeoutMs} ms:\n${output.text.trim()}`);
}
