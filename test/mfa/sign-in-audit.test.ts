// The audit row for each sign-in through the second step (issue "hot paths"):
// written in the session's own statement, so a session never exists without
// its authn_login_success row and the row never exists without the session.
import t from "tap";
import { manualClock } from "../helpers/clock.ts";
import { createApiKey, startApp } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const app = await startApp(t, { clock });
const rowsOf = async (userId: string, requestId: string) =>
  (await app.database.prisma.auditEvent.findMany({ where: { subjectUserId: userId, requestId }, select: { type: true, details: true } }));

t.test("a second step's session and its audit rows are stored together: the rows name the session", async (t) => {
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  const res = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now()) });
  t.equal(res.statusCode, 200);
  const rows = await rowsOf(user.id, String(res.headers["x-request-id"]));
  t.same(rows.map((r) => r.type).sort(), ["authn_login_success", "mfa_verify_success"]);
  const sessionId = (rows.find((r) => r.type === "authn_login_success")!.details as { sessionId: string }).sessionId;
  t.ok(await app.database.prisma.session.findUnique({ where: { id: sessionId } }), "the row's session exists");
});

t.test("no sign-in audit row without a session: an account disabled before the second step gets neither", async (t) => {
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  const token = await mfaToken(app, user.email);
  const support = await createApiKey(app, ["users:write"]);
  t.equal((await app.inject({ method: "POST", url: `/v1/users/${user.id}/disable`, headers: { "x-api-key": support } })).statusCode, 204);
  const sessionsBefore = await app.database.prisma.session.count({ where: { userId: user.id } });
  const res = await verify(app, { mfaToken: token, method: "totp", code: totpAt(user.secret, clock.now()) });
  t.equal(res.statusCode, 403);
  t.equal(res.json().code, "ACCOUNT_DISABLED");
  t.equal(await app.database.prisma.session.count({ where: { userId: user.id } }), sessionsBefore, "no session");
  const types = (await rowsOf(user.id, String(res.headers["x-request-id"]))).map((r) => r.type);
  t.notOk(types.includes("authn_login_success"), "and no authn_login_success row");
  t.notOk(types.includes("mfa_verify_success"), "nor mfa_verify_success");
});
