// Step-up for the bank integration (checklist SJ-15, DT-01; PRODUCT: "a payment
// step demands a fresh TOTP step-up"): only a fresh authenticator code counts;
// a trusted device or a recovery code never does.
import t from "tap";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createUser, login, startApp } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";

const STEP_UP_TOKEN_TTL_SECONDS = 300;

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const app: App = await startApp(t, { clock });

const stepUp = (accessToken: string, payload: Record<string, unknown>) =>
  app.inject({ method: "POST", url: "/v1/auth/step-up", headers: bearer(accessToken), payload });
const me = (token: string) => app.inject({ method: "GET", url: "/v1/me", headers: bearer(token) });

async function signedInWithTotp() {
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  const res = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now()), rememberDevice: true });
  return { user, session: res.json() as { accessToken: string; deviceToken: string } };
}

t.test("a fresh TOTP code steps up: amr includes otp, auth_time is fresh, and the token lives STEP_UP_TOKEN_TTL_SECONDS", async (t) => {
  const { user, session } = await signedInWithTotp();
  const original = decodeJwt(session.accessToken);
  clock.advance(90_000);

  const res = await stepUp(session.accessToken, { method: "totp", code: totpAt(user.secret, clock.now()) });
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.headers["cache-control"], "no-store");
  t.equal(res.json().tokenType, "Bearer");
  t.equal(res.json().expiresIn, STEP_UP_TOKEN_TTL_SECONDS);
  const claims = decodeJwt(res.json().accessToken);
  t.equal(decodeProtectedHeader(res.json().accessToken).typ, "at+jwt", "an access token like any other");
  t.ok((claims.amr as string[]).includes("otp"));
  t.ok((claims.amr as string[]).includes("pwd"));
  t.equal(claims.auth_time, Math.floor(clock.now().getTime() / 1000), "auth_time is the step-up's");
  t.ok((claims.auth_time as number) > (original.auth_time as number), "newer than the sign-in's");
  t.equal(claims.exp! - claims.iat!, STEP_UP_TOKEN_TTL_SECONDS);
  t.equal(claims.sub, user.id);
  t.equal(claims.sid, original.sid, "the same session");
  t.equal((await me(res.json().accessToken)).statusCode, 200, "usable as a bearer token");
});

t.test("a password-only session steps up to amr with otp", async (t) => {
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  t.same(decodeJwt(user.accessToken).amr, ["pwd"]);
  const res = await stepUp(user.accessToken, { method: "totp", code: totpAt(user.secret, clock.now()) });
  t.equal(res.statusCode, 200, res.body);
  t.same(decodeJwt(res.json().accessToken).amr, ["pwd", "otp", "mfa"]);
});

t.test("a step-up code is single use: a replayed code gets 401 INVALID_CODE", async (t) => {
  const { user, session } = await signedInWithTotp();
  const usedToSignIn = totpAt(user.secret, clock.now());
  const fromSignIn = await stepUp(session.accessToken, { method: "totp", code: usedToSignIn });
  t.equal(fromSignIn.statusCode, 401, "the code that signed in cannot step up");
  t.equal(fromSignIn.json().code, "INVALID_CODE");

  clock.advance(30_000);
  const code = totpAt(user.secret, clock.now());
  t.equal((await stepUp(session.accessToken, { method: "totp", code })).statusCode, 200);
  const replay = await stepUp(session.accessToken, { method: "totp", code });
  t.equal(replay.statusCode, 401);
  t.equal(replay.json().code, "INVALID_CODE");
});

t.test("a recovery code never satisfies a step-up", async (t) => {
  const { user, session } = await signedInWithTotp();
  const [recoveryCode] = user.recoveryCodes;
  const asMethod = await stepUp(session.accessToken, { method: "recovery_code", code: recoveryCode });
  t.equal(asMethod.statusCode, 400, "the schema allows method totp only");
  t.equal(asMethod.json().code, "VALIDATION_FAILED");
  const asCode = await stepUp(session.accessToken, { method: "totp", code: recoveryCode });
  t.equal(asCode.statusCode, 401, "nor as a TOTP code");
  t.equal(asCode.json().code, "INVALID_CODE");
  const unused = await app.database.prisma.recoveryCode.count({ where: { userId: user.id, usedAt: null } });
  t.equal(unused, 1, "and it was not spent");
});

t.test("a trusted-device session carries no otp and still needs a TOTP code to step up", async (t) => {
  const { user, session } = await signedInWithTotp();
  const viaDevice = (await login(app, user.email, undefined, { deviceToken: session.deviceToken })).json();
  t.equal(viaDevice.status, "authenticated");
  t.same(decodeJwt(viaDevice.accessToken).amr, ["pwd", "dt"], "password-only in NIST's terms");

  t.equal((await stepUp(viaDevice.accessToken, { method: "totp" })).statusCode, 400, "no code, no step-up");
  const wrong = await stepUp(viaDevice.accessToken, { method: "totp", code: totpAt(user.secret, clock.now(), 9) });
  t.equal(wrong.statusCode, 401);
  clock.advance(30_000);
  const res = await stepUp(viaDevice.accessToken, { method: "totp", code: totpAt(user.secret, clock.now()) });
  t.equal(res.statusCode, 200);
  const amr = decodeJwt(res.json().accessToken).amr as string[];
  t.ok(amr.includes("otp") && amr.includes("dt"), "the code added otp; dt still says how the session began");
});

t.test("a person without TOTP gets 403 BANK_INTEGRATION_REQUIRES_TOTP", async (t) => {
  const user = await createUser(app);
  const session = (await login(app, user.email)).json();
  const res = await stepUp(session.accessToken, { method: "totp", code: "123456" });
  t.equal(res.statusCode, 403);
  t.equal(res.json().code, "BANK_INTEGRATION_REQUIRES_TOTP");
  t.match(res.json().title, /authenticator app \(TOTP\)/, "the answer says what to set up");
});

t.test("step-up needs a valid access token", async (t) => {
  const { user, session } = await signedInWithTotp();
  const code = totpAt(user.secret, clock.now(), 1);
  t.equal((await app.inject({ method: "POST", url: "/v1/auth/step-up", payload: { method: "totp", code } })).statusCode, 401);
  t.equal((await stepUp(session.deviceToken, { method: "totp", code })).statusCode, 401, "a device token is not a bearer token");
  await app.inject({ method: "POST", url: "/v1/auth/logout", headers: bearer(session.accessToken) });
  t.equal((await stepUp(session.accessToken, { method: "totp", code })).statusCode, 401, "nor is a signed-out session's");
});
