// The benchmark scenarios, in the order they run. To add one (second-step verify,
// trusted-device sign-in, ...), write a function returning a Scenario and append it to
// `scenarios`: the runner, RESULTS.md and results.json pick it up from this list.
import { pushRoundTrip } from "./push.ts";
import { randomBytes } from "node:crypto";
import type { Config } from "../src/config.ts";
import { createPasswordHasher, type Argon2Params } from "../src/lib/passwords.ts";
import type { BenchContext, Scenario, ScenarioResult } from "./context.ts";
import { REQUEST_TIMEOUT_SECONDS, runLoad } from "./load.ts";
import { checkDeviceTokens, reconcileMfa, SecondStepQueue, seedMfaUsers, trustDevices, type DeviceUser, type MfaSeed, type MfaUser } from "./mfa.ts";
import { createUsers, loginAll, type TokenPair } from "./seed.ts";

const JSON_HEADERS = { "content-type": "application/json" };

/**
 * POST /v1/auth/login round-robin over the given bodies; only an
 * `authenticated` answer counts. With bodies ≥ 2 × connections no account is
 * signed in twice at once, and correct passwords never touch the failure throttle.
 */
function signInLoad(ctx: BenchContext, connections: number, logins: Record<string, string>[]) {
  const bodies = logins.map((login) => JSON.stringify(login));
  let i = 0;
  return runLoad(ctx, {
    connections,
    method: "POST",
    path: "/v1/auth/login",
    headers: JSON_HEADERS,
    next: () => ({ body: bodies[i++ % bodies.length]! }),
    check: (body) => body.includes('"status":"authenticated"'),
  });
}
/** Hard cap on in-process loop iterations, beside the time limit. */
const MAX_ITERATIONS = 5_000_000;

export function argon2ParamsOf(config: Config): Argon2Params {
  return { memoryCost: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST, parallelism: config.ARGON2_PARALLELISM };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * (a) argon2id verify in this process, with the server's binding and parameters
 * (createPasswordHasher from src/lib/passwords.ts), `concurrency` verifies in flight.
 * The ceiling for login throughput on this machine.
 */
export function rawArgon2Verify(concurrency: number): Scenario {
  return {
    name: `argon2-verify-c${concurrency}`,
    title: `raw argon2id verify, in-process, concurrency ${concurrency}`,
    kind: "in-process",
    concurrency,
    async run(ctx) {
      const hasher = createPasswordHasher(argon2ParamsOf(ctx.config), { maxConcurrent: concurrency, maxQueue: concurrency });
      const password = ctx.users[0]?.password ?? "bench raw verify password";
      const stored = await hasher.hash(password);

      const loop = async (seconds: number, latencies?: number[]) => {
        const end = performance.now() + seconds * 1000;
        let ok = 0;
        let failed = 0;
        await Promise.all(Array.from({ length: concurrency }, async () => {
          while (performance.now() < end && ok + failed < MAX_ITERATIONS) {
            const started = performance.now();
            const good = await hasher.verify(stored, password);
            latencies?.push(performance.now() - started);
            if (good) ok++;
            else failed++;
          }
        }));
        return { ok, failed };
      };

      const warm = await loop(ctx.options.warmupSeconds);
      const latencies: number[] = [];
      const { value, usage } = await ctx.measure(() => loop(ctx.options.durationSeconds, latencies));
      latencies.sort((a, b) => a - b);
      const seconds = usage.cpu.wallSeconds;
      const mean = latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length);
      return {
        name: this.name,
        title: this.title,
        kind: this.kind,
        concurrency,
        figures: {
          durationSeconds: seconds,
          requests: value.ok + value.failed,
          rps: value.ok / seconds,
          latencyMs: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: latencies.at(-1) ?? 0, mean },
          statusCodes: {},
          non2xx: 0,
          non200: 0,
          badBodies: value.failed,
          errors: 0,
          timeouts: 0,
          failureSamples: value.failed > 0 ? ["verify returned false for the correct password"] : [],
        },
        usage,
        warmupFailures: warm.failed,
        notes: [`hasher maxConcurrent ${concurrency}; libuv threadpool of this process: ${process.env.UV_THREADPOOL_SIZE ?? "4 (default)"}`],
      } satisfies ScenarioResult;
    },
  };
}

