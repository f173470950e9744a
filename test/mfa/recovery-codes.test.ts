// Recovery codes (checklist RC-01, RC-04..RC-06, RC-08; help article: one code,
// and using it hands out its replacement). Waits and the failure cap are set out
// of reach so the concurrent losers below are answered, not throttled.
import t from "tap";
import { decodeJwt } from "jose";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createUser, login, startApp } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";

const RECOVERY_CODE = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/;
const PARALLEL = 10;

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const app: App = await startApp(t, { clock, config: { MFA_FREE_FAILURES: 50, MFA_FAILURE_CAP: 100 } });

type Response = Awaited<ReturnType<typeof verify>>;
const canonical = (res: Response) => res.body.replace(res.json().instance, "<instance>");
const useRecoveryCode = async (email: string, code: string) => verify(app, { mfaToken: await mfaToken(app, email), method: "recovery_code", code });
const unusedCodes = (userId: string) => app.database.prisma.recoveryCode.count({ where: { userId, usedAt: null } });
const regenerate = (accessToken: string, payload: Record<string, unknown>) =>
  app.inject({ method: "POST", url: "/v1/me/mfa/recovery-codes", headers: bearer(accessToken), payload });

t.test("a recovery code has 80 bits in Crockford Base32 and is accepted in any case, without dashes", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const [code] = user.recoveryCodes;
  t.equal(user.recoveryCodes.length, 1);
  t.match(code, RECOVERY_CODE, "16 characters × 5 bits = 80 bits (≥ 64, RC-01)");

  const res = await useRecoveryCode(user.email, code!.replaceAll("-", "").toLowerCase());
  t.equal(res.statusCode, 200, res.body);
  t.same(decodeJwt(res.json().accessToken).amr, ["pwd", "rec", "mfa"]);
  t.equal(res.json().recoveryCodes.length, 1, "the answer carries the replacement");
  t.match(res.json().recoveryCodes[0], RECOVERY_CODE);
  t.not(res.json().recoveryCodes[0], code);
  t.equal(res.headers["cache-control"], "no-store");
});

t.test("a recovery code signs in once; its replacement works once; a used code never again", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const first = user.recoveryCodes[0]!;
  const used = await useRecoveryCode(user.email, first);
  t.equal(used.statusCode, 200);
  const second = used.json().recoveryCodes[0];
  t.equal(await unusedCodes(user.id), 1, "never left without one");

  const reuse = await useRecoveryCode(user.email, first);
  t.equal(reuse.statusCode, 401, "the used code is spent");
  t.equal(reuse.json().code, "INVALID_CODE");

  const replaced = await useRecoveryCode(user.email, second);
  t.equal(replaced.statusCode, 200, "the replacement works");
  const third = replaced.json().recoveryCodes[0];
  t.equal((await useRecoveryCode(user.email, second)).statusCode, 401, "the replacement works once");
  t.equal((await useRecoveryCode(user.email, first)).statusCode, 401, "the first one still never");
  t.equal((await useRecoveryCode(user.email, third)).statusCode, 200, "the newest one works");

  const noChallenge = await verify(app, { mfaToken: "mfa_not-a-real-token", method: "recovery_code", code: third });
  t.equal(noChallenge.statusCode, 401, "without a password step a recovery code is worth nothing (RC-05)");
  t.equal(noChallenge.json().code, "INVALID_MFA_TOKEN");
});

t.test("a recovery code is usable once, also under 10 concurrent requests", async (t) => {
  const user = await enrolledUser(app, clock.now);
  const tokens: string[] = [];
  for (let i = 0; i < PARALLEL; i++) tokens.push(await mfaToken(app, user.email));
  const sessionsBefore = await app.database.prisma.session.count({ where: { userId: user.id } });
  const code = user.recoveryCodes[0]!;

  const answers = await Promise.all(tokens.map((mfaToken) => verify(app, { mfaToken, method: "recovery_code", code })));

  const winners = answers.filter((res) => res.statusCode === 200);
  const losers = answers.filter((res) => res.statusCode !== 200);
  t.equal(winners.length, 1, "exactly one request wins");
  t.ok(losers.every((res) => res.statusCode === 401 && res.json().code === "INVALID_CODE"), "the others: 401 INVALID_CODE");
  t.equal(new Set(losers.map(canonical)).size, 1, "with one identical body (but the instance)");
  t.equal(await app.database.prisma.session.count({ where: { userId: user.id } }), sessionsBefore + 1, "one session");
  t.equal(await unusedCodes(user.id), 1, "one replacement, not one per request");
  t.equal((await useRecoveryCode(user.email, winners[0]!.json().recoveryCodes[0])).statusCode, 200, "and it is the winner's");
});

t.test("POST /v1/me/mfa/recovery-codes needs a current TOTP code, and the old code stops working", async (t) => {
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  const session = (await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now()) })).json();
  const storedBefore = await app.database.prisma.recoveryCode.findMany({ where: { userId: user.id }, select: { codeHash: true } });

  const noCode = await regenerate(session.accessToken, {});
  t.equal(noCode.statusCode, 400);
  const wrong = await regenerate(session.accessToken, { code: totpAt(user.secret, clock.now(), 9) });
  t.equal(wrong.statusCode, 401);
  t.equal(wrong.json().code, "INVALID_CODE");
  t.same(await app.database.prisma.recoveryCode.findMany({ where: { userId: user.id }, select: { codeHash: true } }), storedBefore,
    "refused attempts leave the codes as they were");
  const noBearer = await app.inject({ method: "POST", url: "/v1/me/mfa/recovery-codes", payload: { code: totpAt(user.secret, clock.now(), 1) } });
  t.equal(noBearer.statusCode, 401);

  const code = totpAt(user.secret, clock.now(), 1);
  const issued = await regenerate(session.accessToken, { code });
  t.equal(issued.statusCode, 200, issued.body);
  t.equal(issued.headers["cache-control"], "no-store");
  t.equal(issued.json().recoveryCodes.length, 1);
  const fresh = issued.json().recoveryCodes[0];
  t.match(fresh, RECOVERY_CODE);

  t.equal((await useRecoveryCode(user.email, user.recoveryCodes[0]!)).statusCode, 401, "the old code is dead");
  t.equal((await regenerate(session.accessToken, { code })).statusCode, 401, "the TOTP code that issued them is burned");
  t.equal((await useRecoveryCode(user.email, fresh)).statusCode, 200, "the new code works");
});

t.test("a person without an authenticator cannot ask for recovery codes (409)", async (t) => {
  const user = await createUser(app);
  const session = (await login(app, user.email)).json();
  const res = await regenerate(session.accessToken, { code: "123456" });
  t.equal(res.statusCode, 409);
  t.equal(res.json().code, "TOTP_NOT_ENROLLED");
  t.equal(await unusedCodes(user.id), 0);
});
