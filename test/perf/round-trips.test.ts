// The database round trips of the hot requests, counted at the driver adapter
// (every query, execute, BEGIN and COMMIT is one): the budget of issue "hot
// paths". A change that adds a round trip to one of these fails here.
import t, { type Test } from "tap";
import { openDatabase } from "../../src/db/database.ts";
import type { App } from "../../src/http/app-type.ts";
import { manualClock } from "../helpers/clock.ts";
import { bearer, createApiKey, freshDatabaseUrl, startApp } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));

async function countingApp(t: Test) {
  const statements: string[] = [];
  const database = await openDatabase({ databaseUrl: await freshDatabaseUrl(t), dataDir: "memory://", poolSize: 4, onStatement: (sql) => statements.push(sql) });
  t.teardown(() => database.close());
  await database.migrate();
  const app = await startApp(t, { clock, database });
  /** The statements one request sends, and the request's answer. */
  async function measure(run: () => Promise<{ statusCode: number }>) {
    statements.length = 0;
    const res = await run();
    await new Promise((resolve) => setImmediate(resolve));
    return { res, statements: [...statements] };
  }
  return { app, measure };
}

const show = (statements: string[]) => statements.map((s) => s.replace(/\s+/g, " ").slice(0, 90)).join("\n  ");

// The targets: the TOTP second step reads its state once, burns the step
// and consumes the challenge in one conditional write, and writes the session, its
// refresh token and audit rows in one statement; the token checks and /v1/me read
// once each. The recovery-code step and /v1/users/{id}/security are pinned at
// today's counts (a recovery code is found by verifying the unused codes' hashes).
const BUDGET = { secondStep: 3, me: 2, introspection: 1, bearerCheck: 1, recoveryCodeStep: 8, supportSecurityState: 1 };

t.test("the hot requests stay within their round-trip budget", async (t) => {
  const { app, measure } = await countingApp(t);
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  const token = await mfaToken(app, user.email);
  const second = await measure(() => verify(app, { mfaToken: token, method: "totp", code: totpAt(user.secret, clock.now()) }));
  t.equal(second.res.statusCode, 200);
  t.ok(second.statements.length <= BUDGET.secondStep, `second step: ${second.statements.length} round trips (budget ${BUDGET.secondStep})\n  ${show(second.statements)}`);
  // Every statement of the second step is the budgeted one: no audit flush after the answer.
  t.notOk(second.statements.some((sql) => /INSERT INTO "public"\."audit_events"/.test(sql)), "the audit rows are not a separate insert");
  const rows = await app.database.prisma.auditEvent.findMany({ where: { subjectUserId: user.id, occurredAt: { gte: clock.now() } }, select: { type: true } });
  t.same(rows.map((r) => r.type).sort(), ["authn_login_success", "mfa_verify_success"], "and both sign-in rows are stored, with the session's statement");
  const accessToken = (second.res as unknown as { json(): { accessToken: string } }).json().accessToken;

  const me = await measure(() => app.inject({ method: "GET", url: "/v1/me", headers: bearer(accessToken) }));
  t.equal(me.res.statusCode, 200);
  t.ok(me.statements.length <= BUDGET.me, `/v1/me: ${me.statements.length} round trips (budget ${BUDGET.me})\n  ${show(me.statements)}`);

  const introspector = await createApiKey(app, ["tokens:introspect"]);
  const introspection = await measure(() => app.inject({ method: "POST", url: "/v1/tokens/introspect", headers: { "x-api-key": introspector }, payload: { token: accessToken } }));
  t.equal(introspection.res.statusCode, 200);
  t.ok(introspection.statements.length <= BUDGET.introspection, `introspection: ${introspection.statements.length} (budget ${BUDGET.introspection})\n  ${show(introspection.statements)}`);

  // A bearer-guarded route whose handler does no query of its own: what is left is the token check.
  const logout = await measure(() => app.inject({ method: "GET", url: "/v1/me/audit-events?limit=1", headers: bearer("not-a-token") }));
  t.equal(logout.res.statusCode, 401);
  t.equal(logout.statements.length, 0, "a malformed token costs no round trip");
  const checked = await measure(() => app.inject({ method: "GET", url: "/v1/me/devices", headers: bearer(accessToken) }));
  t.equal(checked.res.statusCode, 200);
  t.ok(checked.statements.length - 1 <= BUDGET.bearerCheck, `bearer check: ${checked.statements.length - 1} (budget ${BUDGET.bearerCheck})`);

  const recoveryToken = await mfaToken(app, user.email);
  const recovery = await measure(() => verify(app, { mfaToken: recoveryToken, method: "recovery_code", code: user.recoveryCodes[0]! }));
  t.equal(recovery.res.statusCode, 200);
  t.ok(recovery.statements.length <= BUDGET.recoveryCodeStep, `recovery-code step: ${recovery.statements.length} (budget ${BUDGET.recoveryCodeStep})\n  ${show(recovery.statements)}`);

  const support = await createApiKey(app, ["users:read"]);
  const security = await measure(() => app.inject({ method: "GET", url: `/v1/users/${user.id}/security`, headers: { "x-api-key": support } }));
  t.equal(security.res.statusCode, 200);
  t.ok(security.statements.length - 1 <= BUDGET.supportSecurityState, `support security state: ${security.statements.length - 1} after the key check (budget ${BUDGET.supportSecurityState})`);
});
