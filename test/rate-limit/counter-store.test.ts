// One contract for every rate-limit counter store (PostgreSQL and Redis), then
// the sign-in throttle over HTTP on Redis, and fail-closed behaviour when the
// store is unreachable (checklist RL-03, RL-08; ASVS 16.5.3).
// Redis runs on 127.0.0.1:6379 here and in CI; TEST_REDIS_URL points elsewhere.
import t from "tap";
import type { Test } from "tap";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { postgresCounterStore, redisCounterStore, type CounterStore } from "../../src/rate-limit/counter-store.ts";
import type { App } from "../../src/http/app-type.ts";
import { accountKey } from "../../src/rate-limit/sign-in-throttle.ts";
import { TEST_PASSWORD, createUser, sharedDatabase, startApp } from "../helpers/app.ts";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

async function connectRedis(t: Test): Promise<Redis> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000, retryStrategy: () => null });
  try {
    await redis.connect();
  } catch (error) {
    throw new Error(`Redis is not reachable at ${REDIS_URL} (set TEST_REDIS_URL): ${(error as Error).message}`);
  }
  t.teardown(() => { redis.disconnect(); });
  return redis;
}

async function deleteKeys(redis: Redis, pattern: string) {
  const keys = await redis.keys(pattern);
  if (keys.length > 0) await redis.del(...keys);
}

const key = (label: string) => `${label}:${randomBytes(6).toString("hex")}`;
const within = (actual: Date, expected: number, slackMs: number) => Math.abs(actual.getTime() - expected) <= slackMs;

