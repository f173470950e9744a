// The built-in webhook notifier against a real HTTP receiver on loopback:
// signing, retries, give-up rules, timeouts and draining. Back-off is shrunk
// through the timing option, so nothing here sleeps for long.
import t, { type Test } from "tap";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyBaseLogger } from "fastify";
import { ConfigError } from "../../src/config.ts";
import { createLogger } from "../../src/logging.ts";
import type { Notification } from "../../src/notifications/notifier.ts";
import {
  createWebhookNotifier, verifyWebhookSignature, webhookSignature, type WebhookSettings,
} from "../../src/notifications/webhook.ts";
import { logCapture } from "../helpers/app.ts";

const SECRET = "s".repeat(20) + "-shared-webhook-secret";
const FAST = { baseDelayMs: 10, maxDelayMs: 50 };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Received { headers: IncomingHttpHeaders; body: string }
/** How the receiver answers its n-th request (1-based); a status of null never answers. */
type Script = (n: number) => { status: number | null; delayMs?: number; headers?: Record<string, string> };

async function startReceiver(t: Test, script: Script = () => ({ status: 200 })) {
  const received: Received[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const answer = (res: ServerResponse, step: ReturnType<Script>) => {
    if (step.status === null || res.destroyed) return;
    res.writeHead(step.status, step.headers).end();
  };
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => { body += chunk; });
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      const step = script(received.length);
      if (!step.delayMs) return answer(res, step);
      const timer = setTimeout(() => { timers.delete(timer); answer(res, step); }, step.delayMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    for (const timer of timers) clearTimeout(timer);
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, received };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function notifierFor(url: string, overrides: Partial<WebhookSettings> = {}) {
  const logs = logCapture();
  const log = createLogger("info", logs.stream) as FastifyBaseLogger;
  const notifier = createWebhookNotifier({ url, secret: SECRET, maxAttempts: 5, timeoutMs: 2_000, ...overrides }, log, FAST);
  const messages = () => logs.lines.map((line) => JSON.parse(line) as { level: number; msg: string; notificationId?: string; attempts?: number });
  return { notifier, logs, messages };
}

const notification = (overrides: Partial<Notification> = {}): Notification => ({
  type: "mfa_enrolled",
  userId: "6f1c2a4e-8d0b-4a53-9a55-1d2f3e4a5b6c",
  occurredAt: "2026-11-28T10:00:00.000Z",
  details: { clientAddress: "203.0.113.7", userAgent: "Firefox/140" },
  ...overrides,
});

t.test("a notification arrives signed, and the signature verifies with the shared secret", async (t) => {
  const receiver = await startReceiver(t);
  const { notifier } = notifierFor(receiver.url);
  notifier.notify(notification());
  await notifier.drain();

  t.equal(receiver.received.length, 1);
  const { headers, body } = receiver.received[0]!;
  const payload = JSON.parse(body);
  t.same(Object.keys(payload), ["id", "type", "userId", "occurredAt", "details"]);
  t.match(payload.id, UUID);
  t.same({ ...payload, id: undefined }, { ...notification(), id: undefined });
  t.equal(headers["content-type"], "application/json");
  t.equal(headers["x-webhook-id"], payload.id, "the header repeats the body's id");
  const timestamp = headers["x-webhook-timestamp"] as string;
  t.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 5, "unix seconds of the attempt");
  const signature = headers["x-webhook-signature"] as string;
  t.match(signature, /^v1=[0-9a-f]{64}$/);
  t.ok(verifyWebhookSignature(SECRET, timestamp, body, signature, new Date()), "verifies with the shared secret");

  t.notOk(verifyWebhookSignature(SECRET, timestamp, body.replace("mfa_enrolled", "mfa_disabled"), signature), "a tampered body fails");
  t.notOk(verifyWebhookSignature(`${SECRET}x`, timestamp, body, signature), "another secret fails");
  t.notOk(verifyWebhookSignature(SECRET, String(Number(timestamp) + 1), body, signature), "another timestamp fails");
  t.notOk(verifyWebhookSignature(SECRET, timestamp, body, undefined), "a missing signature fails");
  t.notOk(verifyWebhookSignature(SECRET, timestamp, body, signature.slice(0, -1)), "a truncated signature fails");
  const sixMinutesLater = new Date((Number(timestamp) + 360) * 1000);
  t.notOk(verifyWebhookSignature(SECRET, timestamp, body, signature, sixMinutesLater), "an old timestamp fails, however well signed");

  const old = Math.floor(Date.now() / 1000) - 301;
  t.notOk(verifyWebhookSignature(SECRET, old, body, webhookSignature(SECRET, old, body)), "re-signing an old timestamp does not help");
  const recent = Math.floor(Date.now() / 1000) - 299;
  t.ok(verifyWebhookSignature(SECRET, recent, body, webhookSignature(SECRET, recent, body)), "within 5 minutes is accepted");
});

