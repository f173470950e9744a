// Redis (the shared rate-limit counters, REDIS_URL) stops: sign-in fails closed with 503
// problem+json (never unlimited guessing, checklist RL-08) while routes that need no
// counter keep working; when Redis returns, sign-in works again without a restart.
import t from "tap";
import { startThrowawayPostgres } from "../helpers/throwaway-postgres.ts";
import { startThrowawayRedis } from "../helpers/throwaway-redis.ts";
import { createApiKeyByCli, sharedKeys, startInstance } from "../helpers/instances.ts";
import { bearer, call, createPerson, refresh, session, signIn } from "../helpers/http-flows.ts";

const database = await startThrowawayPostgres();
t.teardown(() => database.teardown());
const redis = await startThrowawayRedis();
t.teardown(() => redis.teardown());
const env = { DATABASE_URL: database.url, REDIS_URL: redis.url, ...(await sharedKeys()), ARGON2_MEMORY_KIB: "19456", ARGON2_TIME_COST: "1" };
const instance = await startInstance({ env });
t.teardown(() => instance.stop("SIGKILL"));
const apiKey = await createApiKeyByCli(env, ["users:write"]);
const base = instance.baseUrl;
const person = await createPerson(base, apiKey);
let tokens = await session(base, person.email);

t.test("Redis down: sign-in fails closed with 503 problem+json, other routes keep working", async (t) => {
  await redis.stop();
  for (let i = 0; i < 3; i++) {
    const login = await signIn(base, person.email);
    t.equal(login.status, 503, "sign-in answers 503");
    t.match(login.headers.get("content-type"), /^application\/problem\+json/);
    t.equal(login.body.code, "UNAVAILABLE");
    t.ok(login.headers.get("retry-after"), "with Retry-After");
    t.ok(login.ms < 5_000, `answered in ${Math.round(login.ms)} ms (commands time out after 1 s)`);
    t.notOk("accessToken" in login.body, "no session is handed out unlimited");
  }
  const wrong = await signIn(base, person.email, "a wrong password guess");
  t.equal(wrong.status, 503, "a wrong password is not even checked: no guess goes uncounted");
  t.equal((await call(base, "GET", "/v1/me", { headers: bearer(tokens.accessToken) })).status, 200, "GET /v1/me works");
  const next = await refresh(base, tokens.refreshToken);
  t.equal(next.status, 200, "refresh works");
  tokens = { accessToken: next.body.accessToken as string, refreshToken: next.body.refreshToken as string };
  t.equal((await call(base, "GET", "/.well-known/jwks.json")).status, 200, "JWKS works");
  t.equal((await call(base, "GET", "/health/live")).status, 200, "live 200");
  t.equal((await call(base, "GET", "/health/ready")).status, 503, "ready 503: sign-in cannot be served");
});

t.test("Redis back: sign-in recovers without a restart", async (t) => {
  await redis.start();
  const deadline = Date.now() + 30_000;
  let status = 0;
  while (Date.now() < deadline && status !== 200) {
    status = (await signIn(base, person.email)).status;
    if (status !== 200) await new Promise((r) => setTimeout(r, 250));
  }
  t.equal(status, 200, "sign-in answers 200 again");
  t.equal((await call(base, "GET", "/health/ready")).status, 200, "ready again");
  t.doesNotThrow(() => process.kill(instance.pid, 0), "the same process is still running");
});