/** (b) POST /v1/auth/login with correct passwords, round-robin over the seeded users. */
export function login(connections: number): Scenario {
  return {
    name: `login-c${connections}`,
    title: `POST /v1/auth/login (correct password), ${connections} connections`,
    kind: "http",
    concurrency: connections,
    async run(ctx) {
      const load = await signInLoad(ctx, connections, ctx.users.map((u) => ({ email: u.email, password: u.password })));
      return { name: this.name, title: this.title, kind: this.kind, concurrency: connections, ...load, notes: [] };
    },
  };
}

/**
 * (c) POST /v1/auth/refresh. Refresh tokens are single-use, so each request needs a live one.
 * Chains: every user signs in once (prepare); each 200 answer's new refresh token goes to the
 * back of one shared FIFO and the next request (any connection) takes the oldest. autocannon's
 * per-connection `context` cannot carry a chain here: it is reset after every pass over the
 * `requests` array, i.e. after every request when the array holds one.
 */
export function refresh(connections: number): Scenario {
  let pool: TokenPair[] = [];
  return {
    name: `refresh-c${connections}`,
    title: `POST /v1/auth/refresh (rotating chains), ${connections} connections`,
    kind: "http",
    concurrency: connections,
    async prepare(ctx) {
      pool = await loginAll(ctx.baseUrl, ctx.users, 8);
    },
    async run(ctx) {
      const queue = pool.map((pair) => pair.refreshToken);
      pool = [];
      let exhausted = 0;
      let issued = 0;
      const load = await runLoad(ctx, {
        connections,
        method: "POST",
        path: "/v1/auth/refresh",
        headers: JSON_HEADERS,
        next: () => {
          let token = queue.shift();
          if (!token) {
            exhausted++;
            token = "rt_bench_pool_exhausted";
          }
          return { body: JSON.stringify({ refreshToken: token }) };
        },
        onResponse: (status, body) => {
          if (status !== 200) return;
          const next = /"refreshToken":"([^"]+)"/.exec(body)?.[1];
          if (next) {
            queue.push(next);
            issued++;
          }
        },
        check: (body) => body.includes('"status":"authenticated"'),
      });
      const notes = [
        `${ctx.users.length} chains started by one sign-in per user; ${issued} refresh tokens issued and chained (warm-up included); ${queue.length} left unused`,
      ];
      if (exhausted > 0) notes.push(`LOUD: the token FIFO ran empty ${exhausted} times (those requests carried a dead token)`);
      return { name: this.name, title: this.title, kind: this.kind, concurrency: connections, ...load, notes };
    },
  };
}

/** Access tokens from fresh sign-ins (their own sessions), shared by the scenarios that need them. */
async function accessTokens(ctx: BenchContext): Promise<string[]> {
  const cached = ctx.shared.get("access-tokens") as string[] | undefined;
  if (cached) return cached;
  const pairs = await loginAll(ctx.baseUrl, ctx.users.slice(0, 64), 8);
  const tokens = pairs.map((pair) => pair.accessToken);
  ctx.shared.set("access-tokens", tokens);
  return tokens;
}

/** (d) POST /v1/tokens/introspect of an access token, with the service client's x-api-key. */
export function introspect(connections: number): Scenario {
  let tokens: string[] = [];
  return {
    name: `introspect-c${connections}`,
    title: `POST /v1/tokens/introspect (access token), ${connections} connections`,
    kind: "http",
    concurrency: connections,
    async prepare(ctx) {
      tokens = await accessTokens(ctx);
    },
    async run(ctx) {
      const bodies = tokens.map((token) => JSON.stringify({ token }));
      let i = 0;
      const load = await runLoad(ctx, {
        connections,
        method: "POST",
        path: "/v1/tokens/introspect",
        headers: { ...JSON_HEADERS, "x-api-key": ctx.apiKey },
        next: () => ({ body: bodies[i++ % bodies.length]! }),
        check: (body) => body.includes('"active":true'),
      });
      return { name: this.name, title: this.title, kind: this.kind, concurrency: connections, ...load, notes: [`${tokens.length} access tokens, round-robin; a 200 with active:false counts as bad`] };
    },
  };
}

