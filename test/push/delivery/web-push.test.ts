// Web Push against a local push service that checks the VAPID signature and
// decrypts the message as a browser would: a push service sees a signed,
// encrypted message, and the phone or browser finds only the challenge id.
import t, { type Test } from "tap";
import { manualClock } from "../../helpers/clock.ts";
import { createPushDelivery, type PushAddress } from "../../../src/push/delivery/sender.ts";
import { DEFAULT_RETRY_DELAYS_MS } from "../../../src/push/delivery/settings.ts";
import { generateVapidKeyPair } from "../../../src/push/delivery/vapid-keys.ts";
import { webPushTopic } from "../../../src/push/delivery/web-push.ts";
import { challenge, recordingLog } from "./helpers/common.ts";
import { startWebPushService } from "./helpers/web-push-service.ts";

const SUBJECT = "mailto:security@example.com";

async function setUp(t: Test, answers: number[] = []) {
  const vapid = generateVapidKeyPair();
  const service = await startWebPushService(t, vapid.publicKey, answers);
  const clock = manualClock(new Date());
  const log = recordingLog();
  const counted: string[] = [];
  const delivery = createPushDelivery(
    { webPush: { ...vapid, subject: SUBJECT, timeoutMs: 2_000 }, apns: null, fcm: null, retryDelaysMs: DEFAULT_RETRY_DELAYS_MS },
    { clock, log, webPushAgent: service.agent, count: (kind, outcome) => counted.push(`${kind}:${outcome}`) },
  );
  const address = (): PushAddress => ({ kind: "webpush", subscription: service.subscribe() });
  return { vapid, service, clock, log, counted, delivery, address };
}

t.test("the push service gets a valid VAPID signature and the subscriber decrypts only the challenge id", async (t) => {
  const { service, clock, delivery, address, counted } = await setUp(t);
  const message = challenge(clock.now());
  t.equal(await delivery.send(address(), message), "sent");
  const [push] = service.received;
  t.same(push?.problems, [], "the service found nothing wrong");
  t.equal(push?.claims.aud, service.origin, "aud is the endpoint's origin (RFC 8292 §2)");
  t.ok(Number(push?.claims.exp) - Date.now() / 1000 <= 24 * 3600, "exp is within 24 h");
  t.equal(push?.claims.sub, SUBJECT);
  t.same(JSON.parse(push!.plaintext), { type: "push-approval", challengeId: message.challengeId }, "the payload is the challenge id and the fixed type, nothing else");
  t.same(counted, ["webpush:sent"]);
});

t.test("TTL is the challenge's remaining life, urgency high, topic a short form of the challenge id", async (t) => {
  const { service, clock, delivery, address } = await setUp(t);
  const message = challenge(clock.now(), 120);
  clock.advance(30_000);
  t.equal(await delivery.send(address(), message), "sent");
  const headers = service.received[0]!.headers;
  t.equal(headers.ttl, "90", "RFC 8030 §5.2: the service holds it no longer than the challenge lives");
  t.equal(headers.urgency, "high", "RFC 8030 §5.3");
  t.equal(headers.topic, webPushTopic(message.challengeId));
  t.match(String(headers.topic), /^[A-Za-z0-9_-]{1,32}$/, "RFC 8030 §5.4: at most 32 base64url characters");
  t.not(headers.topic, message.challengeId.slice(0, 32), "the topic does not reveal the challenge id");
});

t.test("410 Gone from the push service means the subscription is gone; 404 too", async (t) => {
  const { clock, delivery, address, counted, log } = await setUp(t, [410, 404]);
  const first = address();
  t.equal(await delivery.send(first, challenge(clock.now())), "gone", "410 (RFC 8030 §7.3)");
  t.equal(await delivery.send(address(), challenge(clock.now())), "gone", "404");
  t.same(counted, ["webpush:gone", "webpush:gone"]);
  const endpoint = first.kind === "webpush" ? first.subscription.endpoint : "";
  t.notMatch(log.text(), endpoint.split("/").pop()!, "the log never names the subscription");
});

t.test("a push service that refuses the request (400) gives failed without a retry", async (t) => {
  const { service, clock, delivery, address } = await setUp(t, [400]);
  t.equal(await delivery.send(address(), challenge(clock.now())), "failed");
  t.equal(service.received.length, 1, "a 4xx is about the request: sending it again cannot help");
});

t.test("the checker is not fooled: a push signed with a key other than the advertised one is refused", async (t) => {
  const { service, clock, address } = await setUp(t);
  const impostor = createPushDelivery(
    { webPush: { ...generateVapidKeyPair(), subject: SUBJECT, timeoutMs: 2_000 }, apns: null, fcm: null, retryDelaysMs: [] },
    { clock, log: recordingLog(), webPushAgent: service.agent },
  );
  t.equal(await impostor.send(address(), challenge(clock.now())), "failed");
  t.match(service.received[0]?.problems, [/not the advertised VAPID key/]);
});
