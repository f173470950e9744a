// The outbox worker on a real database (PGlite, or PostgreSQL with
// TEST_DATABASE_URL) against real receivers on loopback: shared work without
// double delivery, back-off stored in the row, dead rows and their revival,
// restarts, shutdown after the current row, the nudge, and no redirects.
import { randomUUID } from "node:crypto";
import t, { type Test } from "tap";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { createAuditRepository } from "../../src/audit/repository.ts";
import type { Config } from "../../src/config.ts";
import type { Database } from "../../src/db/database.ts";
import { listOutbox, retryOutboxMessage } from "../../src/outbox/commands.ts";
import { logCapture, sharedDatabase, startApp } from "../helpers/app.ts";
import { startReceiver, type Script } from "../helpers/webhook-receiver.ts";

const SECRET = `whsec_${Buffer.alloc(32, 9).toString("base64")}`;
const receiverSide = new Webhook(SECRET);
const METRICS_TOKEN = "m".repeat(40);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function webhookConfig(url: string, overrides: Partial<Config> = {}): Partial<Config> {
  return {
    WEBHOOK_URL: url, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_BASE_MS: 20, WEBHOOK_RETRY_MAX_MS: 2_000,
    WEBHOOK_POLL_INTERVAL_MS: 20, WEBHOOK_TIMEOUT_MS: 2_000, WEBHOOK_MAX_ATTEMPTS: 5, METRICS_TOKEN, ...overrides,
  };
}

/** Outbox rows as the event path writes them (the production repository), committed at once. */
async function enqueue(db: Database, count: number, type = "mfa_enrolled") {
  const rows = Array.from({ length: count }, () => {
    const id = randomUUID();
    return { id, type, body: JSON.stringify({ id, type, userId: randomUUID(), occurredAt: new Date().toISOString(), details: {} }) };
  });
  await createAuditRepository(db.prisma).appendEvents({ audit: [], outbox: rows });
  return rows.map((r) => r.id);
}

const outboxRows = (db: Database) => db.prisma.outboxMessage.findMany({ orderBy: { createdAt: "asc" } });

