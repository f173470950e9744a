// The audit log is complete (issue 14; checklist LA-01, LA-06, LA-07): refresh,
// refresh-token reuse (the family revoked), logout, every 429 whichever limit
// refused it, and the notifier hears a second step that failed after a correct
// password and a replayed code.
import t from "tap";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createUser, login, startApp } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";

const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const notified: Array<{ type: string; userId: string; details: Record<string, unknown> }> = [];
const receiver = createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => { body += chunk; });
  req.on("end", () => { notified.push(JSON.parse(body)); res.writeHead(204).end(); });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
t.teardown(() => new Promise<void>((resolve) => { receiver.closeAllConnections(); receiver.close(() => resolve()); }));
const app: App = await startApp(t, {
  clock,
  config: { MFA_FREE_FAILURES: 1, WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, WEBHOOK_SECRET: "s".repeat(40) },
});

const events = (where: Record<string, unknown>) => app.database.prisma.auditEvent.findMany({ where, orderBy: { occurredAt: "asc" } });
let addressSeq = 0;
const freshAddress = () => `198.51.100.${++addressSeq}`;
async function signIn(email: string) {
  return (await app.inject({ method: "POST", url: "/v1/auth/login", remoteAddress: freshAddress(), payload: { email, password: "correct horse battery staple" } })).json();
}

t.test("LA-01: a refresh, a reused refresh token and a logout are each one audit event", async (t) => {
  const user = await createUser(app);
  const first = await signIn(user.email);
  const second = (await app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken: first.refreshToken } })).json();
  t.same((await events({ subjectUserId: user.id, type: "session_refreshed" })).length, 1, "session_refreshed");
  // Past the reuse grace period (REFRESH_REUSE_GRACE_SECONDS), when presenting a spent token again is reuse.
  clock.advance(31_000);
  const reuse = await app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken: first.refreshToken } });
  t.equal(reuse.statusCode, 401);
  t.match((await events({ subjectUserId: user.id, type: "authn_token_reuse" })).map((e) => e.details), [{ familyRevoked: true }], "authn_token_reuse, family revoked");

  const other = await signIn(user.email);
  t.equal((await app.inject({ method: "POST", url: "/v1/auth/logout", headers: bearer(other.accessToken) })).statusCode, 204);
  t.match((await events({ subjectUserId: user.id, type: "logout" })).map((e) => e.actorType), ["user"], "logout, by the person");
  t.ok(second.accessToken, "the rotation itself worked");
});

t.test("LA-01: every 429 is an excess_rate_limit_exceeded event, whichever limit refused it", async (t) => {
  const limited = await startApp(t, { clock, config: { LOGIN_RATE_PER_IP: 3 } });
  const address = freshAddress();
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    statuses.push((await limited.inject({ method: "POST", url: "/v1/auth/login", remoteAddress: address, payload: { email: `nobody${i}@example.com`, password: "x" } })).statusCode);
  }
  t.same(statuses, [401, 401, 401, 429]);
  const byAddress = await limited.database.prisma.auditEvent.findMany({ where: { type: "excess_rate_limit_exceeded", clientAddress: address } });
  t.match(byAddress.map((e) => e.details), [{ reason: "address_limit", route: "/v1/auth/login" }], "the address limit");

  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  for (let i = 0; i < 2; i++) await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now(), 7) });
  const held = await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now()) });
  t.equal(held.statusCode, 429);
  t.match((await events({ type: "excess_rate_limit_exceeded", subjectUserId: user.id })).map((e) => e.details), [{ reason: "second_factor_wait", route: "/v1/auth/mfa/verify" }], "the second-factor wait, naming the person");
});

t.test("LA-07: the notifier hears a correct password followed by a failed second step, and a replayed code", async (t) => {
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code: totpAt(user.secret, clock.now(), 7) });
  clock.advance(60_000); // past the wait of MFA_FREE_FAILURES 1
  const code = totpAt(user.secret, clock.now());
  t.equal((await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code })).statusCode, 200);
  t.equal((await verify(app, { mfaToken: await mfaToken(app, user.email), method: "totp", code })).statusCode, 401, "the replay is refused");
  // Deliveries run in the background from the outbox: wait (bounded) for both before shutting down.
  const failures = () => notified.filter((n) => n.userId === user.id && n.type === "mfa_verify_fail");
  for (let waited = 0; failures().length < 2 && waited < 5_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  await app.close();
  const reasons = notified.filter((n) => n.userId === user.id && n.type === "mfa_verify_fail").map((n) => n.details.reason);
  t.same(reasons, ["totp_invalid", "totp_replay"], "both reached the notifier");
});
