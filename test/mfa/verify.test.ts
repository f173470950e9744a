// The second step of sign-in (checklist OTP-04, OTP-05, OTP-09, OTP-13, UE-05,
// UE-06, SJ-10). Waits and caps are out of reach here (limits.test.ts has them),
// so every refusal below is the code's or the token's own.
import t from "tap";
import { randomBytes } from "node:crypto";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createUser, logCapture, login, startApp } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";

const MFA_TOKEN_TTL_SECONDS = 300;

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const logs = logCapture();
const app: App = await startApp(t, { clock, logStream: logs.stream, config: { MFA_FREE_FAILURES: 50, MFA_FAILURE_CAP: 100 } });

type Response = Awaited<ReturnType<typeof verify>>;
const canonical = (res: Response) => res.body.replace(res.json().instance, "<instance>");

/** Moves the clock to `secondsIntoStep` seconds into a step at least a minute ahead. */
function moveIntoStep(secondsIntoStep: number) {
  const now = clock.now().getTime();
  const nextStepStart = (Math.floor(now / 30_000) + 3) * 30_000;
  clock.set(new Date(nextStepStart + secondsIntoStep * 1000));
}

/** The log lines of one request, by its id (the problem's `instance`). */
function linesOf(requestId: string): Record<string, unknown>[] {
  return logs.lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.reqId === requestId);
}

t.test("the second step accepts codes for T-1, T and T+1 only; T-2 and T+2 are refused (steps, not seconds)", async (t) => {
  for (const secondsIntoStep of [0, 29]) {
    const user = await enrolledUser(app, clock.now);
    moveIntoStep(secondsIntoStep);
    const attempt = async (offset: number) =>
      (await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now(), offset) })).statusCode;
    t.equal(await attempt(-2), 401, `T-2 refused at ${secondsIntoStep} s into the step`);
    t.equal(await attempt(2), 401, `T+2 refused at ${secondsIntoStep} s into the step`);
    // In rising order: each accepted step burns itself and every step before it.
    t.equal(await attempt(-1), 200, `T-1 accepted at ${secondsIntoStep} s into the step`);
    t.equal(await attempt(0), 200, `T accepted at ${secondsIntoStep} s into the step`);
    t.equal(await attempt(1), 200, `T+1 accepted at ${secondsIntoStep} s into the step`);
  }
});

t.test("a TOTP code is accepted only once: the same code, and any earlier step, are refused afterwards", async (t) => {
  const user = await enrolledUser(app, clock.now);
  moveIntoStep(10);
  const code = totpAt(user.secret, clock.now());
  const first = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code });
  t.equal(first.statusCode, 200);
  const again = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code });
  t.equal(again.statusCode, 401);
  t.equal(again.json().code, "INVALID_CODE");
  const earlier = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now(), -1) });
  t.equal(earlier.statusCode, 401, "a step before the accepted one is a replay too (RFC 6238 §5.2)");
  const later = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now(), 1) });
  t.equal(later.statusCode, 200, "a later step in the window is still fine");
});

t.test("wrong, replayed, expired and malformed codes get one identical answer; only the log tells them apart", async (t) => {
  const user = await enrolledUser(app, clock.now);
  moveIntoStep(10);
  const used = totpAt(user.secret, clock.now());
  t.equal((await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: used })).statusCode, 200);

  const cases: [label: string, code: string, reason: string][] = [
    ["wrong", totpAt(user.secret, clock.now(), 7), "totp_invalid"],
    ["replayed", used, "totp_replay"],
    ["expired (T-2)", totpAt(user.secret, clock.now(), -2), "totp_invalid"],
    ["five digits", "12345", "totp_malformed"],
    ["seven digits", "1234567", "totp_malformed"],
    ["a letter", "12a456", "totp_malformed"],
    ["full-width digits", "１２３４５６", "totp_malformed"],
    ["64 characters", "1".repeat(64), "totp_malformed"],
  ];
  const answers: Response[] = [];
  for (const [label, code, reason] of cases) {
    const res = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code });
    answers.push(res);
    t.equal(res.statusCode, 401, `${label}: 401`);
    t.equal(res.json().code, "INVALID_CODE", `${label}: INVALID_CODE`);
    const failure = linesOf(res.json().instance).find((line) => line.event === "mfa_failed");
    t.equal(failure?.reason, reason, `${label}: the log says ${reason}`);
  }
  for (const [i, res] of answers.entries()) {
    t.equal(canonical(res), canonical(answers[0]!), `${cases[i]![0]}: the body is the wrong code's, but the instance`);
    t.equal(res.headers["content-type"], answers[0]!.headers["content-type"]);
    t.notOk(res.headers["retry-after"]);
  }
});