/** (e) GET /v1/me with a bearer access token. */
export function me(connections: number): Scenario {
  let tokens: string[] = [];
  return {
    name: `me-c${connections}`,
    title: `GET /v1/me (bearer), ${connections} connections`,
    kind: "http",
    concurrency: connections,
    async prepare(ctx) {
      tokens = await accessTokens(ctx);
    },
    async run(ctx) {
      const headers = tokens.map((token) => ({ authorization: `Bearer ${token}` }));
      let i = 0;
      const load = await runLoad(ctx, {
        connections,
        method: "GET",
        path: "/v1/me",
        next: () => ({ headers: headers[i++ % headers.length]! }),
        check: (body) => body.includes('"email":'),
      });
      return { name: this.name, title: this.title, kind: this.kind, concurrency: connections, ...load, notes: [`${tokens.length} access tokens, round-robin`] };
    },
  };
}

/** The second-step goal of the issue: requests/s on this 2-core machine, load generator included. */
export const MFA_VERIFY_GOAL_RPS = 3_000;
/** Challenges (and so successful steps) per seeded user: T − 1, T and T + 1 of one 30 s window. */
const MFA_STEPS_PER_USER = 3;
/** Pool size = goal × (warm-up + measured seconds) × this ÷ steps per user. */
const MFA_POOL_MARGIN = 1.25;

/** One database round trip of a request: where it comes from, the statement, whether it writes. */
interface RoundTrip {
  from: string;
  sql: string;
  write: boolean;
}

/**
 * What one successful POST /v1/auth/mfa/verify sends to PostgreSQL, in order (src/mfa/routes.ts,
 * second-step.ts verify, challenges.ts, second-factor.ts checkTotp, repository.ts,
 * sessions/repository.ts create, audit/service.ts record). Read from the code and checked against
 * PostgreSQL's log (log_statement = all set on a scratch database only, one warm verify, PostgreSQL
 * 15, Prisma 7.10 with @prisma/adapter-pg): every statement is its own round trip, there is no
 * BEGIN/COMMIT, so each write is its own transaction and commit (WAL flush).
 */
export const VERIFY_ROUND_TRIPS: readonly RoundTrip[] = [
  { from: "throttle.admitAddress", sql: "INSERT INTO rate_limit_counters … ON CONFLICT (key) DO UPDATE … RETURNING (the single signin:ip:127.0.0.1 row, updated by every verify and sign-in)", write: true },
  { from: "challenges.attempt (findLive)", sql: "SELECT … FROM auth_challenges WHERE token_hash = $1 LIMIT 1", write: false },
  { from: "challenges.attempt", sql: "UPDATE auth_challenges SET attempts = attempts + 1 WHERE id = $1 AND consumed_at IS NULL AND attempts < $2", write: true },
  { from: "checker.assertNotWaiting (failureState)", sql: "SELECT id, mfa_failures, mfa_blocked_until FROM users WHERE id = $1 LIMIT 1", write: false },
  { from: "checker.activeFactor (findFactor)", sql: "SELECT … FROM totp_factors WHERE user_id = $1 AND status = 'active' LIMIT 1", write: false },
  { from: "mfa.burnStep", sql: "UPDATE totp_factors SET last_used_step = $1 WHERE id = $2 AND disabled_at IS NULL AND (last_used_step IS NULL OR last_used_step < $3)", write: true },
  { from: "mfa.clearFailures", sql: "UPDATE users SET mfa_failures = 0, mfa_blocked_until = NULL WHERE id = $1 RETURNING <every users column, password_hash included> (also when there were no failures)", write: true },
  { from: "challenges.consume", sql: "UPDATE auth_challenges SET consumed_at = $1 WHERE id = $2 AND consumed_at IS NULL", write: true },
  { from: "sessions.create", sql: "WITH s AS (INSERT INTO sessions … RETURNING id) INSERT INTO refresh_tokens … SELECT … FROM s", write: true },
  { from: "onEvent authn_login_success", sql: "INSERT INTO audit_events … RETURNING <every column>", write: true },
  { from: "onEvent mfa_verify_success", sql: "INSERT INTO audit_events … RETURNING <every column>", write: true },
];

