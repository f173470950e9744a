// Ending sessions (issue 14; checklist SJ-09, ASVS 7.4.2, 7.4.3, 7.5.2): a person
// lists their sessions and ends one or all others after a recent sign-in; a
// factor change offers to end the others; a service client disables an account,
// which ends its sessions and refuses every kind of sign-in.
import t from "tap";
import { randomBytes } from "node:crypto";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { TEST_PASSWORD, bearer, createApiKey, createUser, login, startApp } from "../helpers/app.ts";
import { enrolledUser, mfaToken, totpAt, verify } from "../helpers/mfa.ts";

const MAX_AUTH_AGE = 600;
const clock = manualClock(new Date("2026-11-28T10:00:05Z"));
const app: App = await startApp(t, { clock, config: { ENROLL_MAX_AUTH_AGE_SECONDS: MAX_AUTH_AGE } });
const email = (label: string) => `${label}-${randomBytes(4).toString("hex")}@example.com`;

async function signIn(address: string, userEmail: string, userAgent = "TestBrowser/1.0") {
  const res = await app.inject({
    method: "POST", url: "/v1/auth/login", remoteAddress: address, headers: { "user-agent": userAgent }, payload: { email: userEmail, password: TEST_PASSWORD },
  });
  if (res.statusCode !== 200) throw new Error(`login ${res.statusCode} ${res.body}`);
  return res.json() as { accessToken: string; refreshToken: string };
}
const refresh = (refreshToken: string) => app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken } });
const list = (accessToken: string) => app.inject({ method: "GET", url: "/v1/me/sessions", headers: bearer(accessToken) });

t.test("SJ-09: GET /v1/me/sessions lists each live session with where it began, current marking this one", async (t) => {
  const user = await createUser(app, email("list"));
  const laptop = await signIn("198.51.100.7", user.email, "Laptop/2.0");
  clock.advance(1_000);
  const phone = await signIn("198.51.100.8", user.email, "Phone/3.0");
  const res = await list(phone.accessToken);
  t.equal(res.statusCode, 200);
  const sessions = res.json().sessions as Array<Record<string, unknown>>;
  t.equal(sessions.length, 2);
  t.match(sessions[0], { clientAddress: "198.51.100.8", userAgent: "Phone/3.0", amr: ["pwd"], current: true });
  t.match(sessions[1], { clientAddress: "198.51.100.7", userAgent: "Laptop/2.0", amr: ["pwd"], current: false });
  t.ok(sessions.every((s) => typeof s.createdAt === "string" && typeof s.lastUsedAt === "string" && typeof s.id === "string"));
  t.same(Object.keys(sessions[0]!).sort(), ["amr", "clientAddress", "createdAt", "current", "id", "lastUsedAt", "userAgent"], "nothing else (no token, no hash)");
  await app.inject({ method: "POST", url: "/v1/auth/logout", headers: bearer(laptop.accessToken) });
  t.equal((await list(phone.accessToken)).json().sessions.length, 1, "an ended session is not listed");
});

t.test("SJ-09: DELETE /v1/me/sessions/{id} ends one session; another person's id is 404; an old sign-in must reauthenticate", async (t) => {
  const user = await createUser(app, email("one"));
  const other = await createUser(app, email("other"));
  const here = await signIn("198.51.100.9", user.email);
  const there = await signIn("198.51.100.10", user.email);
  const foreign = await signIn("198.51.100.11", other.email);
  const ids = (await list(here.accessToken)).json().sessions as Array<{ id: string; current: boolean }>;
  const thereId = ids.find((s) => !s.current)!.id;
  const foreignId = (await list(foreign.accessToken)).json().sessions[0].id as string;

  const notMine = await app.inject({ method: "DELETE", url: `/v1/me/sessions/${foreignId}`, headers: bearer(here.accessToken) });
  t.equal(notMine.statusCode, 404, "another person's session is not found");
  t.equal((await refresh(foreign.refreshToken)).statusCode, 200, "and goes on");
  t.equal((await app.inject({ method: "DELETE", url: "/v1/me/sessions/nope", headers: bearer(here.accessToken) })).statusCode, 400, "a malformed id is 400");

  const ended = await app.inject({ method: "DELETE", url: `/v1/me/sessions/${thereId}`, headers: bearer(here.accessToken) });
  t.equal(ended.statusCode, 204);
  t.equal((await refresh(there.refreshToken)).statusCode, 401, "its refresh token fails");
  t.equal((await app.inject({ method: "GET", url: "/v1/me", headers: bearer(there.accessToken) })).statusCode, 401, "and its access token");

  clock.advance((MAX_AUTH_AGE + 1) * 1000);
  const fresh = (await refresh(here.refreshToken)).json();
  const stale = await app.inject({ method: "DELETE", url: "/v1/me/sessions", headers: bearer(fresh.accessToken) });
  t.equal(stale.statusCode, 403);
  t.equal(stale.json().code, "REAUTHENTICATION_REQUIRED", "a refresh is not a recent sign-in");
});