t.test("a failing receiver is retried until it answers 2xx", async (t) => {
  const receiver = await startReceiver(t, (n) => ({ status: n <= 2 ? 500 : 200 }));
  const { notifier, messages } = notifierFor(receiver.url);
  notifier.notify(notification());
  await notifier.drain();

  t.equal(receiver.received.length, 3, "two failures, then the success");
  const ids = new Set(receiver.received.map((r) => r.headers["x-webhook-id"]));
  t.equal(ids.size, 1, "every retry carries the same x-webhook-id");
  t.equal(new Set(receiver.received.map((r) => r.body)).size, 1, "and the same body");
  for (const { headers, body } of receiver.received) {
    t.ok(verifyWebhookSignature(SECRET, headers["x-webhook-timestamp"] as string, body, headers["x-webhook-signature"] as string), "each attempt is signed");
  }
  const delivered = messages().find((m) => m.msg === "webhook delivered");
  t.equal(delivered?.attempts, 3);
  t.equal(delivered?.notificationId, [...ids][0]);
});

t.test("a 429 with Retry-After is retried after the wait it asks for, up to the cap", async (t) => {
  const receiver = await startReceiver(t, (n) => ({ status: n === 1 ? 429 : 200, headers: { "retry-after": "3600" } }));
  const logs = logCapture();
  const log = createLogger("info", logs.stream) as FastifyBaseLogger;
  const notifier = createWebhookNotifier({ url: receiver.url, secret: SECRET, maxAttempts: 3, timeoutMs: 2_000 }, log, { baseDelayMs: 10, maxDelayMs: 300 });
  const started = Date.now();
  notifier.notify(notification());
  await notifier.drain();
  const elapsed = Date.now() - started;

  t.equal(receiver.received.length, 2);
  t.ok(elapsed >= 290, `waited for the capped Retry-After (${elapsed} ms)`);
  t.ok(elapsed < 3_000, "not the hour it asked for");
});

t.test("a 400 answer is not retried", async (t) => {
  const receiver = await startReceiver(t, () => ({ status: 400 }));
  const { notifier, messages } = notifierFor(receiver.url);
  notifier.notify(notification());
  await notifier.drain();

  t.equal(receiver.received.length, 1);
  const refused = messages().find((m) => m.msg.startsWith("webhook refused"));
  t.ok(refused, "logged");
  t.equal(refused?.level, 40, "at warn");
});

t.test("delivery gives up after maxAttempts", async (t) => {
  const receiver = await startReceiver(t, () => ({ status: 503 }));
  const { notifier, messages } = notifierFor(receiver.url, { maxAttempts: 4 });
  notifier.notify(notification());
  await notifier.drain();

  t.equal(receiver.received.length, 4);
  const gaveUp = messages().find((m) => m.msg === "webhook delivery gave up");
  t.equal(gaveUp?.level, 40, "logged at warn");
  t.equal(gaveUp?.attempts, 4);
});

t.test("a slow receiver hits the timeout and is retried", async (t) => {
  const receiver = await startReceiver(t, (n) => (n === 1 ? { status: 200, delayMs: 10_000 } : { status: 200 }));
  const { notifier, messages } = notifierFor(receiver.url, { timeoutMs: 150 });
  const started = Date.now();
  notifier.notify(notification());
  await notifier.drain();

  t.equal(receiver.received.length, 2);
  t.ok(Date.now() - started < 5_000, "the first attempt was abandoned, not awaited");
  t.ok(messages().some((m) => m.msg === "webhook attempt failed; will retry" && (m as { reason?: string }).reason === "timeout"));
  t.equal(messages().find((m) => m.msg === "webhook delivered")?.attempts, 2);
});

