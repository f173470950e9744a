// End to end: the real app, configured with WEBHOOK_URL and WEBHOOK_SECRET,
// tells a receiver on loopback about the 2SV events a person should hear of,
// signed (Standard Webhooks, verified with its reference library), with the
// request context and without any credential.
import t from "tap";
import { Webhook } from "standardwebhooks";
import { manualClock } from "../helpers/clock.ts";
import { bearer, startApp, TEST_PASSWORD } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";
import { startReceiver, type Delivery } from "../helpers/webhook-receiver.ts";

// A secret of the former kind (no whsec_ prefix): receivers' libraries take "whsec_" + base64 of its bytes.
const WEBHOOK_SECRET = "x".repeat(40);
const receiverSide = new Webhook(`whsec_${Buffer.from(WEBHOOK_SECRET).toString("base64")}`);
/** Every string anywhere in a JSON value, and every key. */
function stringsIn(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => [k, ...stringsIn(v)]);
  return [];
}

t.test("2SV changes reach the webhook receiver signed, with request context and no credential", async (t) => {
  const receiver = await startReceiver(t);
  const clock = manualClock(new Date("2026-11-28T10:00:00Z"));
  const app = await startApp(t, { clock, config: { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET } });
  const codes: string[] = [];
  const credentials: string[] = [TEST_PASSWORD, WEBHOOK_SECRET];
  const collectCredentials = (...values: unknown[]) => {
    for (const value of values) {
      if (typeof value !== "string" || value.length < 8) throw new Error("expected a credential string");
      credentials.push(value);
    }
  };

  const user = await enrolledUser(app, clock.now);
  collectCredentials(user.secret, user.accessToken, ...user.recoveryCodes);
  const enrolled = await receiver.waitFor("mfa_enrolled");

  clock.advance(30_000);
  const rememberToken = await mfaToken(app, user.email);
  const code = totpAt(user.secret, clock.now());
  codes.push(code);
  const remembered = await verify(app, { mfaToken: rememberToken, method: "totp", code, rememberDevice: true, deviceName: "Laptop" });
  t.equal(remembered.statusCode, 200, remembered.body);
  collectCredentials(rememberToken, remembered.json().accessToken, remembered.json().refreshToken, remembered.json().deviceToken);
  const deviceIssued = await receiver.waitFor("trusted_device_issued");

  const recoveryToken = await mfaToken(app, user.email);
  const recovered = await verify(app, { mfaToken: recoveryToken, method: "recovery_code", code: user.recoveryCodes[0] });
  t.equal(recovered.statusCode, 200, recovered.body);
  collectCredentials(recoveryToken, recovered.json().accessToken, recovered.json().refreshToken, ...recovered.json().recoveryCodes);
  const recoveryUsed = await receiver.waitFor("recovery_code_used");

  clock.advance(30_000);
  const offCode = totpAt(user.secret, clock.now());
  codes.push(offCode);
  const off = await app.inject({
    method: "DELETE", url: "/v1/me/mfa/totp", headers: bearer(user.accessToken), payload: { password: TEST_PASSWORD, code: offCode },
  });
  t.equal(off.statusCode, 204, off.body);
  const disabled = await receiver.waitFor("mfa_disabled");

  const expected: [Delivery, string][] = [
    [enrolled, "mfa_enrolled"], [deviceIssued, "trusted_device_issued"], [recoveryUsed, "recovery_code_used"], [disabled, "mfa_disabled"],
  ];
  for (const [delivery, type] of expected) {
    t.test(type, async (t) => {
      t.doesNotThrow(() => receiverSide.verify(delivery.body, delivery.headers as Record<string, string>), "signed with the shared secret");
      t.match(delivery.signature, /^v1,[A-Za-z0-9+/]{43}=$/, "webhook-signature: v1,<base64>");
      t.equal(delivery.webhookId, delivery.payload.id);
      t.match(delivery.payload, { type, userId: user.id, details: { clientAddress: "127.0.0.1", userAgent: "lightMyRequest" } });
      t.ok(!Number.isNaN(Date.parse(String(delivery.payload.occurredAt))), "occurredAt is a timestamp");
      t.same(credentials.filter((c) => delivery.body.includes(c)), [], "no secret, recovery code, token or password in the body");
      const strings = stringsIn(delivery.payload);
      t.same(codes.filter((c) => strings.includes(c)), [], "no TOTP code as a value");
      t.same(strings.filter((s) => /secret|code$|token|password/i.test(s)), [], "no credential-named field");
    });
  }
  t.equal(enrolled.payload.occurredAt, "2026-11-28T10:00:00.000Z", "occurredAt comes from the service clock");
  t.match(deviceIssued.payload.details, { name: "Laptop" });

  await app.close();
  const types = receiver.deliveries.map((d) => d.payload.type);
  t.same(types, ["mfa_enrolled", "trusted_device_issued", "recovery_code_used", "mfa_disabled"], "exactly the notified events, once each");
});
