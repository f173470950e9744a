// The benchmark scenarios, in the order they run. To add one (second-step verify,
// trusted-device sign-in, ...), write a function returning a Scenario and append it to
// `scenarios`: the runner, RESULTS.md and results.json pick it up from this list.
import type { Config } from "../src/config.ts";
import { createPasswordHasher, type Argon2Params } from "../src/lib/passwords.ts";
import type { BenchContext, Scenario, ScenarioResult } from "./context.ts";
import { runLoad } from "./load.ts";
import { loginAll, type TokenPair } from "./seed.ts";

const JSON_HEADERS = { "content-type": "application/json" };
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
      // Round-robin over all users: with users ≥ 2 × connections no account is ever signed in
      // twice at once, and correct passwords never touch the per-account failure throttle.
      const bodies = ctx.users.map((u) => JSON.stringify({ email: u.email, password: u.password }));
      let i = 0;
      const load = await runLoad(ctx, {
        connections,
        method: "POST",
        path: "/v1/auth/login",
        headers: JSON_HEADERS,
        next: () => ({ body: bodies[i++ % bodies.length]! }),
        check: (body) => body.includes('"status":"authenticated"'),
      });
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

export const scenarios: Scenario[] = [
  rawArgon2Verify(4),
  rawArgon2Verify(8),
  login(8),
  login(4),
  refresh(8),
  introspect(8),
  me(8),
];

/** login ÷ raw verify at the same concurrency: the share of argon2 capacity that reaches clients. */
export const RATIO_PAIRS = [
  { login: "login-c8", raw: "argon2-verify-c8", concurrency: 8 },
  { login: "login-c4", raw: "argon2-verify-c4", concurrency: 4 },
] as const;
export const RATIO_GOAL = 0.9;
