// End to end, with the settings the README gives: a sign-in's push reaches each
// local protocol checker within a second of the challenge, the phone finds only
// the challenge id (Web Push decrypts it; APNs and FCM verify the credentials),
// the reference app then approves, and an address the push service calls gone
// is dropped from the pairing (issue: push delivery).
import t, { type Test } from "tap";
import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { exportPKCS8, generateKeyPair } from "jose";
import type { App } from "../../src/http/app-type.ts";
import { createPushDelivery } from "../../src/push/delivery/sender.ts";
import { pushDeliverySettings } from "../../src/push/delivery/settings.ts";
import { generateVapidKeyPair } from "../../src/push/delivery/vapid-keys.ts";
import { startApp, testConfig } from "../helpers/app.ts";
import { personWithPushApp, poll, startPush } from "../helpers/push.ts";
import { startApnsServer } from "./delivery/helpers/apns-server.ts";
import { recordingLog } from "./delivery/helpers/common.ts";
import { startFcmServer } from "./delivery/helpers/fcm-server.ts";
import { startWebPushService } from "./delivery/helpers/web-push-service.ts";
import { manualClock } from "../helpers/clock.ts";

const WITHIN_MS = 1_000;

async function waitUntil(what: string, done: () => boolean): Promise<number> {
  const started = Date.now();
  while (!done()) {
    if (Date.now() - started > 5_000) throw new Error(`${what} did not happen within 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return Date.now() - started;
}

/** Password, push, the phone answers with the number shown: one session. */
async function signInByPush(t: Test, app: App, who: Awaited<ReturnType<typeof personWithPushApp>>, arrived: () => string | undefined) {
  const { res, mfaToken } = await startPush(app, who.user.email);
  t.equal(res.statusCode, 200, res.body);
  const { challengeId, numberToMatch } = res.json();
  const ms = await waitUntil("the push", () => arrived() !== undefined);
  t.ok(ms < WITHIN_MS, `the push reached the checker ${ms} ms after the challenge (within ${WITHIN_MS} ms)`);
  t.equal(arrived(), challengeId, "it carries the challenge id");
  const [pending] = await who.phone.pending(0);
  t.equal(pending?.id, challengeId, "the woken app finds the challenge");
  t.equal((await who.phone.answer(pending!, "approve", { number: numberToMatch })).status, "approved");
  const collected = await poll(app, challengeId, mfaToken);
  t.equal(collected.json().status, "authenticated", "the sign-in page collects the session");
  return challengeId as string;
}

const deltas = async (app: App, userId: string) =>
  (await app.database.prisma.auditEvent.findMany({ where: { subjectUserId: userId, type: "push_delivery" } })).map((e) => e.details as Record<string, unknown>);

t.test("Web Push: the push service verifies VAPID, the phone decrypts only the challenge id, the app approves; a gone subscription is dropped", async (t) => {
  const vapid = generateVapidKeyPair();
  const service = await startWebPushService(t, vapid.publicKey, [201, 410]);
  const config = testConfig({ VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey, VAPID_SUBJECT: "mailto:security@example.com" });
  const counted: string[] = [];
  // The production factory and settings; only the test's certificate authority is added.
  const sender = createPushDelivery(await pushDeliverySettings(config), {
    clock: { now: () => new Date() }, log: recordingLog(), webPushAgent: service.agent, count: (kind, outcome) => counted.push(`${kind}:${outcome}`),
  });
  t.teardown(() => sender.close());
  const app = await startApp(t, { config: { VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey, VAPID_SUBJECT: "mailto:security@example.com" }, pushSender: sender });

  const key = await app.inject({ method: "GET", url: "/v1/authenticator/web-push-key" });
  t.equal(key.json().publicKey, vapid.publicKey, "the app subscribes with the configured VAPID public key");
  const who = await personWithPushApp(app, undefined, { kind: "webpush", subscription: service.subscribe() });

  await signInByPush(t, app, who, () => (service.received[0] ? JSON.parse(service.received[0].plaintext).challengeId : undefined));
  t.same(service.received[0]!.problems, [], "VAPID signature, aud and exp pass; the payload decrypts");
  t.same(Object.keys(JSON.parse(service.received[0]!.plaintext)).sort(), ["challengeId", "type"], "nothing about the person");

  t.same(counted, ["webpush:sent"], "one send, counted as a metric");

  t.equal((await startPush(app, who.user.email)).res.statusCode, 200, "an approval resets the push wait");
  await waitUntil("the second push", () => service.received.length === 2);
  await eventually(t, "the gone subscription is dropped from the pairing", async () =>
    (await app.database.prisma.pushAuthenticator.findFirst({ where: { userId: who.user.id }, select: { pushAddress: true } }))?.pushAddress === null);
  const outcomes = (await deltas(app, who.user.id)).map((d) => d.outcome);
  t.same(outcomes.sort(), ["gone", "sent"], "each send is an audit detail with its outcome");
});

t.test("APNs, wired from the APNS_* settings: Apple's checker verifies the provider token and headers, the app approves; Unregistered drops the token", async (t) => {
  const clock = manualClock(new Date());
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const apple = await startApnsServer(t, { publicKey, teamId: "TEAM123456", keyId: "KEY7654321", topic: "com.example.authenticator", clock }, [
    { status: 200 }, { status: 410, reason: "Unregistered" },
  ]);
  const app = await startApp(t, {
    clock,
    config: { APNS_TEAM_ID: "TEAM123456", APNS_KEY_ID: "KEY7654321", APNS_TOPIC: "com.example.authenticator", APNS_PRIVATE_KEY: await exportPKCS8(privateKey), APNS_BASE_URL: apple.baseUrl },
  });
  const deviceToken = randomBytes(32).toString("hex");
  const who = await personWithPushApp(app, clock.now, { kind: "apns", deviceToken });
  await signInByPush(t, app, who, () => apple.requests[0]?.payload.challengeId as string | undefined);
  t.same(apple.requests[0]!.problems, [], "ES256 provider token, apns-topic, push type, priority, expiration and collapse id pass");
  t.equal(apple.requests[0]!.path, `/3/device/${deviceToken}`);

  clock.advance(60_000);
  t.equal((await startPush(app, who.user.email)).res.statusCode, 200);
  await eventually(t, "the unregistered device token is dropped", async () =>
    (await app.database.prisma.pushAuthenticator.findFirst({ where: { userId: who.user.id }, select: { pushAddress: true } }))?.pushAddress === null);
});

t.test("FCM, wired from FCM_SERVICE_ACCOUNT_FILE: the token endpoint verifies the assertion, the send endpoint the bearer token, the app approves; UNREGISTERED drops the token", async (t) => {
  const clock = manualClock(new Date());
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  const clientEmail = "push@test-project.iam.gserviceaccount.com";
  const google = await startFcmServer(t, { publicKey, clientEmail, projectId: "test-project", clock, expiresInSeconds: 3600 }, [
    { status: 200 }, { status: 404, errorCode: "UNREGISTERED" },
  ]);
  const dir = await mkdtemp(path.join(tmpdir(), "fcm-"));
  const accountFile = path.join(dir, "service-account.json");
  await writeFile(accountFile, JSON.stringify({
    type: "service_account", project_id: "test-project", client_email: clientEmail, private_key: await exportPKCS8(privateKey), token_uri: google.tokenUrl,
  }), { mode: 0o600 });
  const app = await startApp(t, { clock, config: { FCM_SERVICE_ACCOUNT_FILE: accountFile, FCM_BASE_URL: google.baseUrl } });
  const registrationToken = randomBytes(40).toString("base64url");
  const who = await personWithPushApp(app, clock.now, { kind: "fcm", registrationToken });
  await signInByPush(t, app, who, () => ((google.sends[0]?.message.data ?? {}) as Record<string, string>).challengeId);
  t.same(google.sends[0]!.problems, [], "the bearer token, the TTL and the payload pass");
  t.same(google.exchanges.length, 1, "one token exchange");

  clock.advance(60_000);
  t.equal((await startPush(app, who.user.email)).res.statusCode, 200);
  await eventually(t, "the unregistered registration token is dropped", async () =>
    (await app.database.prisma.pushAuthenticator.findFirst({ where: { userId: who.user.id }, select: { pushAddress: true } }))?.pushAddress === null);
});

async function eventually(t: Test, what: string, check: () => Promise<boolean>) {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) return t.fail(`${what}: not within 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.pass(what);
}
