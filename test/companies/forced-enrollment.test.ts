// Mandatory 2SV at sign-in (checklist CP-01): a person who must use 2SV and has
// no factor gets only an enrollment token. It works on the TOTP enrollment
// routes (start, confirm) and nowhere else; confirming gives the recovery code
// and a full session.
import t from "tap";
import { decodeJwt } from "jose";
import { manualClock } from "../helpers/clock.ts";
import { bearer, createApiKey, login, startApp } from "../helpers/app.ts";
import { totpAt, verify } from "../helpers/mfa.ts";
import { companyKit, freshCode, person, source, wrongCode, type Person } from "../helpers/companies.ts";

const MFA_TOKEN_TTL_SECONDS = 120;
const clock = manualClock(new Date("2026-11-28T10:00:05Z"));

t.test("forced enrollment", async (t) => {
  const app = await startApp(t, { clock, config: { MFA_TOKEN_TTL_SECONDS } });
  const kit = await companyKit(app);
  const usersRead = { "x-api-key": await createApiKey(app, ["users:read"]) };
  const company = await kit.company("Mandating AB");
  await kit.setPolicy(company.id, true);
  const member = async (): Promise<Person> => {
    const p = await person(app);
    await kit.member(company.id, p.id);
    return p;
  };
  const enrollmentToken = async (who: Person): Promise<string> => {
    const res = await login(app, who.email, who.password);
    if (res.json().status !== "mfa_enrollment_required") throw new Error(`expected mfa_enrollment_required: ${res.body}`);
    return res.json().enrollmentToken;
  };

  await t.test("end to end: start and confirm with the enrollment token give the recovery code and a session", async (t) => {
    const who = await member();
    const res = (await login(app, who.email, who.password)).json();
    t.equal(res.status, "mfa_enrollment_required");
    t.same(res.requiredBy, [source(company, "membership")]);
    t.equal(res.expiresIn, MFA_TOKEN_TTL_SECONDS);
    t.notOk(res.accessToken);
    t.notOk(res.refreshToken);

    const start = await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(res.enrollmentToken) });
    t.equal(start.statusCode, 200, start.body);
    const secret = start.json().secret as string;
    t.match(start.json().otpauthUri, /^otpauth:\/\/totp\//);
    const confirm = await app.inject({
      method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(res.enrollmentToken), payload: { code: freshCode(clock, secret) },
    });
    t.equal(confirm.statusCode, 200, confirm.body);
    const body = confirm.json();
    t.equal(body.recoveryCodes.length, 1, "the one recovery code of the help article");
    t.equal(body.session.status, "authenticated");
    t.ok(body.session.refreshToken);
    t.same(decodeJwt(body.session.accessToken).amr, ["pwd", "otp", "mfa"]);

    const me = await app.inject({ method: "GET", url: "/v1/me", headers: bearer(body.session.accessToken) });
    t.equal(me.statusCode, 200);
    t.equal(me.json().security.twoStepEnabled, true);
    t.equal(me.json().security.required, true);
    t.same(me.json().security.requiredBy, [source(company, "membership")]);
    const refreshed = await app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken: body.session.refreshToken } });
    t.equal(refreshed.statusCode, 200, "a session that passed the second step is refreshed under the mandate");

    t.equal((await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(res.enrollmentToken) })).statusCode, 401, "the token is spent");
    const next = await login(app, who.email, who.password);
    t.equal(next.json().status, "mfa_required", "the next sign-in asks for the second step");
    t.same(next.json().methods, ["totp", "recovery_code"]);
    const verified = await verify(app, { mfaToken: next.json().mfaToken, method: "totp", code: freshCode(clock, secret) });
    t.equal(verified.statusCode, 200, verified.body);
  });

  await t.test("the enrollment token is refused everywhere but the enrollment routes", async (t) => {
    const who = await member();
    const token = await enrollmentToken(who);
    const refusals: [string, { method: "GET" | "POST" | "DELETE"; url: string; payload?: object }][] = [
      ["GET /v1/me", { method: "GET", url: "/v1/me" }],
      ["GET /v1/me/devices", { method: "GET", url: "/v1/me/devices" }],
      ["DELETE /v1/me/devices", { method: "DELETE", url: "/v1/me/devices" }],
      ["GET /v1/me/audit-events", { method: "GET", url: "/v1/me/audit-events" }],
      ["POST /v1/auth/step-up", { method: "POST", url: "/v1/auth/step-up", payload: { method: "totp", code: "123456" } }],
      ["POST /v1/auth/logout", { method: "POST", url: "/v1/auth/logout" }],
      ["POST /v1/me/password", { method: "POST", url: "/v1/me/password", payload: { currentPassword: who.password, newPassword: "another long passphrase 42" } }],
      ["DELETE /v1/me/mfa/totp", { method: "DELETE", url: "/v1/me/mfa/totp", payload: { password: who.password, code: "123456" } }],
      ["POST /v1/me/mfa/recovery-codes", { method: "POST", url: "/v1/me/mfa/recovery-codes", payload: { code: "123456" } }],
      ["GET /v1/companies/{id}/security-policy", { method: "GET", url: `/v1/companies/${company.id}/security-policy` }],
      ["GET /v1/companies/{id}/audit-events", { method: "GET", url: `/v1/companies/${company.id}/audit-events` }],
    ];
    for (const [name, request] of refusals) {
      const res = await app.inject({ ...request, headers: bearer(token) });
      t.equal(res.statusCode, 401, `${name} with the enrollment token as bearer: ${res.body}`);
    }
    const asMfa = await verify(app, { mfaToken: token, method: "totp", code: "123456" });
    t.equal(asMfa.statusCode, 401, "as the MFA token of /v1/auth/mfa/verify");
    t.equal(asMfa.json().code, "INVALID_MFA_TOKEN");
    const asRecovery = await verify(app, { mfaToken: token, method: "recovery_code", code: "AAAA-BBBB-CCCC-DDDD" });
    t.equal(asRecovery.statusCode, 401, "nor with a recovery code");
    const asRefresh = await app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken: token } });
    t.equal(asRefresh.statusCode, 401, "as a refresh token");
    const introspect = await app.inject({
      method: "POST", url: "/v1/tokens/introspect", headers: { "x-api-key": await createApiKey(app, ["tokens:introspect"]) }, payload: { token },
    });
    t.same(introspect.json(), { active: false }, "introspection does not know it as a token");
    t.equal((await app.inject({ method: "GET", url: `/v1/users/${who.id}/security`, headers: usersRead })).json().twoStepEnabled, false, "nothing changed");

    // None of that spent it: it still does its one job.
    const start = await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(token) });
    t.equal(start.statusCode, 200, start.body);
    const confirm = await app.inject({
      method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(token), payload: { code: freshCode(clock, start.json().secret) },
    });
    t.equal(confirm.statusCode, 200, confirm.body);
  });

  await t.test("an MFA token is not an enrollment token", async (t) => {
    const withFactor = await member();
    const first = await enrollmentToken(withFactor);
    const start = await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(first) });
    await app.inject({ method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(first), payload: { code: freshCode(clock, start.json().secret) } });
    const mfa = (await login(app, withFactor.email, withFactor.password)).json();
    t.equal(mfa.status, "mfa_required");
    t.equal((await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(mfa.mfaToken) })).statusCode, 401);
    t.equal(
      (await app.inject({ method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(mfa.mfaToken), payload: { code: "123456" } })).statusCode,
      401,
    );
  });

  await t.test("an expired enrollment token is refused", async (t) => {
    const who = await member();
    const token = await enrollmentToken(who);
    clock.advance(MFA_TOKEN_TTL_SECONDS * 1000 + 1000);
    const start = await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(token) });
    t.equal(start.statusCode, 401, start.body);

    // Started in time, confirmed too late.
    const second = await enrollmentToken(who);
    const started = await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(second) });
    t.equal(started.statusCode, 200);
    clock.advance(MFA_TOKEN_TTL_SECONDS * 1000 + 1000);
    const late = await app.inject({
      method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(second), payload: { code: totpAt(started.json().secret, clock.now()) },
    });
    t.equal(late.statusCode, 401, late.body);
    t.equal((await app.inject({ method: "GET", url: `/v1/users/${who.id}/security`, headers: usersRead })).json().twoStepEnabled, false);
  });

  await t.test("five wrong confirmation codes exhaust the enrollment token", async (t) => {
    const who = await member();
    const token = await enrollmentToken(who);
    const start = await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(token) });
    const secret = start.json().secret as string;
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({
        method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(token), payload: { code: wrongCode(secret, clock.now()) },
      });
      t.equal(res.statusCode, 400, `wrong code ${i + 1}: ${res.body}`);
      t.equal(res.json().code, "ENROLLMENT_CODE_INVALID");
    }
    const right = await app.inject({
      method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(token), payload: { code: totpAt(secret, clock.now()) },
    });
    t.equal(right.statusCode, 401, `even the right code is refused now: ${right.body}`);
    t.equal(right.json().code, "MFA_TOKEN_EXHAUSTED");
    t.notOk(right.json().session);
    t.equal((await app.inject({ method: "GET", url: `/v1/users/${who.id}/security`, headers: usersRead })).json().twoStepEnabled, false);

    // A new sign-in starts over.
    const again = await enrollmentToken(who);
    const restart = await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(again) });
    const done = await app.inject({
      method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(again), payload: { code: freshCode(clock, restart.json().secret) },
    });
    t.equal(done.statusCode, 200, done.body);
    t.ok(done.json().session.accessToken);
  });
});
