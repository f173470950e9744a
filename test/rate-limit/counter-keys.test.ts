// Throttle keys never hold an email address in clear (issue 14): a dump of the
// counter store (rate_limit_counters in PostgreSQL, or Redis) lists digests of
// accounts, not the people who were guessed at. Checked on both stores after
// sign-in failures, waits and a re-authentication failure.
import t from "tap";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import type { App } from "../../src/http/app-type.ts";
import { TEST_PASSWORD, bearer, createUser, login, startApp } from "../helpers/app.ts";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const config = { LOGIN_FREE_FAILURES: 2, LOGIN_ACCOUNT_FREE_FAILURES: 2 };

async function exercise(app: App, label: string) {
  const local = `${label}-${randomBytes(4).toString("hex")}`;
  const user = await createUser(app, `${local}@example.com`);
  const { accessToken } = (await login(app, user.email)).json();
  for (let i = 0; i < 4; i++) await login(app, ` ${user.email.toUpperCase()} `, `wrong ${i}`);
  await app.inject({ method: "POST", url: "/v1/me/password", headers: bearer(accessToken), payload: { currentPassword: "wrong again", newPassword: `${TEST_PASSWORD} 2` } });
  await login(app, `ghost-${local}@example.com`, "wrong"); // an unknown account too
  return local;
}

t.test("no counter key in PostgreSQL contains the email", async (t) => {
  const app = await startApp(t, { config });
  const local = await exercise(app, "pg");
  const keys = (await app.database.prisma.rateLimitCounter.findMany({ select: { key: true } })).map((r) => r.key);
  t.ok(keys.some((k) => k.startsWith("signin:fail:")) && keys.some((k) => k.startsWith("signin:acct-wait:")), "failures and waits were recorded");
  t.same(keys.filter((k) => k.toLowerCase().includes(local) || k.includes("@")), [], "none holds the address");
});

t.test("no counter key in Redis contains the email", async (t) => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  t.teardown(() => { redis.disconnect(); });
  const app = await startApp(t, { config: { ...config, REDIS_URL } });
  const before = new Set(await redis.keys("rl:*"));
  const local = await exercise(app, "redis");
  const keys = (await redis.keys("rl:*")).filter((k) => !before.has(k));
  t.teardown(async () => { if (keys.length) await redis.del(...keys); });
  t.ok(keys.some((k) => k.startsWith("rl:signin:fail:")), "failures were recorded in Redis");
  t.same(keys.filter((k) => k.toLowerCase().includes(local) || k.includes("@")), [], "none holds the address");
});
