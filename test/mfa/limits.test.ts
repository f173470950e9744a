// Second-factor guessing limits (checklist RL-01, RL-05..RL-07, OTP-11, OTP-13):
// at most MFA_MAX_ATTEMPTS_PER_TOKEN attempts per MFA token; per person, after
// MFA_FREE_FAILURES consecutive failures a wait that doubles from 30 s; at
// MFA_FAILURE_CAP the authenticator is disabled. These counters are not the
// password throttle's. Small numbers here keep the arithmetic visible.
import t, { type Test } from "tap";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createApiKey, login, startApp } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";

const MFA_FREE_FAILURES = 4;
const MFA_FAILURE_CAP = 7;
const LOGIN_FREE_FAILURES = 5;

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const app: App = await startApp(t, { clock, config: { MFA_FREE_FAILURES, MFA_FAILURE_CAP, LOGIN_FREE_FAILURES } });
const readKey = await createApiKey(app, ["users:read"]);

type User = Awaited<ReturnType<typeof enrolledUser>>;

async function readyUser(): Promise<User> {
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  return user;
}

const wrongCode = (user: User) => totpAt(user.secret, clock.now(), 9);
const rightCode = (user: User) => totpAt(user.secret, clock.now());
const attempt = async (user: User, code: string) => verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code });
const failures = async (user: User) =>
  (await app.database.prisma.secondFactorThrottle.findUnique({ where: { userId: user.id }, select: { failures: true } }))?.failures ?? 0;

/** n wrong codes, each on a fresh MFA token, each expected to be a plain 401. */
async function fail(t: Test, user: User, n: number) {
  for (let i = 0; i < n; i++) {
    const res = await attempt(user, wrongCode(user));
    t.equal(res.statusCode, 401, `wrong code → 401 (${res.json().code})`);
  }
}

t.test("an MFA token allows 5 attempts; the 6th is 401 MFA_TOKEN_EXHAUSTED even with the correct code", async (t) => {
  const user = await readyUser();
  const token = await mfaToken(app, user.email);
  for (let i = 1; i <= 5; i++) {
    const res = await verify(app, { mfaToken: token, method: "totp", code: wrongCode(user) });
    t.equal(res.json().code, "INVALID_CODE", `attempt ${i}: INVALID_CODE`);
  }
  const sixth = await verify(app, { mfaToken: token, method: "totp", code: rightCode(user) });
  t.equal(sixth.statusCode, 401);
  t.equal(sixth.json().code, "MFA_TOKEN_EXHAUSTED");
  t.equal(await failures(user), 5, "the exhausted attempt is not one more guess");

  clock.advance(30_000); // the fifth failure began a 30 s wait
  t.equal((await attempt(user, rightCode(user))).statusCode, 200, "a new password step gives a new token");
});

t.test("consecutive second-factor failures impose a doubling wait with Retry-After; a correct code inside it is refused", async (t) => {
  const user = await readyUser();
  const bystander = await readyUser();
  await fail(t, user, MFA_FREE_FAILURES);
  const free = await attempt(user, wrongCode(user));
  t.equal(free.statusCode, 401, "the failure beyond the free ones is still answered as a wrong code");
  t.notOk(free.headers["retry-after"]);

  const waiting = await attempt(user, rightCode(user));
  t.equal(waiting.statusCode, 429, "a correct code inside the wait is refused");
  t.equal(waiting.json().code, "RATE_LIMITED");
  t.equal(waiting.headers["retry-after"], "30");
  t.equal(waiting.json().retryAfterSeconds, 30);
  t.equal((await attempt(bystander, rightCode(bystander))).statusCode, 200, "the wait is this person's alone");

  clock.advance(29_000);
  t.equal((await attempt(user, rightCode(user))).headers["retry-after"], "1", "Retry-After counts down");
  clock.advance(1_000);
  t.equal((await attempt(user, wrongCode(user))).statusCode, 401, "after the wait, the next wrong code is answered");
  const doubled = await attempt(user, rightCode(user));
  t.equal(doubled.statusCode, 429);
  t.equal(doubled.headers["retry-after"], "60", "the wait doubles");
  t.equal(await failures(user), MFA_FREE_FAILURES + 2, "refusals inside a wait are not counted as failures");

  clock.advance(60_000);
  t.equal((await attempt(user, rightCode(user))).statusCode, 200, "after the wait a correct code signs in");
});