/** The same for a sign-in with a valid device token (src/sign-in/service.ts, second-step.ts afterFirstFactor, devices/service.ts recognise); same method. */
export const DEVICE_LOGIN_ROUND_TRIPS: readonly RoundTrip[] = [
  { from: "throttle.admitAddress", sql: "INSERT INTO rate_limit_counters … ON CONFLICT … RETURNING", write: true },
  { from: "throttle.admitAccount", sql: "SELECT … FROM rate_limit_counters WHERE key IN ($1, $2)", write: false },
  { from: "users.findCredentialsByEmail", sql: "SELECT id, email, name, created_at, password_hash FROM users WHERE email = $1 LIMIT 1 (then argon2id verify)", write: false },
  { from: "mfa.signInState", sql: "SELECT EXISTS(totp_factors …), count(recovery_codes …), EXISTS(memberships/assignments of mandating companies)", write: false },
  { from: "devices.recognise (after the EdDSA signature check)", sql: "UPDATE trusted_devices SET last_used_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL AND expires_at > $4", write: true },
  { from: "onEvent trusted_device_used", sql: "INSERT INTO audit_events …", write: true },
  { from: "sessions.create", sql: "WITH s AS (INSERT INTO sessions …) INSERT INTO refresh_tokens …", write: true },
  { from: "onEvent authn_login_success", sql: "INSERT INTO audit_events …", write: true },
];

function describeRoundTrips(trips: readonly RoundTrip[]): string {
  const writes = trips.filter((t) => t.write).length;
  return `${trips.length} database round trips, ${writes} of them writes, each its own commit (statements checked with log_statement): ` +
    trips.map((t, i) => `(${i + 1}) ${t.from}: \`${t.sql}\``).join("; ");
}

/**
 * (f) POST /v1/auth/mfa/verify, every request a successful second step. Users, their active
 * TOTP factors (seeds sealed with the run's ENCRYPTION_KEYS, AAD seedAad(userId, factorId)) and
 * three live MFA challenges each are inserted with SQL in prepare (not measured); the run takes
 * (token, code) pairs from SecondStepQueue (bench/mfa.ts), which computes each code at send time.
 */