/** The behaviour the throttle relies on, whatever holds the counters. Real time: Redis keeps its own. */
function counterStoreContract(name: string, open: (t: Test) => Promise<CounterStore>) {
  t.test(`${name}: the counter store contract`, async (t) => {
    const store = await open(t);

    t.test("hits in one window count up from 1, with the window's end as resetAt", async (t) => {
      const k = key("count");
      const start = Date.now();
      const counts = [];
      for (let i = 0; i < 3; i++) {
        const state = await store.hit(k, 60_000, new Date());
        counts.push(state.count);
        t.ok(within(state.resetAt, start + 60_000, 1_000), "resetAt is the end of the first hit's window");
      }
      t.same(counts, [1, 2, 3]);
      t.equal((await store.peek(k, new Date()))?.count, 3);
    });

    t.test("keys are independent", async (t) => {
      const [x, y] = [key("x"), key("y")];
      await store.hit(x, 60_000, new Date());
      await store.hit(x, 60_000, new Date());
      t.equal((await store.hit(y, 60_000, new Date())).count, 1);
      t.equal(await store.peek(key("never"), new Date()), null, "an unknown key has no counter");
    });

    t.test("a new window starts at 1 once the old one has ended", async (t) => {
      const k = key("window");
      await store.hit(k, 200, new Date());
      await store.hit(k, 200, new Date());
      await sleep(350);
      t.equal(await store.peek(k, new Date()), null, "an ended window is not live");
      const state = await store.hit(k, 60_000, new Date());
      t.equal(state.count, 1);
      t.ok(within(state.resetAt, Date.now() + 60_000, 1_000), "with a fresh window");
    });

    t.test("holdUntil keeps a key live until the given time, then it lapses", async (t) => {
      const k = key("hold");
      const until = Date.now() + 600;
      await store.holdUntil(k, new Date(until), new Date());
      const held = await store.peek(k, new Date());
      t.ok(held, "live while held");
      t.ok(held && within(held.resetAt, until, 200), "resetAt is the hold's end");
      await sleep(Math.max(0, until - Date.now()) + 150);
      t.equal(await store.peek(k, new Date()), null, "lapsed after the hold");
    });

    t.test("clear forgets a counter", async (t) => {
      const k = key("clear");
      await store.hit(k, 60_000, new Date());
      await store.hit(k, 60_000, new Date());
      await store.clear(k);
      t.equal(await store.peek(k, new Date()), null);
      t.equal((await store.hit(k, 60_000, new Date())).count, 1);
      await store.clear(key("absent"));
      t.pass("clearing an absent key is fine");
    });

    t.test("50 concurrent hits are 50 distinct counts: none lost, none doubled", async (t) => {
      const k = key("race");
      const states = await Promise.all(Array.from({ length: 50 }, () => store.hit(k, 60_000, new Date())));
      t.same(states.map((s) => s.count).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
      t.equal((await store.peek(k, new Date()))?.count, 50);
    });
  });
}

counterStoreContract("postgresCounterStore", async (t) => postgresCounterStore((await sharedDatabase(t)).prisma));

counterStoreContract("redisCounterStore", async (t) => {
  const redis = await connectRedis(t);
  const prefix = `test-rl-${randomBytes(4).toString("hex")}:`;
  t.teardown(() => deleteKeys(redis, `${prefix}*`));
  return redisCounterStore(redis, prefix);
});

/** The same throttle script on any app; the outcomes must not depend on the store. */
async function throttleScript(app: App, remoteAddress: string) {
  const user = await createUser(app, `redis-${randomBytes(4).toString("hex")}@example.com`);
  const outcomes: string[] = [];
  const attempt = async (password: string) => {
    const res = await app.inject({ method: "POST", url: "/v1/auth/login", remoteAddress, payload: { email: user.email, password } });
    outcomes.push(`${res.statusCode}${res.headers["retry-after"] ? ` retry-after ${res.headers["retry-after"]}` : ""}`);
  };
  await attempt("wrong password one");
  await attempt(TEST_PASSWORD); // success resets the counter
  for (let i = 0; i < 6; i++) await attempt(`wrong password ${i}`);
  await attempt(TEST_PASSWORD);
  return { email: user.email, outcomes };
}

t.test("with REDIS_URL the sign-in throttle behaves exactly as on PostgreSQL, and keeps its counters in Redis", async (t) => {
  const redis = await connectRedis(t);
  const config = { LOGIN_FREE_FAILURES: 3, LOGIN_RATE_PER_IP: 10_000 };
  const onRedis = await startApp(t, { config: { ...config, REDIS_URL } });
  const onPostgres = await startApp(t, { config });
  const address = `10.${randomBytes(3).join(".")}`;
  t.teardown(() => deleteKeys(redis, `rl:signin:*${address}*`));

  const viaRedis = await throttleScript(onRedis, address);
  t.teardown(() => deleteKeys(redis, `rl:signin:*${accountKey(viaRedis.email)}*`));
  const viaPostgres = await throttleScript(onPostgres, address);
  t.same(viaRedis.outcomes, viaPostgres.outcomes, `same outcomes: ${viaPostgres.outcomes.join(", ")}`);
  t.ok(viaRedis.outcomes.some((o) => o.startsWith("429")), "the script reaches a wait");

  t.equal(await onRedis.database.prisma.rateLimitCounter.count(), 0, "nothing in the database's counter table");
  t.equal(await redis.get(`rl:signin:ip:${address}`), String(viaRedis.outcomes.length), "the per-address counter is in Redis");
  // Keys hold a digest of the normalised email, never the email, and waits are per account and address (issue 14).
  t.ok(await redis.exists(`rl:signin:wait:${accountKey(viaRedis.email)}:${address}`), "so is the account's wait");
});

t.test("a freshly started instance with REDIS_URL answers its first sign-in (no 503 before Redis connects)", async (t) => {
  const redis = await connectRedis(t); // Redis is up
  const address = `10.${randomBytes(3).join(".")}`;
  const email = `first-${randomBytes(4).toString("hex")}@example.com`;
  t.teardown(() => deleteKeys(redis, `rl:signin:*${address}*`));
  t.teardown(() => deleteKeys(redis, `rl:signin:*${email}*`));
  const app = await startApp(t, { config: { REDIS_URL } });
  // buildApp has resolved: the instance says it is ready, so it must answer.
  const res = await app.inject({
    method: "POST", url: "/v1/auth/login", remoteAddress: address,
    payload: { email, password: "a wrong password" },
  });
  t.equal(res.statusCode, 401, `the first sign-in is answered: ${res.body}`);
});

t.test("when the counter store is unreachable, sign-in fails closed with 503 UNAVAILABLE, never 200 or 401", async (t) => {
  const app = await startApp(t, { config: { REDIS_URL: "redis://127.0.0.1:1" } });
  const user = await createUser(app, `closed-${randomBytes(4).toString("hex")}@example.com`); // provisioning needs no counters
  const attempts = {
    right: { email: user.email, password: TEST_PASSWORD },
    wrong: { email: user.email, password: "a wrong password" },
    unknown: { email: `nobody-${randomBytes(4).toString("hex")}@example.com`, password: "a wrong password" },
  };
  for (const [name, payload] of Object.entries(attempts)) {
    const res = await app.inject({ method: "POST", url: "/v1/auth/login", payload });
    t.equal(res.statusCode, 503, name);
    t.equal(res.json().code, "UNAVAILABLE", name);
    t.ok(Number(res.headers["retry-after"]) > 0, `${name}: with Retry-After`);
    t.notOk("accessToken" in res.json(), `${name}: no token`);
  }
});