t.test("at MFA_FAILURE_CAP consecutive failures the authenticator is disabled; the recovery code still signs in", async (t) => {
  const user = await readyUser();
  await fail(t, user, MFA_FREE_FAILURES + 1); // 5 failures: wait 30 s
  clock.advance(30_000);
  await fail(t, user, 1); // 6: wait 60 s
  clock.advance(60_000);
  await fail(t, user, 1); // 7 = cap: disabled, wait 120 s
  clock.advance(120_000);

  const answer = (await login(app, user.email)).json();
  t.equal(answer.status, "mfa_required");
  t.same(answer.methods, ["recovery_code"], "TOTP is no longer offered");
  const correct = await verify(app, { mfaToken: answer.mfaToken, method: "totp", code: rightCode(user) });
  t.equal(correct.statusCode, 401, "a correct TOTP code is refused");
  t.equal(correct.json().code, "INVALID_CODE");

  const state = await app.inject({ method: "GET", url: `/v1/users/${user.id}/security`, headers: { "x-api-key": readKey } });
  t.equal(state.json().totp.disabledAfterFailures, true);
  t.same(state.json().methods, ["recovery_code"]);
  t.equal(state.json().bankIntegrationAvailable, false);
  t.equal(state.json().twoStepEnabled, true, "2SV is still on: only the recovery code opens it");

  clock.advance(240_000); // the refused correct code was failure 8: wait 240 s
  const recovered = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "recovery_code", code: user.recoveryCodes[0] });
  t.equal(recovered.statusCode, 200, recovered.body);
  const session = recovered.json().accessToken;
  const me = (await app.inject({ method: "GET", url: "/v1/me", headers: bearer(session) })).json();
  t.equal(me.security.totp.disabledAfterFailures, true, "/v1/me shows why TOTP is off");
  const stepUp = await app.inject({ method: "POST", url: "/v1/auth/step-up", headers: bearer(session), payload: { method: "totp", code: rightCode(user) } });
  t.equal(stepUp.json().code, "BANK_INTEGRATION_REQUIRES_TOTP", "a disabled authenticator cannot step up");

  // The recovery session may set up the authenticator again.
  const started = await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(session) });
  t.equal(started.statusCode, 200, started.body);
  const secret = new URL(started.json().otpauthUri).searchParams.get("secret")!;
  const confirmed = await app.inject({ method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(session), payload: { code: totpAt(secret, clock.now()) } });
  t.equal(confirmed.statusCode, 200, confirmed.body);
  clock.advance(30_000);
  const again = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(secret, clock.now()) });
  t.equal(again.statusCode, 200, "the re-enrolled authenticator works");
});

t.test("a success resets the consecutive-failure count (RL-05)", async (t) => {
  const user = await readyUser();
  await fail(t, user, MFA_FREE_FAILURES);
  t.equal((await attempt(user, rightCode(user))).statusCode, 200);
  t.equal(await failures(user), 0);
  clock.advance(30_000);
  await fail(t, user, MFA_FREE_FAILURES);
  const next = await attempt(user, rightCode(user));
  t.equal(next.statusCode, 200, "no wait: the count started again from zero");
});

t.test("second-factor failures do not touch the password throttle", async (t) => {
  const user = await readyUser();
  await fail(t, user, MFA_FREE_FAILURES + 1);
  clock.advance(30_000);
  await fail(t, user, 1);
  t.ok(MFA_FREE_FAILURES + 2 > LOGIN_FREE_FAILURES, "more second-factor failures than the password throttle lets pass");

  const password = await login(app, user.email);
  t.equal(password.statusCode, 200, "the password step is not throttled");
  t.equal(password.json().status, "mfa_required");
  const wrongPassword = await login(app, user.email, "not the right password at all");
  t.equal(wrongPassword.statusCode, 401, "a wrong password is a plain 401, not 429");
  t.equal(wrongPassword.json().code, "INVALID_CREDENTIALS");
});

t.test("password failures do not touch the second-factor counter", async (t) => {
  const user = await readyUser();
  for (let i = 0; i < LOGIN_FREE_FAILURES; i++) {
    t.equal((await login(app, user.email, "not the right password at all")).statusCode, 401);
  }
  t.equal(await failures(user), 0, "no second-factor failure was counted");
  await fail(t, user, MFA_FREE_FAILURES);
  const next = await attempt(user, rightCode(user));
  t.equal(next.statusCode, 200, "the free second-factor failures were all still available");
});