export function mfaVerify(connections: number): Scenario {
  let seed: MfaSeed | undefined;
  return {
    name: `mfa-verify-c${connections}`,
    title: `POST /v1/auth/mfa/verify (TOTP, every answer a session), ${connections} connections`,
    kind: "http",
    concurrency: connections,
    skipReason: (ctx) => (ctx.databaseUrl
      ? undefined
      : "needs PostgreSQL: its users, factors and challenges are inserted with SQL beside the running server, and PGlite lives inside the server process"),
    async prepare(ctx) {
      const seconds = ctx.options.warmupSeconds + ctx.options.durationSeconds;
      const userCount = Math.ceil((MFA_VERIFY_GOAL_RPS * seconds * MFA_POOL_MARGIN) / MFA_STEPS_PER_USER);
      // One argon2id hash for all: these users never sign in with their password here.
      const hasher = createPasswordHasher(argon2ParamsOf(ctx.config), { maxConcurrent: 1, maxQueue: 1 });
      const passwordHash = await hasher.hash(`mfa bench ${randomBytes(9).toString("base64url")} staple`);
      seed = await seedMfaUsers(ctx.databaseUrl!, {
        userCount, challengesPerUser: MFA_STEPS_PER_USER, passwordHash, keys: ctx.keys, ttlSeconds: ctx.config.MFA_TOKEN_TTL_SECONDS,
      });
      ctx.log(`${this.name}: seeded ${userCount} users with TOTP and ${seed.challenges} MFA challenges with SQL in ${seed.seconds.total.toFixed(1)} s`);
    },
    async run(ctx) {
      if (!seed) throw new Error(`${this.name}: prepare() did not run`);
      const pool = seed;
      seed = undefined;
      const seconds = ctx.options.warmupSeconds + ctx.options.durationSeconds;
      if (Date.now() + (seconds + 30) * 1000 > pool.expiresAt.getTime()) throw new Error(`${this.name}: the seeded MFA challenges would expire during the run`);
      const queue = new SecondStepQueue(pool.users, REQUEST_TIMEOUT_SECONDS * 1000);
      let exhausted = 0;
      let authenticated = 0;
      const load = await runLoad(ctx, {
        connections,
        method: "POST",
        path: "/v1/auth/mfa/verify",
        headers: JSON_HEADERS,
        next: (context) => {
          const pick = queue.next();
          context.user = pick?.user;
          if (!pick) {
            exhausted++;
            return { body: JSON.stringify({ mfaToken: "mfa_bench_pool_exhausted", method: "totp", code: "000000" }) };
          }
          return { body: JSON.stringify({ mfaToken: pick.token, method: "totp", code: pick.code }) };
        },
        onResponse: (status, body, context) => {
          const user = context.user as MfaUser | undefined;
          if (user) user.inFlight = false;
          if (status === 200 && body.includes('"status":"authenticated"')) authenticated++;
        },
        check: (body) => body.includes('"status":"authenticated"') && body.includes('"accessToken":"'),
      });
      const db = await reconcileMfa(ctx.databaseUrl!, pool.emailPattern);
      const s = queue.stats;
      const notes = [
        `${pool.users.length.toLocaleString("en-US")} users with an active TOTP factor and ${pool.challenges.toLocaleString("en-US")} live MFA challenges (${MFA_STEPS_PER_USER} a user) inserted with SQL in ${pool.seconds.total.toFixed(1)} s before the run, not measured (seeds sealed ${pool.seconds.crypto.toFixed(1)} s, INSERTs ${pool.seconds.sql.toFixed(1)} s, ANALYZE ${pool.seconds.analyze.toFixed(1)} s); pool = ${MFA_VERIFY_GOAL_RPS.toLocaleString("en-US")}/s × ${seconds} s × ${MFA_POOL_MARGIN} ÷ ${MFA_STEPS_PER_USER}`,
        `codes sent for step T − 1: ${s.stepMinus1.toLocaleString("en-US")}, T: ${s.step0.toLocaleString("en-US")}, T + 1: ${s.stepPlus1.toLocaleString("en-US")} (T from Date.now() at send time; T − 1 only while ≥ ${REQUEST_TIMEOUT_SECONDS} s remain in the step); step rollovers during the run: ${s.rollovers}; ${queue.unused().toLocaleString("en-US")} tokens left unused`,
        `database after the run: ${db.consumedChallenges.toLocaleString("en-US")} challenges consumed, ${db.otpSessions.toLocaleString("en-US")} sessions with amr otp+mfa, ${db.verifyAuditEvents.toLocaleString("en-US")} mfa_verify_success audit events, ${db.factorsUsed.toLocaleString("en-US")} factors used, ${db.usersWithFailures} users with second-factor failures; ${authenticated.toLocaleString("en-US")} authenticated answers counted (warm-up included; requests in flight when autocannon stops are finished by the server but not counted)`,
        `one verify = ${describeRoundTrips(VERIFY_ROUND_TRIPS)}`,
      ];
      const inFlightSlack = 2 * connections + load.figures.timeouts;
      const consistent = db.consumedChallenges >= authenticated && db.consumedChallenges <= authenticated + inFlightSlack &&
        db.otpSessions === db.consumedChallenges && db.verifyAuditEvents === db.consumedChallenges && db.usersWithFailures === 0;
      if (!consistent) notes.push(`LOUD: the database does not match the answers: ${JSON.stringify(db)} vs ${authenticated} authenticated answers`);
      if (exhausted > 0) notes.push(`LOUD: the (token, code) pool ran dry ${exhausted} times (those requests carried a dead token and failed): the server was faster than the pool was sized for`);
      return { name: this.name, title: this.title, kind: this.kind, concurrency: connections, ...load, notes };
    },
  };
}

