// The refresh grace period: a client racing itself (two tabs, a retried request
// whose answer was lost) presents a just-rotated refresh token again. Within
// REFRESH_REUSE_GRACE_SECONDS that is not theft: every racer gets a working pair
// of its own, and the family lives on. After it, RFC 9700 §4.14.2 holds: reuse
// revokes the family. Also across two instances sharing one database.
import t from "tap";
import type { Test } from "tap";
import { randomBytes } from "node:crypto";
import { manualClock } from "../helpers/clock.ts";
import type { App } from "../../src/http/app-type.ts";
import { generateKeyRecord, serializeKeyFile } from "../../src/lib/signing-keys.ts";
import { bearer, createUser, login, sharedDatabase, startApp } from "../helpers/app.ts";

const GRACE = 20;
const clock = manualClock();
const database = await sharedDatabase(t);
const config = {
  REFRESH_REUSE_GRACE_SECONDS: GRACE,
  LOGIN_FREE_FAILURES: 100,
  // Two instances of one deployment share their keys, as in production.
  SIGNING_KEYS: serializeKeyFile({ keys: [await generateKeyRecord("access", clock.now()), await generateKeyRecord("device", clock.now())] }),
};
const one: App = await startApp(t, { clock, config, database });
const two: App = await startApp(t, { clock, config, database });

interface Pair { accessToken: string; refreshToken: string }

async function signIn(app: App = one): Promise<Pair> {
  const user = await createUser(app, `g-${randomBytes(4).toString("hex")}@example.com`);
  const res = await login(app, user.email);
  if (res.statusCode !== 200) throw new Error(`login: ${res.statusCode} ${res.body}`);
  return res.json();
}

const refresh = (refreshToken: string, app: App = one) => app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken } });
const me = (accessToken: string) => one.inject({ method: "GET", url: "/v1/me", headers: bearer(accessToken) });

/** Every answer a working pair, no answer the presented token, and the session still usable. */
async function expectAllServed(t: Test, presented: string, results: Awaited<ReturnType<typeof refresh>>[]) {
  t.same(results.map((r) => r.statusCode), results.map(() => 200), "every racer is served");
  const pairs = results.map((r) => r.json() as Pair);
  t.notOk(pairs.some((p) => p.refreshToken === presented), "no racer is answered with the spent token");
  t.equal(new Set(pairs.map((p) => p.refreshToken)).size, pairs.length, "each racer has a refresh token of its own");
  for (const pair of pairs) t.equal((await me(pair.accessToken)).statusCode, 200, "its access token works");
  clock.advance((GRACE + 1) * 1000);
  const last = pairs.at(-1)!;
  const next = await refresh(last.refreshToken);
  t.equal(next.statusCode, 200, "after the grace period the session goes on with a racer's token");
  t.equal((await me(next.json().accessToken)).statusCode, 200, "and a usable access token");
}

t.test("two parallel refreshes of one token both succeed and leave a usable session", async (t) => {
  const { refreshToken } = await signIn();
  await expectAllServed(t, refreshToken, await Promise.all([refresh(refreshToken), refresh(refreshToken)]));
});

t.test("five parallel refreshes of one token all succeed and leave a usable session", async (t) => {
  const { refreshToken } = await signIn();
  await expectAllServed(t, refreshToken, await Promise.all(Array.from({ length: 5 }, () => refresh(refreshToken))));
});

t.test("parallel refreshes of one token on two instances all succeed and leave a usable session", async (t) => {
  const { refreshToken } = await signIn();
  const results = await Promise.all([one, two, one, two].map((app) => refresh(refreshToken, app)));
  await expectAllServed(t, refreshToken, results);
});

t.test("a retry within the grace period, after the race is over, still gets a new working pair", async (t) => {
  const first = await signIn();
  const winner = (await refresh(first.refreshToken)).json() as Pair;
  clock.advance((GRACE - 1) * 1000);
  const retry = await refresh(first.refreshToken, two);
  t.equal(retry.statusCode, 200);
  t.not(retry.json().refreshToken, first.refreshToken, "not the spent token");
  t.not(retry.json().refreshToken, winner.refreshToken, "nor the winner's");
  t.equal((await refresh(winner.refreshToken)).statusCode, 200, "the winner's token still works: the family was not revoked");
});

t.test("a reuse after the grace period still revokes the family", async (t) => {
  const first = await signIn();
  const second = (await refresh(first.refreshToken)).json() as Pair;
  clock.advance(GRACE * 1000);
  const reuse = await refresh(first.refreshToken);
  t.equal(reuse.statusCode, 401, "the spent token is refused once the grace period is over");
  t.equal(reuse.json().code, "INVALID_REFRESH_TOKEN");
  t.equal((await refresh(second.refreshToken)).statusCode, 401, "the newest token of the family died with it");
  t.equal((await me(second.accessToken)).statusCode, 401, "so did the family's access token");
});

t.test("a reuse after the grace period on the other instance revokes the family on both", async (t) => {
  const first = await signIn(two);
  const second = (await refresh(first.refreshToken, one)).json() as Pair;
  clock.advance((GRACE + 5) * 1000);
  t.equal((await refresh(first.refreshToken, two)).statusCode, 401);
  t.equal((await refresh(second.refreshToken, one)).statusCode, 401, "refused on the first instance too");
});

t.test("a retry within the grace period does not revive an ended session", async (t) => {
  const first = await signIn();
  const second = (await refresh(first.refreshToken)).json() as Pair;
  t.equal((await one.inject({ method: "POST", url: "/v1/auth/logout", headers: bearer(second.accessToken) })).statusCode, 204);
  t.equal((await refresh(first.refreshToken)).statusCode, 401, "the grace period is for racing, not for a logged-out session");
});
