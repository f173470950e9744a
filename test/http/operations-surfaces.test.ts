// What every answer and every operations route shows the world (issue: security
// hardening, "Operations surfaces"; checklist AV-04, AV-05, AV-06, RL-08, SR-05).
import t from "tap";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import pg from "pg";
import { loadConfig } from "../../src/config.ts";
import { openDatabase } from "../../src/db/database.ts";
import type { App } from "../../src/http/app-type.ts";
import { createLogger } from "../../src/logging.ts";
import { isDatabaseUnavailable } from "../../src/plugins/problem-handler.ts";
import { bearer, createUser, logCapture, login, startApp } from "../helpers/app.ts";

const capture = logCapture();
const app: App = await startApp(t, { logStream: capture.stream });

t.test("every answer carries X-Content-Type-Options: nosniff, whatever its status", async (t) => {
  const answers = await Promise.all([
    app.inject({ method: "GET", url: "/health/live" }),
    app.inject({ method: "GET", url: "/v1/me" }),
    app.inject({ method: "GET", url: `/no-such-route-${randomBytes(3).toString("hex")}` }),
    app.inject({ method: "POST", url: "/v1/auth/login", payload: { email: 1 } }),
    app.inject({ method: "GET", url: "/docs" }),
  ]);
  t.same(answers.map((a) => a.statusCode), [200, 401, 404, 400, 200]);
  for (const answer of answers) t.equal(answer.headers["x-content-type-options"], "nosniff", `${answer.statusCode}`);
  t.notOk(answers[0]!.headers["strict-transport-security"], "no HSTS behind a plain-http public URL");
});

t.test("HSTS on every answer when the public URL is https", async (t) => {
  const secure = await startApp(t, { config: { ISSUER: "https://identity.example.com" } });
  for (const url of ["/health/live", "/v1/me"]) {
    const res = await secure.inject({ method: "GET", url });
    t.equal(res.headers["strict-transport-security"], "max-age=31536000; includeSubDomains", url);
  }
});

t.test("the docs page carries a Content-Security-Policy of its own scripts only, no framing by others", async (t) => {
  const ui = await app.inject({ method: "GET", url: "/docs" });
  t.equal(ui.statusCode, 200);
  const csp = String(ui.headers["content-security-policy"] ?? "");
  t.match(csp, /default-src 'self'/);
  t.match(csp, /script-src 'self'/);
  t.match(csp, /object-src 'none'/);
  t.match(csp, /frame-ancestors 'self'/);
  t.notMatch(csp, /upgrade-insecure-requests/, "the page still works on a plain-http development port");
});

t.test("/metrics is not public on the API port: 404 without METRICS_TOKEN, 401 without or with a wrong token", async (t) => {
  t.equal((await app.inject({ method: "GET", url: "/metrics" })).statusCode, 404, "no token configured: not there");
  const token = randomBytes(24).toString("base64url");
  const guarded = await startApp(t, { config: { METRICS_TOKEN: token } });
  t.equal((await guarded.inject({ method: "GET", url: "/metrics" })).statusCode, 401);
  t.equal((await guarded.inject({ method: "GET", url: "/metrics", headers: bearer(`${token}x`) })).statusCode, 401);
  const scraped = await guarded.inject({ method: "GET", url: "/metrics", headers: bearer(token) });
  t.equal(scraped.statusCode, 200);
  t.match(scraped.body, /http_requests_total/);
  t.throws(() => loadConfig({ METRICS_TOKEN: "short" }), /METRICS_TOKEN/, "a guessable token is refused at start-up");
});

t.test("a credential in the query string is refused with 400 CREDENTIAL_IN_URL on any route, and never written to the log", async (t) => {
  const user = await createUser(app);
  const { accessToken } = (await login(app, user.email)).json();
  const leaks = [
    `/v1/me?access_token=${accessToken}`,
    `/v1/me/audit-events?token=${accessToken}`,
    `/health/live?password=${encodeURIComponent(user.password)}`,
    `/v1/auth/login?Code=123456`,
  ];
  for (const url of leaks) {
    const res = await app.inject({ method: url.includes("login") ? "POST" : "GET", url, payload: url.includes("login") ? {} : undefined });
    t.equal(res.statusCode, 400, url.split("?")[0]!);
    t.equal(res.json().code, "CREDENTIAL_IN_URL");
    t.match(res.headers["content-type"], /application\/problem\+json/);
  }
  const log = capture.lines.join("\n");
  t.notOk(log.includes(accessToken), "the access token is in no log line");
  t.notOk(log.includes(encodeURIComponent(user.password)), "the password is in no log line");
  t.notOk(log.includes("123456"), "the code is in no log line");
  t.ok(capture.lines.some((l) => l.includes('"url":"/v1/me?[redacted]"')), "the path is logged, its query replaced");
  t.equal((await app.inject({ method: "GET", url: "/v1/me/audit-events?limit=5", headers: bearer(accessToken) })).statusCode, 200, "ordinary query parameters still work");
});

