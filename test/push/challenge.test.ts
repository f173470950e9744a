// The push challenge, end to end through the reference app's client code:
// one session per approval, answers that change nothing, fatigue rules.
import t from "tap";
import { decodeJwt } from "jose";
import type { App } from "../../src/http/app-type.ts";
import { bearer, startApp } from "../helpers/app.ts";
import { createAuthenticatorClient } from "../../src/authenticator-app/client.ts";
import { injectTransport, newApp, personWithPushApp, poll, startPush } from "../helpers/push.ts";
import { refusal } from "../helpers/push.ts";

const app: App = await startApp(t);

t.test("an approval with the right number mints one session (amr pwd push mfa), also when two long polls and a replayed answer race", async (t) => {
  const { user, phone } = await personWithPushApp(app);
  const { mfaToken, methods, res } = await startPush(app, user.email, { rememberDevice: true, deviceName: "Laptop" });
  t.same(methods, ["recovery_code", "push"]);
  t.equal(res.statusCode, 200, res.body);
  const { challengeId, numberToMatch, expiresIn } = res.json();
  t.match(numberToMatch, /^[0-9]{2}$/);
  t.equal(expiresIn, 120);

  const waiting = [poll(app, challengeId, mfaToken, 5), poll(app, challengeId, mfaToken, 5)];
  const [pending] = await phone.pending(2);
  t.equal(pending!.id, challengeId, "the app sees the challenge");
  t.equal(pending!.service, "Bookkeeping & Invoicing");
  const jws = await phone.answerJws(pending!, "approve", { number: numberToMatch });
  const answers = await Promise.allSettled([phone.send(challengeId, jws), phone.send(challengeId, jws)]);
  t.equal(answers.filter((a) => a.status === "fulfilled").length, 1, "a replayed answer is refused");
  const outcomes = await Promise.all(waiting);
  const sessions = outcomes.filter((o) => o.statusCode === 200 && o.json().status === "authenticated");
  t.equal(sessions.length, 1, "exactly one long poll collects the session");
  t.same(decodeJwt(sessions[0]!.json().accessToken).amr, ["pwd", "push", "mfa"]);
  t.ok(sessions[0]!.json().deviceToken, "rememberDevice gives a device token, once");
  t.equal(outcomes.find((o) => o !== sessions[0])!.statusCode, 401, "the other collector is refused");
  const after = await poll(app, challengeId, mfaToken, 0);
  t.equal(after.statusCode, 401, "the MFA token is spent");
  t.equal(await app.database.prisma.session.count({ where: { userId: user.id, amr: { has: "push" } } }), 1);
});

t.test("an answer by another app's key, for another challenge, replayed, late or with the wrong number mints nothing", async (t) => {
  const { user, phone } = await personWithPushApp(app);
  const stranger = (await personWithPushApp(app)).phone;
  const { mfaToken, res } = await startPush(app, user.email);
  const { challengeId, numberToMatch } = res.json();
  const [pending] = await phone.pending(0);

  t.equal(await refusal(stranger.answer(pending!, "approve", { number: numberToMatch })), 404, "another person's app key");
  const forOther = await phone.answerJws({ ...pending!, id: "00000000-0000-4000-8000-000000000000" }, "approve", { number: numberToMatch });
  t.equal(await refusal(phone.send(challengeId, forOther)), 401, "an answer naming another challenge");
  const late = await phone.answerJws(pending!, "approve", { number: numberToMatch, claims: { iat: Math.floor(Date.now() / 1000) - 300, exp: Math.floor(Date.now() / 1000) - 250 } });
  t.equal(await refusal(phone.send(challengeId, late)), 401, "a late answer");
  const otherContext = await phone.answerJws({ ...pending!, contextHash: "x".repeat(43) }, "approve", { number: numberToMatch });
  t.equal(await refusal(phone.send(challengeId, otherContext)), 409, "an answer to a context it was not shown");
  t.equal((await poll(app, challengeId, mfaToken, 0)).json().status, "pending", "none of them changed anything");

  const wrong = String((Number(numberToMatch) + 1) % 100).padStart(2, "0");
  t.same(await phone.answer(pending!, "approve", { number: wrong }), { status: "rejected", reason: "wrong_number" });
  const outcome = await poll(app, challengeId, mfaToken, 0);
  t.same(outcome.json(), { status: "rejected", reason: "wrong_number" }, "a wrong number is a rejection, never a session");
  t.equal(await refusal(phone.answer(pending!, "approve", { number: numberToMatch })), 409, "a second answer is refused");
  t.equal(await app.database.prisma.session.count({ where: { userId: user.id, amr: { has: "push" } } }), 0);
  t.equal((await app.database.prisma.secondFactorThrottle.findUnique({ where: { userId: user.id } }))?.failures, 1, "it counts as a second-factor failure");
});

