// What the push factor relies on whatever the push service does: send never
// throws, a brief outage is ridden out by a retry, a hung service costs one
// timeout and no more, and every outcome reaches the metric.
import t, { type Test } from "tap";
import { randomBytes } from "node:crypto";
import { createServer as createTcpServer, type Socket } from "node:net";
import { exportPKCS8, generateKeyPair } from "jose";
import { manualClock } from "../../helpers/clock.ts";
import { createPushDelivery, noPushSender, type PushAddress, type PushDeliveryDeps } from "../../../src/push/delivery/sender.ts";
import { DEFAULT_RETRY_DELAYS_MS, type PushDeliverySettings } from "../../../src/push/delivery/settings.ts";
import { generateVapidKeyPair } from "../../../src/push/delivery/vapid-keys.ts";
import { startApnsServer } from "./helpers/apns-server.ts";
import { challenge, listenOnLoopback, recordingLog } from "./helpers/common.ts";
import { startFcmServer } from "./helpers/fcm-server.ts";
import { startWebPushService } from "./helpers/web-push-service.ts";

const TIMEOUT_MS = 400;
const NONE: PushDeliverySettings = { webPush: null, apns: null, fcm: null, retryDelaysMs: DEFAULT_RETRY_DELAYS_MS };
const clock = manualClock(new Date());

interface Rig { settings: PushDeliverySettings; deps: Partial<PushDeliveryDeps>; address: () => PushAddress; requests: () => number }

/** Each kind's checker, answering `statuses` first (503 = the service's transient trouble), or hanging. */
const rigs: Record<PushAddress["kind"], (t: Test, statuses: number[], hang?: boolean) => Promise<Rig>> = {
  async webpush(t, statuses, hang) {
    const vapid = generateVapidKeyPair();
    const service = await startWebPushService(t, vapid.publicKey, statuses, { hang });
    return {
      settings: { ...NONE, webPush: { ...vapid, subject: "mailto:ops@example.com", timeoutMs: TIMEOUT_MS } },
      deps: { webPushAgent: service.agent },
      address: () => ({ kind: "webpush", subscription: service.subscribe() }),
      requests: () => service.received.length,
    };
  },
  async apns(t, statuses, hang) {
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    const expect = { publicKey, teamId: "TEAM", keyId: "KEY", topic: "com.example.app", clock };
    const apple = await startApnsServer(t, expect, statuses.map((status) => ({ status, reason: "ServiceUnavailable" })), { hang });
    return {
      settings: { ...NONE, apns: { ...expect, privateKey: await exportPKCS8(privateKey), baseUrl: apple.baseUrl, timeoutMs: TIMEOUT_MS } },
      deps: {},
      address: () => ({ kind: "apns", deviceToken: randomBytes(32).toString("hex") }),
      requests: () => apple.requests.length,
    };
  },
  async fcm(t, statuses, hang) {
    const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
    const expect = { publicKey, clientEmail: "sender@example.iam.gserviceaccount.com", projectId: "p1", clock, expiresInSeconds: 3600 };
    const google = await startFcmServer(t, expect, statuses.map((status) => ({ status })), { hang });
    const fcm = { ...expect, privateKey: await exportPKCS8(privateKey), tokenUrl: google.tokenUrl, baseUrl: google.baseUrl, timeoutMs: TIMEOUT_MS };
    return {
      settings: { ...NONE, fcm },
      deps: {},
      address: () => ({ kind: "fcm", registrationToken: randomBytes(40).toString("base64url") }),
      requests: () => (hang ? google.exchanges.length : google.sends.length),
    };
  },
};

function deliveryFor(t: Test, rig: Rig) {
  const log = recordingLog();
  const counted: string[] = [];
  const delivery = createPushDelivery(rig.settings, { clock, log, count: (kind, outcome) => counted.push(`${kind}:${outcome}`), ...rig.deps });
  t.teardown(() => delivery.close());
  return { delivery, log, counted };
}

