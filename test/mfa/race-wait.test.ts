// The losers of a concurrent race on one correct TOTP code (a double submit,
// several tabs, a retrying client) must not put the winner's person into a wait
// (issue 14): a code that was right for a step already accepted is a replay,
// audited and refused, but not counted toward the second-factor wait. Default
// limits here (MFA_FREE_FAILURES 5): 19 counted losers would exceed them.
import t from "tap";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { startApp } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";

const PARALLEL = 20;
const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const app: App = await startApp(t, { clock });

t.test("20 concurrent verifies of one correct code: one session, and the person is not in a wait afterwards", async (t) => {
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  const tokens: string[] = [];
  for (let i = 0; i < PARALLEL; i++) tokens.push(await mfaToken(app, user.email));
  const sessionsBefore = await app.database.prisma.session.count({ where: { userId: user.id } });
  const code = totpAt(user.secret, clock.now());
  const answers = await Promise.all(tokens.map((mfaToken) => verify(app, { mfaToken, method: "totp", code })));
  t.equal(answers.filter((r) => r.statusCode === 200).length, 1, "one success");
  t.ok(answers.filter((r) => r.statusCode !== 200).every((r) => r.statusCode === 401 && r.json().code === "INVALID_CODE"), "the others 401 INVALID_CODE");
  t.equal(await app.database.prisma.session.count({ where: { userId: user.id } }), sessionsBefore + 1, "one session");

  const throttle = await app.database.prisma.secondFactorThrottle.findUnique({ where: { userId: user.id } });
  t.notOk(throttle?.blockedUntil && throttle.blockedUntil > clock.now(), "no second-factor wait on record");
  t.equal(throttle?.failures ?? 0, 0, "no failure counted");
  const replays = await app.database.prisma.auditEvent.count({ where: { subjectUserId: user.id, type: "mfa_verify_fail", details: { path: ["reason"], equals: "totp_replay" } } });
  t.equal(replays, PARALLEL - 1, "each loser is audited as a replay");

  clock.advance(30_000);
  const next = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now()) });
  t.equal(next.statusCode, 200, "the person's next sign-in is not held");
});

t.test("wrong codes still count: the race exemption covers only codes right for an accepted step", async (t) => {
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  for (let i = 0; i < 6; i++) await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now(), 7) });
  const waiting = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now()) });
  t.equal(waiting.statusCode, 429, "six wrong codes: a wait");
});
