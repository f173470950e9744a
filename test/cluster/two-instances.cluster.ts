// Two real service processes on one PostgreSQL (a throwaway cluster), and in a second run
// with Redis holding the counters too: what one instance accepts or counts, the other
// knows. Each check sends to instance A and instance B, at the same moment where a race
// is the risk. Every scenario uses its own client address (X-Forwarded-For through
// TRUST_PROXY), so the per-address limits of one do not reach another.
import t, { type Test } from "tap";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startThrowawayPostgres } from "../helpers/throwaway-postgres.ts";
import { startThrowawayRedis } from "../helpers/throwaway-redis.ts";
import { createApiKeyByCli, sharedKeys, startInstance, type Instance } from "../helpers/instances.ts";
import { call, createPerson, personWithTotp, type Answer } from "../helpers/http-flows.ts";
import { totpAt } from "../helpers/mfa.ts";
import { systemClock } from "../../src/lib/clock.ts";
import { AUDIENCE, ISSUER, providerKey, signAssertion } from "../federated/provider.ts";
import { TEST_PASSWORD } from "../helpers/app.ts";

const FREE_FAILURES = 3;
const RATE_PER_ADDRESS = 6;

/** A client address of its own for each scenario (TEST-NET-3, RFC 5737): never one another scenario used. */
let lastAddress = 0;
const address = () => `203.0.113.${++lastAddress}`;

interface Cluster { a: Instance; b: Instance; apiKey: string; providerKey: Awaited<ReturnType<typeof providerKey>> }