for (const kind of ["webpush", "apns", "fcm"] as const) {
  t.test(`${kind}: a transient 503 is retried and the push is sent`, async (t) => {
    const rig = await rigs[kind](t, [503, 503]);
    const { delivery, counted, log } = deliveryFor(t, rig);
    const started = Date.now();
    t.equal(await delivery.send(rig.address(), challenge(clock.now())), "sent");
    t.equal(rig.requests(), 3, "two retries after two 503s");
    t.ok(Date.now() - started >= 550, "after waits of 200 ms and 400 ms (jitter-free: only this caller retries)");
    t.same(counted, [`${kind}:sent`], "one outcome per send, not per attempt");
    t.equal(log.entries.filter((e) => e.message.includes("will retry")).length, 2);
  });

  t.test(`${kind}: a hung service gives failed within the timeout, without a retry`, async (t) => {
    const rig = await rigs[kind](t, [], true);
    const { delivery, counted } = deliveryFor(t, rig);
    const started = Date.now();
    t.equal(await delivery.send(rig.address(), challenge(clock.now())), "failed");
    t.ok(Date.now() - started < TIMEOUT_MS + 300, `answered in ${Date.now() - started} ms`);
    t.equal(rig.requests(), 1, "a timed-out push may have arrived: it is not sent twice");
    t.same(counted, [`${kind}:failed`]);
  });
}

t.test("an APNs server that accepts the connection and never speaks HTTP/2 costs one timeout", async (t) => {
  const sockets = new Set<Socket>();
  const silent = createTcpServer((socket) => { sockets.add(socket); });
  const port = await listenOnLoopback(t, Object.assign(silent, { closeAllConnections: () => sockets.forEach((s) => s.destroy()) }));
  const rig = await rigs.apns(t, []);
  const { delivery } = deliveryFor(t, { ...rig, settings: { ...rig.settings, apns: { ...rig.settings.apns!, baseUrl: `http://127.0.0.1:${port}` } } });
  const started = Date.now();
  t.equal(await delivery.send(rig.address(), challenge(clock.now())), "failed");
  t.ok(Date.now() - started < TIMEOUT_MS + 300);
});

t.test("a refused connection is retried, then failed", async (t) => {
  const closed = createTcpServer();
  const port = await listenOnLoopback(t, closed);
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const rig = await rigs.fcm(t, []);
  const fcm = { ...rig.settings.fcm!, tokenUrl: `http://127.0.0.1:${port}/token` };
  const { delivery, log } = deliveryFor(t, { ...rig, settings: { ...rig.settings, fcm } });
  t.equal(await delivery.send(rig.address(), challenge(clock.now())), "failed");
  t.same(log.entries.filter((e) => e.message.includes("will retry")).map((e) => (e.details as { reason: string }).reason), ["ECONNREFUSED", "ECONNREFUSED"]);
});

t.test("send never throws, whatever it is given", async (t) => {
  const rig = await rigs.webpush(t, []);
  const log = recordingLog();
  const delivery = createPushDelivery(rig.settings, { clock, log, webPushAgent: rig.deps.webPushAgent, count: () => { throw new Error("metric broken"); } });
  const message = challenge(clock.now());
  const broken = [
    { kind: "webpush", subscription: { endpoint: "https://127.0.0.1:1/x", keys: { p256dh: "not-a-key", auth: "" } } },
    { kind: "webpush", subscription: { endpoint: "not a url", keys: { p256dh: "", auth: "" } } },
    { kind: "apns", deviceToken: "ab".repeat(32) },
    { kind: "carrier-pigeon" },
    null,
    undefined,
  ] as unknown as PushAddress[];
  for (const address of broken) t.equal(await delivery.send(address, message), "failed", `${JSON.stringify(address)} gives failed`);
  t.equal(await delivery.send(rig.address(), challenge(clock.now())), "sent", "a throwing metric does not undo a sent push");
  t.equal(await delivery.send(rig.address(), { challengeId: "c", expiresAt: new Date(clock.now().getTime() - 1) }), "failed", "an expired challenge is not sent");
  t.equal(rig.requests(), 1, "neither the malformed nor the expired reached the service");
  t.notMatch(log.text(), /not-a-key|abab/, "no address material in the log");
  t.equal(await noPushSender.send(rig.address(), message), "failed", "noPushSender answers failed");
});

t.test("only configured kinds are routed, and the delivery says which", async (t) => {
  const rig = await rigs.webpush(t, []);
  const counted: string[] = [];
  const delivery = createPushDelivery(rig.settings, { clock, log: recordingLog(), count: (kind, outcome) => counted.push(`${kind}:${outcome}`) });
  t.same(delivery.kinds, ["webpush"]);
  t.equal(await delivery.send({ kind: "fcm", registrationToken: "x" }, challenge(clock.now())), "failed");
  t.same(counted, ["fcm:failed"], "an unconfigured kind's failures still reach the metric");
});
