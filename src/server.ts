// Process entry: load the configuration, build the app, listen, and close
// gracefully on SIGTERM/SIGINT (in-flight requests finish, then the database closes).
import { buildApp } from "./app.ts";
import { ConfigError, loadConfig } from "./config.ts";

async function main() {
  const config = loadConfig();
  const app = await buildApp({ config });
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, "shutting down");
    // The grace time bounds the drain: a request still running then is cut off (exit 1).
    const timer = setTimeout(() => process.exit(1), config.SHUTDOWN_GRACE_SECONDS * 1000);
    timer.unref();
    // close() drops the keep-alive connections idle at that moment; one whose request is still
    // running becomes idle only when it answers, and would then hold the server open until its
    // keep-alive timeout (72 s). Dropping idle connections until close() resolves ends each
    // one as soon as its answer is sent.
    const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
    sweep.unref();
    await app.close();
    clearInterval(sweep);
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  await app.listen({ host: config.HOST, port: config.PORT });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\nSee .env.example for every variable.\n`);
  } else {
    process.stderr.write(`start-up failed: ${(error as Error).message}\n`);
  }
  process.exit(1);
});