async function startCluster(t: Test, withRedis: boolean): Promise<Cluster> {
  const database = await startThrowawayPostgres();
  t.teardown(() => database.teardown());
  const redis = withRedis ? await startThrowawayRedis() : null;
  if (redis) t.teardown(() => redis.teardown());
  const key = await providerKey("ES256", "cluster-1");
  const dir = await mkdtemp(path.join(os.tmpdir(), "cluster-jwks-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, "jwks.json"), JSON.stringify({ keys: [key.publicJwk] }));
  const env: Record<string, string> = {
    DATABASE_URL: database.url,
    ...(redis ? { REDIS_URL: redis.url } : {}),
    ...(await sharedKeys()),
    TRUST_PROXY: "127.0.0.1",
    ARGON2_MEMORY_KIB: "19456", ARGON2_TIME_COST: "1",
    LOGIN_RATE_PER_IP: String(RATE_PER_ADDRESS), LOGIN_FREE_FAILURES: String(FREE_FAILURES), MFA_FREE_FAILURES: String(FREE_FAILURES),
    // No grace: a refresh token presented a second time is a reuse at once.
    REFRESH_REUSE_GRACE_SECONDS: "0",
    FEDERATED_ISSUER: ISSUER, FEDERATED_AUDIENCE: AUDIENCE, FEDERATED_JWKS_FILE: path.join(dir, "jwks.json"),
  };
  // A migrates; B starts on the migrated database, as a rolling deployment's second instance does.
  const a = await startInstance({ env });
  t.teardown(() => a.stop("SIGKILL"));
  const b = await startInstance({ env });
  t.teardown(() => b.stop("SIGKILL"));
  t.not(a.pid, b.pid, "two processes");
  const apiKey = await createApiKeyByCli(env, ["users:write"]);
  return { a, b, apiKey, providerKey: key };
}

const from = (ip: string) => ({ "x-forwarded-for": ip });
const post = (instance: Instance, url: string, body: unknown, ip: string, headers: Record<string, string> = {}) =>
  call(instance.baseUrl, "POST", url, { body, headers: { ...from(ip), ...headers } });

async function mfaToken(instance: Instance, email: string, ip: string): Promise<string> {
  const res = await post(instance, "/v1/auth/login", { email, password: TEST_PASSWORD }, ip);
  if (res.body.status !== "mfa_required") throw new Error(`expected mfa_required: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.mfaToken as string;
}

const statuses = (answers: Answer[]) => answers.map((a) => a.status).sort();

function clusterProperties(withRedis: boolean) {
  return async (t: Test) => {
    const { a, b, apiKey, providerKey: key } = await startCluster(t, withRedis);

    t.test("a TOTP code is accepted once across both instances", async (t) => {
      const ip = address();
      const person = await personWithTotp(a.baseUrl, apiKey);
      const [tokenA, tokenB] = [await mfaToken(a, person.email, ip), await mfaToken(b, person.email, ip)];
      const code = totpAt(person.secret, new Date(), 1);
      const answers = await Promise.all([
        post(a, "/v1/auth/mfa/verify", { mfaToken: tokenA, method: "totp", code }, ip),
        post(b, "/v1/auth/mfa/verify", { mfaToken: tokenB, method: "totp", code }, ip),
      ]);
      t.same(statuses(answers), [200, 401], "one session, one INVALID_CODE");
      t.equal(answers.find((x) => x.status === 401)?.body.code, "INVALID_CODE");
    });

    t.test("a refresh token is rotated once across both; the reuse revokes the family", async (t) => {
      const ip = address();
      const person = await createPerson(a.baseUrl, apiKey);
      const login = await post(a, "/v1/auth/login", { email: person.email, password: TEST_PASSWORD }, ip);
      const refreshToken = login.body.refreshToken as string;
      const answers = await Promise.all([
        post(a, "/v1/auth/refresh", { refreshToken }, ip),
        post(b, "/v1/auth/refresh", { refreshToken }, ip),
      ]);
      t.same(statuses(answers), [200, 401], "one rotation, one refusal");
      const winner = answers.find((x) => x.status === 200)!;
      // The loser was a reuse: the family is revoked, the winner's new token with it (on either instance).
      const next = await post(a, "/v1/auth/refresh", { refreshToken: winner.body.refreshToken }, ip);
      t.equal(next.status, 401, "the family is revoked: the new token is refused too");
      const me = await call(b.baseUrl, "GET", "/v1/me", { headers: { authorization: `Bearer ${winner.body.accessToken as string}` } });
      t.equal(me.status, 401, "and its access token, on the other instance");
    });

    t.test("a recovery code is used once across both instances", async (t) => {
      const ip = address();
      const person = await personWithTotp(a.baseUrl, apiKey);
      const [tokenA, tokenB] = [await mfaToken(a, person.email, ip), await mfaToken(b, person.email, ip)];
      const answers = await Promise.all([
        post(a, "/v1/auth/mfa/verify", { mfaToken: tokenA, method: "recovery_code", code: person.recoveryCode }, ip),
        post(b, "/v1/auth/mfa/verify", { mfaToken: tokenB, method: "recovery_code", code: person.recoveryCode }, ip),
      ]);
      t.same(statuses(answers), [200, 401], "one session, one refusal");
    });

    t.test("password waits are shared: failures on A and B add up to one wait", async (t) => {
      const ip = address();
      const person = await createPerson(a.baseUrl, apiKey);
      // The free failures, then one more: that one sets the first wait (src/rate-limit/sign-in-throttle.ts).
      for (let i = 0; i <= FREE_FAILURES; i++) {
        const res = await post(i % 2 ? b : a, "/v1/auth/login", { email: person.email, password: "a wrong password guess" }, ip);
        t.equal(res.status, 401, `failure ${i + 1} on ${i % 2 ? "B" : "A"}`);
      }
      for (const [name, instance] of [["A", a], ["B", b]] as const) {
        const res = await post(instance, "/v1/auth/login", { email: person.email, password: TEST_PASSWORD }, ip);
        t.equal(res.status, 429, `${name} makes the address wait, even for the right password`);
        t.ok(Number(res.headers.get("retry-after")) > 0, "with Retry-After");
      }
    });

    t.test("second-factor waits are shared across both instances", async (t) => {
      const ip = address();
      const person = await personWithTotp(a.baseUrl, apiKey);
      for (let i = 0; i <= FREE_FAILURES; i++) {
        const instance = i % 2 ? b : a;
        const res = await post(instance, "/v1/auth/mfa/verify", { mfaToken: await mfaToken(instance, person.email, ip), method: "totp", code: "000000" }, ip);
        t.equal(res.status, 401, `wrong code ${i + 1} on ${i % 2 ? "B" : "A"}`);
      }
      const other = (FREE_FAILURES + 1) % 2 ? b : a;
      const res = await post(other, "/v1/auth/mfa/verify", { mfaToken: await mfaToken(other, person.email, ip), method: "totp", code: totpAt(person.secret, new Date()) }, ip);
      t.equal(res.status, 429, "the next second step waits, on the other instance, even with the right code");
    });

    t.test("the per-address sign-in limit is shared", async (t) => {
      const ip = address();
      const person = await createPerson(a.baseUrl, apiKey);
      const answers: number[] = [];
      for (let i = 0; i < RATE_PER_ADDRESS; i++) {
        answers.push((await post(i % 2 ? b : a, "/v1/auth/login", { email: person.email, password: TEST_PASSWORD }, ip)).status);
      }
      t.same(answers, Array(RATE_PER_ADDRESS).fill(200), `${RATE_PER_ADDRESS} sign-ins, half on each`);
      const overA = await post(a, "/v1/auth/login", { email: person.email, password: TEST_PASSWORD }, ip);
      const overB = await post(b, "/v1/auth/login", { email: person.email, password: TEST_PASSWORD }, ip);
      t.same([overA.status, overB.status], [429, 429], "the next one is refused on both");
      const elsewhere = await post(b, "/v1/auth/login", { email: person.email, password: TEST_PASSWORD }, address());
      t.equal(elsewhere.status, 200, "another address is not limited");
    });

    t.test("an assertion from the external provider is accepted once across both", async (t) => {
      const ip = address();
      const person = await createPerson(a.baseUrl, apiKey);
      const subject = `bankid-${randomBytes(6).toString("hex")}`;
      const link = await call(a.baseUrl, "PUT", `/v1/users/${person.id}/external-identity`, { headers: { "x-api-key": apiKey }, body: { subject } });
      t.equal(link.status, 204, "identity linked");
      const assertion = await signAssertion(key, subject, systemClock);
      const answers = await Promise.all([
        post(a, "/v1/auth/federated", { assertion }, ip),
        post(b, "/v1/auth/federated", { assertion }, ip),
      ]);
      t.same(statuses(answers), [200, 401], "one session, one refusal (its jti was seen)");
      t.equal(answers.find((x) => x.status === 401)?.body.code, "INVALID_ASSERTION");
    });
  };
}

t.test("two instances on one PostgreSQL", clusterProperties(false));
t.test("two instances on one PostgreSQL, counters in Redis", clusterProperties(true));
