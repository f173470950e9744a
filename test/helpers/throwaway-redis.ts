// A Redis server of a test's own on a free port, in the foreground as a child process (so the
// test can stop it and start it again on the same port); no persistence (`--save ''`).
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { freePort } from "./ports.ts";

export interface ThrowawayRedis {
  port: number;
  /** redis://127.0.0.1:PORT */
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  teardown(): Promise<void>;
}

async function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setTimeout(500);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => { socket.destroy(); resolve(String(data).startsWith("+PONG")); });
    socket.on("error", () => resolve(false));
    socket.on("timeout", () => { socket.destroy(); resolve(false); });
  });
}

export async function startThrowawayRedis(): Promise<ThrowawayRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const handle: ThrowawayRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      if (child) return;
      child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
      const deadline = Date.now() + 10_000;
      while (!(await answersPing(port))) {
        if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${port} within 10 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      const running = child;
      if (!running) return;
      child = null;
      if (running.exitCode === null && running.signalCode === null) {
        const exited = once(running, "exit");
        running.kill("SIGKILL");
        await exited;
      }
    },
    teardown: () => handle.stop(),
  };
  await handle.start();
  return handle;
}