async function until(t: Test, what: string, check: () => Promise<boolean> | boolean, limitMs = 10_000) {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
  t.pass(what);
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

t.test("SKIP LOCKED: two workers on one database deliver every row exactly once, and share the work", async (t) => {
  const db = await sharedDatabase(t);
  const receiver = await startReceiver(t, () => ({ status: 200, delayMs: 15 }));
  const logsA = logCapture();
  const logsB = logCapture();
  await startApp(t, { database: db, logStream: logsA.stream, config: webhookConfig(receiver.url) });
  await startApp(t, { database: db, logStream: logsB.stream, config: webhookConfig(receiver.url) });
  const ids = await enqueue(db, 40);
  await until(t, "all 40 delivered", () => receiver.deliveries.length >= 40);
  await until(t, "the outbox is empty", async () => (await outboxRows(db)).length === 0);
  await sleep(200);
  const received = receiver.deliveries.map((d) => d.webhookId);
  t.equal(received.length, 40, "no row was delivered twice");
  t.same([...new Set(received)].sort(), [...ids].sort(), "every row, by its webhook-id");
  const deliveredBy = (lines: string[]) => lines.filter((l) => l.includes('"msg":"webhook delivered"')).length;
  t.equal(deliveredBy(logsA.lines) + deliveredBy(logsB.lines), 40);
  t.ok(deliveredBy(logsA.lines) > 0 && deliveredBy(logsB.lines) > 0, `both instances delivered (${deliveredBy(logsA.lines)} + ${deliveredBy(logsB.lines)})`);
  for (const d of receiver.deliveries) receiverSide.verify(d.body, d.headers as Record<string, string>);
  t.pass("every delivery verifies with the standardwebhooks library");
});

t.test("a failing receiver is retried with doubling back-off, the same id and body each time, until it answers 2xx", async (t) => {
  const db = await sharedDatabase(t);
  const arrivals: number[] = [];
  const receiver = await startReceiver(t, (n) => { arrivals.push(Date.now()); return { status: n <= 3 ? 500 : 204 }; });
  await startApp(t, { database: db, config: webhookConfig(receiver.url, { WEBHOOK_RETRY_BASE_MS: 150 }) });
  const [id] = await enqueue(db, 1);
  await until(t, "delivered on the fourth attempt", () => receiver.deliveries.length === 4, 15_000);
  await until(t, "and removed from the outbox", async () => (await outboxRows(db)).length === 0);
  t.same(new Set(receiver.deliveries.map((d) => d.webhookId)), new Set([id]), "one webhook-id on every attempt");
  t.equal(new Set(receiver.deliveries.map((d) => d.body)).size, 1, "the same body on every attempt");
  for (const d of receiver.deliveries) receiverSide.verify(d.body, d.headers as Record<string, string>);
  const gaps = arrivals.slice(1).map((at, i) => at - arrivals[i]!);
  // 150, 300, 600 ms, each jittered down by at most 20 %.
  t.ok(gaps[0]! >= 120, `first wait ${gaps[0]} ms >= 120`);
  t.ok(gaps[1]! >= 240, `second wait ${gaps[1]} ms >= 240 (doubled)`);
  t.ok(gaps[2]! >= 480, `third wait ${gaps[2]} ms >= 480 (doubled again)`);
});

t.test("the back-off is stored in the row: a restarted instance waits it out, then delivers", async (t) => {
  const db = await sharedDatabase(t);
  const down = `http://127.0.0.1:${await closedPort()}/hook`;
  const first = await startApp(t, { database: db, config: webhookConfig(down, { WEBHOOK_RETRY_BASE_MS: 1_500 }) });
  const [id] = await enqueue(db, 1);
  await until(t, "the first attempt failed and the retry is scheduled", async () => (await outboxRows(db))[0]?.attempts === 1 && (await outboxRows(db))[0]?.lastError !== null);
  const [row] = await outboxRows(db);
  t.equal(row!.state, "pending");
  t.equal(row!.lastError, "ECONNREFUSED", "the reason, never the URL");
  t.ok(row!.nextAttemptAt.getTime() > Date.now() + 500, "the next attempt lies in the future, in the row");
  await first.close();

  const receiver = await startReceiver(t);
  const restartedAt = Date.now();
  await startApp(t, { database: db, config: webhookConfig(receiver.url) });
  await until(t, "the new instance delivers it", () => receiver.deliveries.length === 1);
  t.ok(Date.now() >= row!.nextAttemptAt.getTime() - 50, `not before its stored time (${row!.nextAttemptAt.getTime() - restartedAt} ms after the restart)`);
  t.equal(receiver.deliveries[0]!.webhookId, id, "the same webhook-id after the restart");
});

t.test("a restarted instance delivers every due row left behind", async (t) => {
  const db = await sharedDatabase(t);
  const ids = await enqueue(db, 5);
  const receiver = await startReceiver(t);
  await startApp(t, { database: db, config: webhookConfig(receiver.url) });
  await until(t, "all five", () => receiver.deliveries.length === 5);
  t.same(receiver.deliveries.map((d) => d.webhookId).sort(), [...ids].sort());
});

t.test("after the last attempt a row is kept as dead: in /metrics, listed, and revived by retry", async (t) => {
  const db = await sharedDatabase(t);
  let healthy = false;
  const receiver = await startReceiver(t, () => ({ status: healthy ? 204 : 503 }));
  const app = await startApp(t, { database: db, config: webhookConfig(receiver.url, { WEBHOOK_MAX_ATTEMPTS: 3 }) });
  const [id] = await enqueue(db, 1);
  await until(t, "dead after three attempts", async () => (await outboxRows(db))[0]?.state === "dead");
  await sleep(200);
  t.equal(receiver.deliveries.length, 3, "exactly WEBHOOK_MAX_ATTEMPTS attempts");
  t.match((await outboxRows(db))[0], { id, state: "dead", attempts: 3, lastError: "status 503" });

  const metrics = await app.inject({ method: "GET", url: "/metrics", headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  t.match(metrics.body, /webhook_outbox_messages\{state="dead"\} 1\n/, "the dead row is on /metrics");
  t.match(metrics.body, /webhook_deliveries_total\{outcome="dead"\} 1\n/);

  const listed = await listOutbox(createAuditRepository(db.prisma), { dead: true });
  t.match(listed, [{ id, type: "mfa_enrolled", state: "dead", attempts: 3, lastError: "status 503" }], "notifications list --dead");
  t.same(await listOutbox(createAuditRepository(db.prisma), { dead: false }), listed, "the whole list holds it too");

  healthy = true;
  t.equal(await retryOutboxMessage(createAuditRepository(db.prisma), id!), "revived", "notifications retry ID");
  await until(t, "delivered after the retry", () => receiver.deliveries.length === 4);
  await until(t, "and gone from the outbox", async () => (await outboxRows(db)).length === 0);
  t.equal(receiver.deliveries[3]!.webhookId, id);
  t.equal(await retryOutboxMessage(createAuditRepository(db.prisma), id!), "not_dead", "a row that is no longer dead is not retried");
  t.equal(await retryOutboxMessage(createAuditRepository(db.prisma), "not-a-uuid"), "not_dead", "nor a malformed id");
  const after = await app.inject({ method: "GET", url: "/metrics", headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  t.match(after.body, /webhook_outbox_messages\{state="dead"\} 0\n/);
});

t.test("a 4xx answer is final: kept as dead at once, not retried", async (t) => {
  const db = await sharedDatabase(t);
  const receiver = await startReceiver(t, () => ({ status: 400 }));
  await startApp(t, { database: db, config: webhookConfig(receiver.url) });
  await enqueue(db, 1);
  await until(t, "dead", async () => (await outboxRows(db))[0]?.state === "dead");
  await sleep(200);
  t.equal(receiver.deliveries.length, 1);
  t.equal((await outboxRows(db))[0]!.lastError, "status 400");
});

t.test("webhooks never follow redirects: a 307 is final and the target hears nothing", async (t) => {
  const db = await sharedDatabase(t);
  const target = await startReceiver(t);
  const redirecting: Script = () => ({ status: 307, headers: { location: target.url } });
  const receiver = await startReceiver(t, redirecting);
  await startApp(t, { database: db, config: webhookConfig(receiver.url) });
  await enqueue(db, 1);
  await until(t, "the row is dead", async () => (await outboxRows(db))[0]?.state === "dead");
  await sleep(300);
  t.equal(receiver.deliveries.length, 1, "one attempt");
  t.equal(target.deliveries.length, 0, "the signed body never reached the redirect's target");
  t.equal((await outboxRows(db))[0]!.lastError, "status 307");
});

t.test("a slow receiver hits the timeout and is retried", async (t) => {
  const db = await sharedDatabase(t);
  const receiver = await startReceiver(t, (n) => (n === 1 ? { status: 200, delayMs: 10_000 } : { status: 200 }));
  await startApp(t, { database: db, config: webhookConfig(receiver.url, { WEBHOOK_TIMEOUT_MS: 150 }) });
  await enqueue(db, 1);
  await until(t, "the second attempt", () => receiver.deliveries.length === 2, 5_000);
  await until(t, "delivered", async () => (await outboxRows(db)).length === 0);
});

t.test("on shutdown the worker finishes the row in hand and takes no other", async (t) => {
  const db = await sharedDatabase(t);
  const receiver = await startReceiver(t, () => ({ status: 204, delayMs: 400 }));
  const app = await startApp(t, { database: db, config: webhookConfig(receiver.url) });
  await enqueue(db, 3);
  await until(t, "the first attempt is in flight", () => receiver.deliveries.length === 1);
  await app.close();
  t.equal((await outboxRows(db)).length, 2, "the row in hand was delivered and removed before close returned");
  await sleep(600);
  t.equal(receiver.deliveries.length, 1, "no other row was taken");
  const rows = await outboxRows(db);
  t.same(rows.map((r) => r.attempts), [0, 0], "the others wait, untouched, for the next instance");
});

t.test("the worker is woken at once by a commit, not only by its poll", async (t) => {
  const receiver = await startReceiver(t);
  const db = await sharedDatabase(t);
  const app = await startApp(t, { database: db, config: webhookConfig(receiver.url, { WEBHOOK_POLL_INTERVAL_MS: 60_000 }) });
  // The app's own event path: a new user, then an event that is notified (a support unlock).
  const { createApiKey, createUser } = await import("../helpers/app.ts");
  const user = await createUser(app);
  const key = await createApiKey(app, ["users:write"]);
  await sleep(100); // the worker's first look at the empty outbox is over; from here it sleeps for 60 s
  const started = Date.now();
  const unlocked = await app.inject({ method: "POST", url: `/v1/users/${user.id}/unlock`, headers: { "x-api-key": key } });
  t.equal(unlocked.statusCode, 204, unlocked.body);
  await receiver.waitFor("password_unlocked", 5_000);
  t.ok(Date.now() - started < 5_000, `delivered ${Date.now() - started} ms after the commit, with a 60 s poll`);
});

t.test("WEBHOOK_LEGACY_HEADERS also sends the former x-webhook-* headers, verifiable as before", async (t) => {
  const { createHmac } = await import("node:crypto");
  const legacySecret = "l".repeat(40);
  const db = await sharedDatabase(t);
  const receiver = await startReceiver(t);
  await startApp(t, { database: db, config: webhookConfig(receiver.url, { WEBHOOK_SECRET: legacySecret, WEBHOOK_LEGACY_HEADERS: true }) });
  await enqueue(db, 1);
  const [d] = await receiver.waitForCount(1);
  const { headers, body } = d!;
  t.equal(headers["x-webhook-id"], headers["webhook-id"]);
  t.equal(headers["x-webhook-timestamp"], headers["webhook-timestamp"]);
  const expected = `v1=${createHmac("sha256", legacySecret).update(`${headers["x-webhook-timestamp"]}.${body}`).digest("hex")}`;
  t.equal(headers["x-webhook-signature"], expected, "the former v1=<hex> scheme");
  new Webhook(`whsec_${Buffer.from(legacySecret).toString("base64")}`).verify(body, headers as Record<string, string>);
  t.pass("and the Standard Webhooks signature, with the old secret as whsec_ + base64");
});

t.test("without the flag no x-webhook-* header is sent", async (t) => {
  const db = await sharedDatabase(t);
  const receiver = await startReceiver(t);
  await startApp(t, { database: db, config: webhookConfig(receiver.url) });
  await enqueue(db, 1);
  const [d] = await receiver.waitForCount(1);
  t.same(Object.keys(d!.headers).filter((h) => h.startsWith("x-webhook")), []);
  t.match(d!.signature, /^v1,[A-Za-z0-9+/]{43}=$/);
});