t.test("the MFA token works nowhere else: not as a bearer token, refresh token or device token", async (t) => {
  const user = await enrolledUser(app, clock.now);
  moveIntoStep(10);
  const token = await mfaToken(app, user.email);

  const asBearer = await app.inject({ method: "GET", url: "/v1/me", headers: bearer(token) });
  t.equal(asBearer.statusCode, 401);
  t.equal(asBearer.json().code, "UNAUTHENTICATED");
  const asStepUp = await app.inject({ method: "POST", url: "/v1/auth/step-up", headers: bearer(token), payload: { method: "totp", code: "123456" } });
  t.equal(asStepUp.statusCode, 401);
  const asRefresh = await app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken: token } });
  t.equal(asRefresh.statusCode, 401);
  t.equal(asRefresh.json().code, "INVALID_REFRESH_TOKEN");
  const asDevice = await login(app, user.email, undefined, { deviceToken: token });
  t.equal(asDevice.json().status, "mfa_required", "as a device token it is ignored");
  const asEnrollment = await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(token) });
  t.equal(asEnrollment.statusCode, 401);

  const ok = await verify(app, { mfaToken: token, method: "totp", code: totpAt(user.secret, clock.now()) });
  t.equal(ok.statusCode, 200, "the same token still does its one job");

  const { accessToken, refreshToken } = ok.json();
  for (const [label, other] of [["access token", accessToken], ["refresh token", refreshToken]]) {
    const res = await verify(app, { mfaToken: other, method: "totp", code: totpAt(user.secret, clock.now(), 1) });
    // An access token is longer than the schema allows an MFA token to be (400); either way, refused.
    t.ok([400, 401].includes(res.statusCode), `a ${label} is no MFA token (${res.statusCode})`);
    t.match(res.json().code, /^(INVALID_MFA_TOKEN|VALIDATION_FAILED)$/);
  }
});

t.test("the MFA token expires after MFA_TOKEN_TTL_SECONDS", async (t) => {
  const user = await enrolledUser(app, clock.now);
  moveIntoStep(0);
  const answer = (await login(app, user.email)).json();
  t.equal(answer.expiresIn, MFA_TOKEN_TTL_SECONDS);
  const lateButLive = await mfaToken(app, user.email);

  clock.advance((MFA_TOKEN_TTL_SECONDS - 1) * 1000);
  const justInTime = await verify(app, { mfaToken: lateButLive, method: "totp", code: totpAt(user.secret, clock.now()) });
  t.equal(justInTime.statusCode, 200, "one second before expiry it works");

  clock.advance(1000);
  const expired = await verify(app, { mfaToken: answer.mfaToken, method: "totp", code: totpAt(user.secret, clock.now(), 1) });
  t.equal(expired.statusCode, 401);
  t.equal(expired.json().code, "INVALID_MFA_TOKEN", "at its expiry it is dead, even with a valid code");
});

t.test("an MFA token is single use and bound to the user whose password succeeded", async (t) => {
  const alice = await enrolledUser(app, clock.now);
  const bob = await enrolledUser(app, clock.now);
  moveIntoStep(10);
  const aliceToken = await mfaToken(app, alice.email);

  const bobsCode = await verify(app, { mfaToken: aliceToken, method: "totp", code: totpAt(bob.secret, clock.now()) });
  t.equal(bobsCode.statusCode, 401, "another user's valid code does not fit this token");
  t.equal(bobsCode.json().code, "INVALID_CODE");

  t.equal((await verify(app, { mfaToken: aliceToken, method: "totp", code: totpAt(alice.secret, clock.now()) })).statusCode, 200);
  clock.advance(30_000);
  const reused = await verify(app, { mfaToken: aliceToken, method: "totp", code: totpAt(alice.secret, clock.now()) });
  t.equal(reused.statusCode, 401, "a spent MFA token is dead even with a fresh code");
  t.equal(reused.json().code, "INVALID_MFA_TOKEN");

  const forged = await verify(app, { mfaToken: `mfa_${randomBytes(32).toString("base64url")}`, method: "totp", code: totpAt(alice.secret, clock.now()) });
  t.equal(forged.statusCode, 401);
  t.equal(forged.json().code, "INVALID_MFA_TOKEN");
  t.equal((await verify(app, { mfaToken: await mfaToken(app, alice.email), method: "totp", code: totpAt(alice.secret, clock.now()) })).statusCode, 200,
    "the forged and reused attempts did not burn the step");
});

t.test("which second factor a person has is revealed only after a correct password (UE-05)", async (t) => {
  const withTotp = await enrolledUser(app, clock.now);
  const without = await createUser(app);
  const wrongA = await login(app, withTotp.email, "not the right password at all");
  const wrongB = await login(app, without.email, "not the right password at all");
  t.equal(wrongA.statusCode, 401);
  t.equal(canonical(wrongA), canonical(wrongB), "a wrong password answers the same with and without 2SV");

  const right = await login(app, withTotp.email);
  t.equal(right.statusCode, 200);
  t.same(Object.keys(right.json()).sort(), ["expiresIn", "methods", "mfaToken", "status"], "no session tokens before the second step");
  t.same(right.json().methods, ["totp", "recovery_code"]);
});

t.test("the verify body is strict: no client time, no coerced types, no other methods", async (t) => {
  const user = await enrolledUser(app, clock.now);
  moveIntoStep(10);
  const token = await mfaToken(app, user.email);
  const code = totpAt(user.secret, clock.now());
  for (const [label, payload] of [
    ["a client-supplied time", { mfaToken: token, method: "totp", code, time: 0 }],
    ["rememberDevice as a string", { mfaToken: token, method: "totp", code, rememberDevice: "true" }],
    ["a code as a number", { mfaToken: token, method: "totp", code: Number(code) }],
    ["an unknown method", { mfaToken: token, method: "sms", code }],
    ["a 65-character code", { mfaToken: token, method: "totp", code: "1".repeat(65) }],
    ["an empty code", { mfaToken: token, method: "totp", code: "" }],
  ] as const) {
    const res = await verify(app, payload);
    t.equal(res.statusCode, 400, `${label}: 400`);
    t.equal(res.json().code, "VALIDATION_FAILED");
  }
  t.equal((await verify(app, { mfaToken: token, method: "totp", code })).statusCode, 200, "refused bodies changed nothing");
});
