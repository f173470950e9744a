// Refresh-token families over HTTP (checklist SJ-05..SJ-07, SR-03; RFC 9700
// §4.14.2): rotation, reuse detection that ends the family, single use under
// concurrency, idle and absolute timeouts, logout, and hashes-only storage.
import t from "tap";
import type { Test } from "tap";
import { randomBytes } from "node:crypto";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { bearer, createUser, login, startApp } from "../helpers/app.ts";

const IDLE = 600;
const ABSOLUTE = 1800;
// Reuse is told apart from a client racing itself by time: past this, a spent token is reuse.
const PAST_GRACE_MS = 31_000;
const clock = manualClock();
const app: App = await startApp(t, {
  clock,
  config: { SESSION_IDLE_TIMEOUT_SECONDS: IDLE, SESSION_ABSOLUTE_TIMEOUT_SECONDS: ABSOLUTE, LOGIN_FREE_FAILURES: 100 },
});

interface Pair { accessToken: string; refreshToken: string }

async function signIn(): Promise<Pair> {
  const user = await createUser(app, `s-${randomBytes(4).toString("hex")}@example.com`);
  const res = await login(app, user.email);
  if (res.statusCode !== 200) throw new Error(`login: ${res.statusCode} ${res.body}`);
  return res.json();
}

const refresh = (refreshToken: string) => app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken } });
const me = (accessToken: string) => app.inject({ method: "GET", url: "/v1/me", headers: bearer(accessToken) });

async function expectRefused(t: Test, refreshToken: string, message: string) {
  const res = await refresh(refreshToken);
  t.equal(res.statusCode, 401, message);
  t.equal(res.json().code, "INVALID_REFRESH_TOKEN", message);
}

t.test("refresh rotates: the presented token is spent and the new one works", async (t) => {
  const first = await signIn();
  const res = await refresh(first.refreshToken);
  t.equal(res.statusCode, 200);
  t.equal(res.headers["cache-control"], "no-store");
  const second = res.json();
  t.equal(second.status, "authenticated");
  t.not(second.refreshToken, first.refreshToken);
  t.equal((await me(second.accessToken)).statusCode, 200, "the new access token works");
  const third = await refresh(second.refreshToken);
  t.equal(third.statusCode, 200, "the new refresh token works");
  clock.advance(PAST_GRACE_MS);
  await expectRefused(t, second.refreshToken, "a spent token is refused");
});

t.test("reusing a spent refresh token revokes the whole family, including the newest token", async (t) => {
  const first = await signIn();
  const second = (await refresh(first.refreshToken)).json() as Pair;
  clock.advance(PAST_GRACE_MS);
  await expectRefused(t, first.refreshToken, "the spent token is refused");
  await expectRefused(t, second.refreshToken, "the newer token of the family died with it");
  t.equal((await me(second.accessToken)).statusCode, 401, "so did the family's access token");
});

t.test("ten concurrent refreshes of one token: exactly one succeeds (REFRESH_REUSE_GRACE_SECONDS=0)", async (t) => {
  // With the default grace period they all succeed (test/sessions/refresh-grace.test.ts);
  // without one, RFC 9700's strict rule holds: one wins, the others are reuse.
  const strict: App = await startApp(t, { config: { REFRESH_REUSE_GRACE_SECONDS: 0 } });
  const user = await createUser(strict);
  const { refreshToken } = (await login(strict, user.email)).json() as Pair;
  const results = await Promise.all(Array.from({ length: 10 }, () =>
    strict.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken } })));
  const statuses = results.map((r) => r.statusCode).sort();
  t.same(statuses, [200, ...Array(9).fill(401)]);
});

t.test("a session unused for SESSION_IDLE_TIMEOUT_SECONDS is over; use keeps it alive", async (t) => {
  const kept = await signIn();
  const idle = await signIn();
  clock.advance((IDLE - 10) * 1000);
  const res = await refresh(kept.refreshToken);
  t.equal(res.statusCode, 200, "used just before the idle limit");
  let current = res.json() as Pair;
  clock.advance(20 * 1000);
  await expectRefused(t, idle.refreshToken, "idle for IDLE + 10 s");
  const again = await refresh(current.refreshToken);
  t.equal(again.statusCode, 200, "the used session is measured from its last use");
  current = again.json();
  clock.advance((IDLE + 1) * 1000);
  await expectRefused(t, current.refreshToken, "idle for IDLE + 1 s after the last use");
});

t.test("a session ends SESSION_ABSOLUTE_TIMEOUT_SECONDS after sign-in however often it is used", async (t) => {
  let pair = await signIn();
  let elapsed = 0;
  const step = IDLE - 10;
  while (elapsed + step < ABSOLUTE) {
    clock.advance(step * 1000);
    elapsed += step;
    const res = await refresh(pair.refreshToken);
    t.equal(res.statusCode, 200, `still alive at ${elapsed} s`);
    pair = res.json();
  }
  clock.advance((ABSOLUTE - elapsed + 1) * 1000);
  await expectRefused(t, pair.refreshToken, "refused one second past the absolute limit, though used recently");
});

t.test("logout ends the session: its refresh token and its still-unexpired access token are refused", async (t) => {
  const pair = await signIn();
  t.equal((await me(pair.accessToken)).statusCode, 200);
  const out = await app.inject({ method: "POST", url: "/v1/auth/logout", headers: bearer(pair.accessToken) });
  t.equal(out.statusCode, 204);
  await expectRefused(t, pair.refreshToken, "refresh after logout");
  const after = await me(pair.accessToken);
  t.equal(after.statusCode, 401, "the access token is checked against the session");
  t.equal(after.json().code, "UNAUTHENTICATED");
  t.equal((await app.inject({ method: "POST", url: "/v1/auth/logout" })).statusCode, 401, "logout needs a token");
});

t.test("unknown or malformed refresh tokens are refused without a 5xx", async (t) => {
  await expectRefused(t, "rt_" + randomBytes(32).toString("base64url"), "a well-formed unknown token");
  await expectRefused(t, "garbage", "garbage");
  const empty = await app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken: "" } });
  t.equal(empty.statusCode, 400);
  const missing = await app.inject({ method: "POST", url: "/v1/auth/refresh", payload: {} });
  t.equal(missing.statusCode, 400);
});

t.test("refresh tokens are stored only as hashes: no table holds a raw token", async (t) => {
  const pair = await signIn();
  const rotated = (await refresh(pair.refreshToken)).json() as Pair;
  const tokens = [pair.refreshToken, rotated.refreshToken];
  const rows = await app.database.prisma.refreshToken.findMany({ select: { tokenHash: true } });
  t.ok(rows.length >= 2);
  for (const token of tokens) t.notOk(rows.some((r) => r.tokenHash === token), "token_hash ≠ token");
  // Every column of every table, as text.
  const tables = await app.database.prisma.$queryRaw<{ table_name: string }[]>`
    SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`;
  t.ok(tables.some((row) => row.table_name === "refresh_tokens"));
  for (const { table_name } of tables) {
    const dump = await app.database.prisma.$queryRawUnsafe<{ row: string }[]>(`SELECT row_to_json(x)::text AS row FROM "${table_name}" x`);
    for (const token of tokens) {
      const secret = token.replace(/^rt_/, "");
      t.notOk(dump.some(({ row }) => row.includes(secret)), `no raw refresh token in ${table_name}`);
    }
  }
});
