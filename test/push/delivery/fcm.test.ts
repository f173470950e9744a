// FCM HTTP v1 against a local token endpoint and send endpoint. The access
// token is cached until 60 s before it expires: a burst of sign-ins costs one
// exchange, not one per message (PUSH-ANCHORS: BA exchanges per message).
import t, { type Test } from "tap";
import { randomBytes } from "node:crypto";
import { exportPKCS8, generateKeyPair } from "jose";
import { manualClock } from "../../helpers/clock.ts";
import { createPushDelivery, type PushAddress } from "../../../src/push/delivery/sender.ts";
import { DEFAULT_RETRY_DELAYS_MS } from "../../../src/push/delivery/settings.ts";
import { challenge, recordingLog } from "./helpers/common.ts";
import { startFcmServer, type FcmAnswer } from "./helpers/fcm-server.ts";

const CLIENT_EMAIL = "push-sender@example-project.iam.gserviceaccount.com";
const PROJECT_ID = "example-project";

async function setUp(t: Test, answers: FcmAnswer[] = [], expiresInSeconds = 3600) {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  const clock = manualClock(new Date("2026-11-01T08:00:00Z"));
  const google = await startFcmServer(t, { publicKey, clientEmail: CLIENT_EMAIL, projectId: PROJECT_ID, clock, expiresInSeconds }, answers);
  const log = recordingLog();
  const fcm = { projectId: PROJECT_ID, clientEmail: CLIENT_EMAIL, privateKey: await exportPKCS8(privateKey), tokenUrl: google.tokenUrl, baseUrl: google.baseUrl, timeoutMs: 2_000 };
  const delivery = createPushDelivery({ webPush: null, apns: null, fcm, retryDelaysMs: DEFAULT_RETRY_DELAYS_MS }, { clock, log });
  const address = (): PushAddress => ({ kind: "fcm", registrationToken: randomBytes(40).toString("base64url") });
  return { google, clock, log, delivery, address };
}

t.test("FCM gets a verified assertion's access token, the remaining life as TTL and only the challenge id", async (t) => {
  const { google, clock, delivery, address, log } = await setUp(t);
  const to = address();
  const message = challenge(clock.now(), 120);
  clock.advance(20_000);
  t.equal(await delivery.send(to, message), "sent");
  t.same(google.exchanges, [[]], "one exchange, its assertion verified");
  const [send] = google.sends;
  t.same(send?.problems, [], "the send endpoint accepts the bearer token");
  const { token, data, ...rest } = send!.message;
  t.equal(token, to.kind === "fcm" ? to.registrationToken : "");
  t.same(data, { type: "push-approval", challengeId: message.challengeId }, "the data is the challenge id and the fixed type only");
  t.same(rest, { android: { ttl: "100s", priority: "high" } }, "no notification block, TTL = remaining life");
  t.notMatch(log.text(), send!.authorization.replace("Bearer ", ""), "the access token is never logged");
});

t.test("many sends cost one token exchange, concurrent ones included", async (t) => {
  const { google, clock, delivery, address } = await setUp(t);
  const outcomes = await Promise.all(Array.from({ length: 8 }, () => delivery.send(address(), challenge(clock.now()))));
  for (let i = 0; i < 4; i++) {
    clock.advance(10 * 60_000);
    outcomes.push(await delivery.send(address(), challenge(clock.now())));
  }
  t.same(outcomes, Array(12).fill("sent"));
  t.equal(google.exchanges.length, 1, "40 minutes of sends on one access token");
});

t.test("the access token is renewed 60 s before it expires", async (t) => {
  const { google, clock, delivery, address } = await setUp(t, [], 600);
  await delivery.send(address(), challenge(clock.now()));
  clock.advance(539_000);
  await delivery.send(address(), challenge(clock.now()));
  t.equal(google.exchanges.length, 1, "61 s before expiry the cached token serves");
  clock.advance(1_000);
  await delivery.send(address(), challenge(clock.now()));
  t.equal(google.exchanges.length, 2, "60 s before expiry a new one is exchanged");
  t.same(google.sends.flatMap((s) => s.problems), []);
});

t.test("UNREGISTERED and 404 mean the registration token is gone; INVALID_ARGUMENT does not", async (t) => {
  const { clock, delivery, address } = await setUp(t, [
    { status: 404, errorCode: "UNREGISTERED" }, { status: 404 }, { status: 400, errorCode: "INVALID_ARGUMENT" },
  ]);
  t.equal(await delivery.send(address(), challenge(clock.now())), "gone");
  t.equal(await delivery.send(address(), challenge(clock.now())), "gone");
  t.equal(await delivery.send(address(), challenge(clock.now())), "failed");
});
