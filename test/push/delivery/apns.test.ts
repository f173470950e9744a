// APNs against a local HTTP/2 server that checks the provider token and every
// header Apple documents. Apple refuses a token older than 1 h and one renewed
// more often than every 20 min, so one token serves 50 minutes of sends.
import t, { type Test } from "tap";
import { randomBytes } from "node:crypto";
import { exportPKCS8, generateKeyPair } from "jose";
import { manualClock } from "../../helpers/clock.ts";
import { PROVIDER_TOKEN_REUSE_MS } from "../../../src/push/delivery/apns.ts";
import { createPushDelivery, type PushAddress } from "../../../src/push/delivery/sender.ts";
import { DEFAULT_RETRY_DELAYS_MS } from "../../../src/push/delivery/settings.ts";
import { startApnsServer, type ApnsAnswer } from "./helpers/apns-server.ts";
import { challenge, recordingLog } from "./helpers/common.ts";

const TEAM_ID = "TEAM123456";
const KEY_ID = "KEY7654321";
const TOPIC = "com.example.authenticator";

async function setUp(t: Test, answers: ApnsAnswer[] = []) {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const clock = manualClock(new Date("2026-11-01T08:00:00Z"));
  const apple = await startApnsServer(t, { publicKey, teamId: TEAM_ID, keyId: KEY_ID, topic: TOPIC, clock }, answers);
  const log = recordingLog();
  const apns = { teamId: TEAM_ID, keyId: KEY_ID, topic: TOPIC, privateKey: await exportPKCS8(privateKey), baseUrl: apple.baseUrl, timeoutMs: 2_000 };
  const delivery = createPushDelivery({ webPush: null, apns, fcm: null, retryDelaysMs: DEFAULT_RETRY_DELAYS_MS }, { clock, log });
  t.teardown(() => delivery.close());
  const address = (): PushAddress => ({ kind: "apns", deviceToken: randomBytes(32).toString("hex") });
  return { apple, clock, log, delivery, address };
}

t.test("APNs gets a valid ES256 provider token, every header and only the challenge id", async (t) => {
  const { apple, clock, delivery, address, log } = await setUp(t);
  const to = address();
  const message = challenge(clock.now());
  t.equal(await delivery.send(to, message), "sent");
  const [request] = apple.requests;
  t.same(request?.problems, [], "signature, kid, iss, iat and headers all pass");
  t.equal(request?.path, `/3/device/${to.kind === "apns" ? to.deviceToken : ""}`);
  t.equal(request?.iat, Math.floor(clock.now().getTime() / 1000), "iat is the injected clock's time");
  t.equal(request?.headers["apns-expiration"], String(Math.floor(message.expiresAt.getTime() / 1000)), "APNs keeps it until the challenge ends");
  t.equal(request?.headers["apns-collapse-id"], message.challengeId);
  const { aps, ...rest } = request!.payload;
  t.same(rest, { type: "push-approval", challengeId: message.challengeId }, "besides aps, only the type and challenge id");
  t.same(Object.keys((aps as { alert: object }).alert), ["loc-key"], "the alert text is a key the app resolves, nothing about the person");
  t.notMatch(log.text(), request!.token.slice(-20), "the provider token is never logged");
});

t.test("one provider token serves sends within 50 minutes; a send after 50 minutes mints a new one", async (t) => {
  const { apple, clock, delivery, address } = await setUp(t);
  await delivery.send(address(), challenge(clock.now()));
  clock.advance(PROVIDER_TOKEN_REUSE_MS - 60_000);
  await delivery.send(address(), challenge(clock.now()));
  clock.advance(60_000);
  await delivery.send(address(), challenge(clock.now()));
  const [first, second, third] = apple.requests;
  t.equal(second?.token, first?.token, "49 minutes later the same token");
  t.not(third?.token, first?.token, "at 50 minutes a new token");
  t.equal(third!.iat - first!.iat, PROVIDER_TOKEN_REUSE_MS / 1000, "its iat is the clock's new time");
  t.same(apple.requests.flatMap((r) => r.problems), [], "Apple accepts every one");
});

t.test("concurrent sends share one HTTP/2 connection and one token", async (t) => {
  const { apple, clock, delivery, address } = await setUp(t);
  const outcomes = await Promise.all(Array.from({ length: 5 }, () => delivery.send(address(), challenge(clock.now()))));
  t.same(outcomes, Array(5).fill("sent"));
  t.equal(apple.sessions(), 1, "one connection: Apple treats rapid reconnects as a denial of service");
  t.equal(new Set(apple.requests.map((r) => r.token)).size, 1, "one provider token");
});

t.test("410 Unregistered and 400 BadDeviceToken mean the device token is gone; other 400s do not", async (t) => {
  const { clock, delivery, address } = await setUp(t, [
    { status: 410, reason: "Unregistered" }, { status: 400, reason: "BadDeviceToken" }, { status: 400, reason: "PayloadTooLarge" },
  ]);
  t.equal(await delivery.send(address(), challenge(clock.now())), "gone");
  t.equal(await delivery.send(address(), challenge(clock.now())), "gone");
  t.equal(await delivery.send(address(), challenge(clock.now())), "failed");
});

t.test("403 ExpiredProviderToken drops the cached token and the retry carries a new one", async (t) => {
  const { apple, clock, delivery, address } = await setUp(t, [{ status: 403, reason: "ExpiredProviderToken" }]);
  t.equal(await delivery.send(address(), challenge(clock.now())), "sent");
  t.equal(apple.requests.length, 2);
  t.not(apple.requests[1]?.token, apple.requests[0]?.token, "a freshly minted token");
});

t.test("a token that is not hex is never put into the request path", async (t) => {
  const { apple, clock, delivery } = await setUp(t);
  t.equal(await delivery.send({ kind: "apns", deviceToken: "../../3/other" }, challenge(clock.now())), "failed");
  t.equal(apple.requests.length, 0);
});
