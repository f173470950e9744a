// What follows a good assertion (PRODUCT.md "Sign-in methods"; help article: "you
// need to sign in with your password to enable two-step verification, so you
// can't sign in with Mobile BankID to do this"). A multi-factor provider is the
// whole sign-in; a single-factor one is a first factor like a password; and a
// BankID session may never set up or change 2SV.
import t from "tap";
import { randomUUID } from "node:crypto";
import { decodeJwt } from "jose";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createApiKey, createUser, login, startApp } from "../helpers/app.ts";
import { enrolledUser, totpAt, verify } from "../helpers/mfa.ts";
import { federatedSignIn, forbidNetwork, linkIdentity, providerConfig, providerKey, signAssertion } from "./provider.ts";

const network = forbidNetwork(t);
const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const key = await providerKey("EdDSA", "ed-1");
const multiFactorApp: App = await startApp(t, { clock, config: await providerConfig(t, [key]) });
const singleFactorApp: App = await startApp(t, { clock, config: await providerConfig(t, [key], { FEDERATED_MULTI_FACTOR: false }) });

const PASSWORD_TITLE = /password/i;

async function bankIdSignIn(app: App, subject: string) {
  return federatedSignIn(app, await signAssertion(key, subject, clock));
}

async function linked<U extends { id: string }>(app: App, user: U) {
  const subject = `bankid-${randomUUID()}`;
  await linkIdentity(app, user.id, subject);
  return { ...user, subject };
}

/** A member of a company whose policy makes 2SV mandatory, with no factor yet. */
async function mandatedPerson(app: App) {
  const headers = { "x-api-key": await createApiKey(app, ["companies:write"]) };
  const company = await app.inject({ method: "POST", url: "/v1/companies", headers, payload: { name: "Mandate AB", kind: "company" } });
  if (company.statusCode !== 201) throw new Error(`company: ${company.body}`);
  const person = await linked(app, await createUser(app));
  const { id } = company.json();
  const member = await app.inject({ method: "PUT", url: `/v1/companies/${id}/members/${person.id}`, headers, payload: { role: "user" } });
  const policy = await app.inject({ method: "PUT", url: `/v1/companies/${id}/security-policy`, headers, payload: { mandatoryTwoFactor: true } });
  if (member.statusCode !== 204 || policy.statusCode !== 200) throw new Error(`policy set-up: ${member.body} ${policy.body}`);
  return person;
}

t.test("a single-factor provider is a first factor: TOTP follows, and the session says ext, otp, mfa", async (t) => {
  const person = await linked(singleFactorApp, await enrolledUser(singleFactorApp, () => clock.now()));
  clock.advance(30_000); // the enrollment code's time step is burned
  const first = await bankIdSignIn(singleFactorApp, person.subject);
  t.equal(first.statusCode, 200, first.body);
  t.equal(first.json().status, "mfa_required");
  t.same(first.json().methods, ["totp", "recovery_code"]);
  const done = await verify(singleFactorApp, { mfaToken: first.json().mfaToken, method: "totp", code: totpAt(person.secret, clock.now()) });
  t.equal(done.statusCode, 200, done.body);
  t.same(decodeJwt(done.json().accessToken).amr, ["ext", "otp", "mfa"]);
});

t.test("a single-factor provider, a person without a factor and no policy: a single-factor session", async (t) => {
  const person = await linked(singleFactorApp, await createUser(singleFactorApp));
  const res = await bankIdSignIn(singleFactorApp, person.subject);
  t.equal(res.json().status, "authenticated", res.body);
  t.same(decodeJwt(res.json().accessToken).amr, ["ext"]);
});

t.test("the multi-factor provider skips the second step even for a person with TOTP", async (t) => {
  const person = await linked(multiFactorApp, await enrolledUser(multiFactorApp, () => clock.now()));
  const res = await bankIdSignIn(multiFactorApp, person.subject);
  t.equal(res.json().status, "authenticated", res.body);
  t.same(decodeJwt(res.json().accessToken).amr, ["ext", "mfa"]);
});

t.test("a mandated person without a factor is sent to the password by a single-factor provider, and nothing is left to enroll with", async (t) => {
  const person = await mandatedPerson(singleFactorApp);
  t.equal((await login(singleFactorApp, person.email)).json().status, "mfa_enrollment_required", "the mandate is in force for a password sign-in");
  const res = await bankIdSignIn(singleFactorApp, person.subject);
  t.equal(res.statusCode, 403, res.body);
  t.equal(res.json().code, "PASSWORD_SIGN_IN_REQUIRED");
  t.match(res.json().title, PASSWORD_TITLE);
  t.notOk(res.body.includes("enr_"), "no enrollment token is handed out");

  const live = await singleFactorApp.database.prisma.authChallenge.count({ where: { userId: person.id, purpose: "enrollment", consumedAt: null } });
  t.equal(live, 1, "only the password sign-in's enrollment challenge is live; the BankID one was spent at once");
  const failure = await singleFactorApp.database.prisma.auditEvent.findFirst({ where: { type: "authn_login_fail", subjectUserId: person.id } });
  t.same(failure?.details, { method: "federated", reason: "password_sign_in_required" });
});

t.test("a mandated person without a factor signs in with the multi-factor provider", async (t) => {
  const person = await mandatedPerson(multiFactorApp);
  const res = await bankIdSignIn(multiFactorApp, person.subject);
  t.equal(res.json().status, "authenticated", res.body);
  t.same(decodeJwt(res.json().accessToken).amr, ["ext", "mfa"]);
});

t.test("a BankID session may not set up or change two-step verification (PASSWORD_SIGN_IN_REQUIRED)", async (t) => {
  const fresh = await linked(multiFactorApp, await createUser(multiFactorApp));
  const freshToken = (await bankIdSignIn(multiFactorApp, fresh.subject)).json().accessToken;
  const start = await multiFactorApp.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(freshToken) });
  t.equal(start.statusCode, 403, start.body);
  t.equal(start.json().code, "PASSWORD_SIGN_IN_REQUIRED");
  t.match(start.json().title, PASSWORD_TITLE, "the title tells the person to sign in with the password");
  const confirm = await multiFactorApp.inject({ method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(freshToken), payload: { code: "123456" } });
  t.equal(confirm.json().code, "PASSWORD_SIGN_IN_REQUIRED");

  const enrolled = await linked(multiFactorApp, await enrolledUser(multiFactorApp, () => clock.now()));
  const token = (await bankIdSignIn(multiFactorApp, enrolled.subject)).json().accessToken;
  const code = totpAt(enrolled.secret, clock.now(), 1);
  const turnOff = await multiFactorApp.inject({ method: "DELETE", url: "/v1/me/mfa/totp", headers: bearer(token), payload: { password: enrolled.password, code } });
  t.equal(turnOff.json().code, "PASSWORD_SIGN_IN_REQUIRED", "turning 2SV off");
  const codes = await multiFactorApp.inject({ method: "POST", url: "/v1/me/mfa/recovery-codes", headers: bearer(token), payload: { code } });
  t.equal(codes.json().code, "PASSWORD_SIGN_IN_REQUIRED", "new recovery codes");
  const replace = await multiFactorApp.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(token) });
  t.equal(replace.json().code, "PASSWORD_SIGN_IN_REQUIRED", "replacing the authenticator");
});

t.test("nothing in this file reached the network", async (t) => {
  t.same(network.calls, []);
});