t.test("/health/ready answers 503 with Retry-After while a configured Redis is down (sign-in would fail closed); /health/live stays 200", async (t) => {
  const deadRedis = await startApp(t, { config: { REDIS_URL: "redis://127.0.0.1:1" } });
  const ready = await deadRedis.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 503);
  t.equal(ready.json().code, "UNAVAILABLE");
  t.ok(Number(ready.headers["retry-after"]) > 0);
  t.equal((await deadRedis.inject({ method: "GET", url: "/health/live" })).statusCode, 200);
});

t.test("a database that cannot be reached is classified as unavailable (503 + Retry-After), not an internal error", async (t) => {
  const dead = await openDatabase({ databaseUrl: "postgresql://postgres@127.0.0.1:1/none", dataDir: "memory://", poolSize: 1 });
  t.teardown(() => dead.close());
  const error = await dead.prisma.$queryRaw`SELECT 1`.then(() => null, (e: unknown) => e);
  t.ok(error, "the query failed");
  t.ok(isDatabaseUnavailable(error), "the driver's error is recognised");
  t.notOk(isDatabaseUnavailable(new Error("something else")), "an ordinary error is not");
});

t.test("ISSUER defaults to the URL the service listens on; a configured one wins", async (t) => {
  t.equal(loadConfig({}).ISSUER, "http://127.0.0.1:3000");
  t.equal(loadConfig({ HOST: "0.0.0.0", PORT: "8080" }).ISSUER, "http://127.0.0.1:8080", "an any-address bind is reached on loopback");
  t.equal(loadConfig({ HOST: "::", PORT: "8080" }).ISSUER, "http://[::1]:8080");
  t.equal(loadConfig({ PORT: "8080", ISSUER: "https://id.example.com" }).ISSUER, "https://id.example.com");
});

t.test("log redaction blanks a one-time code but keeps an error's diagnostic code", async (t) => {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _e, done) { lines.push(String(chunk)); done(); } });
  const log = createLogger("info", stream);
  log.info({ code: "492039" }, "a code as input");
  log.error({ err: Object.assign(new Error("unique violation"), { code: "P2002" }) }, "unhandled error");
  t.notOk(lines[0]!.includes("492039"), "the one-time code is redacted");
  t.ok(lines[1]!.includes('"code":"P2002"'), "the error's code stays for the operator");
});

/** Waits until the server runs the statement carrying `marker` (a busy machine may start it late). */
async function untilRunning(marker: string) {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await client.connect();
  try {
    for (let waited = 0; waited < 5_000; waited += 25) {
      const { rows } = await client.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1", [`%${marker}%`]);
      if (rows[0].n > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error("the holding statement never started");
  } finally {
    await client.end();
  }
}

// Only PostgreSQL has a pool to exhaust; the embedded PGlite runs one query at a
// time in-process. CI runs this file on both, so the PostgreSQL run holds it.
if (process.env.TEST_DATABASE_URL) {
  t.test("AV-04: an exhausted database pool answers 503 with Retry-After, not 500 or a hang", async (t) => {
    const small = await startApp(t, { config: { DATABASE_POOL_SIZE: 1 } });
    const user = await createUser(small);
    const { accessToken } = (await login(small, user.email)).json();
    const marker = `hold_${randomBytes(4).toString("hex")}`;
    // A Prisma query runs when it is awaited or then-ed: then() sends it now.
    const holding = small.database.prisma.$queryRawUnsafe(`SELECT pg_sleep(7)::text AS ${marker}`).then(() => undefined);
    await untilRunning(marker);
    const started = Date.now();
    const res = await small.inject({ method: "GET", url: "/v1/me", headers: bearer(accessToken) });
    t.equal(res.statusCode, 503);
    t.equal(res.json().code, "UNAVAILABLE");
    t.ok(Number(res.headers["retry-after"]) > 0);
    t.ok(Date.now() - started < 6_500, "answered within the pool's connection timeout, not after the holder let go");
    await holding;
  });
}