t.test("after an unapproved push the next waits: 429 PUSH_TOO_SOON with Retry-After", async (t) => {
  const { user } = await personWithPushApp(app);
  t.equal((await startPush(app, user.email)).res.statusCode, 200);
  const again = (await startPush(app, user.email)).res;
  t.equal(again.statusCode, 429);
  t.equal(again.json().code, "PUSH_TOO_SOON");
  t.ok(Number(again.headers["retry-after"]) > 0 && Number(again.headers["retry-after"]) <= 10);
});

t.test("a push to a person who answered \"This wasn't me\" is refused with Retry-After, and the sign-in page is told rejected", async (t) => {
  const { user, phone } = await personWithPushApp(app);
  const { mfaToken, res } = await startPush(app, user.email);
  const [pending] = await phone.pending(0);
  t.same(await phone.answer(pending!, "reject", { reason: "not_me" }), { status: "rejected", reason: "not_me" });
  t.same((await poll(app, res.json().challengeId, mfaToken, 0)).json(), { status: "rejected", reason: "not_me" });
  const blocked = (await startPush(app, user.email)).res;
  t.equal(blocked.statusCode, 429);
  t.equal(blocked.json().code, "PUSH_BLOCKED");
  t.ok(Number(blocked.headers["retry-after"]) > 3000, "about an hour");
  const types = (await app.database.prisma.auditEvent.findMany({ where: { subjectUserId: user.id }, select: { type: true } })).map((e) => e.type);
  for (const type of ["push_paired", "push_sent", "push_rejected", "push_blocked"]) t.ok(types.includes(type), `audited: ${type}`);
});

t.test("the bank integration accepts TOTP only: step-up refuses push, and push alone is told it needs an authenticator code", async (t) => {
  const { user, phone } = await personWithPushApp(app);
  const { mfaToken, res } = await startPush(app, user.email);
  const [pending] = await phone.pending(0);
  await phone.answer(pending!, "approve", { number: res.json().numberToMatch });
  const session = (await poll(app, res.json().challengeId, mfaToken, 0)).json();
  const viaPush = await app.inject({ method: "POST", url: "/v1/auth/step-up", headers: bearer(session.accessToken), payload: { method: "push", code: "123456" } });
  t.equal(viaPush.statusCode, 400, "push is no step-up method");
  const totp = await app.inject({ method: "POST", url: "/v1/auth/step-up", headers: bearer(session.accessToken), payload: { method: "totp", code: "123456" } });
  t.equal(totp.statusCode, 403);
  t.equal(totp.json().code, "BANK_INTEGRATION_REQUIRES_TOTP");
});

t.test("app requests must be signed, fresh and used once", async (t) => {
  const { phone } = await personWithPushApp(app);
  const unsigned = await app.inject({ method: "GET", url: "/v1/authenticator/challenges" });
  t.equal(unsigned.statusCode, 401);
  t.equal(unsigned.json().code, "INVALID_APP_SIGNATURE");
  const unknown = await newApp(app);
  t.equal(await refusal(unknown.pending(0)), 401, "an unpaired key");
  t.same(await phone.pending(0), [], "a paired key with nothing pending");
});

t.test("a signed app request is used once: the same signature sent again is refused", async (t) => {
  const { phone } = await personWithPushApp(app);
  const signatures: string[] = [];
  const inject = injectTransport(app);
  const watched = createAuthenticatorClient(phone.state, async (request) => {
    const signature = request.headers?.["x-app-signature"];
    if (signature) signatures.push(signature);
    return inject(request);
  });
  t.same(await watched.pending(0), [], "the first use is accepted");
  const replayed = await app.inject({ method: "GET", url: "/v1/authenticator/challenges?waitSeconds=0", headers: { "x-app-signature": signatures[0]! } });
  t.equal(replayed.statusCode, 401, "the replay is refused");
  t.equal(replayed.json().code, "INVALID_APP_SIGNATURE");
});
