// Every event the README says a person is told about (NOTIFIED_EVENTS) reaches
// the webhook receiver: a table with one real scenario per event, driven over
// HTTP through buildApp, and the table must cover the set exactly, so an event
// added to the set without a scenario (or a scenario whose event is no longer
// notified) fails here.
import t from "tap";
import { NOTIFIED_EVENTS } from "../../src/audit/events.ts";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createApiKey, createUser, login, startApp, TEST_PASSWORD } from "../helpers/app.ts";
import { manualClock } from "../helpers/clock.ts";
import { companyKit, person, personWithTotp } from "../helpers/companies.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";
import { personWithPushApp, startPush } from "../helpers/push.ts";
import { startReceiver } from "../helpers/webhook-receiver.ts";

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const receiver = await startReceiver(t);
const app: App = await startApp(t, {
  clock,
  config: {
    WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 3).toString("base64")}`, WEBHOOK_POLL_INTERVAL_MS: 50,
    LOGIN_FAILURE_CAP: 10, LOGIN_FREE_FAILURES: 1, LOGIN_MAX_WAIT_SECONDS: 60, MFA_FREE_FAILURES: 1, MFA_FAILURE_CAP: 2, MFA_MAX_WAIT_SECONDS: 60,
  },
});
const writer = { "x-api-key": await createApiKey(app, ["users:write"]) };
const resetter = { "x-api-key": await createApiKey(app, ["users:mfa-reset"]) };
let addressSeq = 0;
const freshAddress = () => `198.51.100.${++addressSeq % 250}`;

function expect(res: { statusCode: number; body: string }, status: number, what: string) {
  if (res.statusCode !== status) throw new Error(`${what}: expected ${status}, got ${res.statusCode} ${res.body}`);
}

/** A session that passed the second step (TOTP), for routes that ask for one. */
async function secondStepSession(user: { email: string; secret: string }) {
  clock.advance(30_000);
  const res = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now()) });
  expect(res, 200, "second step");
  return res.json().accessToken as string;
}

/** Each notified event, and how to cause it; the scenario answers the person the notification is about. */
const scenarios: Record<string, () => Promise<string>> = {
  mfa_enrolled: async () => (await enrolledUser(app, clock.now)).id,
  mfa_disabled: async () => {
    const user = await enrolledUser(app, clock.now);
    clock.advance(30_000);
    expect(await app.inject({ method: "DELETE", url: "/v1/me/mfa/totp", headers: bearer(user.accessToken), payload: { password: TEST_PASSWORD, code: totpAt(user.secret, clock.now()) } }), 204, "turn off");
    return user.id;
  },
  mfa_reset_by_support: async () => {
    const user = await enrolledUser(app, clock.now);
    expect(await app.inject({ method: "DELETE", url: `/v1/users/${user.id}/mfa`, headers: resetter }), 204, "support reset");
    return user.id;
  },
  recovery_code_used: async () => {
    const user = await enrolledUser(app, clock.now);
    expect(await verify(app, { mfaToken: await mfaToken(app, user.email), method: "recovery_code", code: user.recoveryCodes[0] }), 200, "recovery code");
    return user.id;
  },
  recovery_codes_replaced: async () => {
    const user = await enrolledUser(app, clock.now);
    const session = await secondStepSession(user);
    clock.advance(30_000);
    expect(await app.inject({ method: "POST", url: "/v1/me/mfa/recovery-codes", headers: bearer(session), payload: { code: totpAt(user.secret, clock.now()) } }), 200, "regenerate");
    return user.id;
  },
  trusted_device_issued: async () => {
    const user = await enrolledUser(app, clock.now);
    clock.advance(30_000);
    expect(await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now()), rememberDevice: true, deviceName: "Laptop" }), 200, "remember");
    return user.id;
  },
  mfa_locked: async () => {
    const user = await enrolledUser(app, clock.now);
    clock.advance(30_000);
    for (let i = 0; i < 2; i++) {
      clock.advance(120_000); // past each second-factor wait
      expect(await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now(), 7) }), 401, "wrong code");
    }
    return user.id;
  },
  authn_login_lock: async () => {
    const user = await createUser(app);
    const address = freshAddress();
    for (let i = 0; i < 2; i++) await app.inject({ method: "POST", url: "/v1/auth/login", remoteAddress: address, payload: { email: user.email, password: "a wrong password, again" } });
    return user.id;
  },
  policy_requires_enrollment: async () => {
    const kit = await companyKit(app);
    const company = await kit.company("Mandating Ltd");
    const who = await person(app);
    await kit.member(company.id, who.id);
    await kit.setPolicy(company.id, true);
    return who.id;
  },
  password_changed: async () => {
    const user = await createUser(app);
    const session = (await login(app, user.email)).json();
    expect(await app.inject({ method: "POST", url: "/v1/me/password", headers: bearer(session.accessToken), payload: { currentPassword: TEST_PASSWORD, newPassword: "another long passphrase 42" } }), 204, "change password");
    return user.id;
  },
  external_identity_linked: async () => {
    const user = await createUser(app);
    expect(await app.inject({ method: "PUT", url: `/v1/users/${user.id}/external-identity`, headers: writer, payload: { subject: `bankid-${user.id}` } }), 204, "link");
    return user.id;
  },
  push_paired: async () => (await personWithPushApp(app, clock.now)).user.id,
  push_authenticator_removed: async () => {
    const { user, pairingId, recoveryCodes } = await personWithPushApp(app, clock.now);
    const passed = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "recovery_code", code: recoveryCodes[0] });
    expect(passed, 200, "second step by recovery code");
    expect(await app.inject({ method: "DELETE", url: `/v1/me/mfa/push-authenticators/${pairingId}`, headers: bearer(passed.json().accessToken) }), 204, "remove app");
    return user.id;
  },
  push_blocked: async () => {
    const { user, phone } = await personWithPushApp(app, clock.now);
    expect((await startPush(app, user.email)).res, 200, "push");
    const [pending] = await phone.pending(0);
    await phone.answer(pending!, "reject", { reason: "not_me" });
    return user.id;
  },
  membership_set: async () => {
    const kit = await companyKit(app);
    const company = await kit.company("Hiring Ltd");
    const who = await person(app);
    await kit.member(company.id, who.id);
    return who.id;
  },
  assignment_added: async () => {
    const kit = await companyKit(app);
    const office = await kit.office("Office Ltd");
    const client = await kit.company("Client Ltd");
    await kit.serve(office.id, client.id);
    const staff = await person(app);
    await kit.member(office.id, staff.id);
    await kit.assign(office.id, client.id, staff.id);
    return staff.id;
  },
  mfa_verify_fail: async () => {
    const user = await personWithTotp(app, clock);
    clock.advance(120_000);
    expect(await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret!, clock.now(), 9) }), 401, "wrong code");
    return user.id;
  },
  authn_login_fail_max: async () => {
    const user = await createUser(app);
    for (let i = 0; i < 10; i++) {
      clock.advance(61_000); // past every password wait
      await app.inject({ method: "POST", url: "/v1/auth/login", remoteAddress: freshAddress(), payload: { email: user.email, password: `wrong password ${i}` } });
    }
    return user.id;
  },
  password_unlocked: async () => {
    const user = await createUser(app);
    expect(await app.inject({ method: "POST", url: `/v1/users/${user.id}/unlock`, headers: writer }), 204, "unlock");
    return user.id;
  },
  account_disabled: async () => {
    const user = await createUser(app);
    expect(await app.inject({ method: "POST", url: `/v1/users/${user.id}/disable`, headers: writer }), 204, "disable");
    return user.id;
  },
};

t.test("the table covers exactly the notified events", async (t) => {
  t.same(Object.keys(scenarios).sort(), [...NOTIFIED_EVENTS].sort());
});

for (const [event, cause] of Object.entries(scenarios)) {
  t.test(`${event} is delivered to the webhook`, async (t) => {
    const userId = await cause();
    const deadline = Date.now() + 15_000;
    const find = () => receiver.deliveries.find((d) => d.payload.type === event && d.payload.userId === userId);
    while (!find() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const delivery = find();
    t.ok(delivery, `a ${event} delivery for the person`);
    t.equal(delivery?.webhookId, delivery?.payload.id, "with its stable webhook-id");
  });
}
