// Turning 2SV off (password and a current code), the support reset for a lost
// phone (scope users:mfa-reset), and the 2SV state that GET /v1/me and
// GET /v1/users/{id}/security report (checklist OTP-07, OTP-12, SJ-09, DT-05).
import t from "tap";
import { randomUUID } from "node:crypto";
import { decodeJwt } from "jose";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createApiKey, createUser, login, startApp, TEST_PASSWORD } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const app: App = await startApp(t, { clock });
const resetKey = await createApiKey(app, ["users:mfa-reset"]);
const readKey = await createApiKey(app, ["users:read"]);

const me = (token: string) => app.inject({ method: "GET", url: "/v1/me", headers: bearer(token) });
const securityOf = (userId: string, apiKey = readKey) =>
  app.inject({ method: "GET", url: `/v1/users/${userId}/security`, headers: { "x-api-key": apiKey } });
const supportReset = (userId: string, headers: Record<string, string> = { "x-api-key": resetKey }) =>
  app.inject({ method: "DELETE", url: `/v1/users/${userId}/mfa`, headers });
const turnOff = (accessToken: string, payload: Record<string, unknown>) =>
  app.inject({ method: "DELETE", url: "/v1/me/mfa/totp", headers: bearer(accessToken), payload });

/** An enrolled user signed in with TOTP on a remembered device. */
async function fullySetUp() {
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  const res = await verify(app, {
    mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now()), rememberDevice: true,
  });
  return { user, session: res.json() as { accessToken: string; refreshToken: string; deviceToken: string } };
}

const OFF = {
  twoStepEnabled: false, methods: [], totp: null, recoveryCodesRemaining: 0, trustedDevices: 0,
  required: false, requiredBy: [], bankIntegrationAvailable: false,
};

t.test("DELETE /v1/me/mfa/totp needs the password and a current code", async (t) => {
  const { user, session } = await fullySetUp();
  clock.advance(30_000);
  const code = totpAt(user.secret, clock.now());

  const wrongPassword = await turnOff(session.accessToken, { password: "not the right password at all", code });
  t.equal(wrongPassword.statusCode, 401);
  // Was INVALID_CURRENT_PASSWORD: the answer must not tell a right password from a wrong one (issue 14).
  t.equal(wrongPassword.json().code, "INVALID_CURRENT_CREDENTIALS");
  const wrongCode = await turnOff(session.accessToken, { password: TEST_PASSWORD, code: totpAt(user.secret, clock.now(), 9) });
  t.equal(wrongCode.statusCode, 401);
  // Was INVALID_CODE: one identical problem whichever factor was wrong (issue 14).
  t.equal(wrongCode.json().code, "INVALID_CURRENT_CREDENTIALS");
  t.equal((await turnOff(session.accessToken, { password: TEST_PASSWORD })).statusCode, 400, "the code is required");
  t.equal((await login(app, user.email)).json().status, "mfa_required", "refused attempts changed nothing");

  const off = await turnOff(session.accessToken, { password: TEST_PASSWORD, code });
  t.equal(off.statusCode, 204, off.body);
  const next = (await login(app, user.email)).json();
  t.equal(next.status, "authenticated", "sign-in no longer asks for a second step");
  t.same((await me(next.accessToken)).json().security, OFF);
  t.same((await app.inject({ method: "GET", url: "/v1/me/devices", headers: bearer(next.accessToken) })).json().devices, [], "devices revoked");
  t.equal(await app.database.prisma.recoveryCode.count({ where: { userId: user.id } }), 0, "recovery code removed");
  t.equal(await app.database.prisma.totpFactor.count({ where: { userId: user.id } }), 0, "factor removed");
});

t.test("the support reset needs an API key with users:mfa-reset; unknown users are 404", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const none = await supportReset(user.id, {});
  t.equal(none.statusCode, 401);
  t.equal(none.json().code, "INVALID_CLIENT");
  const wrongScope = await supportReset(user.id, { "x-api-key": readKey });
  t.equal(wrongScope.statusCode, 403);
  t.equal(wrongScope.json().code, "INSUFFICIENT_SCOPE");
  t.equal((await supportReset(user.id, bearer(user.accessToken))).statusCode, 401, "a person's access token is no API key");
  t.equal((await supportReset(user.id, { "x-api-key": "not-a-key" })).statusCode, 401);
  const unknown = await supportReset(randomUUID());
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.json().code, "NOT_FOUND");
  t.equal((await supportReset("not-a-uuid")).statusCode, 400);
  t.equal((await login(app, user.email)).json().status, "mfa_required", "the refused calls changed nothing");
});

t.test("a support reset removes the factor, recovery code and trusted devices, and ends every session", async (t) => {
  const { user, session } = await fullySetUp();
  const before = (await securityOf(user.id)).json();
  t.match(before, {
    twoStepEnabled: true, methods: ["totp", "recovery_code"], totp: { disabledAfterFailures: false },
    recoveryCodesRemaining: 1, trustedDevices: 1, required: true, requiredBy: [], bankIntegrationAvailable: true,
  });

  const reset = await supportReset(user.id);
  t.equal(reset.statusCode, 204);

  t.equal((await me(session.accessToken)).statusCode, 401, "the access token is dead at once");
  t.equal((await me(user.accessToken)).statusCode, 401, "so is every other session's");
  const refreshed = await app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken: session.refreshToken } });
  t.equal(refreshed.statusCode, 401, "the refresh token too");
  t.same((await securityOf(user.id)).json(), OFF);

  const next = (await login(app, user.email, undefined, { deviceToken: session.deviceToken })).json();
  t.equal(next.status, "authenticated", "sign-in asks for no second step");
  t.same(decodeJwt(next.accessToken).amr, ["pwd"], "and the old device token counts for nothing");
  t.equal((await app.database.prisma.trustedDevice.count({ where: { userId: user.id, revokedAt: null } })), 0, "devices revoked");
  t.equal(await app.database.prisma.recoveryCode.count({ where: { userId: user.id } }), 0, "recovery code removed");
  const audit = await app.database.prisma.auditEvent.findMany({ where: { subjectUserId: user.id, type: "mfa_reset_by_support" } });
  t.equal(audit.length, 1, "the reset is audited");
});

t.test("GET /v1/me and GET /v1/users/{id}/security report the same 2SV state", async (t) => {
  const plain = await createUser(app);
  const plainSession = (await login(app, plain.email)).json();
  t.same((await me(plainSession.accessToken)).json().security, OFF);
  t.same((await securityOf(plain.id)).json(), OFF);

  const { user, session } = await fullySetUp();
  const viaMe = (await me(session.accessToken)).json().security;
  const viaService = (await securityOf(user.id)).json();
  t.same(viaMe, viaService);
  t.equal(viaService.totp.enrolledAt, new Date(clock.now().getTime() - 30_000).toISOString(), "enrolledAt is the confirmation time");
  t.equal(viaService.bankIntegrationAvailable, true);
  t.notMatch(JSON.stringify(viaService), /secret|otpauth|argon2/i, "nothing secret in the state");
});

t.test("GET /v1/users/{id}/security needs users:read; unknown users are 404", async (t) => {
  const user = await createUser(app);
  t.equal((await app.inject({ method: "GET", url: `/v1/users/${user.id}/security` })).statusCode, 401);
  const wrongScope = await securityOf(user.id, resetKey);
  t.equal(wrongScope.statusCode, 403);
  t.equal(wrongScope.json().code, "INSUFFICIENT_SCOPE");
  t.equal((await securityOf(randomUUID())).statusCode, 404);
  t.equal((await securityOf("not-a-uuid")).statusCode, 400);
});

