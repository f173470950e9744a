// A PostgreSQL cluster of a test's own (initdb + pg_ctl on a free port in a temp dir), for
// tests that stop and start the database: never the shared one on 5432. The tests run as
// root and PostgreSQL refuses to run as root, so every pg_ctl runs as the `postgres` user.
import { execFile, execFileSync } from "node:child_process";
import { chmod, chown, mkdtemp, rm } from "node:fs/promises";
import { existsSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "./ports.ts";

const run = promisify(execFile);

/** The server binaries of the installed major version (Debian keeps them out of PATH). */
function binDir(): string {
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => existsSync(path.join(root, v, "bin", "pg_ctl"))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(root, versions[0], "bin");
  }
  return "";
}

/** The uid/gid of `postgres` when we run as root (id(1): no native module needed), else null. */
function postgresOwner(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) => Number(String(execFileSync("id", [flag, "postgres"])).trim());
  return { uid: id("-u"), gid: id("-g") };
}

export interface ThrowawayPostgres {
  port: number;
  /** postgresql://postgres@127.0.0.1:PORT/postgres */
  url: string;
  /** A URL of another database on this cluster. */
  urlOf(database: string): string;
  start(): Promise<void>;
  /** "fast" disconnects clients and shuts down cleanly; "immediate" is a crash without a checkpoint. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Stops the cluster (if running) and removes its directory. */
  teardown(): Promise<void>;
}

/** Creates (initdb) and starts a cluster; call teardown() when done (tap: t.teardown(pg.teardown)). */
export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = binDir();
  const tool = (name: string) => (bin ? path.join(bin, name) : name);
  const owner = postgresOwner();
  const asPostgres = (file: string, args: string[]) =>
    owner ? run("runuser", ["-u", "postgres", "--", file, ...args]) : run(file, args);
  const dir = await mkdtemp(path.join(os.tmpdir(), "throwaway-pg-"));
  if (owner) await chown(dir, owner.uid, owner.gid);
  await chmod(dir, 0o700);
  const dataDir = path.join(dir, "data");
  const port = await freePort();
  // trust on loopback only: the cluster lives for one test and listens on 127.0.0.1 alone.
  await asPostgres(tool("initdb"), ["-D", dataDir, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
  let running = false;
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const handle: ThrowawayPostgres = {
    port,
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    urlOf: (database) => `postgresql://postgres@127.0.0.1:${port}/${database}`,
    async start() {
      await asPostgres(tool("pg_ctl"), ["-D", dataDir, "-l", path.join(dir, "log"), "-o", options, "-w", "-t", "30", "start"]);
      running = true;
    },
    async stop(mode = "fast") {
      if (!running) return;
      await asPostgres(tool("pg_ctl"), ["-D", dataDir, "-m", mode, "-w", "-t", "30", "stop"]);
      running = false;
    },
    async teardown() {
      try { await handle.stop("immediate"); } catch { /* already down */ }
      await rm(dir, { recursive: true, force: true });
    },
  };
  await handle.start();
  return handle;
}
