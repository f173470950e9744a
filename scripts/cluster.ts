// npm run cluster -- N: N service instances on one PostgreSQL (DATABASE_URL; REDIS_URL too
// when set) behind a small round-robin proxy on PORT (default 3000), for trying the
// multi-instance behaviour by hand. Each instance is its own process on a free loopback
// port; all share ISSUER (the proxy's URL, so a token from one is valid on every other) and
// the development keys under DATA_DIR (made by the first instance, read by the others).
// The proxy adds X-Forwarded-For (instances trust it from 127.0.0.1: TRUST_PROXY) and
// answers with x-served-by naming the instance. Ctrl-C stops everything.
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import net from "node:net";

const count = Number(process.argv[2] ?? 2);
if (!Number.isInteger(count) || count < 1 || count > 16) throw new Error("usage: npm run cluster -- N   (1..16 instances)");
if (!process.env.DATABASE_URL) {
  process.stderr.write("npm run cluster needs DATABASE_URL (a postgresql:// URL): the embedded PGlite admits one process only.\n");
  process.exit(2);
}
const proxyPort = Number(process.env.PORT ?? 3000);
const issuer = process.env.ISSUER ?? `http://127.0.0.1:${proxyPort}`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once("error", reject).listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Backend { port: number; child: ChildProcess }

async function startInstance(index: number): Promise<Backend> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], {
    env: {
      ...process.env, HOST: "127.0.0.1", PORT: String(port), ISSUER: issuer, TRUST_PROXY: "127.0.0.1",
      // The first instance applies migrations; the others start on the migrated schema.
      MIGRATE_ON_START: index === 0 ? (process.env.MIGRATE_ON_START ?? "true") : "false",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  for (let waited = 0; waited < 60_000; waited += 200) {
    if (child.exitCode !== null) throw new Error(`instance ${index + 1} exited with ${child.exitCode}`);
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok, () => false);
    if (ready) return { port, child };
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`instance ${index + 1} not ready after 60 s`);
}

const backends: Backend[] = [];
let next = 0;

function shutdown() {
  for (const { child } of backends) child.kill("SIGTERM");
  proxy.close();
  setTimeout(() => process.exit(0), 12_000).unref();
  Promise.all(backends.map(({ child }) => new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r))))).then(() => process.exit(0));
}
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);

/** Round robin: each request goes to the next instance; a refused connection answers 502. */
const proxy = http.createServer((req, res) => {
  const backend = backends[next++ % backends.length]!;
  const forwarded = [req.headers["x-forwarded-for"], req.socket.remoteAddress].filter(Boolean).join(", ");
  const upstream = http.request({
    host: "127.0.0.1", port: backend.port, method: req.method, path: req.url,
    headers: { ...req.headers, "x-forwarded-for": forwarded },
  }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, { ...answer.headers, "x-served-by": `instance-${backends.indexOf(backend) + 1}` });
    answer.pipe(res);
  });
  upstream.on("error", () => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "application/problem+json" });
    res.end(JSON.stringify({ type: "about:blank", title: "The instance did not answer.", status: 502, code: "UNAVAILABLE" }));
  });
  req.pipe(upstream);
});

for (let i = 0; i < count; i++) backends.push(await startInstance(i));
proxy.listen(proxyPort, "127.0.0.1", () => {
  process.stdout.write(`${count} instance(s) on ports ${backends.map((b) => b.port).join(", ")}; round-robin proxy on ${issuer} (Ctrl-C stops all)\n`);
});
