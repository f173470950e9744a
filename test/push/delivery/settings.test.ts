// Push configuration is checked at start-up: a mistake stops the start with a
// message naming the variable, production never invents VAPID keys, and
// development keeps its generated pair across restarts (browsers bind every
// subscription to it, RFC 8292 §4).
import t from "tap";
import { readdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { exportPKCS8, generateKeyPair } from "jose";
import { ConfigError, loadConfig } from "../../../src/config.ts";
import { pushDeliverySettings } from "../../../src/push/delivery/settings.ts";
import { generateVapidKeyPair, resolveVapidKeys } from "../../../src/push/delivery/vapid-keys.ts";

async function problemsOf(promise: Promise<unknown>): Promise<string[]> {
  const error = await promise.then(() => null, (e: unknown) => e);
  if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(error)}`);
  return error.problems;
}

t.test("development generates a VAPID pair once, keeps it under DATA_DIR readable by its owner only", async (t) => {
  const dataDir = t.testdir();
  const config = loadConfig({ MODE: "development", DATA_DIR: dataDir });
  const first = await resolveVapidKeys(config);
  const second = await resolveVapidKeys(config);
  t.ok(first?.publicKey);
  t.same(second, first, "a restart keeps the keys");
  t.equal((await stat(path.join(dataDir, "vapid-keys.json"))).mode & 0o777, 0o600);
});

t.test("production takes VAPID keys from the environment only", async (t) => {
  const dataDir = t.testdir();
  const pair = generateVapidKeyPair();
  const env = { MODE: "production", DATA_DIR: dataDir, VAPID_SUBJECT: "mailto:ops@example.com" };
  const keys = await resolveVapidKeys(loadConfig({ ...env, VAPID_PUBLIC_KEY: pair.publicKey, VAPID_PRIVATE_KEY: pair.privateKey }));
  t.same(keys, { ...pair, subject: "mailto:ops@example.com" });
  t.equal(await resolveVapidKeys(loadConfig(env)), null, "neither half: Web Push is off");
  t.same(await readdir(dataDir), [], "nothing generated in production");
});

t.test("production refuses half a VAPID pair, a mismatched pair, and keys without a subject", async (t) => {
  const pair = generateVapidKeyPair();
  const other = generateVapidKeyPair();
  const env = { MODE: "production", DATA_DIR: t.testdir(), VAPID_SUBJECT: "mailto:ops@example.com" };
  t.match(await problemsOf(resolveVapidKeys(loadConfig({ ...env, VAPID_PUBLIC_KEY: pair.publicKey }))), [/set both or neither/]);
  t.match(await problemsOf(resolveVapidKeys(loadConfig({ ...env, VAPID_PRIVATE_KEY: pair.privateKey }))), [/set both or neither/]);
  t.match(await problemsOf(resolveVapidKeys(loadConfig({ ...env, VAPID_PUBLIC_KEY: other.publicKey, VAPID_PRIVATE_KEY: pair.privateKey }))), [/not the public half/]);
  const noSubject = loadConfig({ MODE: "production", VAPID_PUBLIC_KEY: pair.publicKey, VAPID_PRIVATE_KEY: pair.privateKey });
  t.match(await problemsOf(resolveVapidKeys(noSubject)), [/VAPID_SUBJECT: required in production/]);
});

t.test("APNs and FCM are on only when configured, and half a configuration is refused", async (t) => {
  const dir = t.testdir();
  const base = { MODE: "development", DATA_DIR: dir };
  const off = await pushDeliverySettings(loadConfig(base));
  t.ok(off.webPush, "Web Push is on with development keys");
  t.equal(off.apns, null);
  t.equal(off.fcm, null);
  t.same(off.retryDelaysMs, [200, 400]);
  const problems = await problemsOf(pushDeliverySettings(loadConfig({ ...base, APNS_TEAM_ID: "TEAM", FCM_PROJECT_ID: "p" })));
  t.match(problems, [/APNS_KEY_ID/, /APNS_TOPIC/, /APNS_PRIVATE_KEY_FILE or APNS_PRIVATE_KEY/, /FCM_SERVICE_ACCOUNT_FILE/]);
});

t.test("the key files are read and checked: an EC .p8 for APNs, an RSA service account for FCM", async (t) => {
  const dir = t.testdir();
  const ec = await exportPKCS8((await generateKeyPair("ES256", { extractable: true })).privateKey);
  const rsa = await exportPKCS8((await generateKeyPair("RS256", { extractable: true })).privateKey);
  await writeFile(path.join(dir, "apns.p8"), ec);
  const account = { type: "service_account", project_id: "proj", client_email: "s@proj.iam.gserviceaccount.com", private_key: rsa, token_uri: "https://oauth2.googleapis.com/token" };
  await writeFile(path.join(dir, "sa.json"), JSON.stringify(account));
  const env = {
    MODE: "development", DATA_DIR: dir, PUSH_SEND_TIMEOUT_MS: "3000",
    APNS_TEAM_ID: "TEAM", APNS_KEY_ID: "KEY", APNS_TOPIC: "com.example.app", APNS_PRIVATE_KEY_FILE: path.join(dir, "apns.p8"),
    FCM_SERVICE_ACCOUNT_FILE: path.join(dir, "sa.json"),
  };
  const settings = await pushDeliverySettings(loadConfig(env));
  t.match(settings.apns, { teamId: "TEAM", keyId: "KEY", topic: "com.example.app", privateKey: ec, baseUrl: "https://api.push.apple.com", timeoutMs: 3000 });
  t.match(settings.fcm, { projectId: "proj", clientEmail: account.client_email, tokenUrl: account.token_uri, baseUrl: "https://fcm.googleapis.com", timeoutMs: 3000 });
  t.equal(settings.webPush?.timeoutMs, 3000, "Web Push uses PUSH_SEND_TIMEOUT_MS unless WEB_PUSH_TIMEOUT_MS is set");

  await writeFile(path.join(dir, "wrong.p8"), rsa);
  const wrongKey = await problemsOf(pushDeliverySettings(loadConfig({ ...env, APNS_PRIVATE_KEY_FILE: path.join(dir, "wrong.p8"), FCM_SERVICE_ACCOUNT_FILE: path.join(dir, "missing.json") })));
  t.match(wrongKey, [/APNS_PRIVATE_KEY_FILE: must be a P-256/, /FCM_SERVICE_ACCOUNT_FILE: cannot read/]);
});