t.test("notify never throws, even when the receiver is down", async (t) => {
  const { notifier, messages } = notifierFor(`http://127.0.0.1:${await closedPort()}/hook`, { maxAttempts: 2 });
  t.doesNotThrow(() => notifier.notify(notification()));
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  t.doesNotThrow(() => notifier.notify(notification({ details: circular })), "not even with details JSON cannot hold");
  t.doesNotThrow(() => notifier.notify(null as unknown as Notification), "nor with no notification at all");
  await notifier.drain();

  const gaveUp = messages().find((m) => m.msg === "webhook delivery gave up") as { reason?: string } | undefined;
  t.equal(gaveUp?.reason, "ECONNREFUSED");
  t.equal(messages().filter((m) => m.msg === "webhook notification could not be prepared").length, 2);
});

t.test("drain waits for in-flight deliveries", async (t) => {
  const receiver = await startReceiver(t, (n) => (n === 1 ? { status: 500, delayMs: 100 } : { status: 204, delayMs: 100 }));
  const { notifier, messages } = notifierFor(receiver.url);
  notifier.notify(notification());
  notifier.notify(notification({ type: "mfa_disabled" }));
  t.equal(receiver.received.length, 0, "notify returns before delivering");

  await notifier.drain();
  t.equal(receiver.received.length, 3, "one failure retried, one success");
  t.equal(messages().filter((m) => m.msg === "webhook delivered").length, 2, "both finished, the retry included");
  await notifier.drain();
  t.pass("draining with nothing in flight returns at once");
});

t.test("drain returns even when the receiver never answers", async (t) => {
  const receiver = await startReceiver(t, () => ({ status: null }));
  const { notifier, messages } = notifierFor(receiver.url, { maxAttempts: 2, timeoutMs: 100 });
  const started = Date.now();
  notifier.notify(notification());
  await notifier.drain();

  t.ok(Date.now() - started < 5_000, "bounded by the timeouts and back-off");
  t.equal(receiver.received.length, 2);
  t.ok(messages().some((m) => m.msg === "webhook delivery gave up"));
});

t.test("logs name the notification but never its details or the secret", async (t) => {
  const receiver = await startReceiver(t, (n) => ({ status: n === 1 ? 500 : n === 2 ? 200 : 400 }));
  const { notifier, logs } = notifierFor(`${receiver.url}?token=url-credential`);
  notifier.notify(notification());
  await notifier.drain();
  notifier.notify(notification());
  await notifier.drain();

  const text = logs.lines.join("\n");
  t.match(text, /"type":"mfa_enrolled"/);
  t.match(text, /"notificationId":"[0-9a-f-]{36}"/);
  for (const secret of [SECRET, "203.0.113.7", "Firefox/140", "url-credential"]) {
    t.notMatch(text, secret, `no ${secret} in the log`);
  }
});

t.test("a short secret is refused", async (t) => {
  const settings = { url: "http://127.0.0.1:9/hook", maxAttempts: 1, timeoutMs: 100 };
  const log = createLogger("silent") as FastifyBaseLogger;
  const short = "k".repeat(31);
  const error = t.throws(() => createWebhookNotifier({ ...settings, secret: short }, log)) as unknown as ConfigError;
  t.ok(error instanceof ConfigError, "a configuration error, reported like the others at start-up");
  t.match(error.message, /WEBHOOK_SECRET: must be at least 32 characters, got 31/);
  t.notMatch(error.message, short, "the message does not repeat the secret");
  t.doesNotThrow(() => createWebhookNotifier({ ...settings, secret: "k".repeat(32) }, log), "32 characters are enough");
  t.throws(() => createWebhookNotifier({ ...settings, url: "ftp://example.test/", secret: SECRET }, log), /WEBHOOK_URL/);
});