/** Users of device-login (each with its own trusted device): enough that no account is signed in twice at once. */
const DEVICE_USERS = 200;

/**
 * (g) POST /v1/auth/login with email, password and a device token, for users with TOTP: every
 * answer must be `authenticated` (a trusted device skips the second step); `mfa_required` fails.
 * Devices are obtained over the public HTTP flow (bench/mfa.ts trustDevices). argon2-bound like login.
 */
export function deviceLogin(connections: number): Scenario {
  let devices: DeviceUser[] = [];
  let seeded = { users: 0, seconds: 0 };
  return {
    name: `device-login-c${connections}`,
    title: `POST /v1/auth/login (password + trusted device, TOTP users), ${connections} connections`,
    kind: "http",
    concurrency: connections,
    async prepare(ctx) {
      const started = performance.now();
      const count = Math.max(2 * connections, Math.min(DEVICE_USERS, ctx.options.users));
      const users = await createUsers(ctx.baseUrl, ctx.apiKey, count, 8);
      devices = await trustDevices(ctx.baseUrl, users, 8);
      await checkDeviceTokens(ctx.keys, ctx.config.ISSUER, devices.map((d) => d.deviceToken));
      seeded = { users: devices.length, seconds: (performance.now() - started) / 1000 };
      ctx.log(`${this.name}: ${devices.length} users with TOTP and a trusted device over HTTP in ${seeded.seconds.toFixed(1)} s`);
    },
    async run(ctx) {
      const load = await signInLoad(ctx, connections, devices.map((d) => ({ email: d.email, password: d.password, deviceToken: d.deviceToken })));
      const notes = [
        `${seeded.users} users, round-robin, each set up over HTTP before the run in ${seeded.seconds.toFixed(1)} s (not measured): created, signed in, authenticator set up and confirmed, signed in again (mfa_required), second step with rememberDevice; every device token checked against the run's device signing key`,
        "an answer other than `authenticated` (e.g. mfa_required) counts as failed",
        `one device sign-in = one argon2id verify, the device token's EdDSA signature check and ${describeRoundTrips(DEVICE_LOGIN_ROUND_TRIPS)}`,
      ];
      return { name: this.name, title: this.title, kind: this.kind, concurrency: connections, ...load, notes };
    },
  };
}

export const scenarios: Scenario[] = [
  rawArgon2Verify(4),
  rawArgon2Verify(8),
  login(8),
  login(4),
  deviceLogin(8),
  refresh(8),
  introspect(8),
  me(8),
  mfaVerify(8),
  // Last: it pairs an app to 50 seeded users, whose password alone no longer signs in.
  pushRoundTrip(50),
];

/** sign-in ÷ raw verify at the same concurrency: the share of argon2 capacity that reaches clients. */
export const RATIO_PAIRS = [
  { login: "login-c8", raw: "argon2-verify-c8", concurrency: 8 },
  { login: "login-c4", raw: "argon2-verify-c4", concurrency: 4 },
  { login: "device-login-c8", raw: "argon2-verify-c8", concurrency: 8 },
] as const;
export const RATIO_GOAL = 0.9;

/** Throughput goals: the scenario's req/s must reach `rps`. */
export const RPS_GOALS = [
  { scenario: "mfa-verify-c8", rps: MFA_VERIFY_GOAL_RPS, what: "second-step verify (TOTP) on PostgreSQL, load generator on the same 2-core machine" },
] as const;
