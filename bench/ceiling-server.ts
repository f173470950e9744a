// The ceilings' server: bare Fastify, no plugins, no hooks. GET /json answers a constant; GET /query
// does one round trip through the service's own database layer (openDatabase: Prisma with the pg
// adapter and DATABASE_POOL_SIZE connections, or the embedded PGlite when DATABASE_URL is unset).
// GET /stats gives the event-loop delay since the last /stats (perf_hooks.monitorEventLoopDelay):
// PGlite runs each query on this thread, so its queries show up there as blocking.
import { monitorEventLoopDelay } from "node:perf_hooks";
import Fastify from "fastify";
import { openDatabase } from "../src/db/database.ts";
import { mainThreadSeconds } from "./procs.ts";

const database = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir: process.env.DATA_DIR ?? "memory://", poolSize: Number(process.env.DATABASE_POOL_SIZE ?? 10) });

/** One query at a time, nothing else on the loop: wall time and main-thread CPU per query. */
async function bareQuery(count: number) {
  for (let i = 0; i < 50; i++) await database.ping();
  const cpu0 = mainThreadSeconds(process.pid);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await database.ping();
  return { wallMs: (performance.now() - t0) / count, mainThreadCpuMs: ((mainThreadSeconds(process.pid) - cpu0) * 1000) / count };
}
const bare = await bareQuery(2_000);

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
const app = Fastify({ logger: false });
app.get("/json", async () => ({ ok: true }));
app.get("/query", async () => { await database.ping(); return { ok: true }; });
app.get("/stats", async () => {
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  const stats = { kind: database.kind, bareQuery: bare, eventLoopDelayMs: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) } };
  delay.reset();
  return stats;
});
app.addHook("onClose", () => database.close());
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT) });
