// The webhook sender (src/outbox/webhook.ts) and what the worker logs, against
// real receivers on loopback: the Standard Webhooks signature verifies with the
// reference library and fails for anything tampered; a bad secret or URL stops
// the start with a message that does not repeat the secret; a 429's Retry-After
// is honoured up to the cap; logs name the notification, never its details,
// the secret or the URL.
import { randomUUID } from "node:crypto";
import t from "tap";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { createAuditRepository } from "../../src/audit/repository.ts";
import { buildApp } from "../../src/app.ts";
import { ConfigError } from "../../src/config.ts";
import type { Database } from "../../src/db/database.ts";
import { createWebhookSender } from "../../src/outbox/webhook.ts";
import { logCapture, sharedDatabase, startApp, testConfig } from "../helpers/app.ts";
import { startReceiver } from "../helpers/webhook-receiver.ts";

const SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function enqueue(db: Database, details: Record<string, unknown> = {}) {
  const id = randomUUID();
  const body = JSON.stringify({ id, type: "mfa_enrolled", userId: randomUUID(), occurredAt: new Date().toISOString(), details });
  await createAuditRepository(db.prisma).appendEvents({ audit: [], outbox: [{ id, type: "mfa_enrolled", body }] });
  return id;
}

t.test("an attempt is signed by Standard Webhooks: it verifies with the library, and nothing tampered does", async (t) => {
  const receiver = await startReceiver(t);
  const send = createWebhookSender({ url: receiver.url, secret: SECRET, timeoutMs: 2_000, legacyHeaders: false });
  const id = randomUUID();
  const body = JSON.stringify({ id, type: "mfa_enrolled" });
  t.same(await send({ id, body }), { kind: "delivered", status: 204 });
  const [d] = receiver.deliveries;
  const headers = d!.headers as Record<string, string>;
  t.equal(headers["content-type"], "application/json");
  t.equal(headers["webhook-id"], id);
  t.ok(Math.abs(Number(headers["webhook-timestamp"]) - Date.now() / 1000) < 5, "unix seconds of the attempt");
  t.match(headers["webhook-signature"], /^v1,[A-Za-z0-9+/]{43}=$/);
  const verifier = new Webhook(SECRET);
  t.same(verifier.verify(d!.body, headers), JSON.parse(body), "verifies with the shared secret");
  t.throws(() => verifier.verify(d!.body.replace("mfa_enrolled", "mfa_disabled"), headers), WebhookVerificationError, "a tampered body fails");
  t.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 8).toString("base64")}`).verify(d!.body, headers), WebhookVerificationError, "another secret fails");
  t.throws(() => verifier.verify(d!.body, { ...headers, "webhook-id": randomUUID() }), WebhookVerificationError, "another id fails: the id is signed too");
  t.throws(() => verifier.verify(d!.body, { ...headers, "webhook-timestamp": String(Number(headers["webhook-timestamp"]) + 1) }), WebhookVerificationError, "another timestamp fails");
  t.throws(() => verifier.verify(d!.body, { ...headers, "webhook-signature": headers["webhook-signature"]!.slice(0, -2) }), WebhookVerificationError, "a truncated signature fails");
  const old = Math.floor(Date.now() / 1000) - 301;
  const resigned = verifier.sign(id, new Date(old * 1000), d!.body);
  t.throws(() => verifier.verify(d!.body, { ...headers, "webhook-timestamp": String(old), "webhook-signature": resigned }), WebhookVerificationError, "an old timestamp fails, however well signed");
});

t.test("an unusable secret or URL is refused at start-up, without repeating the secret", async (t) => {
  const base = { url: "http://127.0.0.1:9/hook", timeoutMs: 100, legacyHeaders: false };
  const short = "k".repeat(31);
  const error = t.throws(() => createWebhookSender({ ...base, secret: short })) as unknown as ConfigError;
  t.ok(error instanceof ConfigError, "a configuration error, reported like the others at start-up");
  t.match(error.message, /WEBHOOK_SECRET: must be whsec_<base64> or at least 32 characters, got 31/);
  t.notMatch(error.message, short, "the message does not repeat the secret");
  t.doesNotThrow(() => createWebhookSender({ ...base, secret: "k".repeat(32) }), "32 characters of the former kind are enough");
  const small = `whsec_${Buffer.alloc(16, 1).toString("base64")}`;
  const smallError = t.throws(() => createWebhookSender({ ...base, secret: small })) as unknown as ConfigError;
  t.match(smallError.message, /at least 24 bytes, got 16/, "a whsec_ key of 16 bytes is too short");
  t.notMatch(smallError.message, small.slice(6));
  t.throws(() => createWebhookSender({ ...base, secret: "whsec_not base64!!!!!!!!!!!!!!!!!!!!!!" }), /WEBHOOK_SECRET/, "nor one that is not base64");
  t.doesNotThrow(() => createWebhookSender({ ...base, secret: SECRET }));
  t.throws(() => createWebhookSender({ ...base, url: "ftp://example.test/", secret: SECRET }), /WEBHOOK_URL/);
  const refused = await buildApp({ config: testConfig({ WEBHOOK_URL: base.url, WEBHOOK_SECRET: short }) }).then(async (app) => { await app.close(); return null; }, (e: unknown) => e);
  t.ok(refused instanceof ConfigError, "the service does not start with it");
});

t.test("a 429 with Retry-After is retried after the wait it asks for, up to the cap", async (t) => {
  const db = await sharedDatabase(t);
  const arrivals: number[] = [];
  const receiver = await startReceiver(t, (n) => { arrivals.push(Date.now()); return n === 1 ? { status: 429, headers: { "retry-after": "3600" } } : { status: 204 }; });
  await startApp(t, { database: db, config: { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_BASE_MS: 10, WEBHOOK_RETRY_MAX_MS: 300, WEBHOOK_POLL_INTERVAL_MS: 20 } });
  await enqueue(db);
  await receiver.waitForCount(2, 10_000);
  const gap = arrivals[1]! - arrivals[0]!;
  t.ok(gap >= 290, `waited for the capped Retry-After (${gap} ms), not the 10 ms back-off`);
  t.ok(gap < 3_000, "not the hour it asked for");
});

t.test("logs name the notification but never its details, the secret or the URL", async (t) => {
  const db = await sharedDatabase(t);
  const receiver = await startReceiver(t, (n) => ({ status: n === 1 ? 500 : n === 2 ? 200 : 400 }));
  const logs = logCapture();
  await startApp(t, {
    database: db, logStream: logs.stream,
    config: { WEBHOOK_URL: `${receiver.url}?token=url-credential`, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_BASE_MS: 10, WEBHOOK_POLL_INTERVAL_MS: 20 },
  });
  const details = { clientAddress: "203.0.113.7", userAgent: "Firefox/140" };
  const first = await enqueue(db, details);
  await receiver.waitForCount(2, 10_000);
  const second = await enqueue(db, details);
  await receiver.waitForCount(3, 10_000);
  await sleep(200);
  const text = logs.lines.join("\n");
  t.match(text, /"type":"mfa_enrolled"/);
  t.match(text, new RegExp(`"notificationId":"${first}"[^\\n]*"msg":"webhook attempt failed; will retry"`));
  t.match(text, new RegExp(`"notificationId":"${first}"[^\\n]*"msg":"webhook delivered"`));
  t.match(text, new RegExp(`"notificationId":"${second}"[^\\n]*"msg":"webhook refused by the receiver; kept as dead, not retried"`));
  for (const secret of [SECRET, SECRET.slice(6), "203.0.113.7", "Firefox/140", "url-credential"]) {
    t.notMatch(text, secret, `no ${secret} in the log`);
  }
});
