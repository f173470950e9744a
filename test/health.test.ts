// Operations endpoints (API.md): liveness, readiness that includes the database,
// Prometheus metrics, and the docs UI over the generated OpenAPI document.
import t from "tap";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { openDatabase } from "../src/db/database.ts";
import type { App } from "../src/http/app-type.ts";
import { freshDatabaseUrl, logCapture, startApp } from "./helpers/app.ts";

const METRICS_TOKEN = randomBytes(24).toString("base64url");
const app: App = await startApp(t, { config: { METRICS_TOKEN } });

t.test("liveness and readiness answer 200 with no internals", async (t) => {
  for (const url of ["/health/live", "/health/ready"]) {
    const res = await app.inject({ method: "GET", url });
    t.equal(res.statusCode, 200, url);
    t.same(res.json(), { status: "ok" }, `${url}: no versions or internals`);
  }
});

t.test("/metrics is Prometheus text that counts requests by route pattern", async (t) => {
  const probe = randomBytes(6).toString("hex");
  for (let i = 0; i < 3; i++) await app.inject({ method: "GET", url: "/health/live" });
  await app.inject({ method: "GET", url: `/no-such-route/${probe}` });
  const res = await app.inject({ method: "GET", url: "/metrics", headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  t.equal(res.statusCode, 200);
  t.match(res.headers["content-type"], /^text\/plain; version=0\.0\.4/);
  t.match(res.body, /^# HELP http_requests_total /m);
  t.match(res.body, /^# TYPE http_requests_total counter$/m);
  const live = /^http_requests_total\{method="GET",route="\/health\/live",status="200"\} (\d+)$/m.exec(res.body);
  t.ok(live && Number(live[1]) >= 3, "three liveness probes counted");
  t.match(res.body, /^http_request_duration_seconds_bucket\{/m, "latency histogram");
  t.notOk(res.body.includes(probe), "a raw URL never becomes a label");
});

t.test("/docs serves the UI and /docs/json the OpenAPI 3.1 document of the routes", async (t) => {
  const ui = await app.inject({ method: "GET", url: "/docs" });
  t.equal(ui.statusCode, 200);
  t.match(ui.headers["content-type"], /^text\/html/);
  t.match(ui.body, /<html/i);
  const doc = await app.inject({ method: "GET", url: "/docs/json" });
  t.equal(doc.statusCode, 200);
  const spec = doc.json();
  t.match(spec.openapi, /^3\.1\./);
  for (const path of ["/v1/auth/login", "/v1/auth/refresh", "/v1/tokens/introspect", "/v1/users", "/v1/me", "/v1/me/password"]) {
    t.ok(spec.paths[path], `${path} is documented`);
  }
  t.ok(spec.components?.schemas?.Problem, "the problem shape is a shared component");
});

t.test("readiness answers 503 when the database is gone, while liveness stays 200", async (t) => {
  const databaseUrl = await freshDatabaseUrl(t);
  const database = await openDatabase({ databaseUrl, dataDir: "memory://", poolSize: 2 });
  await database.migrate();
  const logs = logCapture();
  const lonely = await startApp(t, { database, logStream: logs.stream });
  t.equal((await lonely.inject({ method: "GET", url: "/health/ready" })).statusCode, 200);
  if (databaseUrl) {
    // PostgreSQL: the database disappears under the running app.
    t.teardown(() => database.close());
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE ${new URL(databaseUrl).pathname.slice(1)} WITH (FORCE)`);
    await admin.end();
  } else {
    await database.close(); // PGlite: the embedded database is shut
  }
  const res = await lonely.inject({ method: "GET", url: "/health/ready" });
  t.equal(res.statusCode, 503);
  t.equal(res.json().code, "UNAVAILABLE");
  t.ok(res.headers["retry-after"], "with Retry-After");
  t.equal((await lonely.inject({ method: "GET", url: "/health/live" })).statusCode, 200);
  const warning = logs.lines.map((line) => JSON.parse(line)).find((line) => line.reqId === res.headers["x-request-id"] && line.level === 40);
  t.ok(warning, "operators see why in the log");
});