t.test("SJ-09: DELETE /v1/me/sessions ends every other session and keeps this one", async (t) => {
  const user = await createUser(app, email("all"));
  const others = [await signIn("198.51.100.12", user.email), await signIn("198.51.100.13", user.email)];
  const here = await signIn("198.51.100.14", user.email);
  const res = await app.inject({ method: "DELETE", url: "/v1/me/sessions", headers: bearer(here.accessToken) });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { ended: 2 });
  for (const o of others) t.equal((await refresh(o.refreshToken)).statusCode, 401, "another session's refresh token fails");
  t.equal((await refresh(here.refreshToken)).statusCode, 200, "this one goes on");
});

t.test("SJ-09: a factor change offers to end the others: confirm counts them, and endOtherSessions ends them", async (t) => {
  for (const endOtherSessions of [false, true]) {
    const user = await createUser(app, email(`factor-${endOtherSessions}`));
    const other = await signIn("198.51.100.15", user.email);
    const here = await signIn("198.51.100.16", user.email);
    const start = await app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(here.accessToken) });
    const secret = new URL(start.json().otpauthUri).searchParams.get("secret")!;
    const confirm = await app.inject({
      method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(here.accessToken), payload: { code: totpAt(secret, clock.now()), endOtherSessions },
    });
    t.equal(confirm.statusCode, 200, confirm.body);
    t.equal(confirm.json().otherSessions, endOtherSessions ? 0 : 1, `endOtherSessions ${endOtherSessions}: otherSessions`);
    t.equal((await refresh(other.refreshToken)).statusCode, endOtherSessions ? 401 : 200, "the other session ended only when asked");
    t.equal((await refresh(here.refreshToken)).statusCode, 200, "this one goes on");
  }
});

t.test("SJ-09: a disabled account loses every session and cannot sign in; ACCOUNT_DISABLED only after a correct password", async (t) => {
  const user = await createUser(app, email("disabled"));
  const session = await signIn("198.51.100.17", user.email);
  const spare = await signIn("198.51.100.18", user.email);
  const support = await createApiKey(app, ["users:write"]);
  const reader = await createApiKey(app, ["users:read"]);
  const call = (action: string, key: string, id = user.id) => app.inject({ method: "POST", url: `/v1/users/${id}/${action}`, headers: { "x-api-key": key } });

  t.equal((await call("disable", reader)).statusCode, 403, "needs users:write");
  t.equal((await call("disable", support, "00000000-0000-4000-8000-000000000000")).statusCode, 404);
  t.equal((await call("disable", support)).statusCode, 204);

  t.equal((await app.inject({ method: "GET", url: "/v1/me", headers: bearer(session.accessToken) })).statusCode, 401, "its access tokens die");
  const refused = await refresh(spare.refreshToken);
  t.equal(refused.statusCode, 403, "an unspent refresh token");
  t.equal(refused.json().code, "ACCOUNT_DISABLED", "gets ACCOUNT_DISABLED");
  const right = await login(app, user.email);
  t.equal(right.statusCode, 403);
  t.equal(right.json().code, "ACCOUNT_DISABLED", "the right password is told the account is disabled");
  const wrong = await login(app, user.email, "not the password at all");
  t.equal(wrong.statusCode, 401, "a wrong password learns nothing");
  t.equal(wrong.json().code, "INVALID_CREDENTIALS");

  t.equal((await call("enable", support)).statusCode, 204);
  t.equal((await login(app, user.email)).statusCode, 200, "enabled again, sign-in works");
  t.equal((await refresh(spare.refreshToken)).statusCode, 401, "the ended sessions stay ended");
  const types = (await app.database.prisma.auditEvent.findMany({ where: { subjectUserId: user.id, type: { in: ["account_disabled", "account_enabled"] } } })).map((e) => e.type);
  t.same(types.sort(), ["account_disabled", "account_enabled"], "both audited");
});

t.test("SJ-09: no path mints a session for a disabled account, not even a second step begun before it was disabled", async (t) => {
  const user = await enrolledUser(app, clock.now);
  clock.advance(30_000);
  const pending = await mfaToken(app, user.email);
  const support = await createApiKey(app, ["users:write"]);
  t.equal((await app.inject({ method: "POST", url: `/v1/users/${user.id}/disable`, headers: { "x-api-key": support } })).statusCode, 204);
  const res = await verify(app, { mfaToken: pending, method: "totp", code: totpAt(user.secret, clock.now()) });
  t.equal(res.statusCode, 403);
  t.equal(res.json().code, "ACCOUNT_DISABLED");
  t.equal(await app.database.prisma.session.count({ where: { userId: user.id, revokedAt: null } }), 0, "no live session");
});
